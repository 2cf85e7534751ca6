#include "engine/runtime/userns.h"
#include "engine/rootfs_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>

#include <boost/json.hpp>

#include "base/tar.h"
#include "base/util.h"
#include "engine/runtime/user.h"
#include "storage/unpack.h"

namespace berth {
namespace {

bool vanished(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENXIO; }

// A small regular file of the container (/etc/passwd), nullopt if missing.
result<std::optional<std::string>> read_container_file(const rootfs_view& v, const std::string& path) {
    unique_fd fd(v.in_root(path, O_RDONLY | O_NONBLOCK));
    if (!fd) {
        if (vanished(errno)) return std::optional<std::string>();
        return sys_error("open " + path + " in the container");
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (8 << 20))
        return std::optional<std::string>();
    std::string out(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read " + path + " in the container");
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    out.resize(got);
    return std::optional<std::string>(std::move(out));
}

// ---- changes ------------------------------------------------------------------

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == 0; }

bool is_opaque(int dirfd) {
    char v[2];
    ssize_t n = ::fgetxattr(dirfd, "trusted.overlay.opaque", v, sizeof v);
    return n == 1 && v[0] == 'y';
}

// Docker's sameFsTime: equal, or equal seconds where one side lost its
// nanoseconds.
bool same_time(const struct timespec& a, const struct timespec& b) {
    return a.tv_sec == b.tv_sec && (a.tv_nsec == b.tv_nsec || a.tv_nsec == 0 || b.tv_nsec == 0);
}

// Paths in depth-first walk order: "/a", "/a/b", "/a-b" ("/" sorts first).
bool walk_order(const fs_change& x, const fs_change& y) {
    const std::string &a = x.path, &b = y.path;
    size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        if (a[i] == b[i]) continue;
        if (a[i] == '/') return true;
        if (b[i] == '/') return false;
        return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
    }
    return a.size() < b.size();
}

class change_walker {
public:
    std::vector<fs_change> out;

