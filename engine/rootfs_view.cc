#include "engine/rootfs_view.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <deque>

#include "base/sys.h"
#include "base/util.h"
#include "engine/config_util.h"
#include "engine/engine.h"
#include "engine/runtime/overlay.h"
#include "engine/userns_copy.h"

namespace berth {
namespace {

constexpr std::uint64_t k_resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// Linux follows at most 40 nested symlinks in one lookup; Docker's
// FollowSymlinkInScope allows 255 links in all.
constexpr int k_max_links = 255;

// The daemon opens the files it archives and never runs anything from a view:
// device nodes, setuid bits and executables mean nothing through it. nodev also
// makes opening a device node that replaced a file meanwhile fail instead of
// talking to the device.
constexpr unsigned k_view_attrs = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;

result<unique_fd> make_attrs(unique_fd mnt, const std::string& what) {
    struct mount_attr attr {};
    attr.attr_set = k_view_attrs;
    if (sys::mount_setattr(mnt.get(), "", AT_EMPTY_PATH, &attr) != 0) return sys_error(what + ": set mount attributes");
    return mnt;
}

// A detached overlay of `layers`. Paths too long for fsconfig() are named by
// a descriptor instead (/proc/self/fd/N): the kernel resolves the string when
// the option is set, while the descriptor is open.
result<unique_fd> detached_overlay(runtime::overlay_layers layers, const std::string& what) {
    BERTH_ASSIGN(unique_fd mnt, runtime::open_overlay(layers, what));
    if (mnt) return make_attrs(std::move(mnt), what);
    std::vector<unique_fd> held;
    auto shorten = [&](std::string& dir) -> status {
        if (dir.size() < 200) return ok();
        unique_fd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!fd) return sys_error(what + ": open " + dir);
        dir = "/proc/self/fd/" + std::to_string(fd.get());
        held.push_back(std::move(fd));
        return ok();
    };
    for (auto& dir : layers.lower_dirs) BERTH_TRY(shorten(dir));
    BERTH_TRY(shorten(layers.upper_dir));
    BERTH_TRY(shorten(layers.work_dir));
    BERTH_ASSIGN(mnt, runtime::open_overlay(layers, what));
    if (!mnt)
        return make_error(errc::unavailable, what + ": the kernel has no overlay option \"lowerdir+\" (Linux 6.8)");
    return make_attrs(std::move(mnt), what);
}

// The super options of the mount at "/" of a process, from its mountinfo:
// "rw,lowerdir=...,upperdir=...". The last such line is the topmost mount.
result<std::string> root_mount_options(int pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/mountinfo";
    BERTH_ASSIGN(std::string info, read_file(path));
    std::string found;
    for (const auto& line : split(info, '\n')) {
        // id parent major:minor root mount-point options [optional...] - type source super-options
        auto fields = split(line, ' ');
        if (fields.size() < 10 || fields[4] != "/") continue;
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto tail = split(line.substr(dash + 3), ' ');
        if (tail.size() < 3) continue;
        found = tail[0] == "overlay" ? tail[2] : std::string();
    }
    return found;
}

// How the kernel prints an option value in mountinfo (seq_escape with
// ", \t\n\\"): those bytes as octal escapes.
std::string mountinfo_escape(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\\') {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\%03o", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::vector<std::string> components(const std::string& path) {
    std::vector<std::string> out;
    for (auto& c : split(path, '/'))
        if (!c.empty()) out.push_back(std::move(c));
    return out;
}

std::string join_abs(const std::vector<std::string>& comps) {
    std::string out;
    for (const auto& c : comps) out += "/" + c;
    return out.empty() ? "/" : out;
}

}  // namespace

rootfs_layout container_layout(engine& eng, const container& c) {
    rootfs_layout l;
    std::string dir = eng.container_dir(c.id);
    l.upper_dir = dir + "/upper";
    l.work_dir = dir + "/work";
    l.lower_dirs.push_back(dir + "/init");
    // Below the container's own init layer (which has its own dev/, proc/
    // and sys/ where its owners are shifted, and which an older berth made).
    l.lower_dirs.push_back(eng.mount_points_layer());
    for (auto it = c.chain_ids.rbegin(); it != c.chain_ids.rend(); ++it) l.lower_dirs.push_back(eng.store().layer_dir(*it));
    if (!eng.options().uid_map.empty() && str_field(c.host_config, "UsernsMode") != "host") {
        if (eng.options().userns_copy) {
            // The image layers' shifted copies (the init layer is chowned).
            const std::string copies = remap_copy_root(eng.options().data_root, eng.options().uid_map,
                                                       eng.options().gid_map);
            for (std::size_t i = 2; i < l.lower_dirs.size(); ++i)
                l.lower_dirs[i] = copies + l.lower_dirs[i].substr(l.lower_dirs[i].rfind('/'));
        }
        l.view_userns = eng.options().userns_view_fd;
        l.uid_map = eng.options().uid_map;
        l.gid_map = eng.options().gid_map;
    }
    return l;
}

