#include "engine/confinement_config.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>

#include "engine/config_util.h"
#include "engine/host_config.h"
#include "engine/runtime/confinement.h"
#include "engine/seccomp.h"
#include "engine/runtime/timens.h"

namespace berth {

namespace json = boost::json;

namespace {

error invalid(std::string msg) { return make_error(errc::invalid_argument, std::move(msg)); }

// Whether this process may raise a hard limit (CAP_SYS_RESOURCE effective).
// The monitor that starts the container runs with the daemon's credentials.
bool can_raise_hard_limits() {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) != 0) return false;
    return (data[CAP_SYS_RESOURCE / 32].effective & (1u << (CAP_SYS_RESOURCE % 32))) != 0;
}

result<std::uint64_t> ulimit_value(const json::object& u, const char* key, const std::string& name) {
    const json::value* v = u.if_contains(key);
    if (!v || v->is_null()) return std::uint64_t(0);
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64()) {
        std::int64_t n = v->as_int64();
        if (n == -1) return std::uint64_t(RLIM_INFINITY);  // Go's uint64(-1), as runc gets it
        if (n >= 0) return std::uint64_t(n);
    }
    return invalid("invalid ulimit " + name + ": " + key + " must be a non-negative integer or -1");
}

std::string limit_text(std::uint64_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

result<std::vector<runtime::rlimit_spec>> ulimits_of(const json::object& hc) {
    std::vector<runtime::rlimit_spec> out;
    const json::value* v = hc.if_contains("Ulimits");
    if (!v || v->is_null()) return out;
    if (!v->is_array()) return invalid("HostConfig.Ulimits must be an array");
    const bool privileged = can_raise_hard_limits();
    for (const auto& e : v->as_array()) {
        if (!e.is_object()) return invalid("HostConfig.Ulimits must be an array of {Name, Soft, Hard}");
        const auto& u = e.as_object();
        std::string name = str_field(u, "Name");
        auto resource = runtime::ulimit_resource(name);
        if (!resource) return invalid("invalid ulimit type: " + name);
        BERTH_ASSIGN(std::uint64_t soft, ulimit_value(u, "Soft", name));
        BERTH_ASSIGN(std::uint64_t hard, ulimit_value(u, "Hard", name));
        if (soft > hard)
            return invalid("ulimit soft limit must be less than or equal to hard limit: " + limit_text(soft) +
                           " > " + limit_text(hard));
        rlimit own{};
        ::getrlimit(static_cast<__rlimit_resource_t>(*resource), &own);
        if (!privileged && hard > own.rlim_max)
            return invalid("ulimit " + name + ": hard limit " + limit_text(hard) + " is above the daemon's own (" +
                           limit_text(own.rlim_max) + "), which it cannot raise without CAP_SYS_RESOURCE");
        runtime::rlimit_spec r{*resource, soft, hard};
        auto same = std::find_if(out.begin(), out.end(), [&](auto& x) { return x.resource == r.resource; });
        if (same != out.end()) *same = r;
        else out.push_back(r);
    }
    return out;
}

// HostConfig.BerthTimeOffsets: {"monotonic": S, "boottime": S}, seconds as
// a JSON integer or number, to nanoseconds. The range the kernel accepts
// depends on the host's clocks: check_time_offsets_on_host, at create.
result<std::optional<runtime::time_offset_spec>> time_offsets_of(const json::object& hc) {
    static_assert(std::string_view(k_time_offsets_key) == "BerthTimeOffsets");
    const std::string field = "HostConfig.BerthTimeOffsets";
    const json::value* v = hc.if_contains(k_time_offsets_key);
    if (!v || v->is_null()) return std::optional<runtime::time_offset_spec>();
    if (!v->is_object()) return invalid(field + " must be an object of clock: seconds (monotonic, boottime)");
    if (v->as_object().empty()) return std::optional<runtime::time_offset_spec>();
    runtime::time_offset_spec out;
    for (const auto& [key, seconds] : v->as_object()) {
        std::int64_t* ns = key == "monotonic" ? &out.monotonic_ns : key == "boottime" ? &out.boottime_ns : nullptr;
        if (!ns)
            return invalid("time offset: unknown clock \"" + std::string(key) +
                           "\": a time namespace offsets only monotonic and boottime");
        const std::string what = "time offset " + std::string(key);
        if (seconds.is_int64() || seconds.is_uint64()) {
            // |S| <= KTIME_SEC_MAX: more is refused by the kernel whatever the clock reads.
            bool in_range = seconds.is_int64() && seconds.as_int64() >= -runtime::k_ktime_sec_max &&
                            seconds.as_int64() <= runtime::k_ktime_sec_max;
            if (!in_range)
                return invalid(what + "=" + json::serialize(seconds) + ": out of range (at most ±" +
                               std::to_string(runtime::k_ktime_sec_max) + " s)");
            *ns = seconds.as_int64() * 1'000'000'000;
        } else if (seconds.is_double()) {
            double d = seconds.as_double();
            if (!(d >= -double(runtime::k_ktime_sec_max) && d <= double(runtime::k_ktime_sec_max)))
                return invalid(what + "=" + json::serialize(seconds) + ": out of range (at most ±" +
                               std::to_string(runtime::k_ktime_sec_max) + " s)");
            *ns = std::llround(d * 1e9);
        } else {
            return invalid(field + "." + std::string(key) + " must be a number of seconds");
        }
    }
    return std::optional<runtime::time_offset_spec>(out);
}

}  // namespace

