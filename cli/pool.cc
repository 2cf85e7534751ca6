// berth pool set|ls|rm (a berth extension): warm pools of prepared
// sandboxes per image (engine/pool.cc, /berth/pools).
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
    CLI::App *set = nullptr, *ls = nullptr, *rm = nullptr;
    std::string image;
    int size = 0;
    bool wait = false;
    std::vector<std::string> images;
};

std::int64_t number(const json::object& o, const char* k) {
    auto* v = o.if_contains(k);
    return v && v->is_number() ? v->to_number<std::int64_t>() : 0;
}

int set(context& ctx, const options& o) {
    if (o.size < 0) return fail(make_error(errc::invalid_argument, "the pool size must be 0 or more"), 1);
    json::object body{{"Image", o.image}, {"Size", o.size}, {"Wait", o.wait}};
    auto r = call_json(ctx, "POST", "/berth/pools", json::serialize(body));
    if (!r) return fail(r.err(), 1);
    const auto& p = r->as_object();
    std::printf("%s: %lld of %lld ready\n", o.image.c_str(), static_cast<long long>(number(p, "Ready")),
                static_cast<long long>(number(p, "Size")));
    return 0;
}

int list(context& ctx) {
    auto r = call_json(ctx, "GET", "/berth/pools");
    if (!r) return fail(r.err(), 1);
    std::printf("%-30s%-8s%-8s%-11s%-10s%-8s%s\n", "IMAGE", "SIZE", "READY", "PREPARING", "TAKEN", "FAILED",
                "LAST ERROR");
    for (const auto& v : r->as_array()) {
        const auto& p = v.as_object();
        std::printf("%-30s%-8lld%-8lld%-11lld%-10lld%-8lld%s\n", std::string(p.at("Image").as_string()).c_str(),
                    static_cast<long long>(number(p, "Size")), static_cast<long long>(number(p, "Ready")),
                    static_cast<long long>(number(p, "Preparing")), static_cast<long long>(number(p, "Taken")),
                    static_cast<long long>(number(p, "Failed")), std::string(p.at("LastError").as_string()).c_str());
    }
    return 0;
}

int remove(context& ctx, const options& o) {
    int rc = 0;
    for (const auto& image : o.images) {
        auto r = call(ctx, "DELETE", "/berth/pools/" + escape_path(image));
        if (!r) rc = fail(r.err(), 1);
        else std::printf("%s\n", image.c_str());
    }
    return rc;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.require_subcommand(1);
    o->set = sub.add_subcommand("set", "Keep SIZE sandboxes of IMAGE prepared (0 removes the pool)");
    o->set->add_option("IMAGE", o->image, "Image")->required();
    o->set->add_option("SIZE", o->size, "Sandboxes to keep prepared")->required();
    o->set->add_flag("--wait", o->wait, "Return once the pool is full");
    o->ls = sub.add_subcommand("ls", "List warm pools");
    o->ls->alias("list");
    o->rm = sub.add_subcommand("rm", "Remove warm pools (their prepared sandboxes are killed)");
    o->rm->add_option("IMAGE", o->images, "Images")->required();
    return [o](context& ctx) {
        if (o->set->parsed()) return set(ctx, *o);
        if (o->ls->parsed()) return list(ctx);
        return remove(ctx, *o);
    };
}

}  // namespace

command pool_command() { return {"pool", "Manage warm pools of prepared sandboxes (berth extension)", 1, setup}; }

}  // namespace berth::cli
