// berth volume create|ls|inspect|rm|prune (the local driver).
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

namespace json = boost::json;

struct options {
    CLI::App *create = nullptr, *ls = nullptr, *inspect = nullptr, *rm = nullptr, *prune = nullptr;
    std::string name, driver = "local";
    std::vector<std::string> labels, driver_opts, names, filters;
    bool quiet = false, force = false, all = false;
};

json::object key_values(const std::vector<std::string>& kvs) {
    json::object out;
    for (const auto& kv : kvs) {
        auto eq = kv.find('=');
        out[kv.substr(0, eq)] = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
    }
    return out;
}

// Docker's filter query: {"key":{"value":true}}.
std::string filter_query(const std::vector<std::string>& filters, bool all) {
    json::object f;
    for (const auto& kv : filters) {
        auto eq = kv.find('=');
        std::string k = kv.substr(0, eq), v = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
        if (!f.contains(k)) f[k] = json::object{};
        f[k].as_object()[v] = true;
    }
    if (all) f["all"] = json::object{{"true", true}};
    return f.empty() ? std::string() : "?filters=" + escape_query(json::serialize(f));
}

int create(context& ctx, const options& o) {
    json::object body{{"Name", o.name}, {"Driver", o.driver}, {"DriverOpts", key_values(o.driver_opts)},
                      {"Labels", key_values(o.labels)}};
    auto r = call_json(ctx, "POST", "/volumes/create", json::serialize(body));
    if (!r) return fail(r.err(), 1);
    std::printf("%s\n", std::string(r->as_object().at("Name").as_string()).c_str());
    return 0;
}

int list(context& ctx, const options& o) {
    auto r = call_json(ctx, "GET", "/volumes" + filter_query(o.filters, false));
    if (!r) return fail(r.err(), 1);
    if (!o.quiet) std::printf("%-10s%s\n", "DRIVER", "VOLUME NAME");
    if (auto* vols = r->as_object().if_contains("Volumes"); vols && vols->is_array())
        for (const auto& v : vols->as_array()) {
            std::string name(v.as_object().at("Name").as_string());
            if (o.quiet) std::printf("%s\n", name.c_str());
            else std::printf("%-10s%s\n", std::string(v.as_object().at("Driver").as_string()).c_str(), name.c_str());
        }
    return 0;
}

int inspect(context& ctx, const options& o) {
    json::array found;
    int rc = 0;
    for (const auto& n : o.names) {
        auto r = call_json(ctx, "GET", "/volumes/" + escape_path(n));
        if (!r) {
            rc = fail(r.err(), 1);
            continue;
        }
        found.push_back(std::move(*r));
    }
    std::printf("%s\n", pretty_json(found).c_str());
    return rc;
}

int remove(context& ctx, const options& o) {
    int rc = 0;
    for (const auto& n : o.names) {
        auto r = call(ctx, "DELETE", "/volumes/" + escape_path(n) + (o.force ? "?force=1" : ""));
        if (!r) rc = fail(r.err(), 1);
        else std::printf("%s\n", n.c_str());
    }
    return rc;
}

int prune(context& ctx, const options& o) {
    auto r = call_json(ctx, "POST", "/volumes/prune" + filter_query(o.filters, o.all));
    if (!r) return fail(r.err(), 1);
    const auto* deleted = r->as_object().if_contains("VolumesDeleted");
    if (deleted && deleted->is_array() && !deleted->as_array().empty()) {
        std::printf("Deleted Volumes:\n");
        for (const auto& n : deleted->as_array()) std::printf("%s\n", std::string(n.as_string()).c_str());
        std::printf("\n");
    }
    std::printf("Total reclaimed space: 0B\n");
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.require_subcommand(1);
    o->create = sub.add_subcommand("create", "Create a volume");
    o->create->add_option("VOLUME", o->name, "The volume's name (random when omitted)");
    o->create->add_option("-d,--driver", o->driver, "Volume driver name (local)");
    o->create->add_option("--label", o->labels, "Set metadata for a volume")->allow_extra_args(false);
    o->create->add_option("-o,--opt", o->driver_opts, "Set driver specific options")->allow_extra_args(false);
    o->ls = sub.add_subcommand("ls", "List volumes");
    o->ls->alias("list");
    o->ls->add_flag("-q,--quiet", o->quiet, "Only display volume names");
    o->ls->add_option("-f,--filter", o->filters, "Provide filter values (e.g. 'dangling=true')")->allow_extra_args(false);
    o->inspect = sub.add_subcommand("inspect", "Display detailed information on one or more volumes");
    o->inspect->add_option("VOLUME", o->names, "Volumes")->required();
    o->rm = sub.add_subcommand("rm", "Remove one or more volumes");
    o->rm->alias("remove");
    o->rm->add_flag("-f,--force", o->force, "Do not fail when a volume does not exist");
    o->rm->add_option("VOLUME", o->names, "Volumes")->required();
    o->prune = sub.add_subcommand("prune", "Remove unused volumes");
    o->prune->add_flag("-a,--all", o->all, "Remove all unused volumes, not just anonymous ones");
    o->prune->add_flag("-f,--force", o->force, "Do not prompt for confirmation (berth never prompts)");
    o->prune->add_option("--filter", o->filters, "Provide filter values (e.g. 'label=<label>')")->allow_extra_args(false);
    return [o](context& ctx) {
        if (o->create->parsed()) return create(ctx, *o);
        if (o->ls->parsed()) return list(ctx, *o);
        if (o->inspect->parsed()) return inspect(ctx, *o);
        if (o->rm->parsed()) return remove(ctx, *o);
        return prune(ctx, *o);
    };
}

}  // namespace

command volume_command() { return {"volume", "Manage volumes", 1, setup}; }

}  // namespace berth::cli
