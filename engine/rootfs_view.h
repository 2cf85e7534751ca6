// A container's root filesystem as the daemon sees it, without mounting
// anything into any mount namespace.
//
// Vocabulary:
//   layout    the directories of a container's overlay: its upper and work
//             directories, the init layer and the image layers.
//   view      a directory descriptor that stands for the container's "/".
//             Every lookup below it goes through openat2(RESOLVE_IN_ROOT |
//             RESOLVE_NO_MAGICLINKS) (in_root()), so "..", absolute names and
//             symlinks in the container resolve inside it and never reach
//             the host's files.
//
// Three kinds of view, chosen by what the caller does and whether the
// container runs:
//   snapshot  a read-only detached overlay whose lower layers are the upper
//             directory, the init layer and the image layers. Safe while the
//             container's own overlay is live (that one is the only mount
//             with this upper directory as its upperdir). For reading: export,
//             cp from a container.
//   writable  a read-write detached overlay with the container's upper and
//             work directories. Only for a container that does not run: two
//             live overlays sharing an upper directory are undefined
//             behaviour.
//   live      /proc/<pid>/root of a running container: its own overlay, in
//             its own mount namespace, with the mounts it has. For writing
//             into a running container (cp into).
// A detached overlay exists only as long as its descriptor: nothing is left
// mounted anywhere when the view is destroyed.
//
// Everything here blocks (mounts, file trees): call it from the worker pool.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "engine/runtime/spec.h"

namespace berth {

class engine;
struct container;

struct rootfs_layout {
    std::string upper_dir, work_dir;
    std::vector<std::string> lower_dirs;  // the init layer, then the image layers topmost first
    // --userns-remap (a container not opted out): what its root writes in
    // upper/ is owned by the host's mapped ids. view_userns (the daemon's,
    // held for its life) maps them back: snapshot and writable views see
    // upper/ through an idmapped mount of it, so they show the container's
    // ids as the image layers do. Live and writable views write with the
    // host's ids: uid_map and gid_map turn the container's into those.
    int view_userns = -1;
    std::vector<runtime::id_range> uid_map, gid_map;
};

// The layout of a container of this engine (what start_container mounts).
rootfs_layout container_layout(engine& eng, const container& c);

class rootfs_view {
public:
    enum class kind { snapshot, writable, live };

    rootfs_view() = default;
    rootfs_view(rootfs_view&&) noexcept = default;
    rootfs_view& operator=(rootfs_view&&) noexcept = default;

    // The container's "/" (an O_PATH directory descriptor).
    int root() const { return _root.get(); }
    kind which() const { return _kind; }
    // A view of a remapped container that shows the host's ids: its maps
    // (the container's ids to the host's). Live and writable views (what is
    // written through them gets the host's ids) and snapshots of copied
    // layers (engine/userns_copy.h; archives map back); empty otherwise.
    const std::vector<runtime::id_range>& uid_map() const { return _uid_map; }
    const std::vector<runtime::id_range>& gid_map() const { return _gid_map; }

    // openat2(root(), path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
    // retried on EAGAIN. "" and "/" are the root. Returns -1 with errno set.
    int in_root(const std::string& path, std::uint64_t flags) const;

private:
    friend result<rootfs_view> open_snapshot(const rootfs_layout& l);
    friend result<rootfs_view> open_writable(const rootfs_layout& l);
    friend result<rootfs_view> open_live(int pid, const rootfs_layout& l);
    friend result<rootfs_view> open_lower_layers(const rootfs_layout& l);
    unique_fd _root;
    kind _kind = kind::snapshot;
    std::vector<runtime::id_range> _uid_map, _gid_map;
};

result<rootfs_view> open_snapshot(const rootfs_layout& l);
result<rootfs_view> open_writable(const rootfs_layout& l);
// The root of process `pid`, refused (conflict) unless its "/" is the overlay
// with l.upper_dir as upper directory: a pid the container no longer owns is
// never written through.
result<rootfs_view> open_live(int pid, const rootfs_layout& l);
// The image as the container started from it: the init layer and the image
// layers, read-only, without the upper directory (the base of `diff`).
result<rootfs_view> open_lower_layers(const rootfs_layout& l);

// Docker's FollowSymlinkInScope: path ("/a/b/c", relative names are taken from
// "/") with every symlink on the way, the last one included, resolved inside
// the view; ".." stops at "/". The result is absolute and clean ("/etc/x").
// Components that do not exist are kept as written. Errors: ELOOP after 255
// links, and I/O errors.
// visit (if given) sees every step: the path so far after a component that
// exists there (found) or does not (missing), or after a ".." (up); false
// stops the walk with a conflict error.
enum class scope_step { found, missing, up };
using scope_visitor = std::function<bool(const std::string& sofar, scope_step step)>;
result<std::string> resolve_in_scope(const rootfs_view& v, const std::string& path, const scope_visitor& visit = {});

// "/a/b/" -> "/a/b/", "a/./b/." -> "/a/b/.", "../x" -> "/x": the path made
// absolute and clean, keeping a trailing "/" or "/." as Docker does
// (PreserveTrailingDotOrSeparator).
std::string clean_container_path(const std::string& path);
// Go's filepath.Dir and filepath.Base of a clean absolute path.
std::string path_dir(const std::string& clean);
std::string path_base(const std::string& clean);

}  // namespace berth
