// berth system df: docker's disk usage summary from GET /system/df (the
// same columns and sums as the docker CLI's formatter/disk_usage.go).
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

// go-units HumanSize: decimal units, four significant digits.
std::string size4(double bytes) {
    static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int i = 0;
    while (bytes >= 1000.0 && i < 5) {
        bytes /= 1000.0;
        ++i;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g%s", bytes, units[i]);
    return buf;
}

std::string reclaimable(std::int64_t part, std::int64_t total) {
    if (total <= 0) return size4(double(part));
    return size4(double(part)) + " (" + std::to_string(part * 100 / total) + "%)";
}

const json::array& array_of(const json::value& v, const char* key) {
    static const json::array empty;
    auto* a = v.as_object().if_contains(key);
    return a && a->is_array() ? a->as_array() : empty;
}

int df(context& ctx) {
    auto r = call_json(ctx, "GET", "/system/df");
    if (!r) return fail(r.err(), 1);
    const json::value& v = *r;

    const auto& images = array_of(v, "Images");
    std::int64_t image_total = json_int(v, "LayersSize"), image_used = 0, image_active = 0;
    for (const auto& i : images) {
        if (json_int(i, "Containers") == 0) continue;
        ++image_active;
        if (json_int(i, "Size") != -1 && json_int(i, "SharedSize") != -1)
            image_used += json_int(i, "Size") - json_int(i, "SharedSize");
    }
    const auto& containers = array_of(v, "Containers");
    std::int64_t ctr_size = 0, ctr_reclaim = 0, ctr_active = 0;
    for (const auto& c : containers) {
        std::string state = json_string(c, "State");
        bool active = state == "running" || state == "paused" || state == "restarting";
        ctr_active += active;
        ctr_size += json_int(c, "SizeRw");
        if (!active) ctr_reclaim += json_int(c, "SizeRw");
    }
    const auto& vols = array_of(v, "Volumes");
    std::int64_t vol_size = 0, vol_reclaim = 0, vol_active = 0;
    for (const auto& vol : vols) {
        const auto* u = vol.as_object().if_contains("UsageData");
        if (!u || !u->is_object()) continue;
        std::int64_t size = json_int(*u, "Size"), refs = json_int(*u, "RefCount");
        if (refs > 0) ++vol_active;
        if (size == -1) continue;
        vol_size += size;
        if (refs == 0) vol_reclaim += size;
    }
    const auto& cache = array_of(v, "BuildCache");

    std::printf("%-16s%-10s%-10s%-10s%s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
    auto row = [](const char* type, std::size_t total, std::int64_t active, std::int64_t size, const std::string& rec) {
        std::printf("%-16s%-10zu%-10lld%-10s%s\n", type, total, static_cast<long long>(active), size4(double(size)).c_str(),
                    rec.c_str());
    };
    row("Images", images.size(), image_active, image_total, reclaimable(image_total - image_used, image_total));
    row("Containers", containers.size(), ctr_active, ctr_size, reclaimable(ctr_reclaim, ctr_size));
    row("Local Volumes", vols.size(), vol_active, vol_size, reclaimable(vol_reclaim, vol_size));
    row("Build Cache", cache.size(), 0, json_int(v, "BuilderSize"), size4(double(json_int(v, "BuilderSize"))));
    return 0;
}

action setup(CLI::App& sub) {
    sub.require_subcommand(1);
    auto* d = sub.add_subcommand("df", "Show docker disk usage");
    (void)d;
    return [](context& ctx) { return df(ctx); };
}

}  // namespace

command system_command() { return {"system", "Manage berth", 1, setup}; }

}  // namespace berth::cli
