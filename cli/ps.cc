// berth ps [-a] [-q] [--no-trunc] [-f KEY=VALUE]
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

struct options {
    bool all = false;
    bool quiet = false;
    bool no_trunc = false;
    std::vector<std::string> filters;
};

// {"name":{"web":true}} from ["name=web"], as docker encodes --filter.
result<std::string> encode_filters(const std::vector<std::string>& filters) {
    std::map<std::string, std::set<std::string>> by_key;
    for (const auto& f : filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos || eq == 0)
            return make_error(errc::invalid_argument, "bad format of filter (expected name=value)");
        by_key[f.substr(0, eq)].insert(f.substr(eq + 1));
    }
    json::object o;
    for (const auto& [k, values] : by_key) {
        json::object set;
        for (const auto& v : values) set[v] = true;
        o[k] = std::move(set);
    }
    return json::serialize(o);
}

std::string names_of(const json::value& c, bool no_trunc) {
    std::string out;
    const auto* o = c.if_object();
    const auto* names = o ? o->if_contains("Names") : nullptr;
    if (!names || !names->is_array()) return out;
    for (const auto& n : names->get_array()) {
        if (!n.is_string()) continue;
        std::string_view name = n.get_string();
        if (!name.empty() && name[0] == '/') name.remove_prefix(1);
        // Names with another "/" are legacy link aliases; docker hides them.
        if (!no_trunc && name.find('/') != std::string_view::npos) continue;
        if (!out.empty()) out += ',';
        out += name;
    }
    return out;
}

std::string ports_of(const json::value& c) {
    std::string out;
    const auto* o = c.if_object();
    const auto* ports = o ? o->if_contains("Ports") : nullptr;
    if (!ports || !ports->is_array()) return out;
    for (const auto& p : ports->get_array()) {
        std::string one;
        std::int64_t pub = json_int(p, "PublicPort");
        std::string type = json_string(p, "Type");
        if (pub != 0) {
            std::string ip = json_string(p, "IP");
            one = (ip.empty() ? "" : ip + ":") + std::to_string(pub) + "->";
        }
        one += std::to_string(json_int(p, "PrivatePort")) + "/" + (type.empty() ? "tcp" : type);
        if (!out.empty()) out += ", ";
        out += one;
    }
    return out;
}

int ps(context& ctx, const options& o) {
    std::string query;
    if (o.all) query += "&all=1";
    if (!o.filters.empty()) {
        auto f = encode_filters(o.filters);
        if (!f) return fail(f.err(), 1);
        query += "&filters=" + escape_query(*f);
    }
    auto list = get_list(ctx, "/containers/json", query);
    if (!list) return fail(list.err(), 1);

    std::vector<std::vector<std::string>> rows;
    if (!o.quiet)
        rows.push_back({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"});
    std::int64_t now = now_unix();
    for (const auto& c : list->get_array()) {
        std::string id = json_string(c, "Id");
        if (!o.no_trunc) id = short_id(id);
        if (o.quiet) {
            std::printf("%s\n", id.c_str());
            continue;
        }
        std::string command = json_string(c, "Command");
        if (!o.no_trunc) command = ellipsis(command, 20);
        rows.push_back({id, json_string(c, "Image"), go_quote(command), time_ago(json_int(c, "Created"), now),
                        json_string(c, "Status"), ports_of(c), names_of(c, o.no_trunc)});
    }
    if (!o.quiet) std::fputs(format_table(rows).c_str(), stdout);
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
    sub.add_flag("-q,--quiet", o->quiet, "Only display container IDs");
    sub.add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
    sub.add_option("-f,--filter", o->filters, "Filter output based on conditions provided")->allow_extra_args(false);
    return [o](context& ctx) { return ps(ctx, *o); };
}

}  // namespace

command ps_command() { return {"ps", "List containers", 1, setup}; }

}  // namespace berth::cli
