#include "engine/cgroup/manager.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"
#include "engine/cgroup/device_filter.h"

namespace berth::cgroup {

std::vector<std::string> container_cgroup::v1_procs() const {
    std::vector<std::string> out;
    for (auto& d : v1_dirs) out.push_back(d + "/cgroup.procs");
    return out;
}

namespace {

// Spare cgroups ("Spare cgroups" below).
constexpr std::size_t k_max_spares = 256;
constexpr std::string_view k_spare_prefix = ".spare-";

bool has_controller(const hierarchy& h, std::string_view c) {
    for (auto& one : split(h.controllers, ','))
        if (one == c) return true;
    return false;
}

std::string own_dir(const hierarchy& h) { return h.mount + (h.own_path == "/" ? "" : h.own_path); }

std::string first_line_of(std::initializer_list<std::string> files, const char* fallback) {
    for (auto& f : files)
        if (auto v = read_file(f); v && !trim(*v).empty()) return trim(*v);
    return fallback;
}

// v1, as Docker's sysinfo: a mounted controller, and its knobs at the
// hierarchy's root (or in the daemon's own cgroup).
features probe_v1(const std::vector<hierarchy>& hs) {
    features f;
    for (auto& h : hs) {
        if (h.controllers.empty()) continue;
        auto has = [&](const char* file) {
            return path_exists(h.mount + "/" + file) || path_exists(own_dir(h) + "/" + file);
        };
        if (has_controller(h, "memory")) {
            f.memory = true;
            f.memory_swap = has("memory.memsw.limit_in_bytes");
            f.memory_reservation = has("memory.soft_limit_in_bytes");
        }
        if (has_controller(h, "cpu")) {
            f.cpu_quota = has("cpu.cfs_quota_us");
            f.cpu_shares = has("cpu.shares");
        }
        if (has_controller(h, "cpuset")) f.cpuset = true;
        if (has_controller(h, "pids")) f.pids = true;
        // Docker looks for blkio.weight only (CFQ's, gone since 5.0); BFQ's
        // blkio.bfq.weight, only off the root, counts for runc but not for
        // Docker, which warns and discards the weight.
        if (has_controller(h, "blkio")) f.blkio_weight = has("blkio.weight");
    }
    return f;
}

// cgroup2 gives a cgroup only the controllers its parent enabled in
// cgroup.subtree_control: enable, for berth's parent and below it, those the
// daemon's cgroup offers. Enabling them in the daemon's own cgroup fails
// (EBUSY) while it holds processes and is not the root; the features then
// show what berth's parent really got.
features prepare_v2_parent(const std::string& own, const std::string& parent) {
    features f;
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return f;
    static constexpr std::string_view wanted[] = {"cpu", "cpuset", "io", "memory", "pids"};
    auto enable = [](const std::string& dir, const std::string& from) {
        auto avail = read_file(from + "/cgroup.controllers");
        if (!avail) return;
        for (auto& c : split(trim(*avail), ' '))
            if (std::find(std::begin(wanted), std::end(wanted), c) != std::end(wanted))
                (void)write_file(dir + "/cgroup.subtree_control", "+" + c);
    };
    enable(own, own);
    enable(parent, parent);
    auto got = read_file(parent + "/cgroup.subtree_control");
    for (auto& c : split(got ? trim(*got) : std::string(), ' ')) {
        if (c == "memory") f.memory = f.memory_swap = f.memory_reservation = true;
        if (c == "cpu") f.cpu_quota = f.cpu_shares = true;
        if (c == "cpuset") f.cpuset = true;
        if (c == "pids") f.pids = true;
        if (c == "io") f.blkio_weight = true;
    }
    return f;
}

}  // namespace

result<std::unique_ptr<manager>> manager::detect(const std::string& data_root, const std::string& parent_override) {
    auto m = std::unique_ptr<manager>(new manager);
    BERTH_ASSIGN(std::string own, read_file("/proc/self/cgroup"));
    BERTH_ASSIGN(std::string mountinfo, read_file("/proc/self/mountinfo"));
    // /proc/self/cgroup: "ID:controllers:path"
    std::vector<std::pair<std::string, std::string>> mine;  // controllers -> path
    for (auto& line : split(own, '\n')) {
        if (line.empty()) continue;
        auto a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        mine.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1));
    }
    bool have_v2 = false, have_v1 = false;
    std::string v2_mount;
    std::vector<hierarchy> v1;
    for (auto& line : split(mountinfo, '\n')) {
        // "... mountpoint ... - fstype source superopts"
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto fields = split(line.substr(0, dash), ' ');
        auto tail = split(line.substr(dash + 3), ' ');
        if (fields.size() < 5 || tail.size() < 3) continue;
        const std::string& mnt = fields[4];
        if (tail[0] == "cgroup2") {
            if (!have_v2) {
                have_v2 = true;
                v2_mount = mnt;
            }
        } else if (tail[0] == "cgroup") {
            // The controllers are the super options that name one.
            std::string ctrls;
            for (auto& opt : split(tail[2], ',')) {
                for (auto& [c, p] : mine) {
                    for (auto& one : split(c, ','))
                        if (one == opt && !one.empty()) {
                            if (!ctrls.empty()) ctrls += ',';
                            ctrls += opt;
                        }
                }
            }
            if (ctrls.empty()) continue;
            for (auto& [c, p] : mine)
                if (c == ctrls) {
                    have_v1 = true;
                    v1.push_back({ctrls, mnt, p});
                }
        }
    }
    if (have_v2) {
        std::string p;
        for (auto& [c, path] : mine)
            if (c.empty()) p = path;
        m->_h.push_back({"", v2_mount, p});
    }
    for (auto& h : v1) m->_h.push_back(h);
    m->_layout = have_v1 ? (have_v2 ? layout::hybrid : layout::legacy) : layout::unified;
    if (!have_v1 && !have_v2) return make_error(errc::unavailable, "no cgroup hierarchy is mounted");
    std::string digest = sha256::of(data_root).substr(7, 8);
    m->_parent_name = parent_override.empty() ? "berth-" + digest : parent_override;
    if (have_v2) {
        BERTH_ASSIGN(m->_device_prog, load_device_program(default_device_rules()));
    }
    m->_cpus = first_line_of({"/sys/devices/system/cpu/online"}, "0");
    m->_mems = first_line_of({"/sys/devices/system/node/online"}, "0");
    if (m->_layout == layout::unified) {
        auto& h = m->_h.front();
        // Started inside one of berth's leaves (a restart where the daemon
        // was, since <start> takes no process once it enables controllers):
        // <start> is the cgroup above berth's parent.
        for (const char* leaf : {"/daemon", "/monitor"}) {
            std::string tail = "/" + m->_parent_name + leaf;
            if (h.own_path.ends_with(tail)) {
                h.own_path.resize(h.own_path.size() - tail.size());
                if (h.own_path.empty()) h.own_path = "/";
            }
        }
        std::string parent = m->parent_dirs().front();
        if (auto s = enter_leaf(parent + "/daemon"); !s)
            log::warn("cgroup2: {}; limits may be unavailable to containers", s.err().message);
        m->_features = prepare_v2_parent(own_dir(h), parent);
        auto got = read_file(parent + "/cgroup.subtree_control");
        log::info("cgroup2: controllers for containers in {}: {}", parent, got ? trim(*got) : "none");
        if (m->_features.cpuset) {
            m->_cpus = first_line_of({own_dir(h) + "/cpuset.cpus.effective"}, m->_cpus.c_str());
            m->_mems = first_line_of({own_dir(h) + "/cpuset.mems.effective"}, m->_mems.c_str());
        }
    } else {
        m->_features = probe_v1(m->_h);
        for (auto& h : m->_h)
            if (has_controller(h, "cpuset")) {
                m->_cpus = first_line_of({own_dir(h) + "/cpuset.cpus", h.mount + "/cpuset.cpus"}, m->_cpus.c_str());
                m->_mems = first_line_of({own_dir(h) + "/cpuset.mems", h.mount + "/cpuset.mems"}, m->_mems.c_str());
            }
        // Spares a daemon that did not exit left behind (their names are this
        // process's to give again).
        auto parents = m->parent_dirs();
        for (size_t i = 0; i < m->_h.size(); ++i) {
            if (m->_h[i].controllers.empty()) continue;
            auto names = list_directory(parents[i]);
            for (auto& n : names ? *names : std::vector<std::string>{})
                if (starts_with(n, k_spare_prefix)) ::rmdir((parents[i] + "/" + n).c_str());
        }
    }
    return m;
}

