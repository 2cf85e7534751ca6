#include "storage/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "base/sha256.h"
#include "base/sys.h"
#include "base/util.h"

namespace berth::storage {
namespace {

// Every lookup of a name from the archive is resolved as if the layer
// directory were "/": "..", absolute symlinks and absolute names all stay
// inside it. Magic links (/proc/self/fd/…) cannot exist in a fresh layer but
// are refused all the same.
constexpr std::uint64_t k_resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// The kernel's own limit on nested symlinks (MAXSYMLINKS).
constexpr int k_max_symlinks = 40;

constexpr std::size_t k_read_block = std::size_t{128} * 1024;

constexpr std::string_view k_whiteout_prefix = ".wh.";
constexpr std::string_view k_whiteout_meta_prefix = ".wh..wh.";
constexpr std::string_view k_whiteout_opaque = ".wh..wh..opq";

struct archive_free {
    void operator()(archive* a) const noexcept { archive_read_free(a); }
};
using archive_ptr = std::unique_ptr<archive, archive_free>;

// Names come from untrusted archives: control bytes are escaped before a
// name goes into an error message.
std::string shown_name(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

error archive_failure(std::string_view what, archive* a) {
    const char* msg = archive_error_string(a);
    // libarchive does not always say why (a gzip stream cut inside its trailer).
    std::string text = msg && *msg ? msg : "malformed or truncated archive";
    if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
    while (!text.empty() && (text.back() == '.' || text.back() == '\n')) text.pop_back();
    int err = archive_errno(a);
    return {errc::invalid_argument, std::string(what) + ": " + text, err > 0 ? err : 0};
}

// libarchive converts names to the thread's locale. Under a UTF-8 locale it
// also normalizes pax (UTF-8) names to NFC, which would rename files whose
// names are NFD; under "C" a non-ASCII name cannot be converted and libarchive
// hands over the bytes from the archive unchanged, which is what we want.
// uselocale is per thread, so concurrent unpacks and the rest of the process
// are unaffected.
class c_locale_scope {
public:
    c_locale_scope() : _loc(::newlocale(LC_ALL_MASK, "C", locale_t(0))) {
        if (_loc) _old = ::uselocale(_loc);
    }
    ~c_locale_scope() {
        if (_loc) {
            ::uselocale(_old);
            ::freelocale(_loc);
        }
    }
    c_locale_scope(const c_locale_scope&) = delete;
    c_locale_scope& operator=(const c_locale_scope&) = delete;

private:
    locale_t _loc;
    locale_t _old = LC_GLOBAL_LOCALE;
};

// The decompressed bytes of a layer archive, hashed as they are read: the
// "raw" format with every filter yields exactly the decompressed stream.
class decompressed_stream {
public:
    // what: the context of error messages ("read layer /x.tar").
    status open(int fd, const std::string& what) {
        _what = what;
        _a.reset(archive_read_new());
        if (!_a) return make_error(errc::internal, what + ": out of memory");
        archive_read_support_filter_all(_a.get());
        archive_read_support_format_raw(_a.get());
        // An empty stream is an empty layer; "raw" alone refuses it.
        archive_read_support_format_empty(_a.get());
        if (archive_read_open_fd(_a.get(), fd, k_read_block) != ARCHIVE_OK)
            return archive_failure(what, _a.get());
        archive_entry* e = nullptr;
        int r = archive_read_next_header(_a.get(), &e);
        if (r == ARCHIVE_EOF) {
            _eof = true;
        } else if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            return archive_failure(what, _a.get());
        }
        return ok();
    }

    // The next block, already hashed; empty at the end of the stream. The
    // bytes stay valid until the next call.
    result<std::string_view> next() {
        while (!_eof) {
            const void* buf = nullptr;
            size_t n = 0;
            la_int64_t offset = 0;
            int r = archive_read_data_block(_a.get(), &buf, &n, &offset);
            if (r == ARCHIVE_EOF) {
                _eof = true;
                break;
            }
            if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                _failure = archive_failure(_what, _a.get());
                return *_failure;
            }
            if (n == 0) continue;
            _hash.update(buf, n);
            return std::string_view(static_cast<const char*>(buf), n);
        }
        return std::string_view();
    }

    // Reads (and hashes) whatever the tar reader left: the diff id covers
    // the whole stream, end-of-archive padding included.
    status drain() {
        for (;;) {
            BERTH_ASSIGN(auto block, next());
            if (block.empty()) return ok();
        }
    }

