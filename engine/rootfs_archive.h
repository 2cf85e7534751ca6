// Docker's container filesystem endpoints, on a rootfs_view:
//   GET /containers/{id}/export          write_rootfs_archive
//   GET|HEAD /containers/{id}/archive    stat_container_path, write_path_archive
//   PUT /containers/{id}/archive         extract_into_container
//   GET /containers/{id}/changes         rootfs_changes
//
// Archives are uncompressed tar (pax where ustar does not fit), entries in
// lexical order, directories with a trailing "/", mtimes in whole seconds,
// hardlinks as links to the first name, security.capability kept; sockets are
// left out. Everything blocks: call it from the worker pool. An archive is
// written to a descriptor (a pipe the daemon's loop drains), so no archive is
// ever held in memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/rootfs_view.h"

namespace berth {

// What Docker reports for a path (X-Docker-Container-Path-Stat).
struct path_stat {
    std::string name;  // the base name of the path asked for
    std::int64_t size = 0;
    std::uint32_t mode = 0;  // Go's os.FileMode: permission bits and type bits (1<<31 dir, 1<<27 symlink…)
    std::int64_t mtime_ns = 0;
    std::string link_target;  // symlinks: the target fully resolved inside the container, absolute
};
// {"name":…,"size":…,"mode":…,"mtime":"RFC 3339","linkTarget":…}
std::string path_stat_json(const path_stat& st);
// Go's os.FileMode of a stat mode.
std::uint32_t go_file_mode(unsigned st_mode);

// A path asked for by GET /containers/{id}/archive, resolved as Docker does:
// the symlinks of its directory part are followed inside the container, its
// last component only when the path ends in "/" or "/.".
struct archive_source {
    std::string resolved;  // in the view
    std::string top_name;  // the archive's first entry: the base name of the path asked for
    path_stat stat;
};
// Errors: not_found when the path does not exist.
result<archive_source> stat_container_path(const rootfs_view& v, const std::string& path);

// The tar of a path: its top entry named src.top_name, a directory's
// contents below it.
status write_path_archive(const rootfs_view& v, const archive_source& src, int out_fd);
// The tar of the whole root (export): names relative to "/", no entry for "/".
status write_rootfs_archive(const rootfs_view& v, int out_fd);

struct extract_request {
    std::string path;  // the directory to extract into, as asked for
    bool no_overwrite_dir_non_dir = false;
    bool copy_uid_gid = false;  // every entry owned by the container's user
    std::string user;           // the container's Config.User ("" root)
};
// Docker's extraction into a container: the path is resolved inside the
// container, its last symlink included, and must be a directory. Errors:
// not_found (the path is missing), invalid_argument ("extraction point is not
// a directory", a malformed or hostile archive).
status extract_into_container(const rootfs_view& v, const extract_request& r, const std::string& archive_file);

// The changes of a container's filesystem against its image, as Docker's
// overlay driver computes them from the upper directory (GET
// /containers/{id}/changes): in the upper directory, a whiteout is a deletion
// (of what the image has), an entry the image has is a modification (a
// directory only if its size, mode or mtime differ), any other an addition; the
// parent of an addition or deletion is a modification; an opaque directory
// the image has is a modification whose image entries not in it are deleted.
// Sorted as a depth-first walk in name order.
struct fs_change {
    enum kind_t : int { modified = 0, added = 1, deleted = 2 };
    std::string path;
    kind_t kind = modified;
};
result<std::vector<fs_change>> rootfs_changes(const rootfs_layout& l);

}  // namespace berth
