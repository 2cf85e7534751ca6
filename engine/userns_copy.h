// --userns-remap where idmapped layers are unavailable (a kernel before
// 6.15, or a filesystem without idmapped mounts): each image layer is copied
// once per remapping, with every owner shifted onto the host's ids, into
// <data root>/layers-remap/<uid>.<gid>/<chain hex> (uid, gid: the host ids
// of the container's root), and the containers of that remapping share the
// copy, never one per container. The copy keeps hardlinks, device nodes
// (whiteouts), symlinks, times and xattrs (trusted.overlay.* included),
// applies modes after chown (which clears setuid and setgid), shifts the ids
// inside POSIX ACLs, and rewrites file capabilities as version 3 with the
// remapped root as their root id (a v2 capability would mean nothing in the
// user namespace). Removed with the layer by the image GC.
//
// Blocks (file trees): run on a worker.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "engine/runtime/spec.h"

namespace berth {

// "<data root>/layers-remap/<uid>.<gid>"
std::string remap_copy_root(const std::string& data_root, const std::vector<runtime::id_range>& uid_map,
                            const std::vector<runtime::id_range>& gid_map);

// Copies layer directory `src` to `dest` (which must not exist) with the
// ids shifted, staged next to dest and renamed; a copy made meanwhile by
// someone else wins. Ids without a host id are an error naming the file.
status copy_layer_remapped(const std::string& src, const std::string& dest, const std::vector<runtime::id_range>& uid_map,
                           const std::vector<runtime::id_range>& gid_map);

// Makes the copies that do not exist yet: (layer directory, copy) pairs.
status ensure_remapped_copies(const std::vector<std::pair<std::string, std::string>>& layers,
                              const std::vector<runtime::id_range>& uid_map,
                              const std::vector<runtime::id_range>& gid_map);

// Shifts the owner of everything under `dir` (itself included) onto the
// host's ids, keeping modes (a container's init layer, not idmapped here).
status shift_tree_owners(const std::string& dir, const std::vector<runtime::id_range>& uid_map,
                         const std::vector<runtime::id_range>& gid_map);

// The value of an xattr with its ids shifted (system.posix_acl_access and
// _default: ACL_USER and ACL_GROUP entries; security.capability: made v3
// with rootid the host id of its root id, 0 for v2), or the value as it is for any
// other name. Errors: malformed values, unmapped ids.
result<std::string> remap_xattr(const std::string& name, std::string value,
                                const std::vector<runtime::id_range>& uid_map,
                                const std::vector<runtime::id_range>& gid_map);

}  // namespace berth
