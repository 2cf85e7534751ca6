// Overlay mounts built with the new mount API (fsopen, fsconfig, fsmount).
//
// open_overlay() returns a detached mount: a file descriptor on the root of
// an overlay that is attached nowhere. The container child attaches it with
// move_mount(2) (runtime/mounts.cc); the daemon never attaches it and reads
// or writes through it with openat2(RESOLVE_IN_ROOT) (engine/rootfs_view.cc).
// A detached mount goes away when its last descriptor closes.
//
// Used by the container child and by the daemon's worker threads; blocks.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace berth::runtime {

struct overlay_layers {
    std::vector<std::string> lower_dirs;  // topmost first
    std::string upper_dir, work_dir;      // both empty: a read-only overlay
};

// The overlay of `layers`, detached, close-on-exec. `what` names the mount in
// error messages ("mount overlay on /x"), which carry the kernel's own reason
// when it queued one on the fs context.
//
// An invalid (empty) descriptor, not an error, means the new mount API cannot
// express this overlay: kernels before 6.8 have no "lowerdir+", and fsconfig()
// copies at most 255 bytes of each path. mount(2), whose option string may fill
// a page, can; so can shorter paths (an O_PATH descriptor's /proc/self/fd/N).
// Errors: invalid_argument without a lower directory; otherwise the errno of
// the failed call.
result<unique_fd> open_overlay(const overlay_layers& layers, const std::string& what);

// The overlay of lower layers given as descriptors (idmapped detached
// mounts: --userns-remap) over upper and work directories, detached.
// FSCONFIG_SET_FD with "lowerdir+" needs Linux 6.15: an unavailable error
// says so where the kernel refuses it.
result<unique_fd> open_overlay_from_fds(const std::vector<int>& lowers, const std::string& upper,
                                        const std::string& work, const std::string& what);

// The option string of mount(2) for `layers` ("lowerdir=a:b,upperdir=…,
// workdir=…"), each path escaped for the legacy parser: where the new mount
// API cannot express the overlay.
std::string overlay_mount_options(const overlay_layers& layers);

}  // namespace berth::runtime