void set_confinement_defaults(json::object& hc) {
    auto* v = hc.if_contains("ShmSize");
    if (!v || v->is_null() || (v->is_number() && v->to_number<double>() == 0)) hc["ShmSize"] = k_default_shm_size;
}

result<confinement> confinement_of(const json::object& hc) {
    confinement c;
    c.readonly_rootfs = bool_field(hc, "ReadonlyRootfs");
    const bool own_network = str_field(hc, "NetworkMode") != "host";

    BERTH_ASSIGN(std::int64_t shm, int_field(hc, "ShmSize"));
    if (shm < 0) return invalid("SHM size can not be less than 0");
    c.shm_size = shm == 0 ? std::uint64_t(k_default_shm_size) : std::uint64_t(shm);

    if (const json::value* t = hc.if_contains("Tmpfs"); t && !t->is_null()) {
        if (!t->is_object()) return invalid("HostConfig.Tmpfs must be an object of path: options");
        for (const auto& [target, opts] : t->as_object()) {
            if (!opts.is_string() && !opts.is_null()) return invalid("HostConfig.Tmpfs values must be strings");
            BERTH_TRY(runtime::check_tmpfs_target(target));
            BERTH_ASSIGN(auto parsed, runtime::parse_tmpfs_options(opts.is_string() ? opts.as_string() : ""));
            c.tmpfs.push_back({std::string(target), parsed.flags, std::move(parsed.data)});
        }
        // Parents before children (moby sorts mounts by depth).
        std::stable_sort(c.tmpfs.begin(), c.tmpfs.end(), [](const auto& a, const auto& b) {
            return std::count(a.target.begin(), a.target.end(), '/') <
                   std::count(b.target.begin(), b.target.end(), '/');
        });
    }

    if (const json::value* s = hc.if_contains("Sysctls"); s && !s->is_null()) {
        if (!s->is_object()) return invalid("HostConfig.Sysctls must be an object of key: value");
        for (const auto& [key, value] : s->as_object()) {
            if (!value.is_string()) return invalid("HostConfig.Sysctls values must be strings");
            BERTH_TRY(runtime::check_sysctl(key, value.as_string(), own_network));
            c.sysctls.emplace_back(std::string(key), std::string(value.as_string()));
        }
    }

    BERTH_ASSIGN(c.ulimits, ulimits_of(hc));

    if (const json::value* g = hc.if_contains("GroupAdd"); g && !g->is_null()) {
        if (!g->is_array()) return invalid("HostConfig.GroupAdd must be an array of strings");
        for (const auto& e : g->as_array()) {
            if (!e.is_string() || e.as_string().empty())
                return invalid("HostConfig.GroupAdd must be an array of group names or ids");
            c.group_add.emplace_back(e.as_string());
        }
    }

    c.seccomp = std::string(default_seccomp_profile());
    if (const json::value* o = hc.if_contains("SecurityOpt"); o && !o->is_null()) {
        if (!o->is_array()) return invalid("HostConfig.SecurityOpt must be an array of strings");
        BERTH_ASSIGN(auto sec, runtime::parse_security_opts(string_list(o)));
        c.no_new_privs = sec.no_new_privs;
        if (sec.seccomp == "unconfined") {
            c.seccomp.reset();
        } else if (sec.seccomp && *sec.seccomp != "builtin" && !bool_field(hc, "Privileged")) {
            BERTH_TRY(check_seccomp_profile(*sec.seccomp));
            c.seccomp = std::move(*sec.seccomp);
        }
    }
    if (bool_field(hc, "Privileged")) c.seccomp.reset();

    BERTH_ASSIGN(c.time_offsets, time_offsets_of(hc));
    return c;
}

status check_time_offsets_on_host(const confinement& c) {
    if (!c.time_offsets) return ok();
    BERTH_TRY(runtime::check_time_namespace_support());
    BERTH_TRY(runtime::check_time_offset("monotonic", c.time_offsets->monotonic_ns));
    BERTH_TRY(runtime::check_time_offset("boottime", c.time_offsets->boottime_ns));
    return ok();
}

}  // namespace berth
