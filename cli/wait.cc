// berth wait CONTAINER...
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

// Blocks until the container stops; returns its exit status.
result<std::int64_t> wait_one(const net::client& api, const std::string& container) {
    BERTH_ASSIGN(auto s, api.stream("POST", "/containers/" + escape_path(container) + "/wait"));
    BERTH_ASSIGN(std::string body, s.read_all());
    if (!s.ok()) return daemon_error(s.status(), body);
    BERTH_ASSIGN(auto v, parse_json(body, "wait answer"));
    if (const auto* o = v.if_object()) {
        if (const auto* e = o->if_contains("Error"); e && e->is_object()) {
            std::string msg = json_string(*e, "Message");
            if (!msg.empty()) return make_error(errc::internal, "Error response from daemon: " + msg);
        }
    }
    return json_int(v, "StatusCode");
}

action setup(CLI::App& sub) {
    auto containers = std::make_shared<std::vector<std::string>>();
    sub.add_option("CONTAINER", *containers, "Containers to wait for")->required();
    return [containers](context& ctx) {
        auto api = ctx.api();
        if (!api) return fail(api.err(), 1);
        int code = 0;
        for (const auto& c : *containers) {
            auto status = wait_one(**api, c);
            if (!status) {
                code = fail(status.err(), 1);
                continue;
            }
            std::printf("%lld\n", static_cast<long long>(*status));
            std::fflush(stdout);
        }
        return code;
    };
}

}  // namespace

command wait_command() { return {"wait", "Block until one or more containers stop, then print their exit codes", 1, setup}; }

}  // namespace berth::cli