    std::string digest() { return _hash.digest(); }

    // The error behind a failed read callback, with its errno.
    const std::optional<error>& failure() const { return _failure; }

    // archive_read_open callback feeding the tar reader.
    static la_ssize_t pump(archive* tar, void* self, const void** buf) {
        auto* s = static_cast<decompressed_stream*>(self);
        auto block = s->next();
        if (!block) {
            archive_set_error(tar, block.err().sys_errno ? block.err().sys_errno : EIO, "%s",
                              block.err().message.c_str());
            return -1;
        }
        *buf = block->data();
        return static_cast<la_ssize_t>(block->size());
    }

private:
    archive_ptr _a;
    sha256 _hash;
    std::string _what;
    bool _eof = false;
    std::optional<error> _failure;
};

// openat2 in the layer root. EAGAIN means a rename somewhere on the system
// raced with a ".." lookup (openat2(2)); the lookup is simply retried.
int open_in_root(int root, const std::string& path, std::uint64_t flags) {
    const char* p = path.empty() ? "." : path.c_str();
    for (int attempt = 0;; ++attempt) {
        int fd = sys::openat2(root, p, flags, k_resolve);
        if (fd >= 0 || errno != EAGAIN || attempt >= 1000) return fd;
    }
}

// Splits an archive name into components: leading "/" and "./" vanish,
// empty and "." components are dropped, ".." is refused (nullopt).
std::optional<std::vector<std::string>> split_name(std::string_view name) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= name.size()) {
        size_t end = name.find('/', start);
        if (end == std::string_view::npos) end = name.size();
        std::string_view c = name.substr(start, end - start);
        if (c == "..") return std::nullopt;
        if (!c.empty() && c != ".") out.emplace_back(c);
        start = end + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& comps, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        if (i) out += '/';
        out += comps[i];
    }
    return out;
}

// rm -rf below a directory fd; never follows symlinks.
status remove_tree_at(int dirfd, const std::string& name, const std::string& shown) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("stat " + shown);
    }
    if (S_ISDIR(st.st_mode)) {
        unique_fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) return sys_error("open " + shown);
        DIR* d = ::fdopendir(::dup(fd.get()));
        if (!d) return sys_error("read directory " + shown);
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
            if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
            names.emplace_back(e->d_name);
        }
        ::closedir(d);
        for (auto& n : names) BERTH_TRY(remove_tree_at(fd.get(), n, shown + "/" + n));
        if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return sys_error("remove " + shown);
        return ok();
    }
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return sys_error("remove " + shown);
    return ok();
}

// An inode just created by the writer: either an fd on it, or its parent
// directory and name (symlinks, devices and fifos are never opened).
struct node {
    int fd = -1;
    int parent = -1;
    const char* leaf = nullptr;
};

// Writes the entries of one layer below its root directory fd.
class layer_writer {
public:
    // extract: writing into an existing tree (extract_archive), not a new layer.
    layer_writer(int root, bool can_chown, const extract_options* extract = nullptr)
        : _root(root), _can_chown(can_chown), _extract(extract) {
        if (_extract) {
            // The tree's directories keep their modes unless the archive has
            // entries for them.
            if (auto base = split_name(_extract->base)) _base = std::move(*base);
            return;
        }
        // The root keeps 0755 unless the archive has an entry for "./".
        _dirs.push_back({"", 0755, {}, false, false});
        _dir_index.emplace("", 0);
    }

    std::uint64_t size() const { return _size; }
    std::uint64_t entries() const { return _entries; }

    status write_entry(archive* a, archive_entry* e);
    // Directory modes and times, deepest and latest first, once every child
    // exists: creating a child would change its parent's mtime.
    status finish();

private:
    struct dir_meta {
        std::string path;
        mode_t mode = 0755;
        struct timespec times[2] = {};
        bool has_times = false;
        bool removed = false;
    };

