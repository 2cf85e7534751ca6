#include "engine/container_dirs.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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

// A directory of root's with this mode and no extended attribute but the
// overlay's uuid (which overlayfs writes on every upper layer it mounts,
// Linux 6.6+): removed, so that the next overlay on it gets its own.
bool plain_dir(const std::string& path, mode_t mode) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != mode || st.st_uid != 0 ||
        st.st_gid != 0)
        return false;
    char names[64];
    ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
    if (n == 0) return true;
    static constexpr char uuid[] = "trusted.overlay.uuid";
    return n == sizeof uuid && std::memcmp(names, uuid, sizeof uuid) == 0 && ::lremovexattr(path.c_str(), uuid) == 0;
}

bool only(const result<std::vector<std::string>>& names, std::initializer_list<const char*> allowed) {
    if (!names) return false;
    for (const auto& n : *names) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || n == a;
        if (!ok) return false;
    }
    return true;
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

bool spare_dirs::give(const std::string& dir) {
    {
        std::lock_guard lock(_mu);
        if (_free.size() >= _max) return false;
    }
    // The container's own files: its logs only (a fresh log is made at its
    // first line, so most short-lived containers have none).
    auto top = list_directory(dir);
    if (!top || !plain_dir(dir, k_dir_mode)) return false;
    for (const auto& n : *top) {
        if (n == "upper" || n == "work" || n == "init") continue;
        struct stat st;
        std::string path = dir + "/" + n;
        if (n.find("-json.log") == std::string::npos || ::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            ::unlink(path.c_str()) != 0)
            return false;
    }
    if (!plain_dir(dir + "/upper", k_layer_mode) || !only(list_directory(dir + "/upper"), {})) return false;
    if (!plain_dir(dir + "/work", k_layer_mode) || !only(list_directory(dir + "/work"), {"work"})) return false;
    if (auto ww = list_directory(dir + "/work/work"); ww && !ww->empty()) return false;
    // Removed now, off the start: an overlay mounted on a workdir that has
    // work/work removes it and makes it again, in the container's child.
    if (::rmdir((dir + "/work/work").c_str()) != 0 && errno != ENOENT) return false;
    if (!only(list_directory(dir + "/init"), {"etc"}) || !only(list_directory(dir + "/init/etc"), {"hostname", "hosts", "resolv.conf"}))
        return false;
    std::lock_guard lock(_mu);
    if (_free.size() >= _max) return false;
    std::string spare = _containers + "/.spare-" + std::to_string(_next++);
    if (::rename(dir.c_str(), spare.c_str()) != 0) return false;
    _free.push_back(std::move(spare));
    return true;
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
    if (!(shared && spares && spares->take(dir))) {
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
    // Written in place in a spare: no new inode, and no truncation to zero
    // (overwrite_file: ext4 would flush each file to disk at its close).
    BERTH_TRY(overwrite_file(dir + "/init/etc/hostname", hostname + "\n"));
    std::string hosts = host_net ? read_file("/etc/hosts").value_or(std::string()) : hosts_file(hostname);
    BERTH_TRY(overwrite_file(dir + "/init/etc/hosts", hosts));
    // A copy of its own, never a link to a shared file: ResolvConfPath
    // (inspect) names it, and tools rewrite it in place (cri-dockerd does).
    return overwrite_file(dir + "/init/etc/resolv.conf", resolv_conf());
}

}  // namespace berth