int rootfs_view::in_root(const std::string& path, std::uint64_t flags) const {
    std::string_view p = path;
    while (!p.empty() && p.front() == '/') p.remove_prefix(1);
    std::string rel = p.empty() ? std::string(".") : std::string(p);
    // EAGAIN: a rename elsewhere raced with a ".." lookup (openat2(2)).
    for (int attempt = 0;; ++attempt) {
        int fd = sys::openat2(_root.get(), rel.c_str(), flags, k_resolve);
        if (fd >= 0 || errno != EAGAIN || attempt >= 1000) return fd;
    }
}

// --userns-remap: upper/ and work/ of the layout through one idmapped
// mount of their parent that maps the host's ids back to the container's
// (one mount: overlayfs wants upperdir and workdir on the same one). The
// descriptor stays open until the overlay is made.
result<rootfs_layout> unmapped(const rootfs_layout& l, unique_fd& held) {
    if (l.view_userns < 0) return l;
    const std::string parent = l.upper_dir.substr(0, l.upper_dir.rfind('/'));
    if (l.work_dir.substr(0, l.work_dir.rfind('/')) != parent)
        return make_error(errc::internal, "idmapped view of " + parent + ": upper and work directories apart");
    // Through the view the host's root owns nothing: the directory must let
    // the view's root pass. Containers made remapped are root:<remapped
    // gid> 0710 (that gid is 0 through the view); older ones get o+x.
    struct stat st {};
    if (::stat(parent.c_str(), &st) != 0) return sys_error("stat " + parent);
    const bool group_passes = (st.st_mode & S_IXGRP) && st.st_gid != 0;
    if (!group_passes && !(st.st_mode & S_IXOTH) && ::chmod(parent.c_str(), (st.st_mode & 07777) | S_IXOTH) != 0)
        return sys_error("chmod " + parent);
    held.reset(sys::open_tree(AT_FDCWD, parent.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (!held) return sys_error("open_tree " + parent);
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = static_cast<std::uint64_t>(l.view_userns);
    if (sys::mount_setattr(held.get(), "", AT_EMPTY_PATH, &attr) != 0) return sys_error("idmapped view of " + parent);
    rootfs_layout out = l;
    const std::string via = "/proc/self/fd/" + std::to_string(held.get());
    out.upper_dir = via + l.upper_dir.substr(parent.size());
    out.work_dir = via + l.work_dir.substr(parent.size());
    return out;
}

result<rootfs_view> open_snapshot(const rootfs_layout& given) {
    unique_fd held;
    BERTH_ASSIGN(rootfs_layout l, unmapped(given, held));
    runtime::overlay_layers layers;
    layers.lower_dirs.push_back(l.upper_dir);
    layers.lower_dirs.insert(layers.lower_dirs.end(), l.lower_dirs.begin(), l.lower_dirs.end());
    rootfs_view v;
    BERTH_ASSIGN(v._root, detached_overlay(std::move(layers), "mount a read-only view of " + given.upper_dir));
    v._kind = rootfs_view::kind::snapshot;
    if (given.view_userns < 0) {
        // Copied layers (engine/userns_copy.h): all of it in the host's ids.
        v._uid_map = given.uid_map;
        v._gid_map = given.gid_map;
    }
    return v;
}

result<rootfs_view> open_writable(const rootfs_layout& l) {
    // Not through the idmapped view: overlayfs would have to clean work/work,
    // which the container's own overlay made as the host's root. Written
    // with the host's ids instead, as a live view is.
    rootfs_view v;
    BERTH_ASSIGN(v._root, detached_overlay({l.lower_dirs, l.upper_dir, l.work_dir}, "mount " + l.upper_dir));
    v._kind = rootfs_view::kind::writable;
    v._uid_map = l.uid_map;
    v._gid_map = l.gid_map;
    return v;
}

result<rootfs_view> open_lower_layers(const rootfs_layout& l) {
    rootfs_view v;
    v._kind = rootfs_view::kind::snapshot;
    if (l.lower_dirs.size() == 1) {
        // overlayfs wants two lower layers when it has no upper one.
        v._root.reset(::open(l.lower_dirs[0].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!v._root) return sys_error("open " + l.lower_dirs[0]);
        return v;
    }
    BERTH_ASSIGN(v._root, detached_overlay({l.lower_dirs, "", ""}, "mount the image layers of " + l.upper_dir));
    return v;
}

result<rootfs_view> open_live(int pid, const rootfs_layout& l) {
    const std::string what = "open the root of process " + std::to_string(pid);
    if (pid <= 0) return make_error(errc::conflict, what + ": the container is not running");
    // The pidfd pins the process: if it is still alive after the root was
    // opened and checked, the pid was not reused in between.
    unique_fd pidfd(sys::pidfd_open(pid, 0));
    if (!pidfd) {
        error e = sys_error(what);
        if (errno == ESRCH) e.code = errc::conflict;
        return e;
    }
    rootfs_view v;
    v._kind = rootfs_view::kind::live;
    v._root.reset(::open(("/proc/" + std::to_string(pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!v._root) {
        error e = sys_error(what);
        if (errno == ENOENT || errno == ESRCH) e.code = errc::conflict;
        return e;
    }
    BERTH_ASSIGN(std::string options, root_mount_options(pid));
    std::string want = "upperdir=" + mountinfo_escape(l.upper_dir);
    bool mine = false;
    for (const auto& opt : split(options, ','))
        if (opt == want) mine = true;
    if (!mine || sys::pidfd_send_signal(pidfd.get(), 0) != 0)
        return make_error(errc::conflict, what + ": it is not the container's process any more");
    v._uid_map = l.uid_map;
    v._gid_map = l.gid_map;
    return v;
}

result<std::string> resolve_in_scope(const rootfs_view& v, const std::string& path, const scope_visitor& visit) {
    std::deque<std::string> todo;
    for (auto& c : components(path)) todo.push_back(std::move(c));
    std::vector<std::string> done;
    int links = 0;
    auto stopped = [&](const std::string& sofar, scope_step step) {
        return visit && !visit(sofar, step);
    };
    const auto refused = [&] { return make_error(errc::conflict, "resolve " + path + ": left the scope asked for"); };
    while (!todo.empty()) {
        std::string c = std::move(todo.front());
        todo.pop_front();
        if (c == ".") continue;
        if (c == "..") {
            if (!done.empty()) done.pop_back();
            if (stopped(join_abs(done), scope_step::up)) return refused();
            continue;
        }
        done.push_back(c);
        std::string sofar = join_abs(done);
        unique_fd fd(v.in_root(sofar, O_PATH | O_NOFOLLOW));
        if (!fd) {
            // What does not exist is taken as written (Docker does the same).
            if (errno == ENOENT || errno == ENOTDIR) {
                if (stopped(sofar, scope_step::missing)) return refused();
                continue;
            }
            return sys_error("resolve " + sofar + " in the container");
        }
        if (stopped(sofar, scope_step::found)) return refused();
        struct stat st;
        if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + sofar + " in the container");
        if (!S_ISLNK(st.st_mode)) continue;
        if (++links > k_max_links) {
            errno = ELOOP;
            return sys_error("resolve " + path + " in the container");
        }
        std::string target(PATH_MAX, '\0');
        ssize_t n = ::readlinkat(fd.get(), "", target.data(), target.size());
        if (n < 0) return sys_error("read symlink " + sofar + " in the container");
        target.resize(static_cast<size_t>(n));
        done.pop_back();
        if (!target.empty() && target[0] == '/') done.clear();
        auto more = components(target);
        todo.insert(todo.begin(), more.begin(), more.end());
    }
    return join_abs(done);
}

std::string clean_container_path(const std::string& path) {
    std::vector<std::string> out;
    for (const auto& c : components(path)) {
        if (c == ".") continue;
        if (c == "..") {
            if (!out.empty()) out.pop_back();
            continue;
        }
        out.push_back(c);
    }
    std::string clean = join_abs(out);
    // Docker's PreserveTrailingDotOrSeparator: "x/." and "x/" keep their
    // meaning (the contents of x; x itself, followed if a symlink).
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    bool dot = trimmed == "." || (trimmed.size() >= 2 && trimmed.compare(trimmed.size() - 2, 2, "/.") == 0);
    if (dot) clean += clean == "/" ? "." : "/.";
    if (!path.empty() && path.back() == '/' && clean.back() != '/') clean += "/";
    return clean;
}

std::string path_dir(const std::string& clean) {
    std::string p = clean;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    auto slash = p.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : p.substr(0, slash);
}

std::string path_base(const std::string& clean) {
    std::string p = clean;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p == "/") return "/";
    auto slash = p.rfind('/');
    return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace berth
