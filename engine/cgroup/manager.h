// cgroups: one small manager interface, two layouts behind it.
//
//   unified  cgroup2 mounted at /sys/fs/cgroup; every controller there.
//   hybrid   v1 controllers at /sys/fs/cgroup/<name>, cgroup2 at
//            /sys/fs/cgroup/unified (events, kill, freeze, device programs).
//   legacy   v1 only.
//
// Containers nest under a parent named from the data root
// ("berth-<8 hex of sha256(data root)>") below the cgroup the daemon was
// started in, in every hierarchy, so two daemons never share one. The
// daemon never moves processes it did not create.
//
// Unified hosts: cgroup2's "no internal processes" rule lets a non-root
// cgroup enable controllers for its children only while it holds no process
// of its own. So berth's processes live in leaves beside the containers:
//
//   <start>/                        where the daemon was started; it gets
//                                   controllers only if nothing else lives
//                                   there (a delegated service cgroup, e.g.
//                                   systemd's Delegate=yes), otherwise limits
//                                   are discarded with Docker's warnings
//   <start>/berth-<hash>/           berth's parent: controllers enabled
//   <start>/berth-<hash>/daemon     the daemon: detect() moves it here first
//   <start>/berth-<hash>/monitor    the monitor and its zygote: the monitor
//                                   moves itself here before forking anything
//   <start>/berth-<hash>/<id>       one container; its first process enters by
//                                   clone3(CLONE_INTO_CGROUP)
//
// Once <start> enables controllers the kernel refuses it processes (EBUSY),
// so a daemon restarted while berth's cgroups exist is started in its old
// leaf; a daemon started from inside one of berth's leaves keeps <start>.
// Hybrid and legacy hosts move nothing: v1 controllers have no such rule.
//
// Creating and removing directories blocks (cgroupfs can stall): call from
// the worker pool.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "engine/cgroup/devices.h"

