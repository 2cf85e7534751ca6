// berth attach [OPTIONS] CONTAINER
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/api.h"
#include "cli/attach.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    bool no_stdin = false;
    bool sig_proxy = true;
    std::string detach_keys;
    std::string container;
};

int attach(context& ctx, const options& o) {
    auto info = call_json(ctx, "GET", "/containers/" + escape_path(o.container) + "/json");
    if (!info) return fail(info.err(), 1);
    const auto* state = info->is_object() ? info->as_object().if_contains("State") : nullptr;
    if (!state || !json_bool(*state, "Running"))
        return fail(make_error(errc::conflict, "You cannot attach to a stopped container, start it first"), 1);
    if (json_bool(*state, "Paused"))
        return fail(make_error(errc::conflict, "You cannot attach to a paused container, unpause it first"), 1);
    const auto* config = info->as_object().if_contains("Config");
    attach_plan plan;
    plan.id = json_string(*info, "Id");
    plan.tty = config && json_bool(*config, "Tty");
    plan.send_stdin = !o.no_stdin && config && json_bool(*config, "OpenStdin");
    plan.start = false;
    plan.sig_proxy = o.sig_proxy;
    plan.detach_keys = o.detach_keys;
    return run_attached(ctx, plan);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("--detach-keys", o->detach_keys, "Override the key sequence for detaching a container");
    sub.add_flag("--no-stdin", o->no_stdin, "Do not attach STDIN");
    sub.add_flag("--sig-proxy,!--no-sig-proxy", o->sig_proxy, "Proxy all received signals to the process");
    sub.add_option("CONTAINER", o->container, "Container to attach to")->required();
    return [o](context& ctx) { return attach(ctx, *o); };
}

}  // namespace

command attach_command() { return {"attach", "Attach local standard input, output, and error streams to a running container", 1, setup}; }

}  // namespace berth::cli