status enter_leaf(const std::string& dir) {
    auto slash = dir.rfind('/');
    for (const std::string& d : {dir.substr(0, slash), dir})
        if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("create cgroup " + d);
    // cgroup.procs moves the whole thread group; "0" is the writer.
    if (auto s = write_file(dir + "/cgroup.procs", "0"); !s) return s.err().wrap("enter cgroup " + dir);
    return ok();
}

std::string manager::monitor_leaf() const {
    return _layout == layout::unified ? parent_dirs().front() + "/monitor" : std::string();
}

std::vector<std::string> manager::parent_dirs() const {
    std::vector<std::string> out;
    for (auto& h : _h) {
        std::string own = h.own_path == "/" ? "" : h.own_path;
        out.push_back(h.mount + own + "/" + _parent_name);
    }
    return out;
}

container_cgroup manager::paths(const std::string& id) const {
    container_cgroup c;
    auto parents = parent_dirs();
    for (size_t i = 0; i < _h.size(); ++i) {
        std::string d = parents[i] + "/" + id;
        if (_h[i].controllers.empty()) {
            c.v2_dir = d;
        } else {
            if (has_controller(_h[i], "memory")) c.v1_memory_dir = d;
            c.v1_dirs.push_back(d);
        }
    }
    return c;
}

namespace {
status copy_cpuset(const std::string& parent, const std::string& dir) {
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
        auto v = read_file(parent + "/" + f);
        if (!v) continue;
        std::string t = trim(*v);
        if (t.empty()) {
            // An empty parent inherits from its own parent first.
            auto up = parent.substr(0, parent.rfind('/'));
            auto pv = read_file(up + "/" + f);
            if (pv) {
                (void)write_file(parent + "/" + f, trim(*pv));
                t = trim(*pv);
            }
        }
        BERTH_TRY(write_file(dir + "/" + f, t));
    }
    return ok();
}

// Docker's warnings (moby daemon/daemon_unix.go verifyPlatformContainerResources).
constexpr const char* warn_memory =
    "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.";
constexpr const char* warn_swap =
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";
constexpr const char* warn_reservation =
    "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.";
constexpr const char* warn_cpu_quota =
    "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. NanoCPUs discarded.";
constexpr const char* warn_shares = "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.";
constexpr const char* warn_cpuset = "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.";
constexpr const char* warn_pids =
    "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.";
constexpr const char* warn_blkio =
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";

// One write, no O_CREAT: cgroupfs cannot create files, and a missing knob
// must stay distinguishable (ENOENT) from a value the kernel refuses.
// O_TRUNC as runc opens them (kernfs ignores it; plain-file fakes need it).
status write_knob(const std::string& dir, const char* file, const std::string& value) {
    std::string path = dir + "/" + file;
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n < 0) return sys_error("write " + value + " to " + path);
    if (size_t(n) != value.size()) return make_error(errc::internal, "short write to " + path);
    return ok();
}

