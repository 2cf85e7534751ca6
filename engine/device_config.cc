#include "engine/device_config.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "engine/config_util.h"

namespace berth {

namespace json = boost::json;

namespace {

error invalid(std::string msg) { return make_error(errc::invalid_argument, std::move(msg)); }

// Go's syscall.Errno text: strerror, lower case first.
std::string errno_text(int err) {
    std::string s = std::strerror(err);
    if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}

constexpr int k_not_a_device = -1;

// containerd's DeviceFromPath: lstat, a block or character device or a
// fifo; k_not_a_device for anything else, else the errno of lstat.
int device_from_path(const std::string& path, runtime::device_node& out) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return errno;
    if (S_ISBLK(st.st_mode)) out.type = 'b';
    else if (S_ISCHR(st.st_mode)) out.type = 'c';
    else if (S_ISFIFO(st.st_mode)) out.type = 'p';
    else return k_not_a_device;
    out.path = path;
    out.major = ::major(st.st_rdev);
    out.minor = ::minor(st.st_rdev);
    out.mode = st.st_mode & 07777;
    out.uid = st.st_uid;
    out.gid = st.st_gid;
    return 0;
}

bool is_dir(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The entries of a directory, without "." and "..", sorted (Go's ReadDir
// order); empty when it cannot be read.
std::vector<std::pair<std::string, bool>> entries(const std::string& dir) {
    std::vector<std::pair<std::string, bool>> out;  // name, is a directory (not a symlink to one)
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        bool directory = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;
            directory = ::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        }
        out.emplace_back(std::move(name), directory);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

// filepath.WalkDir below `dir` (symlinks not followed), every node kept.
void walk_devices(const std::string& dir, std::vector<runtime::device_node>& out) {
    for (const auto& [name, directory] : entries(dir)) {
        std::string path = dir + "/" + name;
        if (directory) {
            walk_devices(path, out);
            continue;
        }
        runtime::device_node n;
        if (device_from_path(path, n) == 0) out.push_back(std::move(n));
    }
}

// containerd's HostDevices (getDevices of /dev).
void host_devices(const std::string& dir, std::vector<runtime::device_node>& out) {
    for (const auto& [name, directory] : entries(dir)) {
        std::string path = dir + "/" + name;
        if (directory) {
            static constexpr const char* skipped[] = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"};
            if (std::find(std::begin(skipped), std::end(skipped), name) == std::end(skipped)) host_devices(path, out);
            continue;
        }
        if (name == "console") continue;
        runtime::device_node n;
        if (device_from_path(path, n) != 0 || n.type == 'p') continue;
        out.push_back(std::move(n));
    }
}

cgroup::device_rule rule_for(const runtime::device_node& n, unsigned access) {
    return {n.type, static_cast<std::int64_t>(n.major), static_cast<std::int64_t>(n.minor), access};
}

// moby's DevicesFromPath.
status devices_from_path(const device_mapping& m, gathered_devices& out, bool with_rules) {
    std::string resolved = m.path_on_host;
    struct stat st;
    if (::lstat(m.path_on_host.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        if (char* real = ::realpath(m.path_on_host.c_str(), nullptr)) {
            resolved = real;
            std::free(real);
        }
    }
    const std::string target = m.path_in_container.empty() ? m.path_on_host : m.path_in_container;
    const unsigned access = cgroup::parse_device_access(m.permissions.empty() ? "rwm" : m.permissions).value_or(0);
    runtime::device_node n;
    int err = device_from_path(resolved, n);
    std::vector<runtime::device_node> found;
    if (err == 0) {
        n.path = target;
        found.push_back(std::move(n));
    } else if (err == k_not_a_device && is_dir(resolved)) {
        walk_devices(resolved, found);
        for (auto& f : found) f.path = target + f.path.substr(resolved.size());
    }
    if (found.empty())
        return invalid("error gathering device information while adding custom device \"" + m.path_on_host +
                       "\": " + (err == k_not_a_device || err == 0 ? std::string("not a device node") : errno_text(err)));
    for (auto& f : found) {
        // A fifo is no device to the device cgroup.
        if (with_rules && f.type != 'p') out.access.allow.push_back(rule_for(f, access));
        out.nodes.push_back(std::move(f));
    }
    return ok();
}

}  // namespace

result<device_config> device_config_of(const json::object& hc) {
    device_config c;
    if (const auto* p = hc.if_contains("Privileged"); p && !p->is_null()) {
        if (!p->is_bool()) return invalid("HostConfig.Privileged must be a boolean");
        c.privileged = p->as_bool();
    }
    if (const auto* d = hc.if_contains("Devices"); d && !d->is_null()) {
        if (!d->is_array()) return invalid("HostConfig.Devices must be an array");
        for (const auto& e : d->as_array()) {
            if (!e.is_object())
                return invalid("HostConfig.Devices must be an array of {PathOnHost, PathInContainer, CgroupPermissions}");
            const auto& o = e.as_object();
            device_mapping m{str_field(o, "PathOnHost"), str_field(o, "PathInContainer"),
                             str_field(o, "CgroupPermissions")};
            if (m.path_on_host.empty()) return invalid("bad format for path: " + m.path_on_host);
            const std::string& target = m.path_in_container.empty() ? m.path_on_host : m.path_in_container;
            if (target[0] != '/') return invalid(target + " is not an absolute path");
            if (!m.permissions.empty() && !cgroup::parse_device_access(m.permissions))
                return invalid("bad mode specified: " + m.permissions);
            c.devices.push_back(std::move(m));
        }
    }
    if (const auto* r = hc.if_contains("DeviceCgroupRules"); r && !r->is_null()) {
        if (!r->is_array()) return invalid("HostConfig.DeviceCgroupRules must be an array of strings");
        for (const auto& e : r->as_array()) {
            if (!e.is_string()) return invalid("HostConfig.DeviceCgroupRules must be an array of strings");
            BERTH_ASSIGN(auto rule, cgroup::parse_device_cgroup_rule(std::string(e.as_string())));
            c.cgroup_rules.push_back(rule);
        }
    }
    return c;
}

result<gathered_devices> gather_devices(const device_config& config, const std::string& host_dev) {
    gathered_devices out;
    if (config.privileged) {
        // moby: every host device, the mappings to another path (their
        // permissions ignored), and all access.
        host_devices(host_dev, out.nodes);
        for (auto& n : out.nodes) n.path = "/dev" + n.path.substr(host_dev.size());
        for (const auto& m : config.devices) {
            const std::string& target = m.path_in_container.empty() ? m.path_on_host : m.path_in_container;
            if (target == m.path_on_host) continue;
            BERTH_TRY(devices_from_path(m, out, false));
        }
        out.access.allow_all = true;
        return out;
    }
    for (const auto& m : config.devices) BERTH_TRY(devices_from_path(m, out, true));
    out.access.allow.insert(out.access.allow.end(), config.cgroup_rules.begin(), config.cgroup_rules.end());
    return out;
}

}  // namespace berth
