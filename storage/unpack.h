// Layer unpacking: a layer archive (tar, tar+gzip, tar+zstd) becomes a
// directory that overlayfs can use as a lower layer.
//
// libarchive reads; berth writes every entry itself relative to the layer
// directory's fd with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so
// several layers can unpack at once on worker threads (nothing depends on
// the process's working directory) and no entry can write outside its layer:
// ".." components are refused, absolute names are taken relative to the
// layer root, symlinks in parent paths resolve inside the layer, hardlink
// targets resolve inside the layer.
//
// OCI whiteouts become overlay whiteouts: ".wh.NAME" a 0:0 character device
// NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its directory.
// Owners, modes (setuid, sticky), xattrs, mtimes, hardlinks, symlinks,
// devices and fifos are kept.
//
// Everything here blocks: call it from the worker pool.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "base/error.h"

namespace berth::storage {

struct unpacked_layer {
    std::string diff_id;  // "sha256:…" of the uncompressed tar stream
    std::uint64_t size = 0;  // bytes of regular file content written
    std::uint64_t entries = 0;  // archive entries read, whiteouts included
};

// Unpacks the archive at archive_path into dest, which must not exist. The
// work happens in a sibling staging directory renamed to dest on success; on
// failure nothing is left behind. If dest appears meanwhile (another unpack
// of the same layer won the race) the staging copy is discarded and the
// result still describes the archive. The layer's data is flushed to disk
// (syncfs) before the rename makes it visible. Without root (tests), owners
// are not changed and whiteouts, devices and trusted.* xattrs fail.
// Errors: invalid_argument for a malformed archive or a hostile entry
// ("unpack layer entry ../x: path escapes the layer root"), already_exists
// if dest exists on entry, not_found for a missing archive or hardlink target.
result<unpacked_layer> unpack_layer(const std::string& archive_path, const std::string& dest);

// Computes the diff id (sha256 of the decompressed stream) without unpacking.
result<std::string> compute_diff_id(const std::string& archive_path);

// Extraction into an existing tree (`docker cp` into a container) with the
// writer of unpack_layer, but: entries go below `base`; names starting with
// ".wh." are written as they are, not turned into whiteouts; directories
// that exist keep their modes unless the archive has entries for them; nothing
// is staged or synced.
struct extract_options {
    // The directory the archive's names are relative to, relative to the root
    // ("tmp/dir"; "" for the root itself). Clean and without symlinks (the
    // caller resolves them), though a symlink here still resolves inside the
    // root.
    std::string base;
    // An entry that would replace a directory by a non-directory, or a
    // non-directory by a directory, is an error.
    bool no_overwrite_dir_non_dir = false;
    // Every entry gets this owner instead of the archive's.
    bool set_owner = false;
    uid_t uid = 0;
    gid_t gid = 0;
    // Applied to every owner last (set_owner's too): the container's ids to
    // the host's for a container in a user namespace. An error (an id
    // without a host id) fails the entry.
    std::function<status(uid_t&, gid_t&)> map_owner;
};

// Reads the archive at archive_path (tar, possibly compressed) and writes its
// entries below root_fd (any directory descriptor, O_PATH ones included),
// every name resolved inside root_fd as unpack_layer resolves names inside a
// layer. Errors: invalid_argument for a malformed archive, a hostile entry or
// a directory/non-directory conflict. Blocks.
status extract_archive(const std::string& archive_path, int root_fd, const extract_options& o);

}  // namespace berth::storage
