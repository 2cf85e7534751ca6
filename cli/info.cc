// berth info
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstdio>

#include "base/util.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

void field(std::string_view label, std::string_view value) {
    std::printf(" %.*s: %.*s\n", static_cast<int>(label.size()), label.data(), static_cast<int>(value.size()),
                value.data());
}

std::string number(const json::value& v, std::string_view key) { return std::to_string(json_int(v, key)); }

int info(context& ctx) {
    std::printf("Client:\n");
    std::printf(" Version:    0.1.0\n");
    std::printf(" Debug Mode: false\n\n");
    std::fflush(stdout);

    auto r = call_json(ctx, "GET", "/info");
    if (!r) return fail(r.err(), 1);
    const json::value& v = *r;
    const auto* o = v.if_object();

    std::printf("Server:\n");
    field("Containers", number(v, "Containers"));
    field(" Running", number(v, "ContainersRunning"));
    field(" Paused", number(v, "ContainersPaused"));
    field(" Stopped", number(v, "ContainersStopped"));
    field("Images", number(v, "Images"));
    field("Server Version", json_string(v, "ServerVersion"));
    field("Storage Driver", json_string(v, "Driver"));
    if (const auto* ds = o ? o->if_contains("DriverStatus") : nullptr; ds && ds->is_array()) {
        for (const auto& pair : ds->get_array()) {
            const auto* a = pair.if_array();
            if (a && a->size() == 2 && (*a)[0].is_string() && (*a)[1].is_string())
                field(" " + std::string((*a)[0].get_string()), (*a)[1].get_string());
        }
    }
    if (auto l = json_string(v, "LoggingDriver"); !l.empty()) field("Logging Driver", l);
    field("Cgroup Driver", json_string(v, "CgroupDriver"));
    field("Cgroup Version", json_string(v, "CgroupVersion"));
    if (auto d = json_string(v, "DefaultRuntime"); !d.empty()) field("Default Runtime", d);
    // docker's prettyPrintServerInfo: "name=userns" -> "  userns", other keys "   Key: value".
    if (const auto* so = o ? o->if_contains("SecurityOptions") : nullptr;
        so && so->is_array() && !so->get_array().empty()) {
        std::printf(" Security Options:\n");
        for (const auto& opt : so->get_array()) {
            if (!opt.is_string()) continue;
            for (const auto& kv : split(opt.get_string(), ',')) {
                auto eq = kv.find('=');
                if (eq == std::string::npos) continue;
                std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
                if (key == "name") {
                    std::printf("  %s\n", value.c_str());
                } else {
                    if (!key.empty()) key[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(key[0])));
                    std::printf("   %s: %s\n", key.c_str(), value.c_str());
                }
            }
        }
    }
    field("Kernel Version", json_string(v, "KernelVersion"));
    field("Operating System", json_string(v, "OperatingSystem"));
    field("OSType", json_string(v, "OSType"));
    field("Architecture", json_string(v, "Architecture"));
    field("CPUs", number(v, "NCPU"));
    field("Total Memory", human_size_binary(static_cast<double>(json_int(v, "MemTotal"))));
    if (auto n = json_string(v, "Name"); !n.empty()) field("Name", n);
    if (auto id = json_string(v, "ID"); !id.empty()) field("ID", id);
    field("Docker Root Dir", json_string(v, "DockerRootDir"));
    field("Debug Mode", json_bool(v, "Debug") ? "true" : "false");
    field("Experimental", json_bool(v, "ExperimentalBuild") ? "true" : "false");
    field("Live Restore Enabled", json_bool(v, "LiveRestoreEnabled") ? "true" : "false");
    std::printf("\n");
    std::fflush(stdout);
    if (const auto* w = o ? o->if_contains("Warnings") : nullptr; w && w->is_array())
        for (const auto& warning : w->get_array())
            if (warning.is_string()) std::fprintf(stderr, "%s\n", warning.get_string().c_str());
    return 0;
}

action setup(CLI::App&) {
    return [](context& ctx) { return info(ctx); };
}

}  // namespace

command info_command() { return {"info", "Display system-wide information", 1, setup}; }

}  // namespace berth::cli
