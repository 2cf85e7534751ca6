// berth ps [-a] [-q] [-s] [-n N] [-l] [--no-trunc] [-f KEY=VALUE]... [--format FORMAT]
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <set>

#include "base/util.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"
#include "cli/format.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

struct options {
    bool all = false;
    bool quiet = false;
    bool no_trunc = false;
    bool size = false;
    bool latest = false;
    int last = -1;
    std::string format;
    std::vector<std::string> filters;
};

// docker's formatter/container.go defaults.
constexpr const char* default_table = "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}";
constexpr const char* raw_format =
    "container_id: {{.ID}}\\nimage: {{.Image}}\\ncommand: {{.Command}}\\ncreated_at: {{.CreatedAt}}\\n"
    "state: {{- pad .State 1 0}}\\nstatus: {{- pad .Status 1 0}}\\nnames: {{.Names}}\\n"
    "labels: {{- pad .Labels 1 0}}\\nports: {{- pad .Ports 1 0}}\\n";

// {"name":{"web":true}} from ["name=web"], as docker encodes --filter.
result<std::string> encode_filters(const std::vector<std::string>& filters) {
    std::map<std::string, std::set<std::string>> by_key;
    for (const auto& f : filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos)
            return make_error(errc::invalid_argument, "bad format of filter (expected name=value)");
        // docker's FilterOpt: the name lowercased, both sides trimmed.
        std::string key = trim(std::string_view(f).substr(0, eq));
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        by_key[key].insert(trim(std::string_view(f).substr(eq + 1)));
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

// Go's time.Time.String() of a unix time, in local time.
std::string go_time_string(std::int64_t unix_time) {
    std::time_t t = static_cast<std::time_t>(unix_time);
    std::tm lt{};
    ::localtime_r(&t, &lt);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &lt);
    return buf;
}

// docker's ContainerContext.Image: an image id shortened, a digest dropped.
std::string image_of(const json::value& c, bool trunc) {
    std::string image = json_string(c, "Image");
    if (image.empty()) return "<no image>";
    if (!trunc) return image;
    std::string image_id = json_string(c, "ImageID");
    if (!image_id.empty() && short_id(image_id) == short_id(image)) return short_id(image_id);
    if (auto at = image.find('@'); at != std::string::npos) image.erase(at);
    for (std::string_view prefix : {"docker.io/library/", "docker.io/"})
        if (starts_with(image, prefix)) return image.substr(prefix.size());
    return image;
}

std::map<std::string, std::string> labels_of(const json::value& c) {
    std::map<std::string, std::string> out;
    const auto* o = c.if_object();
    const auto* l = o ? o->if_contains("Labels") : nullptr;
    if (l && l->is_object())
        for (const auto& [k, v] : l->get_object()) out[std::string(k)] = v.is_string() ? std::string(v.get_string()) : "";
    return out;
}

// The row a template sees: docker's ContainerContext, every field a string.
template_data row_of(const json::value& c, bool trunc, std::int64_t now) {
    const auto* o = c.if_object();
    auto labels = labels_of(c);
    std::string label_text, mounts, networks;
    for (const auto& [k, v] : labels) label_text += (label_text.empty() ? "" : ",") + k + "=" + v;
    std::int64_t local_volumes = 0;
    if (const auto* m = o ? o->if_contains("Mounts") : nullptr; m && m->is_array())
        for (const auto& mount : m->get_array()) {
            std::string name = json_string(mount, "Name");
            if (name.empty()) name = json_string(mount, "Source");
            if (trunc) name = ellipsis(name, 15);
            mounts += (mounts.empty() ? "" : ",") + name;
            if (json_string(mount, "Driver") == "local") ++local_volumes;
        }
    if (const auto* ns = o ? o->if_contains("NetworkSettings") : nullptr; ns && ns->is_object())
        if (const auto* n = ns->get_object().if_contains("Networks"); n && n->is_object()) {
            std::vector<std::string> names;
            for (const auto& kv : n->get_object()) names.emplace_back(kv.key());
            std::sort(names.begin(), names.end());
            for (const auto& name : names) networks += (networks.empty() ? "" : ",") + name;
        }
    std::string size = human_size(double(json_int(c, "SizeRw")));
    if (json_int(c, "SizeRootFs") > 0) size += " (virtual " + human_size(double(json_int(c, "SizeRootFs"))) + ")";
    std::string id = json_string(c, "Id");
    std::string command = json_string(c, "Command");
    std::int64_t created = json_int(c, "Created");

    template_data d;
    d.type_name = "*formatter.ContainerContext";
    // Keys in Go's json.Marshal order (sorted), for {{json .}}.
    d.dot = json::object{{"Command", go_quote(trunc ? ellipsis(command, 20) : command)},
                         {"CreatedAt", created ? go_time_string(created) : std::string()},
                         {"ID", trunc ? short_id(id) : id},
                         {"Image", image_of(c, trunc)},
                         {"Labels", label_text},
                         {"LocalVolumes", std::to_string(local_volumes)},
                         {"Mounts", mounts},
                         {"Names", names_of(c, !trunc)},
                         {"Networks", networks},
                         {"Ports", ports_of(c)},
                         {"RunningFor", created ? time_ago(created, now) : std::string()},
                         {"Size", size},
                         {"State", json_string(c, "State")},
                         {"Status", json_string(c, "Status")}};
    d.methods["Label"] = [labels](const std::vector<json::value>& args) -> result<json::value> {
        if (args.size() != 1 || !args[0].is_string())
            return make_error(errc::invalid_argument, "Label takes one string");
        auto it = labels.find(std::string(args[0].get_string()));
        return json::value(it == labels.end() ? std::string() : it->second);
    };
    return d;
}

