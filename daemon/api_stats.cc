// GET /containers/{ref}/stats: Docker's stats JSON (types.StatsJSON, API
// 1.41). Like dockerd, a reading is taken every second; precpu_stats and
// preread come from the previous reading, and the first reading only primes
// them unless one-shot=1. stream=0 answers one object (after about a
// second), else one object per line until the client leaves. A container
// that is not running gets Docker's zero stats (name and id only).
#include <algorithm>
#include <optional>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/util.h"
#include "daemon/handlers.h"
#include "engine/cgroup/manager.h"
#include "engine/config_util.h"

namespace berth::api {

namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;

namespace {

struct sample {
    std::int64_t read_ns = 0;  // 0: the container was not running (zero stats)
    bool unified = false;      // cgroup2 shapes (no percpu, no max_usage, io.stat)
    cgroup::usage u;
    cgroup::host_cpu host;
    std::uint64_t host_memory = 0;
    std::vector<cgroup::net_counters> networks;
};

// Blocks: cgroupfs and procfs.
sample take_sample(const cgroup::manager& m, const std::string& id, int pid, bool own_network) {
    sample smp;
    smp.unified = m.kind() == cgroup::layout::unified;
    smp.u = m.read_usage(id);
    if (auto h = cgroup::read_host_cpu()) smp.host = *h;
    smp.host_memory = cgroup::host_memory_bytes();
    // A host-network container has no interfaces of its own (Docker reports none).
    if (own_network && pid > 0)
        if (auto n = cgroup::read_net_dev(pid)) smp.networks = std::move(*n);
    smp.read_ns = now_ns();
    return smp;
}

json::object cpu_json(const sample& smp) {
    const auto& u = smp.u;
    json::object usage{{"total_usage", u.cpu_total_ns}};
    if (!u.cpu_percpu_ns.empty()) {
        json::array per;
        for (auto v : u.cpu_percpu_ns) per.emplace_back(v);
        usage["percpu_usage"] = std::move(per);
    }
    usage["usage_in_kernelmode"] = u.cpu_kernel_ns;
    usage["usage_in_usermode"] = u.cpu_user_ns;
    json::object cpu{{"cpu_usage", std::move(usage)}};
    // Go's omitempty: zero system usage and CPU count are left out.
    if (smp.read_ns && smp.host.system_ns) cpu["system_cpu_usage"] = smp.host.system_ns;
    if (smp.read_ns && smp.host.online) cpu["online_cpus"] = smp.host.online;
    cpu["throttling_data"] = json::object{{"periods", u.throttle_periods},
                                          {"throttled_periods", u.throttled_periods},
                                          {"throttled_time", u.throttled_ns}};
    return cpu;
}

json::value blkio_list(const std::vector<cgroup::blkio_entry>& entries, bool empty_is_list) {
    if (entries.empty() && !empty_is_list) return nullptr;
    json::array out;
    for (auto& e : entries) out.push_back(json::object{{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
    return out;
}

json::object blkio_json(const sample& smp) {
    // v1 fills all eight lists (empty ones as []); cgroup2 has only bytes,
    // and Docker leaves the rest null; a stopped container has none.
    bool lists = smp.read_ns && !smp.unified && smp.u.have_blkio;
    const std::vector<cgroup::blkio_entry> none;
    return json::object{{"io_service_bytes_recursive", blkio_list(smp.u.io_service_bytes, lists)},
                        {"io_serviced_recursive", blkio_list(smp.u.io_serviced, lists)},
                        {"io_queue_recursive", blkio_list(none, lists)},
                        {"io_service_time_recursive", blkio_list(none, lists)},
                        {"io_wait_time_recursive", blkio_list(none, lists)},
                        {"io_merged_recursive", blkio_list(none, lists)},
                        {"io_time_recursive", blkio_list(none, lists)},
                        {"sectors_recursive", blkio_list(none, lists)}};
}

json::object memory_json(const sample& smp) {
    const auto& u = smp.u;
    json::object mem;
    if (!smp.read_ns || !u.have_memory) return mem;
    if (u.memory_usage) mem["usage"] = u.memory_usage;
    if (u.memory_max_usage) mem["max_usage"] = u.memory_max_usage;
    // Go encodes a map with its keys sorted.
    auto sorted = u.memory_stat;
    std::sort(sorted.begin(), sorted.end());
    json::object stats;
    for (auto& [k, v] : sorted) stats[k] = v;
    if (!stats.empty()) mem["stats"] = std::move(stats);
    if (u.memory_failcnt) mem["failcnt"] = u.memory_failcnt;
    // No limit (or one above the host's memory) reads as the host's memory.
    std::uint64_t limit = u.memory_limit;
    if (smp.host_memory && (limit == 0 || limit > smp.host_memory)) limit = smp.host_memory;
    if (limit) mem["limit"] = limit;
    return mem;
}

json::object stats_json(const container& c, const sample& smp, const json::object& precpu, std::int64_t preread_ns) {
    json::object pids;
    if (smp.read_ns && smp.u.have_pids) {
        if (smp.u.pids_current) pids["current"] = smp.u.pids_current;
        if (smp.u.pids_limit) pids["limit"] = smp.u.pids_limit;
    }
    json::object out{{"read", format_rfc3339_nano(smp.read_ns)},
                     {"preread", format_rfc3339_nano(preread_ns)},
                     {"pids_stats", std::move(pids)},
                     {"blkio_stats", blkio_json(smp)},
                     {"num_procs", 0},
                     {"storage_stats", json::object{}},
                     {"cpu_stats", cpu_json(smp)},
                     {"precpu_stats", precpu},
                     {"memory_stats", memory_json(smp)},
                     {"name", "/" + c.name},
                     {"id", c.id}};
    if (smp.read_ns && !smp.networks.empty()) {
        json::object nets;
        for (auto& n : smp.networks)
            nets[n.name] = json::object{{"rx_bytes", n.rx_bytes},   {"rx_packets", n.rx_packets},
                                        {"rx_errors", n.rx_errors}, {"rx_dropped", n.rx_dropped},
                                        {"tx_bytes", n.tx_bytes},   {"tx_packets", n.tx_packets},
                                        {"tx_errors", n.tx_errors}, {"tx_dropped", n.tx_dropped}};
        out["networks"] = std::move(nets);
    }
    return out;
}

awaitable<sample> read_sample(engine& eng, container_ptr c) {
    if (!c->running() || c->pid <= 0) co_return sample{};
    bool own_network = str_field(c->host_config, "NetworkMode") != "host";
    auto job = [&m = eng.cgroups(), id = c->id, pid = c->pid, own_network] {
        return take_sample(m, id, pid, own_network);
    };
    co_return co_await eng.workers().run(offload_reason::cgroup, std::move(job));
}

}  // namespace

awaitable<bool> containers_stats(socket_t& s, request& req, engine& eng, container_ptr c) {
    // moby: stream defaults to true, one-shot to false.
    bool stream = req.query.count("stream") ? req.flag("stream") : true;
    bool one_shot = req.flag("one-shot");
    if (stream && one_shot)
        co_return co_await reply_error(s, req, http::status::bad_request, "cannot have stream=true and one-shot=true");
    if (!stream && !c->running()) {
        json::object zero = stats_json(*c, sample{}, cpu_json(sample{}), 0);
        co_return co_await reply_json(s, req, http::status::ok, zero);
    }
    if (stream && !co_await begin_stream(s, req, "application/json")) co_return false;

    json::object precpu = cpu_json(sample{});
    std::int64_t preread_ns = 0;
    bool priming = !one_shot;
    for (;;) {
        sample smp = co_await read_sample(eng, c);
        json::object frame = stats_json(*c, smp, precpu, preread_ns);
        precpu = cpu_json(smp);
        preread_ns = smp.read_ns;
        if (priming) {
            priming = false;
        } else if (!stream) {
            co_return co_await reply_json(s, req, http::status::ok, frame);
        } else if (!co_await write_chunk(s, json::serialize(frame) + "\n")) {
            co_return false;
        }
        if (stream && c->removed) break;
        asio::steady_timer tick(s.get_executor(), std::chrono::seconds(1));
        if (stream) {
            auto r = co_await (tick.async_wait(use_awaitable) || until_closed(s));
            if (r.index() == 1) co_return false;
        } else {
            co_await tick.async_wait(use_awaitable);
        }
    }
    co_return co_await end_stream(s);
}

}  // namespace berth::api