bool missing(const status& s) { return !s && s.err().sys_errno == ENOENT; }

// Writes the first of `files` that exists; a warning when none does.
status write_one_of(const std::string& dir, std::initializer_list<std::pair<const char*, std::string>> files,
                    const char* warning, std::vector<std::string>& warnings) {
    for (auto& [file, value] : files) {
        auto s = write_knob(dir, file, value);
        if (!missing(s)) return s;
    }
    warnings.push_back(warning);
    return ok();
}

constexpr std::int64_t cfs_period_us = 100000;

std::int64_t cfs_quota_us(std::int64_t nano_cpus) { return nano_cpus * cfs_period_us / 1000000000; }

}  // namespace

result<std::vector<std::string>> verify_limits(limits& l, const features& f, const std::string& cpus,
                                               const std::string& mems, int online_cpus) {
    constexpr std::int64_t min_memory = 6 * 1024 * 1024;  // moby's linuxMinMemory
    auto refuse = [](std::string m) { return make_error(errc::invalid_argument, std::move(m)); };
    std::vector<std::string> w;
    if (l.memory != 0 && l.memory < min_memory) return refuse("Minimum memory limit allowed is 6MB");
    if (l.memory > 0 && !f.memory) {
        w.push_back(warn_memory);
        l.memory = 0;
        l.memory_swap = -1;
    }
    if (l.memory > 0 && l.memory_swap != -1 && !f.memory_swap) {
        w.push_back(warn_swap);
        l.memory_swap = -1;
    }
    if (l.memory > 0 && (l.memory_swap < -1 || (l.memory_swap > 0 && l.memory_swap < l.memory)))
        return refuse("Minimum memoryswap limit should be larger than memory limit, see usage");
    if (l.memory == 0 && l.memory_swap > 0)
        return refuse("You should always set the Memory limit when using Memoryswap limit, see usage");
    if (l.memory_reservation > 0 && !f.memory_reservation) {
        w.push_back(warn_reservation);
        l.memory_reservation = 0;
    }
    if (l.memory_reservation != 0 && l.memory_reservation < min_memory)
        return refuse("Minimum memory reservation allowed is 6MB");
    if (l.memory > 0 && l.memory_reservation > 0 && l.memory < l.memory_reservation)
        return refuse("Minimum memory limit can not be less than memory reservation limit, see usage");

    if (l.nano_cpus > 0 && !f.cpu_quota)
        return refuse("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted");
    // The kernel's smallest quota is 1 ms per 100 ms period: 0.01 CPU.
    if (l.nano_cpus < 0 || (l.nano_cpus > 0 && l.nano_cpus < 10000000) ||
        l.nano_cpus > std::int64_t(online_cpus) * 1000000000) {
        auto n = std::to_string(online_cpus);
        return refuse("Range of CPUs is from 0.01 to " + n + ".00, as there are only " + n + " CPUs available");
    }
    if (l.cpu_shares < 0) return refuse("invalid CPU shares " + std::to_string(l.cpu_shares) + ": must not be negative");
    if (l.cpu_shares > 0 && !f.cpu_shares) {
        w.push_back(warn_shares);
        l.cpu_shares = 0;
    }

    if ((!l.cpuset_cpus.empty() || !l.cpuset_mems.empty()) && !f.cpuset) {
        w.push_back(warn_cpuset);
        l.cpuset_cpus.clear();
        l.cpuset_mems.clear();
    }
    struct one {
        std::string* value;
        const std::string* available;
        const char* what;
        const char* unavailable;
    };
    for (auto& [value, available, what, unavailable] :
         {one{&l.cpuset_cpus, &cpus, "cpus", "Requested CPUs are not available"},
          one{&l.cpuset_mems, &mems, "mems", "Requested memory nodes are not available"}}) {
        auto want = parse_cpu_list(*value);
        if (!want) return refuse("Invalid value " + *value + " for cpuset " + what + ": " + want.err().message);
        auto have = parse_cpu_list(*available);
        for (int n : *want)
            if (have && std::find(have->begin(), have->end(), n) == have->end())
                return refuse(std::string(unavailable) + " - requested " + *value + ", available: " + *available);
    }

    if (l.pids_limit > 0 && !f.pids) {
        w.push_back(warn_pids);
        l.pids_limit = 0;
    }
    if (l.blkio_weight > 0 && !f.blkio_weight) {
        w.push_back(warn_blkio);
        l.blkio_weight = 0;
    }
    if (l.blkio_weight != 0 && (l.blkio_weight < 10 || l.blkio_weight > 1000))
        return refuse("Range of blkio weight is from 10 to 1000");

    // adaptContainerSettings.
    if (l.memory > 0 && l.memory_swap == 0) l.memory_swap = 2 * l.memory;
    if (l.cpu_shares > 0) l.cpu_shares = std::clamp<std::int64_t>(l.cpu_shares, 2, 262144);
    return w;
}

std::uint64_t cpu_weight_from_shares(std::int64_t shares) {
    // runc libcontainer/cgroups/utils.go ConvertCPUSharesToCgroupV2Value.
    if (shares <= 0) return 0;
    shares = std::clamp<std::int64_t>(shares, 2, 262144);
    return 1 + std::uint64_t(shares - 2) * 9999 / 262142;
}

std::uint64_t io_weight_from_blkio(std::int64_t weight) {
    // runc ConvertBlkIOToIOWeightValue.
    if (weight <= 0) return 0;
    weight = std::clamp<std::int64_t>(weight, 10, 1000);
    return 1 + std::uint64_t(weight - 10) * 9999 / 990;
}

