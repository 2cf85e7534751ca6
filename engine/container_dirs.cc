#include "engine/container_dirs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "base/fd.h"
#include "base/util.h"

namespace berth {

namespace {

std::string hosts_file(const std::string& hostname) {
    return "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
           "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t" +
           hostname + "\n";
}

// The host's resolv.conf without loopback resolvers, which cannot answer
// from inside a container's own network namespace.
std::string resolv_conf() {
    auto r = read_file("/etc/resolv.conf");
    std::string out;
    if (r) {
        for (auto& line : split(*r, '\n')) {
            auto t = trim(line);
            if (starts_with(t, "nameserver") && (t.find(" 127.") != std::string::npos || t.find(" ::1") != std::string::npos))
                continue;
            out += line;
            out += '\n';
        }
    }
    return out;
}

constexpr mode_t k_dir_mode = 0710, k_layer_mode = 0755;

// A removed container's directory is checked from descriptors: no path
// walk from / for each check, and no DIR (whose buffer is 32 KiB a time).

// Opens directory `name` below `at` (never through a symlink).
unique_fd open_dir_at(int at, const char* name) {
    return unique_fd(::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// A directory of root's with this mode and no extended attribute but the
// overlay's uuid (which overlayfs writes on every upper layer it mounts,
// Linux 6.6+): removed, so that the next overlay on it gets its own.
bool plain_dir(int fd, mode_t mode) {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != mode || st.st_uid != 0 ||
        st.st_gid != 0)
        return false;
    char names[64];
    ssize_t n = ::flistxattr(fd, names, sizeof names);
    if (n == 0) return true;
    static constexpr char uuid[] = "trusted.overlay.uuid";
    return n == sizeof uuid && std::memcmp(names, uuid, sizeof uuid) == 0 && ::fremovexattr(fd, uuid) == 0;
}

// Calls f(name) for every entry of the open directory fd but . and ..,
// until f returns false; false then, or when reading fails.
template <typename F>
bool each_name(int fd, F&& f) {
    alignas(dirent64) char buf[2048];
    for (;;) {
        long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n < 0) return false;
        if (n == 0) return true;
        for (long off = 0; off < n;) {
            auto* e = reinterpret_cast<dirent64*>(buf + off);
            off += e->d_reclen;
            std::string_view name(e->d_name);
            if (name == "." || name == "..") continue;
            if (!f(name)) return false;
        }
    }
}

// Whether the open directory fd holds only names from `allowed`.
bool only(int fd, std::initializer_list<std::string_view> allowed) {
    return each_name(fd, [&](std::string_view n) {
        for (auto a : allowed)
            if (n == a) return true;
        return false;
    });
}

// The init layer's files: written in place in a spare, no new inode and no
// truncation to zero (overwrite_file: ext4 would flush each file to disk at
// its close).
status write_init_files(const std::string& dir, const std::string& hostname, bool host_net) {
    BERTH_TRY(overwrite_file(dir + "/init/etc/hostname", hostname + "\n"));
    std::string hosts = host_net ? read_file("/etc/hosts").value_or(std::string()) : hosts_file(hostname);
    BERTH_TRY(overwrite_file(dir + "/init/etc/hosts", hosts));
    // A copy of its own, never a link to a shared file: ResolvConfPath
    // (inspect) names it, and tools rewrite it in place (cri-dockerd does).
    return overwrite_file(dir + "/init/etc/resolv.conf", resolv_conf());
}

}  // namespace

spare_dirs::spare_dirs(std::string containers, std::size_t max) : _containers(std::move(containers)), _max(max) {}

bool spare_dirs::is_spare_name(const std::string& name) { return starts_with(name, ".spare-"); }

void spare_dirs::clear_leftovers() {
    auto names = list_directory(_containers);
    if (!names) return;
    for (const auto& n : *names)
        if (is_spare_name(n)) (void)remove_all(_containers + "/" + n);
}

bool spare_dirs::give(const std::string& dir, const std::string& as) {
    {
        std::lock_guard lock(_mu);
        if (_free.size() >= _max) return false;
    }
    unique_fd top = open_dir_at(AT_FDCWD, dir.c_str());
    if (!top || !plain_dir(top.get(), k_dir_mode)) return false;
    // The container's own files: its logs only (a fresh log is made at its
    // first line, so most short-lived containers have none).
    std::vector<std::string> logs;
    bool kept = each_name(top.get(), [&](std::string_view n) {
        if (n == "upper" || n == "work" || n == "init") return true;
        if (n.find("-json.log") == std::string_view::npos) return false;
        logs.emplace_back(n);
        return true;
    });
    if (!kept) return false;
    for (const auto& n : logs) {
        struct stat st;
        if (::fstatat(top.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            ::unlinkat(top.get(), n.c_str(), 0) != 0)
            return false;
    }
    unique_fd upper = open_dir_at(top.get(), "upper");
    if (!upper || !plain_dir(upper.get(), k_layer_mode) || !only(upper.get(), {})) return false;
    unique_fd work = open_dir_at(top.get(), "work");
    if (!work || !plain_dir(work.get(), k_layer_mode) || !only(work.get(), {"work"})) return false;
    if (unique_fd ww = open_dir_at(work.get(), "work"); ww && !only(ww.get(), {})) return false;
    // Removed now, off the start: an overlay mounted on a workdir that has
    // work/work removes it and makes it again, in the container's child.
    if (::unlinkat(work.get(), "work", AT_REMOVEDIR) != 0 && errno != ENOENT) return false;
    unique_fd init = open_dir_at(top.get(), "init");
    if (!init || !only(init.get(), {"etc"})) return false;
    unique_fd etc = open_dir_at(init.get(), "etc");
    if (!etc || !only(etc.get(), {"hostname", "hosts", "resolv.conf"})) return false;
    std::string spare;
    {
        std::lock_guard lock(_mu);
        if (_free.size() >= _max) return false;
        spare = as.empty() ? _containers + "/.spare-" + std::to_string(_next++) : _containers + "/" + as;
    }
    if (::renameat(AT_FDCWD, dir.c_str(), AT_FDCWD, spare.c_str()) != 0) return false;
    if (!as.empty() && !write_init_files(spare, as.substr(0, 12), false)) {
        (void)remove_all(spare);
        return true;  // gone: the caller has nothing left to remove
    }
    std::lock_guard lock(_mu);
    _free.push_back(std::move(spare));
    return true;
}

bool spare_dirs::take_named(const std::string& dir) {
    std::lock_guard lock(_mu);
    auto it = std::find(_free.begin(), _free.end(), dir);
    if (it == _free.end()) return false;
    _free.erase(it);
    return true;
}

std::vector<std::string> spare_dirs::names() {
    std::lock_guard lock(_mu);
    std::vector<std::string> out;
    for (const auto& path : _free) out.push_back(path.substr(path.rfind('/') + 1));
    return out;
}

bool spare_dirs::take(const std::string& dir) {
    std::string spare;
    {
        std::lock_guard lock(_mu);
        if (_free.empty()) return false;
        spare = std::move(_free.back());
        _free.pop_back();
    }
    if (::rename(spare.c_str(), dir.c_str()) == 0) return true;
    (void)remove_all(spare);
    return false;
}

status make_container_dirs(const std::string& dir, const std::string& hostname, bool host_net, bool shared,
                           spare_dirs* spares) {
    // A spare kept under this container's id (give()'s `as`) stands at `dir`.
    if (!(shared && spares && (spares->take_named(dir) || spares->take(dir)))) {
        // Remapped: others may pass (not list) it, for the daemon's
        // idmapped view of upper/ and work/, where the host's root is nobody.
        if (::mkdir(dir.c_str(), k_dir_mode) != 0) {
            if (errno != ENOENT && errno != EEXIST) return sys_error("mkdir " + dir);
            BERTH_TRY(make_dirs(dir, k_dir_mode));
        }
        // One mkdir each (make_dirs would walk every component of the path again).
        for (auto d : {"/upper", "/work", "/init", "/init/etc"})
            if (::mkdir((dir + d).c_str(), k_layer_mode) != 0 && errno != EEXIST) return sys_error("mkdir " + dir + d);
        if (!shared)
            for (auto d : {"/init/dev", "/init/proc", "/init/sys"})
                if (::mkdir((dir + d).c_str(), k_layer_mode) != 0 && errno != EEXIST)
                    return sys_error("mkdir " + dir + d);
    }
    return write_init_files(dir, hostname, host_net);
}

}  // namespace berth
