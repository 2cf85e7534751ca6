// berth version
#include <sys/utsname.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

constexpr const char* client_version = "0.1.0";

// Go's GOARCH names for uname's machine.
std::string go_arch() {
    utsname u{};
    if (::uname(&u) != 0) return "unknown";
    std::string m = u.machine;
    if (m == "x86_64") return "amd64";
    if (m == "aarch64") return "arm64";
    if (m.starts_with("armv")) return "arm";
    if (m == "i686" || m == "i386") return "386";
    return m;
}

// "<indent>Label:<pad to 20>value", the layout of docker's tabwriter(20, 1, 1).
void line(std::string_view label, std::string_view value) {
    std::string l(label);
    l += ':';
    l.append(l.size() < 19 ? 20 - l.size() : 1, ' ');
    std::printf("%s%.*s\n", l.c_str(), static_cast<int>(value.size()), value.data());
}

int version(context& ctx) {
    std::printf("Client:\n");
    line(" Version", client_version);
    line(" API version", net::api_version);
    line(" OS/Arch", "linux/" + go_arch());
    std::printf("\n");
    std::fflush(stdout);

    auto v = call_json(ctx, "GET", "/version");
    if (!v) return fail(v.err(), 1);
    std::printf("Server:\n");
    std::printf(" Engine:\n");
    line("  Version", json_string(*v, "Version"));
    std::string api = json_string(*v, "ApiVersion");
    if (auto min = json_string(*v, "MinAPIVersion"); !min.empty()) api += " (minimum version " + min + ")";
    line("  API version", api);
    if (auto g = json_string(*v, "GoVersion"); !g.empty()) line("  Go version", g);
    if (auto g = json_string(*v, "GitCommit"); !g.empty()) line("  Git commit", g);
    if (auto b = json_string(*v, "BuildTime"); !b.empty()) line("  Built", b);
    line("  OS/Arch", json_string(*v, "Os") + "/" + json_string(*v, "Arch"));
    line("  Experimental", json_bool(*v, "Experimental") ? "true" : "false");
    const auto* o = v->if_object();
    const auto* components = o ? o->if_contains("Components") : nullptr;
    if (components && components->is_array()) {
        for (const auto& c : components->get_array()) {
            std::string name = json_string(c, "Name");
            if (name.empty() || name == "Engine") continue;
            std::printf(" %s:\n", name.c_str());
            line("  Version", json_string(c, "Version"));
            const auto* co = c.if_object();
            const auto* details = co ? co->if_contains("Details") : nullptr;
            if (details && details->is_object())
                for (const auto& kv : details->get_object())
                    if (kv.value().is_string()) line("  " + std::string(kv.key()), kv.value().get_string());
        }
    }
    return 0;
}

action setup(CLI::App&) {
    return [](context& ctx) { return version(ctx); };
}

}  // namespace

command version_command() { return {"version", "Show the berth version information", 1, setup}; }

}  // namespace berth::cli
