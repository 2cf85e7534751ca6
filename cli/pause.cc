// berth pause CONTAINER...
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"

namespace berth::cli {

namespace {

action setup(CLI::App& sub) {
    auto containers = std::make_shared<std::vector<std::string>>();
    sub.add_option("CONTAINER", *containers, "Containers to pause")->required();
    return [containers](context& ctx) { return call_each_container(ctx, "POST", *containers, "/pause", ""); };
}

}  // namespace

command pause_command() { return {"pause", "Pause all processes within one or more containers", 1, setup}; }

}  // namespace berth::cli