namespace berth::cgroup {

enum class layout { unified, hybrid, legacy };

struct hierarchy {
    std::string controllers;  // "memory", "cpu,cpuacct", "name=systemd"; "" for cgroup2
    std::string mount;        // /sys/fs/cgroup/memory
    std::string own_path;     // the daemon's cgroup in it, e.g. /user.slice
};

struct container_cgroup {
    std::string v2_dir;                // "" when there is no cgroup2
    std::vector<std::string> v1_dirs;  // one per v1 hierarchy
    std::string v1_memory_dir;         // the v1 memory controller's among them; "" without one
    std::vector<std::string> v1_procs() const;
    std::vector<std::string> warnings;  // from create(): limits the kernel could not take
};

// Resource limits in Docker's HostConfig units; 0 means "not set".
struct limits {
    std::int64_t memory = 0;              // bytes
    std::int64_t memory_swap = 0;         // memory plus swap, bytes; -1 = unlimited swap
    std::int64_t memory_reservation = 0;  // bytes (soft limit)
    std::int64_t nano_cpus = 0;           // 1e9 per CPU, as a CFS quota over a 100 ms period
    std::int64_t cpu_shares = 0;          // cgroup v1 weight, 2..262144
    std::string cpuset_cpus, cpuset_mems;  // "0-2,4"
    std::int64_t pids_limit = 0;          // <= 0 = unlimited
    std::int64_t blkio_weight = 0;        // 10..1000
    bool operator==(const limits&) const = default;
};

// What this host lets berth limit (probed by manager::detect, as Docker's
// sysinfo does: the controller is mounted (v1) or available (cgroup2), and
// for v1 the file exists at the hierarchy's root).
struct features {
    bool memory = false, memory_swap = false, memory_reservation = false;
    bool cpu_quota = false, cpu_shares = false, cpuset = false, pids = false, blkio_weight = false;
};

// Docker's checks and adjustments of HostConfig limits (moby
// verifyPlatformContainerResources, then adaptContainerSettings): an error,
// in Docker's words, for a value Docker refuses; a warning, in Docker's
// words ("Your kernel does not support ... Weight discarded."), for a limit
// this host cannot apply, which is then dropped from `l`; MemorySwap
// defaults to twice Memory; CpuShares is clamped to [2, 262144]. `cpus` and
// `mems` are what the daemon may use ("0-3"), `online_cpus` their count.
result<std::vector<std::string>> verify_limits(limits& l, const features& f, const std::string& cpus,
                                               const std::string& mems, int online_cpus);
// runc's conversions for cgroup2: cpu.shares [2, 262144] -> cpu.weight
// [1, 10000]; blkio.weight [10, 1000] -> io.weight [1, 10000].
std::uint64_t cpu_weight_from_shares(std::int64_t shares);
std::uint64_t io_weight_from_blkio(std::int64_t weight);
// Writes the limits into one container's directories: `v2_dir` on a unified
// host, else each v1 directory by the controllers of its hierarchy
// ("memory", "cpu,cpuacct", ...). A limit whose file the kernel lacks gives
// a warning and is skipped; any other failed write is an error. Blocks.
result<std::vector<std::string>> apply_v2(const std::string& v2_dir, const limits& l);
result<std::vector<std::string>> apply_v1(const std::vector<std::pair<std::string, std::string>>& dirs,
                                          const limits& l);
// "0-2,4" -> {0, 1, 2, 4}; an error for anything else (the Linux list format).
result<std::vector<int>> parse_cpu_list(std::string_view list);
// Creates the cgroup2 directory `dir` if missing and moves the calling
// process, every thread of it, into it (cgroup.procs "0"). Blocks.
status enter_leaf(const std::string& dir);
// Docker's oom_kill counter of a cgroup: v1 memory.oom_control or cgroup2
// memory.events, "oom_kill N". 0 when the file is missing.
std::uint64_t read_oom_kills(const std::string& file);
// The same, nullopt when the file cannot be read (the cgroup is gone).
std::optional<std::uint64_t> try_read_oom_kills(const std::string& file);

// One reading of a container's resource usage (manager::read_usage, in
// stats.cc), in the units of Docker's stats: nanoseconds, bytes, counts.
// A have_* flag is false when that controller's files could not be read.
struct blkio_entry {
    std::uint64_t major = 0, minor = 0;
    std::string op;  // v1: as the kernel writes it ("Read", "Total"); cgroup2: "read"/"write", as Docker
    std::uint64_t value = 0;
};
struct usage {
    bool have_cpu = false;
    std::uint64_t cpu_total_ns = 0, cpu_kernel_ns = 0, cpu_user_ns = 0;
    std::vector<std::uint64_t> cpu_percpu_ns;  // v1 cpuacct.usage_percpu; cgroup2 has none
    std::uint64_t throttle_periods = 0, throttled_periods = 0, throttled_ns = 0;
    bool have_memory = false;
    std::uint64_t memory_usage = 0, memory_max_usage = 0;  // max_usage: v1 only
    std::uint64_t memory_limit = 0;                         // 0 = unlimited
    std::uint64_t memory_failcnt = 0;                       // v1 memory.failcnt; cgroup2 memory.events "oom"
    std::vector<std::pair<std::string, std::uint64_t>> memory_stat;  // memory.stat, in the kernel's order
    bool have_pids = false;
    std::uint64_t pids_current = 0, pids_limit = 0;  // limit 0 = unlimited
    bool have_blkio = false;
    std::vector<blkio_entry> io_service_bytes, io_serviced;
};
// One reading of a cgroup2 directory, or of v1 directories given with the
// controllers of their hierarchies ({"cpu,cpuacct", dir}), as apply_v1
// takes them. Missing files leave their part out. Block.
usage read_usage_v2(const std::string& dir);
usage read_usage_v1(const std::vector<std::pair<std::string, std::string>>& dirs);
// Host-wide figures the stats carry beside the container's: Docker's
// system_cpu_usage (the first line of /proc/stat, user to softirq, as
// nanoseconds) and online_cpus (its cpuN lines). Blocks (procfs).
struct host_cpu {
    std::uint64_t system_ns = 0;
    int online = 0;
};
result<host_cpu> read_host_cpu();
// MemTotal of /proc/meminfo in bytes; 0 when unreadable. Docker caps an
// unlimited memory limit at it.
std::uint64_t host_memory_bytes();
// The interface counters of the network namespace process `pid` is in
// (/proc/<pid>/net/dev), loopback left out, as Docker's stats "networks".
struct net_counters {
    std::string name;
    std::uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
    std::uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};
result<std::vector<net_counters>> read_net_dev(int pid);

class manager {
public:
    // Reads /proc/self/mountinfo and /proc/self/cgroup and probes which
    // limits the host supports; on a unified host it moves the calling
    // process (the daemon) into its leaf, then creates berth's parent with
    // the controllers enabled. Blocks.
    static result<std::unique_ptr<manager>> detect(const std::string& data_root, const std::string& parent_override = {});
    // Unified hosts: the leaf the monitor moves itself into; "" elsewhere.
    std::string monitor_leaf() const;