result<std::vector<std::string>> apply_v2(const std::string& dir, const limits& l) {
    std::vector<std::string> w;
    // A knob is missing when its controller is not enabled for berth's
    // parent (cgroup.subtree_control) or the kernel lacks the feature.
    auto put = [&](const char* file, const std::string& value, const char* warning) -> status {
        auto s = write_knob(dir, file, value);
        if (!missing(s)) return s;
        w.push_back(warning);
        return ok();
    };
    if (l.memory > 0) {
        auto s = write_knob(dir, "memory.max", std::to_string(l.memory));
        if (missing(s)) {
            w.push_back(warn_memory);
        } else if (!s) {
            return s.err();
        } else if (l.memory_swap > 0) {
            // memory.swap.max is swap alone; Docker's MemorySwap is memory plus swap.
            auto swap = std::max<std::int64_t>(0, l.memory_swap - l.memory);
            BERTH_TRY(put("memory.swap.max", std::to_string(swap), warn_swap));
        } else if (l.memory_swap == -1) {
            auto sw = write_knob(dir, "memory.swap.max", "max");
            if (!sw && !missing(sw)) return sw.err();
        }
    }
    if (l.memory_reservation > 0) BERTH_TRY(put("memory.low", std::to_string(l.memory_reservation), warn_reservation));
    if (l.nano_cpus > 0)
        BERTH_TRY(put("cpu.max", std::to_string(cfs_quota_us(l.nano_cpus)) + " " + std::to_string(cfs_period_us), warn_cpu_quota));
    if (l.cpu_shares > 0) BERTH_TRY(put("cpu.weight", std::to_string(cpu_weight_from_shares(l.cpu_shares)), warn_shares));
    // cpuset.mems before cpuset.cpus is irrelevant on cgroup2: empty means "the parent's".
    if (!l.cpuset_cpus.empty()) BERTH_TRY(put("cpuset.cpus", l.cpuset_cpus, warn_cpuset));
    if (!l.cpuset_mems.empty()) BERTH_TRY(put("cpuset.mems", l.cpuset_mems, warn_cpuset));
    if (l.pids_limit > 0) BERTH_TRY(put("pids.max", std::to_string(l.pids_limit), warn_pids));
    // A negative limit lifts an earlier one (update --pids-limit -1).
    if (l.pids_limit < 0) {
        auto s = write_knob(dir, "pids.max", "max");
        if (!s && !missing(s)) return s.err();
    }
    // BFQ takes blkio's range as is; io.weight (iocost) its own.
    if (l.blkio_weight > 0)
        BERTH_TRY(write_one_of(dir, {{"io.bfq.weight", std::to_string(l.blkio_weight)},
                                     {"io.weight", std::to_string(io_weight_from_blkio(l.blkio_weight))}},
                               warn_blkio, w));
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    return w;
}

result<std::vector<std::string>> apply_v1(const std::vector<std::pair<std::string, std::string>>& dirs,
                                          const limits& l) {
    std::vector<std::string> w;
    auto dir_of = [&](std::string_view controller) -> std::string {
        for (auto& [ctrls, dir] : dirs)
            for (auto& c : split(ctrls, ','))
                if (c == controller) return dir;
        return {};
    };
    auto put = [&](const std::string& dir, const char* file, const std::string& value, const char* warning) -> status {
        if (dir.empty()) {
            w.push_back(warning);
            return ok();
        }
        auto s = write_knob(dir, file, value);
        if (!missing(s)) return s;
        w.push_back(warning);
        return ok();
    };
    std::string mem = dir_of("memory");
    if (l.memory > 0) {
        if (mem.empty()) w.push_back(warn_memory);
        auto set_memory = [&] { return put(mem, "memory.limit_in_bytes", std::to_string(l.memory), warn_memory); };
        // The kernel keeps memsw >= limit at every step, so the order
        // depends on the current limit (as runc's setMemoryAndSwap).
        auto set_swap = [&]() -> status {
            if (l.memory_swap == 0) return ok();
            auto s = write_knob(mem, "memory.memsw.limit_in_bytes", std::to_string(l.memory_swap));
            if (missing(s)) {
                if (l.memory_swap != -1) w.push_back(warn_swap);
                return ok();
            }
            return s;
        };
        if (!mem.empty()) {
            std::uint64_t current = 0;
            if (auto cur = read_file(mem + "/memory.limit_in_bytes")) current = std::strtoull(trim(*cur).c_str(), nullptr, 10);
            if (l.memory_swap == -1 || (l.memory_swap > 0 && current < std::uint64_t(l.memory_swap))) {
                BERTH_TRY(set_swap());
                BERTH_TRY(set_memory());
            } else {
                BERTH_TRY(set_memory());
                BERTH_TRY(set_swap());
            }
        }
    }
    if (l.memory_reservation > 0)
        BERTH_TRY(put(mem, "memory.soft_limit_in_bytes", std::to_string(l.memory_reservation), warn_reservation));
    std::string cpu = dir_of("cpu");
    if (l.nano_cpus > 0) {
        auto s = cpu.empty() ? status(sys_error("cpu controller", ENOENT))
                             : write_knob(cpu, "cpu.cfs_period_us", std::to_string(cfs_period_us));
        if (missing(s)) w.push_back(warn_cpu_quota);
        else if (!s) return s.err();
        else BERTH_TRY(write_knob(cpu, "cpu.cfs_quota_us", std::to_string(cfs_quota_us(l.nano_cpus))));
    }
    if (l.cpu_shares > 0) BERTH_TRY(put(cpu, "cpu.shares", std::to_string(l.cpu_shares), warn_shares));
    std::string cpuset = dir_of("cpuset");
    if (!l.cpuset_cpus.empty()) BERTH_TRY(put(cpuset, "cpuset.cpus", l.cpuset_cpus, warn_cpuset));
    if (!l.cpuset_mems.empty()) BERTH_TRY(put(cpuset, "cpuset.mems", l.cpuset_mems, warn_cpuset));
    if (l.pids_limit > 0) BERTH_TRY(put(dir_of("pids"), "pids.max", std::to_string(l.pids_limit), warn_pids));
    // A negative limit lifts an earlier one (update --pids-limit -1).
    if (std::string pids = dir_of("pids"); l.pids_limit < 0 && !pids.empty()) {
        auto s = write_knob(pids, "pids.max", "max");
        if (!s && !missing(s)) return s.err();
    }
    if (l.blkio_weight > 0) {
        std::string blkio = dir_of("blkio");
        std::string v = std::to_string(l.blkio_weight);
        if (blkio.empty()) w.push_back(warn_blkio);
        else BERTH_TRY(write_one_of(blkio, {{"blkio.bfq.weight", v}, {"blkio.weight", v}}, warn_blkio, w));
    }
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    return w;
}

