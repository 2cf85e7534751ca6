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

#include <memory>
#include <string>
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
};

class manager {
public:
    // Reads /proc/self/mountinfo and /proc/self/cgroup.
    static result<std::unique_ptr<manager>> detect(const std::string& data_root, const std::string& parent_override = {});

    layout kind() const { return _layout; }
    std::string version() const { return _layout == layout::unified ? "2" : "1"; }
    const std::vector<hierarchy>& hierarchies() const { return _h; }

    // Creates the container's cgroup in every hierarchy and attaches the
    // device program (cgroup2) or writes the v1 devices allowlist.
    result<container_cgroup> create(const std::string& id);
    // Removes the directories (retrying briefly while the kernel still
    // counts exiting tasks). Missing directories are not an error.
    status remove(const std::string& id);
    container_cgroup paths(const std::string& id) const;

    // For tests and cleanup: the parent directory of this daemon's containers.
    std::vector<std::string> parent_dirs() const;

private:
    layout _layout = layout::legacy;
    std::vector<hierarchy> _h;  // cgroup2 (if any) first
    std::string _parent_name;
    unique_fd _device_prog;
};

}  // namespace berth::cgroup
