#include "engine/userns_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "base/fd.h"
#include "base/util.h"
#include "engine/runtime/userns.h"

namespace berth {
namespace {

using runtime::id_range;

// linux/capability.h and the POSIX ACL xattr layout (linux/posix_acl_xattr.h).
constexpr std::uint32_t k_cap_revision_mask = 0xFF000000;
constexpr std::uint32_t k_cap_revision_2 = 0x02000000;
constexpr std::uint32_t k_cap_revision_3 = 0x03000000;
constexpr std::size_t k_cap_v2_size = 20, k_cap_v3_size = 24;
constexpr std::uint32_t k_acl_version = 2;
constexpr std::uint16_t k_acl_user = 0x02, k_acl_group = 0x08;

std::uint32_t get32(const std::string& s, std::size_t at) {
    std::uint32_t v;
    std::memcpy(&v, s.data() + at, 4);
    return v;  // little-endian on disk; berth builds for little-endian hosts
}
void put32(std::string& s, std::size_t at, std::uint32_t v) { std::memcpy(s.data() + at, &v, 4); }

result<std::uint32_t> shift(const std::vector<id_range>& map, std::uint32_t id, const std::string& what) {
    long long h = runtime::map_to_host(map, id);
    if (h < 0) return make_error(errc::invalid_argument, what + ": container ID " + std::to_string(id) +
                                                             " cannot be mapped to a host ID");
    return static_cast<std::uint32_t>(h);
}

struct copier {
    const std::vector<id_range>& uid_map;
    const std::vector<id_range>& gid_map;
    int dest_root = -1;
    std::map<std::pair<dev_t, ino_t>, std::string> first_link;  // (dev, ino) -> its copy, relative to dest_root