result<std::vector<int>> parse_cpu_list(std::string_view list) {
    // The kernel's list format (cpuset(7)), as Docker's parsers.ParseUintList.
    std::vector<int> out;
    auto bad = [&] { return make_error(errc::invalid_argument, "invalid format: " + std::string(list)); };
    auto number = [](std::string_view s, int& v) {
        if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
        v = std::stoi(std::string(s));
        return true;
    };
    if (list.empty()) return out;
    for (auto& part : split(list, ',')) {
        auto dash = part.find('-');
        int lo = 0, hi = 0;
        if (dash == std::string::npos) {
            if (!number(part, lo)) return bad();
            hi = lo;
        } else if (!number(std::string_view(part).substr(0, dash), lo) ||
                   !number(std::string_view(part).substr(dash + 1), hi) || hi < lo) {
            return bad();
        }
        for (int i = lo; i <= hi; ++i) out.push_back(i);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::optional<std::uint64_t> try_read_oom_kills(const std::string& file) {
    auto text = read_file(file);
    if (!text) return std::nullopt;
    for (auto& line : split(*text, '\n')) {
        auto sp = line.find(' ');
        if (sp != std::string::npos && line.substr(0, sp) == "oom_kill")
            return std::strtoull(line.c_str() + sp + 1, nullptr, 10);
    }
    return 0;
}

std::uint64_t read_oom_kills(const std::string& file) { return try_read_oom_kills(file).value_or(0); }

result<std::shared_ptr<const unique_fd>> manager::device_program(const std::vector<device_rule>& extra) {
    std::string key;
    for (const auto& r : extra) key += device_rule_text(r) + "\n";
    {
        std::lock_guard lock(_programs_mu);
        if (auto it = _programs.find(key); it != _programs.end()) return it->second;
    }
    // Loaded outside the lock: two first starts of one rule set may both
    // load it; the second keeps the first's.
    BERTH_ASSIGN(unique_fd prog, load_device_program(rules_with_defaults(extra)));
    auto shared = std::make_shared<const unique_fd>(std::move(prog));
    std::lock_guard lock(_programs_mu);
    auto [it, added] = _programs.emplace(key, shared);
    if (added) {
        _program_order.push_back(key);
        constexpr std::size_t k_max_programs = 64;
        if (_program_order.size() > k_max_programs) {
            _programs.erase(_program_order.front());
            _program_order.pop_front();
        }
    }
    return it->second;
}

result<container_cgroup> manager::create(const std::string& id, const limits& l, const device_access& devices,
                                         bool keepable) {
    container_cgroup c = paths(id);
    auto parents = parent_dirs();
    std::vector<std::string> made;
    auto undo = scope_exit([&] {
        for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
    });
    // berth's parents are made (and a v1 cpuset parent told to hand its
    // cpus and mems to new children: cgroup.clone_children) by the first
    // create; later ones only mkdir their own directory, unless a parent
    // has gone meanwhile.
    const bool parents_ready = _parents_ready.load(std::memory_order_acquire);
    const bool recyclable =
        keepable && _layout != layout::unified && l == limits{} && devices.allow.empty() && !devices.allow_all;
    // A spare stands for every v1 directory (claimed under this id, or
    // renamed into place); cgroup2's is made.
    bool claimed = false;
    {
        std::lock_guard lock(_spares_mu);
        claimed = _claimed.erase(id) > 0;
    }
    const bool recycled = claimed || (recyclable && parents_ready && take_spare(id));
    if (recycled) made = c.v1_dirs;  // undone with the rest
    // A claimed spare's cgroup2 directory may have been made already, its
    // device program attached (premake_v2).
    bool v2_made = false;
    if (claimed) {
        std::lock_guard lock(_spares_mu);
        v2_made = _v2_ready.erase(id) > 0;
    }
    bool cpuset_inherits = true;
    for (size_t i = 0; i < _h.size(); ++i) {
        const std::string& parent = parents[i];
        bool cpuset = _h[i].controllers.find("cpuset") != std::string::npos;
        std::string dir = parent + "/" + id;
        if (v2_made && _h[i].controllers.empty()) {
            made.push_back(dir);
            continue;
        }
        const bool spare = recycled && !_h[i].controllers.empty();
        bool made_dir = spare || (parents_ready && ::mkdir(dir.c_str(), 0755) == 0);
        if (!made_dir) {
            if (parents_ready && errno != ENOENT) return sys_error("create cgroup " + dir);
            bool fresh = ::mkdir(parent.c_str(), 0755) == 0;
            if (!fresh && errno != EEXIST) return sys_error("create cgroup " + parent);
            if (fresh && _layout == layout::unified) (void)prepare_v2_parent(own_dir(_h[i]), parent);
            if (cpuset) {
                BERTH_TRY(copy_cpuset(parent.substr(0, parent.rfind('/')), parent));
                cpuset_inherits = write_file(parent + "/cgroup.clone_children", "1").has_value();
            }
            if (::mkdir(dir.c_str(), 0755) != 0) return sys_error("create cgroup " + dir);
        }
        if (!spare) made.push_back(dir);
        if (cpuset && !cpuset_inherits) BERTH_TRY(copy_cpuset(parent, dir));
        if (_h[i].controllers.empty() && _device_prog && !devices.allow_all) {
            // Docker's defaults are loaded already; another rule set is
            // loaded on its first use and cached: a start only attaches.
            std::shared_ptr<const unique_fd> custom;
            if (!devices.allow.empty()) {
                BERTH_ASSIGN(custom, device_program(devices.allow));
            }
            unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!dfd) return sys_error("open cgroup " + dir);
            BERTH_TRY(attach_device_program(custom ? custom->get() : _device_prog.get(), dfd.get()));
        }
        if (has_controller(_h[i], "devices") && !_device_prog && !spare) {
            // Legacy hosts only: the v1 devices controller carries the allowlist.
            BERTH_TRY(write_v1_device_rules(dir, devices));
        }
    }
    BERTH_ASSIGN(c.warnings, apply(id, l));
    undo.dismiss();
    if (cpuset_inherits) _parents_ready.store(true, std::memory_order_release);
    if (recyclable) {
        std::lock_guard lock(_spares_mu);
        _recyclable.insert(id);
    }
    return c;
}

result<std::vector<std::string>> manager::apply(const std::string& id, const limits& l) {
    if (l != limits{}) {
        std::lock_guard lock(_spares_mu);
        _recyclable.erase(id);  // its knobs are no longer the defaults
    }
    container_cgroup c = paths(id);
    if (_layout == layout::unified) return apply_v2(c.v2_dir, l);
    // paths() lists the v1 directories in the order of the v1 hierarchies.
    std::vector<std::pair<std::string, std::string>> dirs;
    std::size_t n = 0;
    for (auto& h : _h)
        if (!h.controllers.empty() && n < c.v1_dirs.size()) dirs.emplace_back(h.controllers, c.v1_dirs[n++]);
    return apply_v1(dirs, l);
}

std::string manager::oom_counter_file(const std::string& id) const {
    container_cgroup c = paths(id);
    std::size_t n = 0;
    for (auto& h : _h) {
        if (h.controllers.empty()) continue;
        if (has_controller(h, "memory") && n < c.v1_dirs.size()) return c.v1_dirs[n] + "/memory.oom_control";
        ++n;
    }
    if (_layout == layout::unified && _features.memory) return c.v2_dir + "/memory.events";
    return {};
}

result<unique_fd> manager::oom_eventfd(const std::string& id) const {
    if (_layout == layout::unified) return unique_fd();
    std::string control = oom_counter_file(id);
    if (control.empty()) return unique_fd();
    std::string dir = control.substr(0, control.rfind('/'));
    unique_fd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!efd) return sys_error("eventfd");
    unique_fd cfd(::open(control.c_str(), O_RDONLY | O_CLOEXEC));
    if (!cfd) return sys_error("open " + control);
    std::string line = std::to_string(efd.get()) + " " + std::to_string(cfd.get());
    BERTH_TRY(write_file(dir + "/cgroup.event_control", line));
    return efd;
}

