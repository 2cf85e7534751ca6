// berth start [-a] [-i] CONTAINER...
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/attach.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    bool attach = false;
    bool interactive = false;
    std::vector<std::string> containers;
};

int start_attached(context& ctx, const options& o) {
    if (o.containers.size() > 1)
        return fail(make_error(errc::invalid_argument, "you cannot start and attach multiple containers at once"), 1);
    auto info = call_json(ctx, "GET", "/containers/" + escape_path(o.containers[0]) + "/json");
    if (!info) return fail(info.err(), 1);
    const auto* config = info->is_object() ? info->as_object().if_contains("Config") : nullptr;
    attach_plan plan;
    plan.id = json_string(*info, "Id");
    plan.tty = config && json_bool(*config, "Tty");
    plan.send_stdin = o.interactive && config && json_bool(*config, "OpenStdin");
    plan.wait_condition = "next-exit";
    return run_attached(ctx, plan);
}

int start(context& ctx, const options& o) {
    if (o.attach || o.interactive) return start_attached(ctx, o);
    if (auto api = ctx.api(); !api) return fail(api.err(), 1);
    auto failed = for_each_name_concurrently(o.containers, [&](const std::string& c) -> status {
        auto r = call(ctx, "POST", "/containers/" + escape_path(c) + "/start");
        if (!r) return r.err();
        return ok();
    });
    if (failed.empty()) return 0;
    std::string list;
    for (const auto& f : failed) list += (list.empty() ? "" : ", ") + f;
    return fail(make_error(errc::internal, "Error: failed to start containers: " + list), 1);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-a,--attach", o->attach, "Attach STDOUT/STDERR and forward signals");
    sub.add_flag("-i,--interactive", o->interactive, "Attach container's STDIN");
    sub.add_option("CONTAINER", o->containers, "Containers to start")->required();
    return [o](context& ctx) { return start(ctx, *o); };
}

}  // namespace

command start_command() { return {"start", "Start one or more stopped containers", 1, setup}; }

}  // namespace berth::cli