    // upper: a directory of the upper layer; lower: the same directory in the
    // image (-1 when the image has none). path: "" for the root, else "/a/b".
    status walk(int upper, int lower, const std::string& path) {
        BERTH_ASSIGN(auto names, list_directory(upper, path.empty() ? "/" : path));
        for (const auto& n : names) {
            std::string p = path + "/" + n;
            struct stat su;
            if (::fstatat(upper, n.c_str(), &su, AT_SYMLINK_NOFOLLOW) != 0) {
                if (vanished(errno)) continue;
                return sys_error("stat " + p + " in the upper layer");
            }
            struct stat sl;
            bool in_lower = lower >= 0 && ::fstatat(lower, n.c_str(), &sl, AT_SYMLINK_NOFOLLOW) == 0;
            if (lower >= 0 && !in_lower && !vanished(errno)) return sys_error("stat " + p + " in the image");
            if (is_whiteout(su)) {
                if (in_lower) record(p, fs_change::deleted);
                continue;
            }
            bool dir = S_ISDIR(su.st_mode);
            unique_fd sub;
            if (dir) {
                sub.reset(::openat(upper, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!sub) {
                    if (vanished(errno)) continue;
                    return sys_error("open " + p + " in the upper layer");
                }
            }
            bool opaque = dir && is_opaque(sub.get());
            if (!in_lower) {
                record(p, fs_change::added);
            } else if (!(dir && S_ISDIR(sl.st_mode) && !opaque && su.st_size == sl.st_size &&
                         su.st_mode == sl.st_mode && same_time(su.st_mtim, sl.st_mtim))) {
                // (A directory the same as in the image is only on the way to
                // a change below it.)
                record(p, fs_change::modified);
            }
            if (!dir) continue;
            unique_fd lower_sub;
            if (in_lower && S_ISDIR(sl.st_mode)) {
                lower_sub.reset(::openat(lower, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!lower_sub && !vanished(errno)) return sys_error("open " + p + " in the image");
            }
            if (opaque && lower_sub) BERTH_TRY(hidden_by_opaque(sub.get(), lower_sub.get(), p));
            BERTH_TRY(walk(sub.get(), lower_sub ? lower_sub.get() : -1, p));
        }
        return ok();
    }

private:
    // What the image has in a directory the container replaced (rm -r, then
    // mkdir): deleted, unless the new directory has an entry of that name.
    status hidden_by_opaque(int upper, int lower, const std::string& path) {
        BERTH_ASSIGN(auto old_names, list_directory(lower, path));
        for (const auto& n : old_names) {
            struct stat st;
            if (::fstatat(upper, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
            if (!vanished(errno)) return sys_error("stat " + path + "/" + n + " in the upper layer");
            out.push_back({path + "/" + n, fs_change::deleted});
        }
        return ok();
    }

    void record(const std::string& p, fs_change::kind_t kind) {
        // Docker names the parent of an addition or a deletion as modified,
        // once, even when its size, mode and mtime did not change.
        if (kind != fs_change::modified) {
            std::string parent = path_dir(p);
            if (parent != "/" && _dirs.insert(parent).second) out.push_back({parent, fs_change::modified});
        }
        out.push_back({p, kind});
        _dirs.insert(p);
    }

    std::set<std::string> _dirs;  // recorded paths (a parent is named once)
};

}  // namespace

std::uint32_t go_file_mode(unsigned st_mode) {
    std::uint32_t m = st_mode & 0777;
    switch (st_mode & S_IFMT) {
    case S_IFDIR: m |= 1u << 31; break;
    case S_IFLNK: m |= 1u << 27; break;
    case S_IFBLK: m |= 1u << 26; break;
    case S_IFCHR: m |= (1u << 26) | (1u << 21); break;
    case S_IFIFO: m |= 1u << 25; break;
    case S_IFSOCK: m |= 1u << 24; break;
    default: break;
    }
    if (st_mode & S_ISUID) m |= 1u << 23;
    if (st_mode & S_ISGID) m |= 1u << 22;
    if (st_mode & S_ISVTX) m |= 1u << 20;
    return m;
}

std::string path_stat_json(const path_stat& st) {
    boost::json::object o;
    o["name"] = st.name;
    o["size"] = st.size;
    o["mode"] = st.mode;
    o["mtime"] = format_rfc3339_nano(st.mtime_ns);
    o["linkTarget"] = st.link_target;
    return boost::json::serialize(o);
}

result<archive_source> stat_container_path(const rootfs_view& v, const std::string& path) {
    // Docker's ResolvePath: the directory part resolved inside the container,
    // the base name kept (it is followed only as "x/" or "x/.").
    std::string abs = clean_container_path(path);
    auto slash = abs.rfind('/');
    BERTH_ASSIGN(std::string dir, resolve_in_scope(v, abs.substr(0, slash + 1)));
    std::string base = abs.substr(slash + 1);
    archive_source src;
    src.resolved = dir == "/" ? "/" + base : dir + "/" + base;
    src.top_name = path_base(abs);
    unique_fd fd(v.in_root(src.resolved, O_PATH | O_NOFOLLOW));
    if (!fd) {
        error e = sys_error("stat " + path);
        if (vanished(errno)) e.code = errc::not_found;
        return e;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + path);
    src.stat.name = src.top_name;
    src.stat.size = st.st_size;
    src.stat.mode = go_file_mode(st.st_mode);
    src.stat.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (S_ISLNK(st.st_mode)) {
        BERTH_ASSIGN(src.stat.link_target, resolve_in_scope(v, abs));
    }
    return src;
}

namespace {

// A snapshot with the host's ids (the layers copied for a user namespace):
// the archive shows the container's ids (moby's ToContainer), the
// overflow id for an id the container has none for.
void map_back(const rootfs_view& v, tar_writer& t) {
    if (v.which() != rootfs_view::kind::snapshot || v.uid_map().empty()) return;
    auto back = [](const std::vector<runtime::id_range>& map, std::uint32_t host) -> std::uint32_t {
        for (const auto& r : map)
            if (host >= r.outside && host - r.outside < r.count) return r.inside + (host - r.outside);
        return 65534;
    };
    t.set_owner_map([&v, back](uid_t& uid, gid_t& gid) {
        uid = back(v.uid_map(), uid);
        gid = back(v.gid_map(), gid);
    });
}

}  // namespace

status write_path_archive(const rootfs_view& v, const archive_source& src, int out_fd) {
    // A directory is added as "." of itself (following the "/" or "/." the
    // path may end in), anything else as an entry of its directory.
    unique_fd fd(v.in_root(src.resolved, O_PATH | O_NOFOLLOW));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) != 0) {
        error e = sys_error("stat " + src.resolved);
        if (vanished(errno)) e.code = errc::not_found;
        return e;
    }
    bool dir = S_ISDIR(st.st_mode);
    unique_fd parent(v.in_root(dir ? src.resolved : path_dir(src.resolved), O_RDONLY | O_DIRECTORY));
    if (!parent) return sys_error("open " + (dir ? src.resolved : path_dir(src.resolved)));
    tar_writer t;
    map_back(v, t);
    BERTH_TRY(t.open(out_fd));
    // A root asked for as "/" has entries "/", "/bin", … as Docker's have.
    BERTH_TRY(t.add(parent.get(), dir ? "." : path_base(src.resolved), src.top_name));
    return t.close();
}

status write_rootfs_archive(const rootfs_view& v, int out_fd) {
    unique_fd root(v.in_root("/", O_RDONLY | O_DIRECTORY));
    if (!root) return sys_error("open the container's root");
    tar_writer t;
    map_back(v, t);
    BERTH_TRY(t.open(out_fd));
    BERTH_TRY(t.add_contents(root.get(), ""));
    return t.close();
}

status extract_into_container(const rootfs_view& v, const extract_request& r, const std::string& archive_file) {
    // Unlike a source path, the destination's last symlink is followed too:
    // extracting into a symlink to a directory extracts into the directory.
    BERTH_ASSIGN(std::string dir, resolve_in_scope(v, clean_container_path(r.path)));
    unique_fd fd(v.in_root(dir, O_PATH | O_NOFOLLOW));
    if (!fd) {
        error e = sys_error("open " + r.path);
        if (vanished(errno)) e.code = errc::not_found;
        return e;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + r.path);
    if (!S_ISDIR(st.st_mode)) return make_error(errc::invalid_argument, "extraction point is not a directory");
    storage::extract_options o;
    o.base = dir.substr(1);
    o.no_overwrite_dir_non_dir = r.no_overwrite_dir_non_dir;
    if (r.copy_uid_gid && !r.user.empty()) {
        // Docker's tarCopyOptions: the container's user, as the container's
        // own /etc/passwd and /etc/group name it.
        BERTH_ASSIGN(auto passwd, read_container_file(v, "/etc/passwd"));
        BERTH_ASSIGN(auto group, read_container_file(v, "/etc/group"));
        BERTH_ASSIGN(auto user, runtime::resolve_user(r.user, passwd, group));
        o.set_owner = true;
        o.uid = user.uid;
        o.gid = user.gid;
    }
    if (!v.uid_map().empty()) {
        // A remapped container, written with the host's ids (live or writable view):
        // the archive's (container) ids become the host's (moby's ToHost).
        o.map_owner = [&v](uid_t& uid, gid_t& gid) -> status {
            long long hu = runtime::map_to_host(v.uid_map(), uid), hg = runtime::map_to_host(v.gid_map(), gid);
            if (hu < 0) return make_error(errc::invalid_argument, "Container ID " + std::to_string(uid) +
                                                                      " cannot be mapped to a host ID");
            if (hg < 0) return make_error(errc::invalid_argument, "Container ID " + std::to_string(gid) +
                                                                      " cannot be mapped to a host ID");
            uid = static_cast<uid_t>(hu);
            gid = static_cast<gid_t>(hg);
            return ok();
        };
    }
    auto done = storage::extract_archive(archive_file, v.root(), o);
    if (!done) return done.err().wrap("extract archive into " + dir);
    return ok();
}

result<std::vector<fs_change>> rootfs_changes(const rootfs_layout& l) {
    unique_fd upper(::open(l.upper_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!upper) return sys_error("open " + l.upper_dir);
    BERTH_ASSIGN(rootfs_view image, open_lower_layers(l));
    unique_fd lower(image.in_root("/", O_RDONLY | O_DIRECTORY));
    if (!lower) return sys_error("open the image of " + l.upper_dir);
    change_walker w;
    BERTH_TRY(w.walk(upper.get(), lower.get(), ""));
    std::stable_sort(w.out.begin(), w.out.end(), walk_order);
    return std::move(w.out);
}

}  // namespace berth