bool manager::oom_killed(const std::string& id) const {
    container_cgroup c = paths(id);
    std::size_t n = 0;
    for (auto& h : _h) {
        if (h.controllers.empty()) continue;
        if (has_controller(h, "memory") && n < c.v1_dirs.size()) return read_oom_kills(c.v1_dirs[n] + "/memory.oom_control") > 0;
        ++n;
    }
    return !c.v2_dir.empty() && read_oom_kills(c.v2_dir + "/memory.events") > 0;
}

// Spare cgroups. Removing a v1 cgroup costs the kernel more the more
// containers the host has: the memory controller's offline walks the
// list_lru of every superblock (a container holds about seven: its overlay,
// proc, sysfs, devpts, mqueue and two tmpfs), the cpuset controller's walks
// every sibling cpuset, and both run under the cgroup mutex that every
// other cgroup mkdir, rmdir and clone3 into a cgroup waits for (spinning).
// Measured here with 3,000 idle containers: 15 ms of kworker time per
// removed container, and batch starts at concurrency 2 fell from 210/s to
// 40/s. Creation grows likewise (the memory controller's shrinker map is
// sized by every superblock's shrinker). So an empty cgroup of a container
// with Docker's defaults is renamed to a spare (v1 allows a rename within
// its parent; cgroup2 does not, so its directory is made and removed
// anew), its counters that can be reset reset (cpuacct usage, the memory
// controller's max usage and fail counts, blkio's statistics), and the
// next create of a container with the defaults renames it into place: a
// rename per hierarchy instead of a mkdir and an rmdir. Never a cgroup with
// a limit or custom device rules (the next container would inherit them),
// one the container could have changed from inside (create()'s keepable:
// CAP_SYS_ADMIN),
// one the kernel OOM-killed in (its oom_kill counter cannot be reset), a
// frozen one, or one with a task left. What the kernel cannot reset stays:
// the page cache the previous container was first to read (clean, the
// image's files: reclaimable, and counted in memory usage where removal
// would have moved it to the parent) and memory.stat's event counts. At most
// k_max_spares; the daemon removes them at its exit, and a new daemon the
// ones a crashed one left (detect()).
namespace {
// Writes a knob of an existing cgroup; a file this kernel lacks is fine.
bool reset_knob(const std::string& dir, const char* file, std::string_view value) {
    unique_fd fd(::open((dir + "/" + file).c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return errno == ENOENT;
    return ::write(fd.get(), value.data(), value.size()) == static_cast<ssize_t>(value.size());
}

// The checks and resets of one hierarchy's directory before it becomes a
// spare. The memory controller's fail counts stay 0 in a cgroup that never
// had a limit (a charge fails, and counts, only at the counter whose limit
// it hits), so only its high-water marks are reset.
bool reset_for_reuse(const hierarchy& h, const std::string& dir) {
    if (has_controller(h, "memory")) {
        if (read_oom_kills(dir + "/memory.oom_control") > 0) return false;
        for (const char* f : {"memory.max_usage_in_bytes", "memory.memsw.max_usage_in_bytes",
                              "memory.kmem.max_usage_in_bytes", "memory.kmem.tcp.max_usage_in_bytes"})
            if (!reset_knob(dir, f, "0")) return false;
    }
    if (has_controller(h, "cpuacct") && !reset_knob(dir, "cpuacct.usage", "0")) return false;
    if (has_controller(h, "blkio") && !reset_knob(dir, "blkio.reset_stats", "1")) return false;
    if (has_controller(h, "freezer")) {
        auto state = read_file(dir + "/freezer.state");
        if (!state || trim(*state) != "THAWED") return false;
    }
    return true;
}
}  // namespace

// Renames `from` to `to` under every v1 parent; on a failure the ones
// renamed already are removed (at `to`) and false returned.
bool manager::rename_v1(const std::string& from, const std::string& to) {
    auto parents = parent_dirs();
    std::vector<std::string> renamed;
    for (size_t i = 0; i < _h.size(); ++i) {
        if (_h[i].controllers.empty()) continue;
        std::string dest = parents[i] + "/" + to;
        if (::rename((parents[i] + "/" + from).c_str(), dest.c_str()) != 0) {
            for (auto& d : renamed) ::rmdir(d.c_str());
            return false;
        }
        renamed.push_back(std::move(dest));
    }
    return true;
}

bool manager::take_spare(const std::string& id) {
    std::string name;
    {
        std::lock_guard lock(_spares_mu);
        if (_spares.empty()) return false;
        name = std::move(_spares.back());
        _spares.pop_back();
    }
    bool v2_made = false;
    {
        std::lock_guard lock(_spares_mu);
        v2_made = _v2_ready.erase(name) > 0;
    }
    if (rename_v1(name, id)) {
        // cgroup2 cannot rename: the spare's directory there goes, and
        // create() makes the container's.
        if (v2_made) {
            auto parents = parent_dirs();
            for (size_t i = 0; i < _h.size(); ++i)
                if (_h[i].controllers.empty()) ::rmdir((parents[i] + "/" + name).c_str());
        }
        return true;
    }
    remove_spare_dirs(name);  // what was not renamed
    return false;
}

std::string manager::claim_spare() {
    std::lock_guard lock(_spares_mu);
    if (_spares.empty()) return {};
    std::string name = std::move(_spares.back());
    _spares.pop_back();
    _claimed.insert(name);
    return name;
}

bool manager::is_spare(const std::string& name) {
    std::lock_guard lock(_spares_mu);
    return _claimed.count(name) || _naming.count(name) ||
           std::find(_spares.begin(), _spares.end(), name) != _spares.end();
}

std::vector<std::string> manager::spare_names() {
    std::lock_guard lock(_spares_mu);
    std::vector<std::string> out = _spares;
    out.insert(out.end(), _claimed.begin(), _claimed.end());
    out.insert(out.end(), _naming.begin(), _naming.end());
    return out;
}

std::optional<container_cgroup> manager::adopt(const std::string& id) {
    const bool has_v2 = std::any_of(_h.begin(), _h.end(), [](const hierarchy& h) { return h.controllers.empty(); });
    {
        std::lock_guard lock(_spares_mu);
        if (!_claimed.count(id) || (has_v2 && !_v2_ready.count(id))) return std::nullopt;
        _claimed.erase(id);
        _v2_ready.erase(id);
        _recyclable.insert(id);
    }
    return paths(id);
}

void manager::publish_spare(const std::string& name) {
    std::lock_guard lock(_spares_mu);
    if (_naming.erase(name)) _spares.push_back(name);
}

void manager::premake_v2(const std::string& name) {
    auto parents = parent_dirs();
    for (size_t i = 0; i < _h.size(); ++i) {
        if (!_h[i].controllers.empty()) continue;
        const std::string dir = parents[i] + "/" + name;
        if (::mkdir(dir.c_str(), 0755) != 0) return;
        if (_device_prog) {
            unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!dfd || !attach_device_program(_device_prog.get(), dfd.get())) {
                ::rmdir(dir.c_str());
                return;
            }
        }
    }
    std::lock_guard lock(_spares_mu);
    _v2_ready.insert(name);
}

std::string manager::keep_as_spare(const std::string& id, bool publish) {
    // Named by a fresh container id: a create that claims it takes that id
    // and renames nothing, so a container's cgroups are renamed once, at
    // its removal. Known as a spare's before it exists (_naming), so that
    // the sweep of stale cgroups never takes it for a crashed daemon's.
    std::string name = random_id();
    {
        std::lock_guard lock(_spares_mu);
        if (_layout == layout::unified || !_recyclable.erase(id) || _spares_closed || _spares.size() >= k_max_spares)
            return {};
        _naming.insert(name);
    }
    auto named = scope_exit([&] {
        std::lock_guard lock(_spares_mu);
        _naming.erase(name);
    });
    container_cgroup c = paths(id);
    if (c.v1_dirs.empty()) return {};
    // No task left (none can enter: the container is gone, and without
    // CAP_SYS_ADMIN it could neither move its processes nor make a cgroup
    // below its own). Read in one hierarchy: berth places every process of
    // a container (its first, an exec's) in all of them at once, so one
    // left behind shows in each.
    auto procs = read_file(c.v1_dirs.front() + "/cgroup.procs");
    if (!procs || !trim(*procs).empty()) return {};
    std::size_t n = 0;
    for (auto& h : _h)
        if (!h.controllers.empty() && !reset_for_reuse(h, c.v1_dirs[n++])) return {};
    if (!rename_v1(id, name)) return {};  // the rest go as any container's
    // Kept with its directory for a batch's next create (not published
    // yet): its cgroup2 directory too, made now (the removed container's
    // goes in remove()), so that the create that claims it has nothing to
    // make. Any other spare is taken by a rename at a start, where a made
    // cgroup2 directory would only be removed again.
    if (!publish) premake_v2(name);
    named.dismiss();  // still _naming's until published
    if (publish) publish_spare(name);
    return name;
}

void manager::remove_spare_dirs(const std::string& name) {
    auto parents = parent_dirs();
    for (size_t i = 0; i < _h.size(); ++i) ::rmdir((parents[i] + "/" + name).c_str());  // cgroup2's, if made
    std::lock_guard lock(_spares_mu);
    _v2_ready.erase(name);
}

void manager::drop_spares() {
    std::vector<std::string> spares;
    {
        std::lock_guard lock(_spares_mu);
        spares.swap(_spares);
        spares.insert(spares.end(), _naming.begin(), _naming.end());  // kept, not yet published
        _naming.clear();
        _spares_closed = true;
    }
    for (auto& name : spares) remove_spare_dirs(name);
}

std::size_t manager::spare_count() {
    std::lock_guard lock(_spares_mu);
    return _spares.size();
}

status manager::remove(const std::string& id, std::string* kept_as) {
    {
        // Claimed, and its create() never ran: still a spare.
        std::lock_guard lock(_spares_mu);
        if (_claimed.erase(id)) {
            _spares.push_back(id);
            return ok();
        }
    }
    container_cgroup c = paths(id);
    // Kept: the v1 directories are a spare now; cgroup2's goes.
    std::string kept = keep_as_spare(id, kept_as == nullptr);
    if (kept_as) *kept_as = kept;
    std::vector<std::string> dirs = !kept.empty() ? std::vector<std::string>{} : c.v1_dirs;
    if (!c.v2_dir.empty()) dirs.push_back(c.v2_dir);
    status result;
    for (auto& d : dirs) {
        for (int attempt = 0;; ++attempt) {
            if (::rmdir(d.c_str()) == 0 || errno == ENOENT) break;
            // EBUSY while the kernel is still tearing down exited tasks.
            if (errno == EBUSY && attempt < 50) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                continue;
            }
            result = sys_error("remove cgroup " + d);
            break;
        }
    }
    return result;
}

