// User namespaces (--userns-remap), the runtime side.
//
// A remapped container is clone3()d with CLONE_NEWUSER; the zygote (root in
// the initial user namespace) writes its uid_map and gid_map before it
// releases the child, which then becomes root of its namespace (uid 0
// inside, the first subordinate id outside).
//
// Its rootfs stays the shared layers: the zygote builds the overlay itself
// (init-namespace privilege, so overlayfs reads trusted.overlay.* and opaque
// directories keep working) on idmapped views of the lower directories
// (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP) against a
// user namespace with the remapping, one per remapping, kept by the zygote
// with the views it made: one shared set per remapping), passed to
// overlayfs by descriptor (fsconfig FSCONFIG_SET_FD "lowerdir+", Linux
// 6.13, with detached layers since 6.15). The child inherits the detached
// overlay and attaches it with move_mount. The upper directory is not
// idmapped: what the container's root writes is owned by the mapped uid.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "engine/runtime/spec.h"

namespace berth::runtime {

// "0 100000 65536\n…": the text of a uid_map or gid_map.
std::string id_map_text(const std::vector<id_range>& ranges);

// The host id of `inside` under `ranges` (-1 when unmapped).
long long map_to_host(const std::vector<id_range>& ranges, std::uint32_t inside);

// A new user namespace with these maps, held by the returned descriptor
// (/proc/PID/ns/user of a short-lived helper). Forks: call only from a
// single-threaded process (the zygote, the daemon before its threads start).
result<unique_fd> make_user_namespace(const std::vector<id_range>& uid_map, const std::vector<id_range>& gid_map);

// Zygote: writes /proc/<pid>/uid_map and gid_map of a child just cloned with
// CLONE_NEWUSER (it waits for its release meanwhile).
status write_id_maps(pid_t pid, const launch_spec& spec);

// Zygote: the container's rootfs, a detached overlay of spec's idmapped
// lower directories and its plain upper and work directories, built with
// the zygote's (init-namespace) credentials. The idmapped views of image
// layers are cached per remapping and reused while their directory is the
// same inode; the init layer (lower_dirs[0]) gets a fresh one each time.
result<unique_fd> open_remapped_rootfs(const launch_spec& spec);

// The daemon, at start: whether this kernel and the filesystem of `scratch`
// (an empty directory in the data root, left empty) can build a remapped
// rootfs; the error says what is missing.
status probe_remapped_overlay(const std::string& scratch, const std::vector<id_range>& uid_map,
                              const std::vector<id_range>& gid_map);

// Whether the process behind `pidfd` is in another user namespace than the
// caller (an exec into a remapped container joins it).
result<bool> in_other_user_namespace(int pidfd);

// The child, after the maps are written: setresgid/setgroups/setresuid to 0
// in its user namespace (its credentials were still the host's root).
status become_namespace_root();

}  // namespace berth::runtime