    result<unique_fd> ensure_dir(const std::string& path, int depth, const std::string& shown);
    status write_root(archive_entry* e, const std::string& shown);
    status write_whiteout(int parent, const std::string& dir_path, const std::string& leaf,
                          archive_entry* e, const std::string& shown);
    status write_file(archive* a, archive_entry* e, int parent, const std::string& leaf,
                      const std::string& shown);
    status write_dir(archive_entry* e, int parent, const std::string& leaf, const std::string& path,
                     bool exists, const std::string& shown);
    status write_hardlink(archive_entry* e, int parent, const std::string& leaf,
                          const std::optional<struct stat>& existing, const std::string& path,
                          const std::string& shown);
    status remove_existing(int parent, const std::string& leaf, const std::string& path, bool is_dir,
                           const std::string& shown);

    status apply_owner(const node& n, archive_entry* e, const std::string& shown);
    status apply_mode(const node& n, mode_t mode, const std::string& shown);
    status apply_xattrs(const node& n, archive_entry* e, const std::string& shown);
    status apply_times(const node& n, archive_entry* e, const std::string& shown);
    void record_dir(const std::string& path, archive_entry* e);
    std::string entry_error_prefix(const std::string& shown) const {
        return (_extract ? "extract archive entry " : "unpack layer entry ") + shown;
    }

    int _root;
    bool _can_chown;
    const extract_options* _extract;
    std::vector<std::string> _base;  // extract: the components of extract_options::base
    std::uint64_t _size = 0;
    std::uint64_t _entries = 0;
    std::vector<dir_meta> _dirs;
    std::unordered_map<std::string, size_t> _dir_index;
};

bool entry_times(archive_entry* e, struct timespec ts[2]) {
    if (!archive_entry_mtime_is_set(e)) return false;
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        ts[0].tv_sec = archive_entry_atime(e);
        ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        ts[0] = ts[1];
    }
    return true;
}

status layer_writer::apply_owner(const node& n, archive_entry* e, const std::string& shown) {
    // Without CAP_CHOWN the files keep the caller's ids, like tar run by a user.
    if (!_can_chown) return ok();
    auto uid = static_cast<uid_t>(archive_entry_uid(e));
    auto gid = static_cast<gid_t>(archive_entry_gid(e));
    if (_extract && _extract->set_owner) {
        uid = _extract->uid;
        gid = _extract->gid;
    }
    if (_extract && _extract->map_owner) {
        if (auto m = _extract->map_owner(uid, gid); !m) return m.err().wrap(entry_error_prefix(shown));
    }
    int r = n.fd >= 0 ? ::fchown(n.fd, uid, gid) : ::fchownat(n.parent, n.leaf, uid, gid, AT_SYMLINK_NOFOLLOW);
    if (r != 0)
        return sys_error(entry_error_prefix(shown) + ": chown " + std::to_string(uid) + ":" + std::to_string(gid));
    return ok();
}

// Called after apply_owner: chown clears setuid and setgid.
status layer_writer::apply_mode(const node& n, mode_t mode, const std::string& shown) {
    int r = n.fd >= 0 ? ::fchmod(n.fd, mode) : ::fchmodat(n.parent, n.leaf, mode, 0);
    if (r != 0) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode));
        return sys_error(entry_error_prefix(shown) + ": chmod " + buf);
    }
    return ok();
}

// Called after apply_owner: chown drops security.capability.
status layer_writer::apply_xattrs(const node& n, archive_entry* e, const std::string& shown) {
    if (archive_entry_xattr_reset(e) == 0) return ok();
    // Nodes without an fd are reached through their parent's fd; lsetxattr
    // does not follow the final component, so a symlink gets its own xattrs.
    std::string via;
    if (n.fd < 0) via = "/proc/self/fd/" + std::to_string(n.parent) + "/" + n.leaf;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (!name || !*name) continue;
        // SELinux labels belong to the host's policy, not to the image.
        if (std::strcmp(name, "security.selinux") == 0) continue;
        // overlayfs's own attributes (redirect, metacopy, origin, opaque…)
        // would let an image steer lookups across layers; whiteouts and
        // opaque markers come only from the OCI whiteout conversion.
        if (std::strncmp(name, "trusted.overlay.", 16) == 0) continue;
        int r = n.fd >= 0 ? ::fsetxattr(n.fd, name, value, size, 0) : ::lsetxattr(via.c_str(), name, value, size, 0);
        if (r != 0) return sys_error(entry_error_prefix(shown) + ": set xattr " + shown_name(name));
    }
    return ok();
}

