// The sandbox half of the container child: mount tree, rootfs, pseudo
// filesystems, masked and read-only paths, loopback. Private to engine/runtime;
// runs only in the freshly cloned child (new mount, pid, ipc, uts namespaces).
#pragma once

#include <sys/types.h>

#include <string>

#include "base/error.h"
#include "engine/runtime/spec.h"

namespace berth::runtime {

// Makes the mount tree private, mounts the overlay on spec.rootfs_dir,
// pivot_roots into it and mounts /proc, /dev, /dev/pts, /dev/shm,
// /dev/mqueue and a read-only /sys; then masks and write-protects paths and,
// with a new network namespace, brings "lo" up. Depends on nothing of the
// command, user or environment. The caller's umask should be 0.
status setup_sandbox(const launch_spec& spec);

// Moves the calling process into the cgroup whose cgroup.procs is `procs`.
status join_cgroup(const std::string& procs);

// mkdir -p inside the container root (which is "/" after setup_sandbox),
// each step resolved with RESOLVE_IN_ROOT so that no symlink in the image
// leads out of it.
status make_dirs_in_root(const std::string& path, mode_t mode);

}  // namespace berth::runtime
