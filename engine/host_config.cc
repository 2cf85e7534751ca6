#include "engine/host_config.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#include "engine/config_util.h"

namespace berth {

namespace json = boost::json;

result<std::int64_t> int_field(const json::object& o, const char* k) {
    auto* v = o.if_contains(k);
    if (!v || v->is_null()) return std::int64_t(0);
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= std::uint64_t(INT64_MAX)) return std::int64_t(v->as_uint64());
    if (v->is_double() && v->as_double() == double(std::int64_t(v->as_double()))) return std::int64_t(v->as_double());
    return make_error(errc::invalid_argument, std::string("HostConfig.") + k + " must be an integer");
}

result<cgroup::limits> limits_of(const json::object& hc) {
    cgroup::limits l;
    BERTH_ASSIGN(l.memory, int_field(hc, "Memory"));
    BERTH_ASSIGN(l.memory_swap, int_field(hc, "MemorySwap"));
    BERTH_ASSIGN(l.memory_reservation, int_field(hc, "MemoryReservation"));
    BERTH_ASSIGN(l.nano_cpus, int_field(hc, "NanoCpus"));
    BERTH_ASSIGN(l.cpu_shares, int_field(hc, "CpuShares"));
    BERTH_ASSIGN(l.pids_limit, int_field(hc, "PidsLimit"));
    BERTH_ASSIGN(l.blkio_weight, int_field(hc, "BlkioWeight"));
    l.cpuset_cpus = str_field(hc, "CpusetCpus");
    l.cpuset_mems = str_field(hc, "CpusetMems");
    return l;
}

int usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
    return std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
}

result<json::object> restart_policy_of(const json::object& hc) {
    std::string policy = "no";
    std::int64_t retries = 0;
    if (auto* rp = hc.if_contains("RestartPolicy"); rp && rp->is_object()) {
        if (!str_field(rp->as_object(), "Name").empty()) policy = str_field(rp->as_object(), "Name");
        if (auto* m = rp->as_object().if_contains("MaximumRetryCount"); m && m->is_number())
            retries = m->to_number<std::int64_t>();
    }
    if (policy != "no" && policy != "always" && policy != "on-failure" && policy != "unless-stopped")
        return make_error(errc::invalid_argument, "invalid restart policy '" + policy + "'");
    if (retries < 0) return make_error(errc::invalid_argument, "maximum retry count cannot be negative");
    if (retries > 0 && policy != "on-failure")
        return make_error(errc::invalid_argument, "maximum retry count cannot be used with restart policy '" + policy + "'");
    return json::object{{"Name", policy}, {"MaximumRetryCount", retries}};
}

}  // namespace berth