    layout kind() const { return _layout; }
    std::string version() const { return _layout == layout::unified ? "2" : "1"; }
    const std::vector<hierarchy>& hierarchies() const { return _h; }

    // What limits this host supports, and the CPUs and memory nodes a
    // container may use (the daemon's cpuset, "0-1").
    const features& supported() const { return _features; }
    const std::string& cpus() const { return _cpus; }
    const std::string& mems() const { return _mems; }

    // Creates the container's cgroup in every hierarchy, attaches the device
    // program (cgroup2) or writes the v1 devices allowlist, and applies the
    // limits, all before any process enters. On cgroup2 the controllers the
    // daemon's cgroup offers are enabled for berth's parent first. Device
    // programs are loaded once per distinct rule set and cached (Docker's
    // defaults at detect()); allow-all attaches none.
    // `keepable` false: its cgroups never become a spare (a container that
    // could change them from inside: CAP_SYS_ADMIN mounts cgroupfs).
    result<container_cgroup> create(const std::string& id, const limits& l = {}, const device_access& devices = {},
                                    bool keepable = true);
    // Writes the limits into the layout this host has; returns warnings for
    // limits whose file the kernel lacks.
    result<std::vector<std::string>> apply(const std::string& id, const limits& l);
    // Whether the kernel OOM-killed a process of the container's cgroup
    // (the memory controller's oom_kill counter). Call before remove().
    bool oom_killed(const std::string& id) const;
    // The file with the container's oom_kill counter (v1 memory.oom_control
    // or cgroup2 memory.events); "" without a memory controller.
    std::string oom_counter_file(const std::string& id) const;
    // v1: an eventfd registered on the container's memory.oom_control
    // through cgroup.event_control: it counts OOM events, and once more when
    // the cgroup is removed. Unified: none (memory.events is watched with
    // inotify instead). Blocks.
    result<unique_fd> oom_eventfd(const std::string& id) const;
    // Removes the directories (retrying briefly while the kernel still
    // counts exiting tasks). Missing directories are not an error. On v1
    // hierarchies the cgroups of a container created with Docker's defaults
    // (no limit set, by create() or since by apply(); Docker's device rules
    // only) and left empty, thawed and never OOM-killed are kept instead as
    // a spare, their counters reset, which the next such create() renames
    // into place (see "Spare cgroups" in manager.cc).
    // kept_as: where the v1 part is kept as a spare, its name, which the
    // caller publishes (publish_spare) once the container's directory is
    // kept under the same name (engine::destroy of a batch's container):
    // until then no create can claim it, and its cgroup2 directory is made
    // under that name. Without kept_as a spare is published at once.
    status remove(const std::string& id, std::string* kept_as = nullptr);
    void publish_spare(const std::string& name);
    // Removes every spare (at the daemon's exit). Blocks.
    void drop_spares();
    std::size_t spare_count();
    // A spare is named by a fresh container id. claim_spare() hands one out
    // for a container the caller is about to create with Docker's defaults
    // (engine::create_container: the claimed name becomes the container's
    // id), and the create() of that id renames nothing: its v1 directories
    // stand there already. "" when there is none. A claim whose create()
    // never runs goes back with remove() of the id. Cheap (no syscall).
    std::string claim_spare();
    // Whether `name` is a spare's (kept, being kept or claimed): the sweep
    // of stale cgroups leaves it.
    bool is_spare(const std::string& name);
    // Every spare's name, claimed or not (GET /berth/spares).
    std::vector<std::string> spare_names();
    // A claimed spare made the container's cgroup with no syscall: its v1
    // directories and its cgroup2 one (made, with Docker's device program,
    // when it was kept) stand under its name. nullopt where the cgroup2 one
    // is missing: create() then makes that.
    std::optional<container_cgroup> adopt(const std::string& id);
    container_cgroup paths(const std::string& id) const;
    // SIGKILLs every process in the container's cgroup: cgroup.kill where the
    // kernel has it (5.14+, cgroup2), else each pid of a v1 cgroup.procs.
    status kill(const std::string& id);
    // Freezes (frozen) or thaws every process of the container's cgroup:
    // cgroup2 cgroup.freeze where the container's cgroup2 dir has it,
    // waiting until cgroup.events reports the new state; else the v1
    // freezer's freezer.state (FROZEN/THAWED), waiting for FROZEN. Blocks.
    status freeze(const std::string& id, bool frozen);
    // One reading of the container's usage: the cgroup2 files on a unified
    // host, else each v1 controller's own hierarchy (stats.cc). Blocks.
    usage read_usage(const std::string& id) const;
    // The processes of the container's cgroup (cgroup.procs of the cgroup2
    // directory where processes are placed, else of a v1 hierarchy), sorted.
    // Blocks.
    result<std::vector<int>> pids(const std::string& id) const;

