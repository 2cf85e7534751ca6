#include "base/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <map>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/util.h"

namespace berth {
namespace {

constexpr std::size_t k_copy_block = std::size_t{256} * 1024;

// Gone, or no longer what the walk saw: left out of the archive.
bool vanished(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENXIO; }

struct entry_free {
    void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};

}  // namespace

// What one entry is made of; the rest comes from its stat.
struct tar_writer::entry {
    std::string name;
    struct stat st {};
    int data_fd = -1;         // regular files, open for reading
    std::string link_target;  // symlinks
};

struct tar_writer::link_map {
    std::map<std::pair<dev_t, ino_t>, std::string> first_name;
};

void tar_writer::archive_free::operator()(::archive* a) const noexcept { archive_write_free(a); }

tar_writer::tar_writer() : _links(std::make_unique<link_map>()) {}
tar_writer::~tar_writer() = default;

status tar_writer::open(int out_fd) {
    _a.reset(archive_write_new());
    if (!_a) return make_error(errc::internal, "write archive: out of memory");
    archive_write_set_format_pax_restricted(_a.get());
    archive_write_add_filter_none(_a.get());
    // No padding of the last block to 10 KiB: the archive ends with its two
    // zero blocks, as Go's archive/tar ends it.
    archive_write_set_bytes_in_last_block(_a.get(), 1);
    if (archive_write_open_fd(_a.get(), out_fd) != ARCHIVE_OK) return failure();
    return ok();
}

status tar_writer::close() {
    if (archive_write_close(_a.get()) != ARCHIVE_OK) return failure();
    return ok();
}

error tar_writer::failure() {
    int err = archive_errno(_a.get());
    if (err > 0) return sys_error("write archive", err);
    const char* msg = archive_error_string(_a.get());
    return make_error(errc::internal, std::string("write archive: ") + (msg && *msg ? msg : "failed"));
}

status tar_writer::add(int dirfd, const std::string& leaf, const std::string& name) {
    entry e;
    e.name = name;
    if (::fstatat(dirfd, leaf.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("stat " + name);
    unique_fd data;
    if (S_ISREG(e.st.st_mode)) {
        // O_NONBLOCK: a fifo put there meanwhile does not block the open;
        // the fstat then refuses whatever is no longer a regular file.
        data.reset(::openat(dirfd, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        if (!data || ::fstat(data.get(), &e.st) != 0) return sys_error("open " + name);
        if (!S_ISREG(e.st.st_mode)) return make_error(errc::not_found, "open " + name + ": no longer a regular file");
        e.data_fd = data.get();
    } else if (S_ISLNK(e.st.st_mode)) {
        std::string target(PATH_MAX, '\0');
        ssize_t n = ::readlinkat(dirfd, leaf.c_str(), target.data(), target.size());
        if (n < 0) return sys_error("read symlink " + name);
        target.resize(static_cast<std::size_t>(n));
        e.link_target = std::move(target);
    }
    BERTH_TRY(write(e));
    data.reset();
    if (!S_ISDIR(e.st.st_mode)) return ok();
    unique_fd dir(::openat(dirfd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return sys_error("open directory " + name);
    return add_contents(dir.get(), name);
}

status tar_writer::add_contents(int dirfd, const std::string& prefix) {
    BERTH_ASSIGN(auto names, list_directory(dirfd, prefix.empty() ? "/" : prefix));
    for (const auto& n : names) {
        std::string name = prefix.empty() || prefix.back() == '/' ? prefix + n : prefix + "/" + n;
        auto added = add(dirfd, n, name);
        if (!added && !vanished(added.err().sys_errno) && added.err().code != errc::not_found) return added;
    }
    return ok();
}

status tar_writer::write(const entry& src) {
    const struct stat& st = src.st;
    if (S_ISSOCK(st.st_mode)) return ok();  // Docker leaves sockets out too
    std::unique_ptr<archive_entry, entry_free> e(archive_entry_new());
    if (!e) return make_error(errc::internal, "write archive: out of memory");
    std::string name = src.name;
    if (S_ISDIR(st.st_mode) && (name.empty() || name.back() != '/')) name += '/';
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_mode(e.get(), st.st_mode);
    uid_t uid = st.st_uid;
    gid_t gid = st.st_gid;
    if (_owner_map) _owner_map(uid, gid);
    archive_entry_set_uid(e.get(), uid);
    archive_entry_set_gid(e.get(), gid);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);
    archive_entry_set_size(e.get(), 0);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) archive_entry_set_rdev(e.get(), st.st_rdev);
    if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(e.get(), src.link_target.c_str());
    bool data = false;
    if (S_ISREG(st.st_mode)) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto& first = _links->first_name;
        auto seen = st.st_nlink > 1 ? first.find(key) : first.end();
        if (seen != first.end()) {
            archive_entry_set_hardlink(e.get(), seen->second.c_str());
        } else {
            if (st.st_nlink > 1) first.emplace(key, name);
            archive_entry_set_size(e.get(), st.st_size);
            data = true;
            char cap[256];
            ssize_t n = ::fgetxattr(src.data_fd, "security.capability", cap, sizeof cap);
            if (n > 0) archive_entry_xattr_add_entry(e.get(), "security.capability", cap, static_cast<size_t>(n));
        }
    }
    int r = archive_write_header(_a.get(), e.get());
    if (r == ARCHIVE_FATAL) return failure();
    if (r == ARCHIVE_FAILED) return ok();  // an entry tar cannot hold; the archive goes on
    if (data) BERTH_TRY(copy_data(src.data_fd, st.st_size, name));
    if (archive_write_finish_entry(_a.get()) == ARCHIVE_FATAL) return failure();
    return ok();
}

// Exactly `size` bytes go out (libarchive zero-pads a short entry at
// finish_entry): the header with the size is already written.
status tar_writer::copy_data(int fd, long long size, const std::string& name) {
    std::vector<char> buf(k_copy_block);
    long long left = size;
    while (left > 0) {
        ssize_t n = ::read(fd, buf.data(), static_cast<std::size_t>(std::min<long long>(left, buf.size())));
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + name);
        }
        if (n == 0) break;
        if (archive_write_data(_a.get(), buf.data(), static_cast<std::size_t>(n)) < 0) return failure();
        left -= n;
    }
    return ok();
}

}  // namespace berth