status layer_writer::apply_times(const node& n, archive_entry* e, const std::string& shown) {
    struct timespec ts[2];
    if (!entry_times(e, ts)) return ok();
    int r = n.fd >= 0 ? ::futimens(n.fd, ts) : ::utimensat(n.parent, n.leaf, ts, AT_SYMLINK_NOFOLLOW);
    if (r != 0) return sys_error(entry_error_prefix(shown) + ": set times");
    return ok();
}

void layer_writer::record_dir(const std::string& path, archive_entry* e) {
    dir_meta m;
    m.path = path;
    m.mode = static_cast<mode_t>(archive_entry_perm(e));
    m.has_times = entry_times(e, m.times);
    auto it = _dir_index.find(path);
    if (it != _dir_index.end()) {
        _dirs[it->second] = std::move(m);
    } else {
        _dir_index.emplace(path, _dirs.size());
        _dirs.push_back(std::move(m));
    }
}

// Opens (O_PATH) the directory at path, relative to and confined in the
// layer root, creating missing directories 0755 on the way. A dangling
// symlink on the way is followed the way the kernel would follow it, and the
// directories it points to are created, still inside the layer.
result<unique_fd> layer_writer::ensure_dir(const std::string& path, int depth, const std::string& shown) {
    constexpr std::uint64_t flags = O_PATH | O_DIRECTORY;
    int fd = open_in_root(_root, path, flags);
    if (fd >= 0) return unique_fd(fd);
    if (errno != ENOENT) return sys_error(entry_error_prefix(shown) + ": open directory " + shown_name(path));
    if (depth > k_max_symlinks)
        return make_error(errc::invalid_argument,
                          entry_error_prefix(shown) + ": open directory " + shown_name(path) + ": too many levels of symbolic links");

    unique_fd cur(open_in_root(_root, "", flags));
    if (!cur) return sys_error(entry_error_prefix(shown) + ": open layer root");
    std::string prefix;
    for (const auto& c : split(path, '/')) {
        if (c.empty() || c == ".") continue;
        std::string next = prefix.empty() ? c : prefix + "/" + c;
        fd = open_in_root(_root, next, flags);
        if (fd < 0 && errno == ENOENT && c != "..") {
            struct stat st;
            if (::fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno != ENOENT) return sys_error(entry_error_prefix(shown) + ": stat " + shown_name(next));
                if (::mkdirat(cur.get(), c.c_str(), 0755) != 0)
                    return sys_error(entry_error_prefix(shown) + ": create directory " + shown_name(next));
                // The umask may have taken bits away.
                if (::fchmodat(cur.get(), c.c_str(), 0755, 0) != 0)
                    return sys_error(entry_error_prefix(shown) + ": chmod " + shown_name(next));
            } else if (S_ISLNK(st.st_mode)) {
                std::string target(PATH_MAX, '\0');
                ssize_t n = ::readlinkat(cur.get(), c.c_str(), target.data(), target.size());
                if (n < 0) return sys_error(entry_error_prefix(shown) + ": read symlink " + shown_name(next));
                target.resize(static_cast<size_t>(n));
                // A relative target is resolved from the directory holding the
                // link; RESOLVE_IN_ROOT keeps any ".." in it inside the layer.
                std::string through = (!target.empty() && target[0] == '/') || prefix.empty()
                                          ? target
                                          : prefix + "/" + target;
                auto made = ensure_dir(through, depth + 1, shown);
                if (!made) return made.err();
            } else {
                errno = ENOTDIR;
                return sys_error(entry_error_prefix(shown) + ": open directory " + shown_name(next));
            }
            fd = open_in_root(_root, next, flags);
        }
        if (fd < 0) return sys_error(entry_error_prefix(shown) + ": open directory " + shown_name(next));
        cur.reset(fd);
        prefix = std::move(next);
    }
    return cur;
}

status layer_writer::remove_existing(int parent, const std::string& leaf, const std::string& path, bool is_dir,
                                     const std::string& shown) {
    if (is_dir) {
        // Metadata recorded for the old tree must not land on what replaces it.
        std::string below = path + "/";
        for (auto& d : _dirs) {
            if (!d.removed && (d.path == path || starts_with(d.path, below))) {
                d.removed = true;
                _dir_index.erase(d.path);
            }
        }
    }
    auto r = remove_tree_at(parent, leaf, shown_name(path));
    if (!r) return r.err().wrap(entry_error_prefix(shown) + ": replace existing entry");
    return ok();
}

