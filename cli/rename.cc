// berth rename CONTAINER NEW_NAME
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    std::string container, new_name;
};

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("CONTAINER", o->container, "The container to rename")->required();
    sub.add_option("NEW_NAME", o->new_name, "Its new name")->required();
    return [o](context& ctx) {
        auto r = call(ctx, "POST", "/containers/" + escape_path(o->container) + "/rename?name=" + escape_query(o->new_name));
        if (!r) return fail(r.err(), 1);
        return 0;
    };
}

}  // namespace

command rename_command() { return {"rename", "Rename a container", 1, setup}; }

}  // namespace berth::cli
