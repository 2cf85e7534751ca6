// berth rmi [-f] [--no-prune] IMAGE...
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    bool force = false;
    bool no_prune = false;
    std::vector<std::string> images;
};

int rmi(context& ctx, const options& o) {
    if (auto api = ctx.api(); !api) return fail(api.err(), 1);
    std::string query;
    if (o.force) query += "&force=1";
    if (o.no_prune) query += "&noprune=1";
    if (!query.empty()) query[0] = '?';
    auto failed = for_each_name(o.images, [&](const std::string& image) -> status {
        BERTH_ASSIGN(auto r, call_json(ctx, "DELETE", "/images/" + escape_path(image) + query));
        if (!r.is_array()) return ok();
        for (const auto& item : r.get_array()) {
            if (auto u = json_string(item, "Untagged"); !u.empty()) std::printf("Untagged: %s\n", u.c_str());
            if (auto d = json_string(item, "Deleted"); !d.empty()) std::printf("Deleted: %s\n", d.c_str());
        }
        std::fflush(stdout);
        return ok();
    });
    return failed.empty() ? 0 : 1;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-f,--force", o->force, "Force removal of the image");
    sub.add_flag("--no-prune", o->no_prune, "Do not delete untagged parents");
    sub.add_option("IMAGE", o->images, "Images to remove")->required();
    return [o](context& ctx) { return rmi(ctx, *o); };
}

}  // namespace

command rmi_command() { return {"rmi", "Remove one or more images", 1, setup}; }

}  // namespace berth::cli