status layer_writer::write_root(archive_entry* e, const std::string& shown) {
    if (archive_entry_filetype(e) != AE_IFDIR)
        return make_error(errc::invalid_argument, entry_error_prefix(shown) + ": names the layer root but is not a directory");
    node n{_root, -1, nullptr};
    BERTH_TRY(apply_owner(n, e, shown));
    BERTH_TRY(apply_xattrs(n, e, shown));
    record_dir("", e);
    return ok();
}

status layer_writer::write_whiteout(int parent, const std::string& dir_path, const std::string& leaf,
                                    archive_entry* e, const std::string& shown) {
    if (leaf == k_whiteout_opaque) {
        // Opaque: the lower layers' contents of this directory are hidden;
        // this layer's own entries in it stay.
        unique_fd d(::openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d) return sys_error(entry_error_prefix(shown) + ": open directory " + shown_name(dir_path));
        if (::fsetxattr(d.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
            return sys_error(entry_error_prefix(shown) + ": set xattr trusted.overlay.opaque");
        return ok();
    }
    // Other ".wh..wh." names are aufs bookkeeping (hardlink dirs): never
    // written.
    if (starts_with(leaf, k_whiteout_meta_prefix)) return ok();

    std::string hidden = leaf.substr(k_whiteout_prefix.size());
    if (hidden.empty() || hidden == "." || hidden == "..")
        return make_error(errc::invalid_argument, entry_error_prefix(shown) + ": invalid whiteout name");
    std::string path = dir_path.empty() ? hidden : dir_path + "/" + hidden;
    struct stat st;
    if (::fstatat(parent, hidden.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        BERTH_TRY(remove_existing(parent, hidden, path, S_ISDIR(st.st_mode), shown));
    } else if (errno != ENOENT) {
        return sys_error(entry_error_prefix(shown) + ": stat " + shown_name(path));
    }
    // The overlay whiteout: a 0:0 character device with no permission bits,
    // as overlayfs itself creates them.
    if (::mknodat(parent, hidden.c_str(), S_IFCHR, ::makedev(0, 0)) != 0)
        return sys_error(entry_error_prefix(shown) + ": create whiteout " + shown_name(path));
    node n{-1, parent, hidden.c_str()};
    BERTH_TRY(apply_owner(n, e, shown));
    BERTH_TRY(apply_times(n, e, shown));
    return ok();
}

status layer_writer::write_file(archive* a, archive_entry* e, int parent, const std::string& leaf,
                                const std::string& shown) {
    unique_fd f(::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f) return sys_error(entry_error_prefix(shown) + ": create file");
    for (;;) {
        const void* buf = nullptr;
        size_t n = 0;
        la_int64_t offset = 0;
        int r = archive_read_data_block(a, &buf, &n, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return archive_failure(entry_error_prefix(shown), a);
        const char* p = static_cast<const char*>(buf);
        // Sparse files arrive as blocks at offsets; the holes stay holes.
        while (n > 0) {
            ssize_t w = ::pwrite(f.get(), p, n, offset);
            if (w < 0) {
                if (errno == EINTR) continue;
                return sys_error(entry_error_prefix(shown) + ": write");
            }
            p += w;
            n -= static_cast<size_t>(w);
            offset += w;
        }
    }
    la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (size > 0) {
        // A trailing hole of a sparse file is never written.
        if (::ftruncate(f.get(), size) != 0) return sys_error(entry_error_prefix(shown) + ": truncate");
        _size += static_cast<std::uint64_t>(size);
    }
    node n{f.get(), -1, nullptr};
    BERTH_TRY(apply_owner(n, e, shown));
    BERTH_TRY(apply_mode(n, static_cast<mode_t>(archive_entry_perm(e)), shown));
    BERTH_TRY(apply_xattrs(n, e, shown));
    BERTH_TRY(apply_times(n, e, shown));
    return ok();
}

status layer_writer::write_dir(archive_entry* e, int parent, const std::string& leaf, const std::string& path,
                               bool exists, const std::string& shown) {
    // Created owner-only; the final mode is applied in finish() so that a
    // read-only directory can still receive its children.
    if (!exists && ::mkdirat(parent, leaf.c_str(), 0700) != 0)
        return sys_error(entry_error_prefix(shown) + ": create directory");
    unique_fd d(::openat(parent, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return sys_error(entry_error_prefix(shown) + ": open directory");
    node n{d.get(), -1, nullptr};
    BERTH_TRY(apply_owner(n, e, shown));
    BERTH_TRY(apply_xattrs(n, e, shown));
    record_dir(path, e);
    return ok();
}

status layer_writer::write_hardlink(archive_entry* e, int parent, const std::string& leaf,
                                    const std::optional<struct stat>& existing, const std::string& path,
                                    const std::string& shown) {
    const char* raw = archive_entry_hardlink(e);
    if (!raw) raw = archive_entry_hardlink_utf8(e);
    std::string target_shown = shown_name(raw ? raw : "");
    auto comps = split_name(raw ? raw : "");
    if (!comps)
        return make_error(errc::invalid_argument,
                          entry_error_prefix(shown) + ": hardlink target " + target_shown + " escapes the layer root");
    if (_extract) comps->insert(comps->begin(), _base.begin(), _base.end());
    if (comps->empty())
        return make_error(errc::invalid_argument, entry_error_prefix(shown) + ": hardlink to the layer root");
    // O_NOFOLLOW: a hardlink to a symlink links the symlink itself.
    unique_fd target(open_in_root(_root, join(*comps, comps->size()), O_PATH | O_NOFOLLOW));
    if (!target) return sys_error(entry_error_prefix(shown) + ": hardlink target " + target_shown);
    struct stat st;
    if (::fstat(target.get(), &st) != 0) return sys_error(entry_error_prefix(shown) + ": stat hardlink target " + target_shown);
    if (S_ISDIR(st.st_mode))
        return make_error(errc::invalid_argument,
                          entry_error_prefix(shown) + ": hardlink target " + target_shown + " is a directory");
    if (existing) {
        if (existing->st_dev == st.st_dev && existing->st_ino == st.st_ino) return ok();
        BERTH_TRY(remove_existing(parent, leaf, path, S_ISDIR(existing->st_mode), shown));
    }
    if (::linkat(target.get(), "", parent, leaf.c_str(), AT_EMPTY_PATH) != 0) {
        // Before Linux 6.10 AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT
        // without it); the /proc link of the fd is the documented fallback.
        if (errno != ENOENT && errno != EPERM) return sys_error(entry_error_prefix(shown) + ": create hardlink");
        std::string via = "/proc/self/fd/" + std::to_string(target.get());
        if (::linkat(AT_FDCWD, via.c_str(), parent, leaf.c_str(), AT_SYMLINK_FOLLOW) != 0)
            return sys_error(entry_error_prefix(shown) + ": create hardlink");
    }
    return ok();
}

status layer_writer::write_entry(archive* a, archive_entry* e) {
    ++_entries;
    const char* raw = archive_entry_pathname(e);
    if (!raw) raw = archive_entry_pathname_utf8(e);
    if (!raw) return make_error(errc::invalid_argument, "unpack layer entry: entry without a name");
    std::string shown = shown_name(raw);

    auto comps = split_name(raw);
    if (!comps) return make_error(errc::invalid_argument, entry_error_prefix(shown) + ": path escapes the layer root");
    if (_extract) comps->insert(comps->begin(), _base.begin(), _base.end());
    if (comps->empty()) return write_root(e, shown);

    const std::string& leaf = comps->back();
    // aufs bookkeeping at the top (".wh..wh.plnk/…", ".wh..wh.aufs") is
    // never written; an opaque marker for the root is the one exception.
    // Extraction writes whiteout names as they are, as files.
    if (!_extract && starts_with(comps->front(), k_whiteout_meta_prefix) &&
        !(comps->size() == 1 && leaf == k_whiteout_opaque)) {
        return ok();
    }
    std::string dir_path = join(*comps, comps->size() - 1);
    std::string path = join(*comps, comps->size());
    BERTH_ASSIGN(unique_fd parent, ensure_dir(dir_path, 0, shown));

    if (!_extract && starts_with(leaf, k_whiteout_prefix))
        return write_whiteout(parent.get(), dir_path, leaf, e, shown);

    std::optional<struct stat> existing;
    {
        struct stat st;
        if (::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
            existing = st;
        else if (errno != ENOENT)
            return sys_error(entry_error_prefix(shown) + ": stat");
    }

    bool is_link = archive_entry_hardlink(e) || archive_entry_hardlink_utf8(e);
    if (existing && _extract && _extract->no_overwrite_dir_non_dir) {
        bool to_dir = !is_link && archive_entry_filetype(e) == AE_IFDIR;
        if (S_ISDIR(existing->st_mode) != to_dir)
            return make_error(errc::invalid_argument,
                              std::string("cannot overwrite ") + (to_dir ? "non-directory" : "directory") + " \"/" +
                                  shown_name(path) + "\" with " + (to_dir ? "directory" : "non-directory"));
    }
    if (is_link)
        return write_hardlink(e, parent.get(), leaf, existing, path, shown);

    auto type = archive_entry_filetype(e);
    if (type == AE_IFDIR) {
        bool keep = existing && S_ISDIR(existing->st_mode);
        if (existing && !keep) BERTH_TRY(remove_existing(parent.get(), leaf, path, false, shown));
        return write_dir(e, parent.get(), leaf, path, keep, shown);
    }
    if (type == AE_IFSOCK) return ok();  // a socket is only meaningful while bound
    if (type != AE_IFREG && type != AE_IFLNK && type != AE_IFCHR && type != AE_IFBLK && type != AE_IFIFO)
        return make_error(errc::invalid_argument, entry_error_prefix(shown) + ": unsupported entry type");
    if (existing) BERTH_TRY(remove_existing(parent.get(), leaf, path, S_ISDIR(existing->st_mode), shown));

    if (type == AE_IFREG) return write_file(a, e, parent.get(), leaf, shown);

    node n{-1, parent.get(), leaf.c_str()};
    if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(e);
        if (!target) target = archive_entry_symlink_utf8(e);
        if (!target || !*target)
            return make_error(errc::invalid_argument, entry_error_prefix(shown) + ": symlink without a target");
        // The target is only the link's content: whatever it says, it is
        // resolved inside the layer when berth writes through it, and inside
        // the container's root at run time.
        if (::symlinkat(target, parent.get(), leaf.c_str()) != 0)
            return sys_error(entry_error_prefix(shown) + ": create symlink");
        BERTH_TRY(apply_owner(n, e, shown));
        BERTH_TRY(apply_xattrs(n, e, shown));
        BERTH_TRY(apply_times(n, e, shown));
        return ok();
    }

    mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
    dev_t rdev = kind == S_IFIFO ? 0 : archive_entry_rdev(e);
    if (::mknodat(parent.get(), leaf.c_str(), kind | 0600, rdev) != 0)
        return sys_error(entry_error_prefix(shown) + (kind == S_IFIFO ? ": create fifo" : ": create device node"));
    BERTH_TRY(apply_owner(n, e, shown));
    BERTH_TRY(apply_mode(n, static_cast<mode_t>(archive_entry_perm(e)), shown));
    BERTH_TRY(apply_xattrs(n, e, shown));
    BERTH_TRY(apply_times(n, e, shown));
    return ok();
}

status layer_writer::finish() {
    for (auto it = _dirs.rbegin(); it != _dirs.rend(); ++it) {
        if (it->removed) continue;
        std::string shown = it->path.empty() ? "./" : shown_name(it->path);
        unique_fd owned;
        int fd = _root;
        if (!it->path.empty()) {
            auto slash = it->path.rfind('/');
            std::string dir = slash == std::string::npos ? "" : it->path.substr(0, slash);
            std::string leaf = slash == std::string::npos ? it->path : it->path.substr(slash + 1);
            unique_fd parent(open_in_root(_root, dir, O_PATH | O_DIRECTORY));
            // A later entry replaced the directory by something else.
            if (!parent && (errno == ENOENT || errno == ENOTDIR)) continue;
            if (!parent) return sys_error(entry_error_prefix(shown) + ": open parent directory");
            owned.reset(::openat(parent.get(), leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!owned && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) continue;
            if (!owned) return sys_error(entry_error_prefix(shown) + ": open directory");
            fd = owned.get();
        }
        node n{fd, -1, nullptr};
        BERTH_TRY(apply_mode(n, it->mode, shown));
        if (it->has_times && ::futimens(fd, it->times) != 0)
            return sys_error(entry_error_prefix(shown) + ": set times");
    }
    return ok();
}

// The layer's own shape (a file used as a directory, a symlink loop, a
// hardlink to a directory) is bad input, not a failure of the host.
error as_content_error(error e) {
    if (e.code != errc::internal) return e;
    switch (e.sys_errno) {
    case ENOTDIR: case EISDIR: case ELOOP: case EMLINK: case EXDEV: e.code = errc::invalid_argument; break;
    default: break;
    }
    return e;
}

// Reads the tar entries of the decompressed stream and writes them below root.
// what: the context of error messages ("read layer /x.tar").
status unpack_stream(decompressed_stream& stream, const std::string& what, layer_writer& writer) {
    archive_ptr tar(archive_read_new());
    if (!tar) return make_error(errc::internal, what + ": out of memory");
    archive_read_support_format_tar(tar.get());  // ustar, pax, gnu, v7
    archive_read_support_format_empty(tar.get());
    if (archive_read_open(tar.get(), &stream, nullptr, &decompressed_stream::pump, nullptr) != ARCHIVE_OK) {
        if (stream.failure()) return *stream.failure();
        return archive_failure(what, tar.get());
    }
    for (;;) {
        archive_entry* e = nullptr;
        int r = archive_read_next_header(tar.get(), &e);
        if (r == ARCHIVE_EOF) break;
        // WARN: a name that does not convert to the locale; it arrives as
        // the bytes in the archive, which is what berth writes.
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            if (stream.failure()) return *stream.failure();
            return archive_failure(what, tar.get());
        }
        auto written = writer.write_entry(tar.get(), e);
        if (!written) {
            if (stream.failure()) return *stream.failure();
            return as_content_error(written.err());
        }
    }
    return ok();
}

}  // namespace

result<unpacked_layer> unpack_layer(const std::string& archive_path, const std::string& dest) {
    c_locale_scope locale;

    std::string target = dest;
    while (target.size() > 1 && target.back() == '/') target.pop_back();
    if (path_exists(target)) return make_error(errc::already_exists, "unpack layer into " + target + ": already exists");
    unique_fd in(::open(archive_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return sys_error("open layer " + archive_path);

    std::string staging = target + ".staging-" + random_id().substr(0, 16);
    if (::mkdir(staging.c_str(), 0700) != 0) return sys_error("create staging directory " + staging);
    scope_exit discard([&] { (void)remove_all(staging); });
    unique_fd root(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root) return sys_error("open staging directory " + staging);

    decompressed_stream stream;
    BERTH_TRY(stream.open(in.get(), "read layer " + archive_path));
    layer_writer writer(root.get(), ::geteuid() == 0);
    BERTH_TRY(unpack_stream(stream, "read layer " + archive_path, writer));
    BERTH_TRY(stream.drain());
    BERTH_TRY(writer.finish());

    unpacked_layer out;
    out.diff_id = stream.digest();
    out.size = writer.size();
    out.entries = writer.entries();

    // The layer becomes visible by the rename; its data must be on disk by
    // then, or a crash could leave a complete-looking layer of empty files.
    if (::syncfs(root.get()) != 0) return sys_error("sync staging directory " + staging);
    root.reset();
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
        // Another unpack of the same layer finished first: its copy stands.
        if (errno == EEXIST || errno == ENOTEMPTY) return out;
        return sys_error("rename " + staging + " to " + target);
    }
    discard.dismiss();
    return out;
}

result<std::string> compute_diff_id(const std::string& archive_path) {
    unique_fd in(::open(archive_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return sys_error("open layer " + archive_path);
    decompressed_stream stream;
    BERTH_TRY(stream.open(in.get(), "read layer " + archive_path));
    BERTH_TRY(stream.drain());
    return stream.digest();
}

status extract_archive(const std::string& archive_path, int root_fd, const extract_options& o) {
    c_locale_scope locale;
    unique_fd in(::open(archive_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return sys_error("open archive " + archive_path);
    // A descriptor that can be read and changed: fchmod and futimens refuse
    // O_PATH ones, and an entry for "./" changes the root.
    unique_fd root(open_in_root(root_fd, "", O_RDONLY | O_DIRECTORY));
    if (!root) return sys_error("open extraction root");
    if (!o.base.empty() && !split_name(o.base))
        return make_error(errc::invalid_argument, "extract archive into " + o.base + ": path escapes the root");
    decompressed_stream stream;
    BERTH_TRY(stream.open(in.get(), "read archive"));
    layer_writer writer(root.get(), ::geteuid() == 0, &o);
    BERTH_TRY(unpack_stream(stream, "read archive", writer));
    BERTH_TRY(writer.finish());
    return ok();
}

}  // namespace berth::storage