status manager::kill(const std::string& id) {
    container_cgroup c = paths(id);
    if (!c.v2_dir.empty() && path_exists(c.v2_dir + "/cgroup.kill")) return write_file(c.v2_dir + "/cgroup.kill", "1");
    for (auto& procs : c.v1_procs()) {
        auto pids = read_file(procs);
        if (!pids) continue;
        for (auto& p : split(*pids, '\n'))
            if (!p.empty()) ::kill(std::stoi(p), SIGKILL);
        return ok();
    }
    return ok();
}

status manager::freeze(const std::string& id, bool frozen) {
    using namespace std::chrono_literals;
    container_cgroup c = paths(id);
    if (!c.v2_dir.empty() && path_exists(c.v2_dir + "/cgroup.freeze")) {
        BERTH_TRY(write_file(c.v2_dir + "/cgroup.freeze", frozen ? "1" : "0"));
        // The kernel freezes asynchronously; cgroup.events says when it is done.
        std::string want = frozen ? "frozen 1" : "frozen 0";
        for (int attempt = 0; attempt < 500; ++attempt) {
            auto ev = read_file(c.v2_dir + "/cgroup.events");
            if (!ev) return ev.err();
            for (auto& line : split(*ev, '\n'))
                if (trim(line) == want) return ok();
            std::this_thread::sleep_for(2ms);
        }
        return make_error(errc::internal, "freeze cgroup " + c.v2_dir + ": timed out waiting for \"" + want + "\"");
    }
    std::size_t n = 0;
    for (auto& h : _h) {
        if (h.controllers.empty()) continue;
        if (has_controller(h, "freezer") && n < c.v1_dirs.size()) {
            std::string state = c.v1_dirs[n] + "/freezer.state";
            std::string want = frozen ? "FROZEN" : "THAWED";
            for (int attempt = 0; attempt < 500; ++attempt) {
                // FREEZING means some task has not stopped yet: write again.
                BERTH_TRY(write_file(state, want));
                auto cur = read_file(state);
                if (!cur) return cur.err();
                if (trim(*cur) == want) return ok();
                std::this_thread::sleep_for(2ms);
            }
            return make_error(errc::internal, "freeze cgroup " + c.v1_dirs[n] + ": timed out waiting for " + want);
        }
        ++n;
    }
    return make_error(errc::unavailable, "pause: the freezer cgroup is not available on this host");
}

}  // namespace berth::cgroup
