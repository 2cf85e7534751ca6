// berth rm [-f] [-v] CONTAINER...
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    bool force = false;
    bool volumes = false;
    std::vector<std::string> containers;
};

int rm(context& ctx, const options& o) {
    std::string query;
    if (o.force) query += "&force=1";
    if (o.volumes) query += "&v=1";
    if (!query.empty()) query[0] = '?';
    return call_each_container(ctx, "DELETE", o.containers, "", query);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-f,--force", o->force, "Force the removal of a running container (uses SIGKILL)");
    sub.add_flag("-v,--volumes", o->volumes, "Remove anonymous volumes associated with the container");
    sub.add_option("CONTAINER", o->containers, "Containers to remove")->required();
    return [o](context& ctx) { return rm(ctx, *o); };
}

}  // namespace

command rm_command() { return {"rm", "Remove one or more containers", 1, setup}; }

}  // namespace berth::cli
