#include "engine/runtime/userns.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <unordered_map>

#include "base/sys.h"
#include "base/util.h"
#include "engine/runtime/overlay.h"

namespace berth::runtime {
namespace {

status write_map(pid_t pid, const char* file, const std::vector<id_range>& ranges) {
    const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    const std::string text = id_map_text(ranges);
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    // One write: the kernel takes the whole map at once or not at all.
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return sys_error("write " + path);
    return ok();
}

// An idmapped, detached view of `dir` (no submounts: layer directories have none).
result<unique_fd> idmapped_view(int userns, const std::string& dir) {
    unique_fd tree(sys::open_tree(AT_FDCWD, dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (!tree) return sys_error("open_tree " + dir);
    struct mount_attr attr {};
    // Read-only (overlayfs never writes a lower layer) and private.
    attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY;
    attr.userns_fd = static_cast<std::uint64_t>(userns);
    attr.propagation = MS_PRIVATE;
    if (sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr) != 0) {
        int err = errno;
        if (err == EINVAL || err == EOPNOTSUPP)
            return error{errc::unavailable,
                         "idmapped mount of " + dir +
                             ": userns-remap needs idmapped mounts (Linux 5.19+ and a filesystem that supports "
                             "them)",
                         err};
        return sys_error("idmapped mount of " + dir, err);
    }
    return tree;
}

// overlayfs on layers given by descriptor, as the calling process (init
// namespace root in the zygote: trusted.overlay.* is honoured).
// The zygote's state: per remapping, a user namespace with its maps and
// the idmapped views of image layers made so far.
struct cached_view {
    dev_t dev = 0;
    ino_t ino = 0;
    unique_fd tree;
};
struct remapping {
    std::vector<id_range> uid_map, gid_map;
    unique_fd userns;
    std::unordered_map<std::string, cached_view> views;
};
constexpr std::size_t k_max_cached_views = 512;

std::vector<std::unique_ptr<remapping>>& remappings() {
    static std::vector<std::unique_ptr<remapping>> all;
    return all;
}

result<remapping*> remapping_for(const launch_spec& spec) {
    for (auto& r : remappings())
        if (r->uid_map == spec.uid_map && r->gid_map == spec.gid_map) return r.get();
    BERTH_ASSIGN(unique_fd ns, make_user_namespace(spec.uid_map, spec.gid_map));
    auto r = std::make_unique<remapping>();
    r->uid_map = spec.uid_map;
    r->gid_map = spec.gid_map;
    r->userns = std::move(ns);
    remappings().push_back(std::move(r));
    return remappings().back().get();
}

// The cached view of an image layer, made again when the directory is no
// longer the inode it showed (the layer was removed and unpacked again).
result<int> layer_view(remapping& r, const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return sys_error("stat layer " + dir);
    if (auto it = r.views.find(dir); it != r.views.end()) {
        if (it->second.dev == st.st_dev && it->second.ino == st.st_ino) return it->second.tree.get();
        r.views.erase(it);
    }
    BERTH_ASSIGN(unique_fd tree, idmapped_view(r.userns.get(), dir));
    struct stat seen {};
    if (::fstat(tree.get(), &seen) != 0) return sys_error("stat idmapped layer " + dir);
    int fd = tree.get();
    r.views[dir] = cached_view{seen.st_dev, seen.st_ino, std::move(tree)};
    return fd;
}

// Copied layers (engine/userns_copy.h): a plain overlay, still made here.
// Where the new mount API cannot say it (no "lowerdir+" before Linux 6.8),
// mount(2) in the zygote's mount namespace, cloned detached and unmounted
// again at once. Not on the shared rootfs mount point, where another shard's
// zygote may be doing the same: on the container's own merged/ (made here).
result<unique_fd> plain_overlay(const launch_spec& spec, const std::string& what) {
    BERTH_ASSIGN(unique_fd mnt, open_overlay({spec.lower_dirs, spec.upper_dir, spec.work_dir}, what));
    if (mnt) return mnt;
    const std::string opts = overlay_mount_options({spec.lower_dirs, spec.upper_dir, spec.work_dir});
    const std::string at = spec.upper_dir.substr(0, spec.upper_dir.rfind('/')) + "/merged";
    if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST) return sys_error(what + ": mkdir " + at);
    if (::mount("overlay", at.c_str(), "overlay", 0, opts.c_str()) != 0) return sys_error(what);
    unique_fd tree(sys::open_tree(AT_FDCWD, at.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    int err = errno;
    (void)::umount2(at.c_str(), MNT_DETACH);
    if (!tree) return sys_error(what + ": open_tree", err);
    // A clone of a mount made under a shared host mount is shared too:
    // private, or pivot_root refuses it and mounts would propagate out.
    struct mount_attr attr {};
    attr.propagation = MS_PRIVATE;
    if (sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) != 0)
        return sys_error(what + ": make the overlay private");
    return tree;
}

}  // namespace

std::string id_map_text(const std::vector<id_range>& ranges) {
    std::string out;
    for (const auto& r : ranges)
        out += std::to_string(r.inside) + " " + std::to_string(r.outside) + " " + std::to_string(r.count) + "\n";
    return out;
}

long long map_to_host(const std::vector<id_range>& ranges, std::uint32_t inside) {
    for (const auto& r : ranges)
        if (inside >= r.inside && inside - r.inside < r.count) return static_cast<long long>(r.outside) + (inside - r.inside);
    return -1;
}

result<unique_fd> make_user_namespace(const std::vector<id_range>& uid_map, const std::vector<id_range>& gid_map) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("create user namespace: pipe");
    unique_fd hold_read(p[0]), hold_write(p[1]);
    struct clone_args args {};
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long pid = sys::clone3(&args);
    if (pid < 0) return sys_error("create user namespace: clone3");
    if (pid == 0) {
        // Holds the namespace until the parent has opened it (EOF).
        hold_write.reset();
        char c;
        while (::read(hold_read.get(), &c, 1) < 0 && errno == EINTR) {
        }
        ::_exit(0);
    }
    hold_read.reset();
    auto reap = scope_exit([&] {
        hold_write.reset();
        while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
        }
    });
    launch_spec maps;
    maps.uid_map = uid_map;
    maps.gid_map = gid_map;
    BERTH_TRY(write_id_maps(static_cast<pid_t>(pid), maps));
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
    unique_fd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) return sys_error("open " + path);
    return ns;
}