    // For tests and cleanup: the parent directory of this daemon's containers.
    std::vector<std::string> parent_dirs() const;

private:
    layout _layout = layout::legacy;
    std::vector<hierarchy> _h;  // cgroup2 (if any) first
    std::string _parent_name;
    unique_fd _device_prog;  // Docker's defaults; set when cgroup2 is mounted
    // Programs for other rule sets, by their rules' text; the oldest is
    // closed past a bound (an attached program stays in the kernel).
    result<std::shared_ptr<const unique_fd>> device_program(const std::vector<device_rule>& extra);
    std::mutex _programs_mu;
    std::map<std::string, std::shared_ptr<const unique_fd>> _programs;
    std::deque<std::string> _program_order;
    features _features;
    std::string _cpus, _mems;
    // Set once a create found (or made) every parent; creates then skip them.
    std::atomic<bool> _parents_ready{false};
    // Spare cgroups: names (fresh container ids) present under every v1
    // parent, and the containers whose cgroups may become one.
    bool rename_v1(const std::string& from, const std::string& to);
    bool take_spare(const std::string& id);
    // The spare's name, "" when not kept; published with `publish`.
    std::string keep_as_spare(const std::string& id, bool publish);
    // cgroup2's directory of a spare, made when it is kept (hybrid hosts).
    void premake_v2(const std::string& name);
    void remove_spare_dirs(const std::string& name);
    std::mutex _spares_mu;
    std::vector<std::string> _spares;
    std::set<std::string> _claimed;  // claim_spare()'s, until their create()
    std::set<std::string> _naming;   // being renamed into a spare, or not published yet
    std::set<std::string> _v2_ready;  // spares whose cgroup2 directory is made
    std::set<std::string> _recyclable;
    bool _spares_closed = false;  // drop_spares() ran: no more
};

}  // namespace berth::cgroup
