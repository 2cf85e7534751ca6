// berth update [--memory ... --pids-limit N --restart P] CONTAINER...
// The resource flags are create's (add_resource_flags, resources_body).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

struct options {
    create_options resources;
    std::string restart;
    std::vector<std::string> containers;
};

constexpr const char* flag_names[] = {"--memory",      "--memory-swap", "--memory-reservation",
                                      "--cpus",        "--cpu-shares",  "--cpuset-cpus",
                                      "--cpuset-mems", "--blkio-weight", "--pids-limit", "--restart"};

int update(context& ctx, const options& o, const CLI::App& sub) {
    bool any = false;
    for (const char* f : flag_names) any = any || sub.count(f) > 0;
    if (!any) {
        std::fprintf(stderr, "berth: you must provide one or more flags when using this command\n"
                             "See 'berth update --help'.\n");
        return 1;
    }
    auto body = resources_body(o.resources);
    if (!body) return fail(body.err(), 1, "berth: ");
    // As docker's UpdateConfig: PidsLimit only when given (null leaves it),
    // an empty RestartPolicy name leaves the policy.
    if (sub.count("--pids-limit") == 0) body->erase("PidsLimit");
    (*body)["RestartPolicy"] = sub.count("--restart") ? restart_policy(o.restart)
                                                      : json::object{{"Name", ""}, {"MaximumRetryCount", 0}};
    std::string text = json::serialize(*body);
    std::vector<std::string> warnings;
    auto failed = for_each_name(o.containers, [&](const std::string& c) -> status {
        BERTH_ASSIGN(json::value r, call_json(ctx, "POST", "/containers/" + escape_path(c) + "/update", text));
        std::printf("%s\n", c.c_str());
        if (const auto* w = r.is_object() ? r.as_object().if_contains("Warnings") : nullptr; w && w->is_array())
            for (const auto& one : w->as_array())
                if (one.is_string()) warnings.emplace_back(one.as_string());
        return ok();
    });
    for (const auto& w : warnings) std::printf("%s\n", w.c_str());
    return failed.empty() ? 0 : 1;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    add_resource_flags(sub, o->resources);
    sub.add_option("--restart", o->restart, "Restart policy to apply when a container exits");
    sub.add_option("CONTAINER", o->containers, "Containers")->required();
    return [o, &sub](context& ctx) { return update(ctx, *o, sub); };
}

}  // namespace

command update_command() { return {"update", "Update configuration of one or more containers", 1, setup}; }

}  // namespace berth::cli
