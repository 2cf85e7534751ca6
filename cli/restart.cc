// berth restart [-t SECONDS] [-s SIGNAL] CONTAINER...
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    std::optional<int> timeout;
    std::string signal;
    std::vector<std::string> containers;
};

int restart(context& ctx, const options& o) {
    std::string query;
    if (o.timeout) query += "&t=" + std::to_string(*o.timeout);
    if (!o.signal.empty()) query += "&signal=" + escape_query(o.signal);
    if (!query.empty()) query[0] = '?';
    return call_each_container(ctx, "POST", o.containers, "/restart", query);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("-t,--time", o->timeout, "Seconds to wait before killing the container");
    sub.add_option("-s,--signal", o->signal, "Signal to send to the container");
    sub.add_option("CONTAINER", o->containers, "Containers to restart")->required();
    return [o](context& ctx) { return restart(ctx, *o); };
}

}  // namespace

command restart_command() { return {"restart", "Restart one or more containers", 1, setup}; }

}  // namespace berth::cli
