// Reading a container's resource usage (Docker's stats) and its processes
// (Docker's top) from cgroupfs and procfs. Every function here blocks.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>

#include "base/util.h"
#include "engine/cgroup/manager.h"

namespace berth::cgroup {

namespace {

bool has_controller(const hierarchy& h, std::string_view c) {
    for (auto& one : split(h.controllers, ','))
        if (one == c) return true;
    return false;
}

std::uint64_t to_u64(std::string_view s) { return std::strtoull(std::string(s).c_str(), nullptr, 10); }

// A one-number file ("123\n"); "max" (cgroup2's "no limit") reads as 0.
std::optional<std::uint64_t> read_number(const std::string& path) {
    auto text = read_file(path);
    if (!text) return std::nullopt;
    std::string v = trim(*text);
    if (v.empty()) return std::nullopt;
    if (v == "max") return 0;
    return to_u64(v);
}

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events).
std::vector<std::pair<std::string, std::uint64_t>> read_flat_keyed(const std::string& path, bool* ok = nullptr) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    auto text = read_file(path);
    if (ok) *ok = bool(text);
    if (!text) return out;
    for (auto& line : split(*text, '\n')) {
        auto sp = line.find(' ');
        if (sp == std::string::npos) continue;
        out.emplace_back(line.substr(0, sp), to_u64(trim(std::string_view(line).substr(sp + 1))));
    }
    return out;
}

std::uint64_t value_of(const std::vector<std::pair<std::string, std::uint64_t>>& kv, std::string_view key) {
    for (auto& [k, v] : kv)
        if (k == key) return v;
    return 0;
}

// v1 blkio files: "8:0 Read 4096" lines and a final "Total N" line, which
// Docker leaves out (as containerd's parser does).
std::vector<blkio_entry> read_blkio_v1(const std::string& path) {
    std::vector<blkio_entry> out;
    auto text = read_file(path);
    if (!text) return out;
    for (auto& line : split(*text, '\n')) {
        auto f = split(trim(line), ' ');
        if (f.size() != 3) continue;
        auto colon = f[0].find(':');
        if (colon == std::string::npos) continue;
        out.push_back({to_u64(std::string_view(f[0]).substr(0, colon)), to_u64(std::string_view(f[0]).substr(colon + 1)),
                       f[1], to_u64(f[2])});
    }
    return out;
}

// The kernel's unlimited v1 memory limit is PAGE_COUNTER_MAX pages
// (9223372036854771712 with 4 KiB pages); anything that large is "no limit".
std::uint64_t v1_limit(std::uint64_t v) { return v >= (std::uint64_t(1) << 62) ? 0 : v; }

}  // namespace

usage read_usage_v2(const std::string& dir) {
    usage u;
    bool ok = false;
    auto cpu = read_flat_keyed(dir + "/cpu.stat", &ok);
    if (ok) {
        // cgroup2 counts microseconds; Docker reports nanoseconds.
        u.have_cpu = true;
        u.cpu_total_ns = value_of(cpu, "usage_usec") * 1000;
        u.cpu_user_ns = value_of(cpu, "user_usec") * 1000;
        u.cpu_kernel_ns = value_of(cpu, "system_usec") * 1000;
        u.throttle_periods = value_of(cpu, "nr_periods");
        u.throttled_periods = value_of(cpu, "nr_throttled");
        u.throttled_ns = value_of(cpu, "throttled_usec") * 1000;
    }
    if (auto cur = read_number(dir + "/memory.current")) {
        u.have_memory = true;
        u.memory_usage = *cur;
        u.memory_limit = read_number(dir + "/memory.max").value_or(0);
        u.memory_stat = read_flat_keyed(dir + "/memory.stat");
        u.memory_failcnt = value_of(read_flat_keyed(dir + "/memory.events"), "oom");
    }
    if (auto cur = read_number(dir + "/pids.current")) {
        u.have_pids = true;
        u.pids_current = *cur;
        u.pids_limit = read_number(dir + "/pids.max").value_or(0);
    }
    // io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"; Docker
    // turns each device into a "read" and a "write" entry of bytes only.
    if (auto io = read_file(dir + "/io.stat")) {
        u.have_blkio = true;
        for (auto& line : split(*io, '\n')) {
            auto f = split(trim(line), ' ');
            if (f.empty()) continue;
            auto colon = f[0].find(':');
            if (colon == std::string::npos) continue;
            std::uint64_t major = to_u64(std::string_view(f[0]).substr(0, colon));
            std::uint64_t minor = to_u64(std::string_view(f[0]).substr(colon + 1));
            std::uint64_t rbytes = 0, wbytes = 0;
            for (std::size_t i = 1; i < f.size(); ++i) {
                if (starts_with(f[i], "rbytes=")) rbytes = to_u64(std::string_view(f[i]).substr(7));
                if (starts_with(f[i], "wbytes=")) wbytes = to_u64(std::string_view(f[i]).substr(7));
            }
            u.io_service_bytes.push_back({major, minor, "read", rbytes});
            u.io_service_bytes.push_back({major, minor, "write", wbytes});
        }
    }
    return u;
}