status write_id_maps(pid_t pid, const launch_spec& spec) {
    BERTH_TRY(write_map(pid, "uid_map", spec.uid_map));
    BERTH_TRY(write_map(pid, "gid_map", spec.gid_map));
    return ok();
}

result<unique_fd> open_remapped_rootfs(const launch_spec& spec) {
    const std::string what = "mount overlay on " + spec.rootfs_dir;
    if (spec.lower_dirs.empty()) return make_error(errc::invalid_argument, what + ": no lower directory");
    if (spec.userns_copy) return plain_overlay(spec, what);
    BERTH_ASSIGN(remapping * r, remapping_for(spec));
    // A removed layer's view would pin its blocks until replaced: drop the
    // views of deleted directories (no links left) every 32 starts.
    static unsigned starts = 0;
    if (++starts % 32 == 0)
        std::erase_if(r->views, [](const auto& kv) {
            struct stat st {};
            return ::fstat(kv.second.tree.get(), &st) != 0 || st.st_nlink == 0;
        });
    // Room for this start's layers before any is looked up: an eviction in
    // the middle would close views already picked for this overlay.
    if (r->views.size() + spec.lower_dirs.size() > k_max_cached_views) r->views.clear();
    // The init layer is the container's own: a fresh view, closed with the overlay's creation.
    BERTH_ASSIGN(unique_fd init_view, idmapped_view(r->userns.get(), spec.lower_dirs[0]));
    std::vector<int> lowers{init_view.get()};
    for (std::size_t i = 1; i < spec.lower_dirs.size(); ++i) {
        BERTH_ASSIGN(int fd, layer_view(*r, spec.lower_dirs[i]));
        lowers.push_back(fd);
    }
    return open_overlay_from_fds(lowers, spec.upper_dir, spec.work_dir, what);
}

status probe_remapped_overlay(const std::string& scratch, const std::vector<id_range>& uid_map,
                              const std::vector<id_range>& gid_map) {
    const std::string lower = scratch + "/lower", upper = scratch + "/upper", work = scratch + "/work";
    auto cleanup = scope_exit([&] {
        for (const auto& d : {work + "/work", work + "/index", lower, upper, work, scratch}) (void)::rmdir(d.c_str());
    });
    for (const auto& d : {scratch, lower, upper, work})
        if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) return sys_error("mkdir " + d);
    BERTH_ASSIGN(unique_fd ns, make_user_namespace(uid_map, gid_map));
    BERTH_ASSIGN(unique_fd view, idmapped_view(ns.get(), lower));
    BERTH_ASSIGN(unique_fd mnt, open_overlay_from_fds({view.get()}, upper, work, "overlay on idmapped layers in " + scratch));
    return ok();
}

result<bool> in_other_user_namespace(int pidfd) {
    BERTH_ASSIGN(std::string info, read_file("/proc/self/fdinfo/" + std::to_string(pidfd)));
    auto at = info.find("\nPid:");
    if (at == std::string::npos) return make_error(errc::internal, "no pid in the pidfd's fdinfo");
    const long pid = std::strtol(info.c_str() + at + 5, nullptr, 10);
    if (pid <= 0) return make_error(errc::conflict, "the container is not running");
    struct stat mine {}, theirs {};
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
    if (::stat("/proc/self/ns/user", &mine) != 0) return sys_error("stat /proc/self/ns/user");
    if (::stat(path.c_str(), &theirs) != 0) return sys_error("stat " + path);
    return mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev;
}

status become_namespace_root() {
    if (::setresgid(0, 0, 0) != 0) return sys_error("setresgid 0 in the user namespace");
    if (::setgroups(0, nullptr) != 0) return sys_error("setgroups in the user namespace");
    if (::setresuid(0, 0, 0) != 0) return sys_error("setresuid 0 in the user namespace");
    return ok();
}

}  // namespace berth::runtime
