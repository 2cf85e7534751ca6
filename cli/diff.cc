// berth diff CONTAINER
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
    std::string container;
};

int diff(context& ctx, const options& o) {
    auto changes = call_json(ctx, "GET", "/containers/" + escape_path(o.container) + "/changes");
    if (!changes) return fail(changes.err(), 1);
    if (!changes->is_array()) return 0;  // null: nothing changed
    std::string out;
    for (const auto& ch : changes->as_array()) {
        // Docker's archive.ChangeType: 0 modified, 1 added, 2 deleted.
        static constexpr const char* kinds[] = {"C", "A", "D"};
        std::int64_t kind = json_int(ch, "Kind");
        out += kind >= 0 && kind <= 2 ? kinds[kind] : "?";
        out += " " + json_string(ch, "Path") + "\n";
    }
    if (auto st = write_fd(1, out); !st) return fail(st.err(), 1);
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("CONTAINER", o->container, "Container")->required();
    return [o](context& ctx) { return diff(ctx, *o); };
}

}  // namespace

command diff_command() { return {"diff", "Inspect changes to files or directories on a container's filesystem", 1, setup}; }

}  // namespace berth::cli
