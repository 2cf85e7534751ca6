// Tar archives of file trees, written as Docker's pkg/archive writes them:
// uncompressed, ustar with pax headers only where ustar falls short (long
// names, large ids, xattrs), entries in bytewise name order, directories with
// a trailing "/", mtimes in whole seconds, a hardlinked file stored once and
// then as links to its first name, security.capability kept, sockets left out.
// Used by the daemon (export, cp from a container) and the CLI (cp into one).
//
// The tree is walked with openat(O_NOFOLLOW) from directory descriptors: a
// symlink is archived as a symlink and never followed, and nothing is read
// outside the directory the walk starts from (within one mount). Files that
// vanish or change type during the walk are left out; a file that grows or
// shrinks is cut or zero-padded to the size in its header.
//
// Blocks (file I/O, and writes to the output, often a pipe).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "base/error.h"

struct archive;

namespace berth {

class tar_writer {
public:
    tar_writer();
    ~tar_writer();
    tar_writer(const tar_writer&) = delete;
    tar_writer& operator=(const tar_writer&) = delete;

    // Starts an archive written to out_fd (not closed by the writer).
    status open(int out_fd);
    // Adds the entry `leaf` of directory `dirfd` (a descriptor that can be
    // read; "." for the directory itself) under `name`, and for a directory
    // everything below it as "name/…". A name ending in "/" (the root asked
    // for as "/") takes its children as "/bin", not "//bin".
    status add(int dirfd, const std::string& leaf, const std::string& name);
    // Adds what is in directory `dirfd` (a descriptor that can be read) as
    // "prefix/…", or by its own names with an empty prefix; no entry for the
    // directory itself (export has none for "/").
    status add_contents(int dirfd, const std::string& prefix);
    // Ends the archive (two zero blocks).
    status close();
    // Applied to every entry's owner (a user namespace's host ids shown as
    // the container's).
    void set_owner_map(std::function<void(uid_t&, gid_t&)> f) { _owner_map = std::move(f); }

private:
    struct entry;
    status write(const entry& e);
    status copy_data(int fd, long long size, const std::string& name);
    error failure();

    struct archive_free {
        void operator()(::archive* a) const noexcept;
    };
    std::unique_ptr<::archive, archive_free> _a;
    struct link_map;
    std::unique_ptr<link_map> _links;
    std::function<void(uid_t&, gid_t&)> _owner_map;
};

}  // namespace berth