// docker's SubHeaderContext: the column titles, and Label "a.b-c" -> "b c".
template_data header_row() {
    template_data d;
    d.dot = json::object{{"ID", "CONTAINER ID"}, {"Names", "NAMES"},        {"Image", "IMAGE"},
                         {"Command", "COMMAND"}, {"CreatedAt", "CREATED AT"}, {"RunningFor", "CREATED"},
                         {"Ports", "PORTS"},     {"State", "STATE"},        {"Status", "STATUS"},
                         {"Size", "SIZE"},       {"Labels", "LABELS"},      {"Mounts", "MOUNTS"},
                         {"LocalVolumes", "LOCAL VOLUMES"}, {"Networks", "NETWORKS"}};
    d.methods["Label"] = [](const std::vector<json::value>& args) -> result<json::value> {
        if (args.size() != 1 || !args[0].is_string())
            return make_error(errc::invalid_argument, "Label takes one string");
        std::string name(args[0].get_string());
        name = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
        std::replace(name.begin(), name.end(), '-', ' ');
        std::replace(name.begin(), name.end(), '_', ' ');
        return json::value(name);
    };
    return d;
}

int ps(context& ctx, const options& o) {
    bool size = o.size;
    if (!o.format.empty()) {
        if (o.quiet) std::fputs("WARNING: Ignoring custom format, because both --format and --quiet are set.\n", stderr);
        // As docker: the template is checked, and tells whether sizes are
        // needed, before anything is asked of the daemon.
        auto t = go_template::parse(o.format);
        if (!t) return fail(t.err().wrap("failed to parse template"), 1);
        std::string sink;
        if (auto r = t->execute(row_of(json::object{}, true, 0), sink); !r)
            return fail(r.err().wrap("failed to execute template"), 1);
        if (!o.quiet && t->reads("Size")) size = true;
    }
    int limit = o.last;
    if (o.latest && limit == -1) limit = 1;

    std::string query;
    if (o.all) query += "&all=1";
    if (!o.filters.empty()) {
        auto f = encode_filters(o.filters);
        if (!f) return fail(f.err(), 1);
        query += "&filters=" + escape_query(*f);
    }
    if (limit > 0) query += "&limit=" + std::to_string(limit);
    if (size) query += "&size=1";
    auto list = get_list(ctx, "/containers/json", query);
    if (!list) return fail(list.err(), 1);

    std::string format = o.format;
    if (format == "json") format = "{{json .}}";
    if (format.empty() || format == "table") {
        format = o.quiet ? "{{.ID}}" : std::string(default_table) + (size ? "\\t{{.Size}}" : "");
    } else if (format == "raw") {
        format = o.quiet ? "container_id: {{.ID}}" : std::string(raw_format) + (size ? "size: {{.Size}}\\n" : "");
    } else if (o.quiet) {
        format = "{{.ID}}";
    }

    std::vector<template_data> rows;
    std::int64_t now = now_unix();
    for (const auto& c : list->get_array()) rows.push_back(row_of(c, !o.no_trunc, now));
    auto text = render_rows(parse_docker_format(format), rows, header_row());
    if (!text) return fail(text.err(), 1);
    std::fputs(text->c_str(), stdout);
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
    sub.add_flag("-q,--quiet", o->quiet, "Only display container IDs");
    sub.add_flag("-s,--size", o->size, "Display total file sizes");
    sub.add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
    sub.add_option("-n,--last", o->last, "Show n last created containers (includes all states)");
    sub.add_flag("-l,--latest", o->latest, "Show the latest created container (includes all states)");
    sub.add_option("-f,--filter", o->filters, "Filter output based on conditions provided")->allow_extra_args(false);
    sub.add_option("--format", o->format,
                   "Format output: table, table TEMPLATE, json, raw, or a Go template ({{.ID}}, {{.Names}}, "
                   "{{.Label \"k\"}}, {{json .}}...)");
    return [o](context& ctx) { return ps(ctx, *o); };
}

}  // namespace

command ps_command() { return {"ps", "List containers", 1, setup}; }

}  // namespace berth::cli