    status entry(int sdir, int ddir, const std::string& name, const std::string& rel);
    status contents(int sdir, int ddir, const std::string& rel);
    status attributes(int sdir, int ddir, const std::string& name, const struct stat& st, const std::string& rel);
};

std::string via(int dir, const std::string& name) { return "/proc/self/fd/" + std::to_string(dir) + "/" + name; }

// Owner, then mode (chown clears setuid and setgid), then xattrs (chown
// drops security.capability), then times.
status copier::attributes(int sdir, int ddir, const std::string& name, const struct stat& st, const std::string& rel) {
    BERTH_ASSIGN(std::uint32_t uid, shift(uid_map, st.st_uid, rel));
    BERTH_ASSIGN(std::uint32_t gid, shift(gid_map, st.st_gid, rel));
    if (::fchownat(ddir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("chown " + rel);
    if (!S_ISLNK(st.st_mode) && ::fchmodat(ddir, name.c_str(), st.st_mode & 07777, 0) != 0)
        return sys_error("chmod " + rel);
    const std::string src = via(sdir, name), dst = via(ddir, name);
    std::string names(1024, '\0');
    ssize_t n;
    for (;;) {
        n = ::llistxattr(src.c_str(), names.data(), names.size());
        if (n >= 0) break;
        if (errno == ENOTSUP) {
            n = 0;
            break;
        }
        if (errno != ERANGE) return sys_error("list xattrs of " + rel);
        names.resize(names.size() * 4);
    }
    names.resize(static_cast<std::size_t>(n));
    std::vector<std::pair<std::string, std::string>> values;
    for (std::size_t at = 0; at < names.size();) {
        std::string key(names.c_str() + at);
        at += key.size() + 1;
        if (key.empty()) continue;
        ssize_t len = ::lgetxattr(src.c_str(), key.c_str(), nullptr, 0);
        if (len < 0) return sys_error("read xattr " + key + " of " + rel);
        std::string value(static_cast<std::size_t>(len), '\0');
        len = ::lgetxattr(src.c_str(), key.c_str(), value.data(), value.size());
        if (len < 0) return sys_error("read xattr " + key + " of " + rel);
        value.resize(static_cast<std::size_t>(len));
        BERTH_ASSIGN(std::string shifted, remap_xattr(key, std::move(value), uid_map, gid_map));
        values.emplace_back(std::move(key), std::move(shifted));
    }
    // security.capability last of all.
    std::stable_partition(values.begin(), values.end(), [](const auto& kv) { return kv.first != "security.capability"; });
    for (const auto& [key, value] : values)
        if (::lsetxattr(dst.c_str(), key.c_str(), value.data(), value.size(), 0) != 0)
            return sys_error("set xattr " + key + " on " + rel);
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(ddir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("set times of " + rel);
    return ok();
}

status copier::entry(int sdir, int ddir, const std::string& name, const std::string& rel) {
    struct stat st {};
    if (::fstatat(sdir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("stat " + rel);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        if (auto it = first_link.find(key); it != first_link.end()) {
            if (::linkat(dest_root, it->second.c_str(), ddir, name.c_str(), 0) != 0) return sys_error("link " + rel);
            return ok();
        }
        first_link.emplace(key, rel);
    }
    if (S_ISDIR(st.st_mode)) {
        if (::mkdirat(ddir, name.c_str(), 0700) != 0) return sys_error("mkdir " + rel);
        unique_fd s(::openat(sdir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        unique_fd d(::openat(ddir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!s || !d) return sys_error("open " + rel);
        BERTH_TRY(contents(s.get(), d.get(), rel));
    } else if (S_ISREG(st.st_mode)) {
        unique_fd s(::openat(sdir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!s) return sys_error("open " + rel);
        unique_fd d(::openat(ddir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!d) return sys_error("create " + rel);
        for (off_t left = st.st_size; left > 0;) {
            ssize_t n = ::copy_file_range(s.get(), nullptr, d.get(), nullptr, static_cast<std::size_t>(left), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return sys_error("copy " + rel);
            if (n == 0) break;  // shrank meanwhile
            left -= n;
        }
    } else if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(sdir, name.c_str(), target.data(), target.size());
        if (n < 0) return sys_error("readlink " + rel);
        target.resize(static_cast<std::size_t>(n));
        if (::symlinkat(target.c_str(), ddir, name.c_str()) != 0) return sys_error("symlink " + rel);
    } else {
        // Device nodes (overlay whiteouts are 0:0 char devices), fifos, sockets.
        if (::mknodat(ddir, name.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) return sys_error("mknod " + rel);
    }
    return attributes(sdir, ddir, name, st, rel);
}

status copier::contents(int sdir, int ddir, const std::string& rel) {
    BERTH_ASSIGN(auto names, list_directory(sdir, rel.empty() ? "/" : rel));
    for (const auto& n : names) BERTH_TRY(entry(sdir, ddir, n, rel.empty() ? n : rel + "/" + n));
    return ok();
}

}  // namespace

std::string remap_copy_root(const std::string& data_root, const std::vector<id_range>& uid_map,
                            const std::vector<id_range>& gid_map) {
    return data_root + "/layers-remap/" + std::to_string(runtime::map_to_host(uid_map, 0)) + "." +
           std::to_string(runtime::map_to_host(gid_map, 0));
}

result<std::string> remap_xattr(const std::string& name, std::string value, const std::vector<id_range>& uid_map,
                                const std::vector<id_range>& gid_map) {
    if (name == "system.posix_acl_access" || name == "system.posix_acl_default") {
        if (value.size() < 4 || (value.size() - 4) % 8 != 0 || get32(value, 0) != k_acl_version)
            return make_error(errc::invalid_argument, "malformed " + name);
        for (std::size_t at = 4; at < value.size(); at += 8) {
            std::uint16_t tag;
            std::memcpy(&tag, value.data() + at, 2);
            if (tag == k_acl_user) {
                BERTH_ASSIGN(std::uint32_t id, shift(uid_map, get32(value, at + 4), name));
                put32(value, at + 4, id);
            } else if (tag == k_acl_group) {
                BERTH_ASSIGN(std::uint32_t id, shift(gid_map, get32(value, at + 4), name));
                put32(value, at + 4, id);
            }
        }
        return value;
    }
    if (name == "security.capability") {
        if (value.size() < 4) return make_error(errc::invalid_argument, "malformed " + name);
        std::uint32_t magic = get32(value, 0);
        std::uint32_t rev = magic & k_cap_revision_mask;
        std::uint32_t root = 0;
        if (rev == k_cap_revision_3 && value.size() == k_cap_v3_size) root = get32(value, k_cap_v2_size);
        else if (rev != k_cap_revision_2 || value.size() != k_cap_v2_size)
            return make_error(errc::invalid_argument, "malformed " + name);
        BERTH_ASSIGN(std::uint32_t host_root, shift(uid_map, root, name));
        value.resize(k_cap_v3_size);
        put32(value, 0, (magic & ~k_cap_revision_mask) | k_cap_revision_3);
        put32(value, k_cap_v2_size, host_root);
        return value;
    }
    return value;
}

status copy_layer_remapped(const std::string& src, const std::string& dest, const std::vector<id_range>& uid_map,
                           const std::vector<id_range>& gid_map) {
    const std::string what = "copy layer " + src + " for the user namespace";
    const std::string parent = dest.substr(0, dest.rfind('/'));
    // 0700: the copies hold the image's setuid files owned by the remapped
    // ids; no host user may reach them (overlayfs opens lowers as root).
    BERTH_TRY(make_dirs(parent, 0700));
    for (const std::string& d : {parent.substr(0, parent.rfind('/')), parent})
        if (::chmod(d.c_str(), 0700) != 0) return sys_error("chmod " + d).wrap(what);
    const std::string stage = parent + "/.stage-" + random_id().substr(0, 16);
    if (::mkdir(stage.c_str(), 0700) != 0) return sys_error("mkdir " + stage).wrap(what);
    scope_exit drop([&] { (void)remove_all(stage); });
    unique_fd s(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!s) return sys_error("open " + src).wrap(what);
    unique_fd d(::open(stage.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) return sys_error("open " + stage).wrap(what);
    copier c{uid_map, gid_map, d.get(), {}};
    if (auto done = c.contents(s.get(), d.get(), ""); !done) return done.err().wrap(what);
    // The layer's root itself: "." in both.
    struct stat st {};
    if (::fstat(s.get(), &st) != 0) return sys_error("stat " + src).wrap(what);
    if (auto done = c.attributes(s.get(), d.get(), ".", st, "/"); !done) return done.err().wrap(what);
    if (::rename(stage.c_str(), dest.c_str()) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) return ok();  // copied meanwhile: that one stays
        return sys_error("rename " + stage).wrap(what);
    }
    drop.dismiss();
    return ok();
}

status ensure_remapped_copies(const std::vector<std::pair<std::string, std::string>>& layers,
                              const std::vector<id_range>& uid_map, const std::vector<id_range>& gid_map) {
    for (const auto& [src, dest] : layers) {
        struct stat st {};
        if (::lstat(dest.c_str(), &st) == 0) continue;
        BERTH_TRY(copy_layer_remapped(src, dest, uid_map, gid_map));
    }
    return ok();
}

namespace {

status shift_owners_in(int dir, const std::string& shown, const std::vector<id_range>& uid_map,
                       const std::vector<id_range>& gid_map) {
    BERTH_ASSIGN(auto names, list_directory(dir, shown));
    for (const auto& n : names) {
        const std::string rel = shown + "/" + n;
        struct stat st {};
        if (::fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("stat " + rel);
        if (S_ISDIR(st.st_mode)) {
            unique_fd sub(::openat(dir, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) return sys_error("open " + rel);
            BERTH_TRY(shift_owners_in(sub.get(), rel, uid_map, gid_map));
        }
        BERTH_ASSIGN(std::uint32_t uid, shift(uid_map, st.st_uid, rel));
        BERTH_ASSIGN(std::uint32_t gid, shift(gid_map, st.st_gid, rel));
        if (::fchownat(dir, n.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("chown " + rel);
        if (!S_ISLNK(st.st_mode) && (st.st_mode & 06000) && ::fchmodat(dir, n.c_str(), st.st_mode & 07777, 0) != 0)
            return sys_error("chmod " + rel);
    }
    return ok();
}

}  // namespace

status shift_tree_owners(const std::string& dir, const std::vector<id_range>& uid_map,
                         const std::vector<id_range>& gid_map) {
    unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return sys_error("open " + dir);
    BERTH_TRY(shift_owners_in(d.get(), dir, uid_map, gid_map));
    struct stat st {};
    if (::fstat(d.get(), &st) != 0) return sys_error("stat " + dir);
    BERTH_ASSIGN(std::uint32_t uid, shift(uid_map, st.st_uid, dir));
    BERTH_ASSIGN(std::uint32_t gid, shift(gid_map, st.st_gid, dir));
    if (::fchown(d.get(), uid, gid) != 0) return sys_error("chown " + dir);
    return ok();
}

}  // namespace berth
