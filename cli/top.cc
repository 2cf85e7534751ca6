// berth top CONTAINER [ps OPTIONS]
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
    std::string container;
    std::vector<std::string> ps_args;
};

std::vector<std::string> strings_of(const json::value* v) {
    std::vector<std::string> out;
    if (!v || !v->is_array()) return out;
    for (const auto& s : v->as_array()) out.push_back(s.is_string() ? std::string(s.as_string()) : std::string());
    return out;
}

int top(context& ctx, const options& o) {
    std::string target = "/containers/" + escape_path(o.container) + "/top";
    std::string args;
    for (const auto& a : o.ps_args) args += (args.empty() ? "" : " ") + a;
    if (!args.empty()) target += "?ps_args=" + escape_query(args);
    auto v = call_json(ctx, "GET", target);
    if (!v) return fail(v.err(), 1);
    const auto* obj = v->if_object();
    std::vector<std::vector<std::string>> rows;
    rows.push_back(strings_of(obj ? obj->if_contains("Titles") : nullptr));
    if (const auto* procs = obj ? obj->if_contains("Processes") : nullptr; procs && procs->is_array())
        for (const auto& p : procs->as_array()) rows.push_back(strings_of(&p));
    std::fputs(format_table(rows, 20).c_str(), stdout);  // docker top: tabwriter minwidth 20
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("CONTAINER", o->container, "Container")->required();
    sub.add_option("PS_OPTIONS", o->ps_args, "Options for ps");
    // Everything after CONTAINER belongs to ps, flags included: `berth top c -o pid,comm`.
    sub.positionals_at_end(true);
    return [o](context& ctx) { return top(ctx, *o); };
}

}  // namespace

command top_command() { return {"top", "Display the running processes of a container", 1, setup}; }

}  // namespace berth::cli
