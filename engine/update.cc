// Docker's container update: new resource limits and restart policy.
#include <algorithm>

#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/config_util.h"
#include "engine/engine.h"
#include "engine/host_config.h"

namespace berth {

namespace json = boost::json;

namespace {

// moby errCannotUpdate: the cause keeps its category.
error cannot_update(const std::string& id, const error& cause) {
    error e = cause;
    e.message = "Cannot update container " + id + ": " + cause.message;
    return e;
}

// Settings berth does not implement are refused, never ignored (as at create).
status refuse_unsupported(const json::object& body) {
    for (const char* k : {"CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime", "KernelMemory",
                          "KernelMemoryTCP"}) {
        auto* v = body.if_contains(k);
        if (v && v->is_number() && v->to_number<double>() > 0)
            return make_error(errc::invalid_argument, std::string(k) + " is not supported yet");
    }
    for (const char* k : {"BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                          "BlkioDeviceWriteIOps", "Devices", "DeviceCgroupRules", "Ulimits"}) {
        auto* v = body.if_contains(k);
        if (v && v->is_array() && !v->as_array().empty())
            return make_error(errc::invalid_argument, std::string(k) + " is not supported yet");
    }
    return ok();
}

}  // namespace

awaitable<result<std::vector<std::string>>> engine::update_container(std::string ref, json::object body) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    if (c->removed || c->status == "removing")
        co_return cannot_update(c->id, make_error(errc::conflict, "container is marked for removal and cannot be \"update\""));
    if (auto s = refuse_unsupported(body); !s) co_return s.err();
    auto req = limits_of(body);
    if (!req) co_return req.err();
    auto* pids_value = body.if_contains("PidsLimit");
    bool pids_given = pids_value && !pids_value->is_null();

    json::object hc = c->host_config;
    auto stored = limits_of(hc);
    if (!stored) co_return stored.err();

    // moby verifyContainerSettings(update=true): create's checks and
    // warnings, without create's defaults. A swap given alone is checked
    // against the memory limit in force.
    cgroup::limits l = *req;
    if (l.memory == 0 && l.memory_swap > 0) l.memory = stored->memory;
    auto verified = cgroup::verify_limits(l, _cgroups->supported(), _cgroups->cpus(), _cgroups->mems(), usable_cpus());
    if (!verified) co_return verified.err();
    std::vector<std::string> warnings = *verified;
    if (req->memory == 0) l.memory = 0;
    // verify_limits defaults MemorySwap to twice Memory as create does; an
    // update keeps the swap limit in force unless it names one.
    if (req->memory_swap == 0 && l.memory > 0 && l.memory_swap == 2 * l.memory) l.memory_swap = 0;

    // moby Container.UpdateContainer: zero or empty leaves a setting as it is.
    if (l.blkio_weight != 0) hc["BlkioWeight"] = l.blkio_weight;
    if (l.cpu_shares != 0) hc["CpuShares"] = l.cpu_shares;
    if (l.nano_cpus != 0) hc["NanoCpus"] = l.nano_cpus;
    if (!l.cpuset_cpus.empty()) hc["CpusetCpus"] = l.cpuset_cpus;
    if (!l.cpuset_mems.empty()) hc["CpusetMems"] = l.cpuset_mems;
    if (l.memory != 0) {
        if (l.memory > stored->memory_swap && l.memory_swap == 0)
            co_return cannot_update(c->id, make_error(errc::conflict,
                                                      "Memory limit should be smaller than already set memoryswap "
                                                      "limit, update the memoryswap at the same time"));
        hc["Memory"] = l.memory;
    }
    if (l.memory_swap != 0) hc["MemorySwap"] = l.memory_swap;
    if (l.memory_reservation != 0) hc["MemoryReservation"] = l.memory_reservation;
    // A limit this host cannot apply was dropped (with a warning) by verify.
    bool pids_dropped = req->pids_limit > 0 && l.pids_limit == 0;
    if (pids_given && !pids_dropped) hc["PidsLimit"] = req->pids_limit;
    if (auto* rp = body.if_contains("RestartPolicy");
        rp && rp->is_object() && !str_field(rp->as_object(), "Name").empty()) {
        auto policy = restart_policy_of(body);
        if (!policy) co_return policy.err();
        if (str_field(*policy, "Name") != "no" && bool_field(hc, "AutoRemove"))
            co_return cannot_update(c->id, make_error(errc::conflict, "Restart policy cannot be updated because "
                                                                      "AutoRemove is enabled for the container"));
        hc["RestartPolicy"] = std::move(*policy);
    }

    // A running (or paused) container gets the merged limits now; a stopped
    // one at its next start, which applies HostConfig.
    auto merged = limits_of(hc);
    if (!merged) co_return merged.err();
    // pids.max needs "max" to lift a limit; 0 and negatives mean no limit
    // (moby getPidsLimit turns them into -1 for the runtime).
    if (pids_given && !pids_dropped && req->pids_limit <= 0) merged->pids_limit = -1;
    if (c->running()) {
        auto job = [this, id = c->id, lim = *merged] { return _cgroups->apply(id, lim); };
        auto applied = co_await _workers.run(offload_reason::cgroup, std::move(job));
        if (!applied) co_return cannot_update(c->id, applied.err());
        warnings.insert(warnings.end(), applied->begin(), applied->end());
    }

    c->host_config = std::move(hc);
    status persisted = co_await persist_durably(*c);
    if (!persisted) co_return cannot_update(c->id, persisted.err());
    emit(*c, "update");
    std::vector<std::string> out;
    for (auto& w : warnings)
        if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
    co_return out;
}

}  // namespace berth
