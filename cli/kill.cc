// berth kill [-s SIGNAL] CONTAINER...
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    std::string signal;
    std::vector<std::string> containers;
};

int kill(context& ctx, const options& o) {
    std::string query = o.signal.empty() ? "" : "?signal=" + escape_query(o.signal);
    return call_each_container(ctx, "POST", o.containers, "/kill", query);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("-s,--signal", o->signal, "Signal to send to the container (default KILL)");
    sub.add_option("CONTAINER", o->containers, "Containers to kill")->required();
    return [o](context& ctx) { return kill(ctx, *o); };
}

}  // namespace

command kill_command() { return {"kill", "Kill one or more running containers", 1, setup}; }

}  // namespace berth::cli
