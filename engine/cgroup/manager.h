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
// Creating and removing directories blocks (cgroupfs can stall): call from
// the worker pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

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
// Docker's oom_kill counter of a cgroup: v1 memory.oom_control or cgroup2
// memory.events, "oom_kill N". 0 when the file is missing.
std::uint64_t read_oom_kills(const std::string& file);

class manager {
public:
    // Reads /proc/self/mountinfo and /proc/self/cgroup and probes which
    // limits the host supports; on cgroup2 it creates berth's parent with the
    // controllers enabled. Blocks.
    static result<std::unique_ptr<manager>> detect(const std::string& data_root, const std::string& parent_override = {});

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
    // daemon's cgroup offers are enabled for berth's parent first.
    result<container_cgroup> create(const std::string& id, const limits& l = {});
    // Writes the limits into the layout this host has; returns warnings for
    // limits whose file the kernel lacks.
    result<std::vector<std::string>> apply(const std::string& id, const limits& l);
    // Whether the kernel OOM-killed a process of the container's cgroup
    // (the memory controller's oom_kill counter). Call before remove().
    bool oom_killed(const std::string& id) const;
    // Removes the directories (retrying briefly while the kernel still
    // counts exiting tasks). Missing directories are not an error.
    status remove(const std::string& id);
    container_cgroup paths(const std::string& id) const;
    // SIGKILLs every process in the container's cgroup: cgroup.kill where the
    // kernel has it (5.14+, cgroup2), else each pid of a v1 cgroup.procs.
    status kill(const std::string& id);
    // Freezes (frozen) or thaws every process of the container's cgroup:
    // cgroup2 cgroup.freeze where the container's cgroup2 dir has it,
    // waiting until cgroup.events reports the new state; else the v1
    // freezer's freezer.state (FROZEN/THAWED), waiting for FROZEN. Blocks.
    status freeze(const std::string& id, bool frozen);

    // For tests and cleanup: the parent directory of this daemon's containers.
    std::vector<std::string> parent_dirs() const;

private:
    layout _layout = layout::legacy;
    std::vector<hierarchy> _h;  // cgroup2 (if any) first
    std::string _parent_name;
    unique_fd _device_prog;
    features _features;
    std::string _cpus, _mems;
};

}  // namespace berth::cgroup