namespace {

void read_v1(const std::string& dir, const std::string& controllers, usage& u) {
    hierarchy h{controllers, {}, {}};
    if (has_controller(h, "cpuacct")) {
        if (auto total = read_number(dir + "/cpuacct.usage")) {
            u.have_cpu = true;
            u.cpu_total_ns = *total;
            u.cpu_percpu_ns.clear();
            if (auto per = read_file(dir + "/cpuacct.usage_percpu"))
                for (auto& v : split(trim(*per), ' '))
                    if (!v.empty()) u.cpu_percpu_ns.push_back(to_u64(v));
            // cpuacct.stat counts USER_HZ ticks.
            std::uint64_t hz = std::uint64_t(std::max(1L, ::sysconf(_SC_CLK_TCK)));
            auto st = read_flat_keyed(dir + "/cpuacct.stat");
            u.cpu_user_ns = value_of(st, "user") * 1000000000 / hz;
            u.cpu_kernel_ns = value_of(st, "system") * 1000000000 / hz;
        }
    }
    if (has_controller(h, "cpu")) {
        bool ok = false;
        auto st = read_flat_keyed(dir + "/cpu.stat", &ok);
        if (ok) {
            u.throttle_periods = value_of(st, "nr_periods");
            u.throttled_periods = value_of(st, "nr_throttled");
            u.throttled_ns = value_of(st, "throttled_time");
        }
    }
    if (has_controller(h, "memory")) {
        if (auto cur = read_number(dir + "/memory.usage_in_bytes")) {
            u.have_memory = true;
            u.memory_usage = *cur;
            u.memory_max_usage = read_number(dir + "/memory.max_usage_in_bytes").value_or(0);
            u.memory_limit = v1_limit(read_number(dir + "/memory.limit_in_bytes").value_or(0));
            u.memory_failcnt = read_number(dir + "/memory.failcnt").value_or(0);
            u.memory_stat = read_flat_keyed(dir + "/memory.stat");
        }
    }
    if (has_controller(h, "pids")) {
        if (auto cur = read_number(dir + "/pids.current")) {
            u.have_pids = true;
            u.pids_current = *cur;
            u.pids_limit = read_number(dir + "/pids.max").value_or(0);
        }
    }
    if (has_controller(h, "blkio") && path_exists(dir + "/blkio.throttle.io_service_bytes_recursive")) {
        u.have_blkio = true;
        // CFQ's (or BFQ's) own counters when the scheduler keeps them, else
        // the throttle layer's, which every request passes (as containerd).
        u.io_service_bytes = read_blkio_v1(dir + "/blkio.io_service_bytes_recursive");
        if (u.io_service_bytes.empty()) u.io_service_bytes = read_blkio_v1(dir + "/blkio.throttle.io_service_bytes_recursive");
        u.io_serviced = read_blkio_v1(dir + "/blkio.io_serviced_recursive");
        if (u.io_serviced.empty()) u.io_serviced = read_blkio_v1(dir + "/blkio.throttle.io_serviced_recursive");
    }
}

std::vector<int> parse_pids(const std::string& text) {
    std::vector<int> out;
    for (auto& line : split(text, '\n')) {
        auto t = trim(line);
        if (!t.empty()) out.push_back(std::atoi(t.c_str()));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace

usage read_usage_v1(const std::vector<std::pair<std::string, std::string>>& dirs) {
    usage u;
    for (auto& [controllers, dir] : dirs) read_v1(dir, controllers, u);
    return u;
}

usage manager::read_usage(const std::string& id) const {
    container_cgroup c = paths(id);
    if (_layout == layout::unified) return read_usage_v2(c.v2_dir);
    // paths() lists the v1 directories in the order of the v1 hierarchies.
    std::vector<std::pair<std::string, std::string>> dirs;
    std::size_t n = 0;
    for (auto& h : _h)
        if (!h.controllers.empty() && n < c.v1_dirs.size()) dirs.emplace_back(h.controllers, c.v1_dirs[n++]);
    return read_usage_v1(dirs);
}

result<std::vector<int>> manager::pids(const std::string& id) const {
    container_cgroup c = paths(id);
    // Processes enter the cgroup2 directory on every layout that has one
    // (CLONE_INTO_CGROUP), and every v1 hierarchy's directory as well.
    std::vector<std::string> files;
    if (!c.v2_dir.empty()) files.push_back(c.v2_dir + "/cgroup.procs");
    for (auto& f : c.v1_procs()) files.push_back(f);
    error last = make_error(errc::not_found, "no cgroup of container " + id);
    for (auto& f : files) {
        auto text = read_file(f);
        if (!text) {
            last = text.err();
            continue;
        }
        auto pids = parse_pids(*text);
        // An empty cgroup2 directory on a hybrid host means the processes
        // were placed by the v1 hierarchies only: look further.
        if (!pids.empty() || f == files.back()) return pids;
    }
    return last;
}

result<host_cpu> read_host_cpu() {
    BERTH_ASSIGN(std::string text, read_file("/proc/stat"));
    host_cpu out;
    std::uint64_t hz = std::uint64_t(std::max(1L, ::sysconf(_SC_CLK_TCK)));
    bool seen_total = false;
    for (auto& line : split(text, '\n')) {
        if (!starts_with(line, "cpu")) continue;
        if (line.size() > 3 && std::isdigit(static_cast<unsigned char>(line[3]))) {
            out.online++;
            continue;
        }
        if (seen_total) continue;
        seen_total = true;
        // Docker sums user, nice, system, idle, iowait, irq and softirq.
        std::vector<std::string> f;
        for (auto& part : split(line, ' '))
            if (!part.empty()) f.push_back(part);
        if (f.size() < 8) return make_error(errc::internal, "parse /proc/stat: short cpu line");
        std::uint64_t ticks = 0;
        for (std::size_t i = 1; i < 8; ++i) ticks += to_u64(f[i]);
        out.system_ns = ticks * (1000000000 / hz);
    }
    if (!seen_total) return make_error(errc::internal, "parse /proc/stat: no cpu line");
    return out;
}

std::uint64_t host_memory_bytes() {
    auto text = read_file("/proc/meminfo");
    if (!text) return 0;
    for (auto& line : split(*text, '\n'))
        if (starts_with(line, "MemTotal:")) return to_u64(trim(std::string_view(line).substr(9))) * 1024;
    return 0;
}

result<std::vector<net_counters>> read_net_dev(int pid) {
    BERTH_ASSIGN(std::string text, read_file("/proc/" + std::to_string(pid) + "/net/dev"));
    std::vector<net_counters> out;
    // Two header lines, then "  eth0: rx_bytes rx_packets errs drop fifo
    // frame compressed multicast tx_bytes tx_packets errs drop ...".
    for (auto& line : split(text, '\n')) {
        auto colon = line.find(':');
        if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
        net_counters n;
        n.name = trim(std::string_view(line).substr(0, colon));
        if (n.name.empty() || n.name == "lo") continue;
        std::vector<std::uint64_t> v;
        for (auto& part : split(std::string_view(line).substr(colon + 1), ' '))
            if (!part.empty()) v.push_back(to_u64(part));
        if (v.size() < 12) continue;
        n.rx_bytes = v[0], n.rx_packets = v[1], n.rx_errors = v[2], n.rx_dropped = v[3];
        n.tx_bytes = v[8], n.tx_packets = v[9], n.tx_errors = v[10], n.tx_dropped = v[11];
        out.push_back(std::move(n));
    }
    return out;
}

}  // namespace berth::cgroup
