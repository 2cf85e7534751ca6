#include "engine/runtime/mounts.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "base/fd.h"
#include "base/sys.h"
#include "base/util.h"
#include "engine/runtime/confinement.h"
#include "engine/runtime/overlay.h"
#include "engine/runtime/populate.h"
#include "engine/runtime/userns.h"

namespace berth::runtime {
namespace {

// Kernels before 6.8 have no "lowerdir+", and fsconfig() caps every string
// at 255 bytes, too short for a joined layer stack: fall back to mount(2),
// whose option string may fill a page.
status mount_overlay_legacy(const launch_spec& spec, const std::string& what) {
    const std::string opts = overlay_mount_options({spec.lower_dirs, spec.upper_dir, spec.work_dir});
    if (::mount("overlay", spec.rootfs_dir.c_str(), "overlay", 0, opts.c_str()) != 0) return sys_error(what);
    return ok();
}

status mount_overlay(const launch_spec& spec) {
    const std::string what = "mount overlay on " + spec.rootfs_dir;
    if (spec.rootfs_mount_fd >= 0) {
        // --userns-remap: the zygote built it (runtime/userns.h).
        if (sys::move_mount(spec.rootfs_mount_fd, "", AT_FDCWD, spec.rootfs_dir.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return sys_error(what);
        ::close(spec.rootfs_mount_fd);
        return ok();
    }
    BERTH_ASSIGN(unique_fd mnt, open_overlay({spec.lower_dirs, spec.upper_dir, spec.work_dir}, what));
    if (!mnt) return mount_overlay_legacy(spec, what);
    if (sys::move_mount(mnt.get(), "", AT_FDCWD, spec.rootfs_dir.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return sys_error(what);
    return ok();
}

status pivot_into(const std::string& rootfs) {
    if (::chdir(rootfs.c_str()) != 0) return sys_error("chdir " + rootfs);
    // pivot_root(".", ".") stacks the old root on top of the new one
    // (pivot_root(2), NOTES): no put_old directory is needed in the image,
    // and detaching "." then removes the old root from this namespace.
    if (sys::pivot_root(".", ".") != 0) return sys_error("pivot_root " + rootfs);
    if (::umount2(".", MNT_DETACH) != 0) return sys_error("detach old root");
    if (::chdir("/") != 0) return sys_error("chdir /");
    return ok();
}

status do_mount(const char* source, const char* target, const char* type, unsigned long flags, const char* data) {
    if (::mount(source, target, type, flags, data) != 0)
        return sys_error(std::string("mount ") + (type ? type : source) + " on " + target);
    return ok();
}

// The kernel filesystems go on plain directories: a symlink there (runc
// refuses them too) would put /proc or /sys somewhere tools do not look.
status ensure_mount_point(const char* path) {
    struct stat st;
    if (::lstat(path, &st) != 0) {
        if (errno != ENOENT) return sys_error(std::string("stat ") + path);
        return make_dirs_in_root(path, 0755);
    }
    if (!S_ISDIR(st.st_mode))
        return make_error(errc::invalid_argument, std::string("mount point ") + path + ": not a directory");
    return ok();
}

status make_dir(const char* path, mode_t mode) {
    if (::mkdir(path, mode) != 0 && errno != EEXIST) return sys_error(std::string("mkdir ") + path);
    return ok();
}

status mount_dev(std::uint64_t shm_size, bool bind_devices) {
    BERTH_TRY(ensure_mount_point("/dev"));
    BERTH_TRY(do_mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"));
    struct node {
        const char* path;
        unsigned major, minor;
    };
    static constexpr node nodes[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
                                     {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
    for (const auto& n : bind_devices ? std::span<const node>() : std::span<const node>(nodes))
        if (::mknod(n.path, S_IFCHR | 0666, makedev(n.major, n.minor)) != 0)
            return sys_error(std::string("mknod ") + n.path);
    static constexpr std::pair<const char*, const char*> links[] = {
        {"pts/ptmx", "/dev/ptmx"},           {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"},   {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},  {"/proc/kcore", "/dev/core"}};
    for (const auto& [target, path] : links)
        if (::symlink(target, path) != 0) return sys_error(std::string("symlink ") + path);
    BERTH_TRY(make_dir("/dev/pts", 0755));
    BERTH_TRY(do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                       "newinstance,ptmxmode=0666,mode=0620,gid=5"));
    BERTH_TRY(make_dir("/dev/shm", 01777));
    const std::string shm_opts = "mode=1777,size=" + std::to_string(shm_size);
    BERTH_TRY(do_mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts.c_str()));
    BERTH_TRY(make_dir("/dev/mqueue", 0755));
    BERTH_TRY(do_mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
    return ok();
}

// host_sys: a detached copy of the host's /sys (host network only). A fresh
// sysfs shows the network devices of the mounter's network namespace and may
// be refused when that namespace is not the mounter's own; the copy is the
// fallback, as in runc.
// writable (--privileged): /sys and the cgroup2 mount read-write, as Docker
// clears "ro" from both for privileged containers.
status mount_sys(int host_sys, bool unified_host, bool writable) {
    BERTH_TRY(ensure_mount_point("/sys"));
    const unsigned long ro = (writable ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (::mount("sysfs", "/sys", "sysfs", ro, nullptr) != 0) {
        int err = errno;
        if (host_sys < 0) return sys_error("mount sysfs on /sys", err);
        struct mount_attr attr {};
        attr.attr_set = (writable ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        if (sys::mount_setattr(host_sys, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) != 0)
            return sys_error("set the attributes of host /sys");
        if (sys::move_mount(host_sys, "", AT_FDCWD, "/sys", MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return sys_error("mount host /sys on /sys");
        return ok();
    }
    // Only on a pure cgroup v2 host: on a hybrid host a lone cgroup2 here
    // would tell tools in the container that v2 holds the controllers. The
    // cgroup namespace (entered before) roots it at the container's cgroup.
    if (unified_host) (void)::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", ro, nullptr);
    return ok();
}

// One node of --device or --privileged, made inside the container's root
// (its parents too; resolved with RESOLVE_IN_ROOT). A device node already
// there (one of /dev's defaults) gives way, as runc lets a spec device
// replace a default one; anything else there is kept, as runc ignores
// EEXIST, and /dev/ptmx stays the devpts symlink.
status make_device_node(const device_node& d) {
    if (d.path == "/dev/ptmx") return ok();
    const auto slash = d.path.find_last_of('/');
    const std::string parent = slash == 0 ? std::string("/") : d.path.substr(0, slash);
    const std::string base = d.path.substr(slash + 1);
    if (slash == std::string::npos || base.empty() || base == "." || base == "..")
        return make_error(errc::invalid_argument, "device " + d.path + ": not a path to a file");
    BERTH_TRY(make_dirs_in_root(parent, 0755));
    unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open /");
    unique_fd dir(sys::openat2(root.get(), parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
                               RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
    if (!dir) return sys_error("open " + parent);
    struct stat st;
    if (::fstatat(dir.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) return ok();
        if (::unlinkat(dir.get(), base.c_str(), 0) != 0) return sys_error("replace " + d.path);
    }
    const mode_t kind = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
    const dev_t dev = d.type == 'p' ? 0 : makedev(d.major, d.minor);
    if (::mknodat(dir.get(), base.c_str(), kind | (d.mode & 07777), dev) != 0) return sys_error("mknod " + d.path);
    if (::fchownat(dir.get(), base.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_error("chown " + d.path);
    return ok();
}

// --userns-remap. The container's user namespace may mount proc and sysfs
// only while a fully visible instance is in its mount namespace (the
// kernel's mount_too_revealing): they are made detached before pivot_root
// and attached after it. Device nodes cannot be made in a user namespace:
// the host's are bound (taken before pivot_root as well).
struct userns_mounts {
    unique_fd proc, sys;  // sys: a fresh sysfs with a new network namespace; else unset (the host's is bound)
    std::vector<std::pair<std::string, unique_fd>> devices;
};

result<unique_fd> detached_fs(const char* type, unsigned attrs) {
    unique_fd fs(sys::fsopen(type, FSOPEN_CLOEXEC));
    if (!fs) return sys_error(std::string("fsopen ") + type);
    (void)sys::fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", type, 0);  // as mount(8) shows it
    if (sys::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return sys_error(std::string("create ") + type);
    unique_fd mnt(sys::fsmount(fs.get(), FSMOUNT_CLOEXEC, attrs));
    if (!mnt) return sys_error(std::string("mount ") + type);
    return mnt;
}

result<userns_mounts> take_userns_mounts(bool new_network) {
    userns_mounts out;
    BERTH_ASSIGN(out.proc, detached_fs("proc", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    constexpr unsigned sys_attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (new_network) {
        BERTH_ASSIGN(out.sys, detached_fs("sysfs", sys_attrs));
    }
    for (const char* dev : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}) {
        unique_fd tree(sys::open_tree(AT_FDCWD, dev, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
        if (!tree) return sys_error(std::string("bind host ") + dev);
        out.devices.emplace_back(dev, std::move(tree));
    }
    return out;
}

status attach_detached(int tree, const char* target, const char* what) {
    BERTH_TRY(ensure_mount_point(target));
    if (sys::move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return sys_error(std::string("mount ") + what + " on " + target);
    return ok();
}

status attach_host_device(int tree, const std::string& path) {
    unique_fd point(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
    if (!point) return sys_error("create " + path);
    point.reset();
    if (sys::move_mount(tree, "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return sys_error("bind host " + path);
    return ok();
}

// A file under /dev/null; a directory under an empty read-only tmpfs, one
// per container: the first masked directory gets it, every other one a
// clone of that mount (`first_dir` remembers where it is). Each superblock
// the host keeps makes every memory cgroup's creation and removal slower
// (its shrinker map and list_lrus are per superblock), so a container adds
// no more than it needs; never one shared across containers, which a
// container with CAP_SYS_ADMIN could remount writable.
status mask_path(const std::string& path, std::string& first_dir) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return ok();
        return sys_error("stat " + path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) != 0) return sys_error("mask " + path);
        return ok();
    }
    if (first_dir.empty()) {
        if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
            return sys_error("mask " + path);
        first_dir = path;
        return ok();
    }
    // The clone keeps the mount's flags (read-only, nosuid, nodev, noexec).
    unique_fd tree(sys::open_tree(AT_FDCWD, first_dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    if (!tree) return sys_error("clone the mask of " + first_dir);
    if (sys::move_mount(tree.get(), "", AT_FDCWD, path.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
        return sys_error("mask " + path);
    return ok();
}

status make_readonly(const std::string& path) {
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("bind " + path);
    }
    // mount_setattr() changes only the given attribute, where a
    // MS_BIND|MS_REMOUNT|MS_RDONLY would also clear the nosuid, nodev and
    // noexec the proc mount carries.
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (sys::mount_setattr(AT_FDCWD, path.c_str(), AT_RECURSIVE, &attr) != 0)
        return sys_error("make " + path + " read-only");
    return ok();
}

// After pivot_root: a mount target is created and opened inside the
// container's root (RESOLVE_IN_ROOT), so a symlink in the image cannot send
// the mount outside it, and the mount goes on that very inode (its fd)
// rather than on a path resolved again. A file target is created empty.
result<unique_fd> open_target_in_root(const std::string& target, bool directory, const std::string& what) {
    const std::uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open /");
    if (directory) {
        BERTH_TRY(make_dirs_in_root(target, 0755));
        unique_fd dir(sys::openat2(root.get(), target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, resolve));
        if (!dir) return sys_error("open " + what + " " + target);
        return dir;
    }
    unique_fd file(sys::openat2(root.get(), target.c_str(), O_PATH | O_CLOEXEC, resolve));
    if (file || errno != ENOENT) {
        if (!file) return sys_error("open " + what + " " + target);
        return file;
    }
    const auto slash = target.find_last_of('/');
    const std::string parent = target.substr(0, slash), base = target.substr(slash + 1);
    BERTH_TRY(make_dirs_in_root(parent.empty() ? "/" : parent, 0755));
    unique_fd dir(sys::openat2(root.get(), parent.empty() ? "/" : parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
                               resolve));
    if (!dir) return sys_error("open " + what + " " + target);
    unique_fd made(::openat(dir.get(), base.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!made && errno != EEXIST && errno != ELOOP) return sys_error("create " + what + " " + target);
    file.reset(sys::openat2(root.get(), target.c_str(), O_PATH | O_CLOEXEC, resolve));
    if (!file) return sys_error("open " + what + " " + target);
    return file;
}

status mount_tmpfs(const tmpfs_mount& t) {
    BERTH_ASSIGN(unique_fd dir, open_target_in_root(t.target, true, "tmpfs target"));
    const std::string at = "/proc/self/fd/" + std::to_string(dir.get());
    if (::mount("tmpfs", at.c_str(), "tmpfs", t.flags, t.data.empty() ? nullptr : t.data.c_str()) != 0)
        return sys_error("mount tmpfs on " + t.target);
    return ok();
}

// Before pivot_root, while the host's tree is visible: a detached recursive
// copy of the source (rbind, as Docker's default). The mount namespace's
// tree was made private first, so the copy is private.
// A volume with local driver options, as moby's local driver mounts it
// (mount(device, _data, type, o)), but detached and per container: "o"
// words that are mount flags become mount attributes, the rest go to the
// filesystem (key=value as strings, bare words as flags); type "none" with
// bind or rbind in o is a bind of the device path.
result<unique_fd> mount_volume_fs(const bind_mount& b) {
    const std::string what = "failed to mount local volume " + b.volume;
    std::vector<std::string> opts;
    for (const auto& o : split(b.fs_options, ','))
        if (!o.empty()) opts.push_back(o);
    auto has = [&](const char* w) { return std::find(opts.begin(), opts.end(), w) != opts.end(); };
    unsigned attrs = 0;
    bool readonly = false;
    if (has("bind") || has("rbind")) {
        unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (has("rbind") ? AT_RECURSIVE : 0);
        unique_fd tree(sys::open_tree(AT_FDCWD, b.fs_device.c_str(), flags));
        if (!tree) return sys_error(what + ": bind " + b.fs_device);
        mount_attr attr{};
        for (const auto& o : opts) {
            if (o == "ro") attr.attr_set |= MOUNT_ATTR_RDONLY;
            else if (o == "nosuid") attr.attr_set |= MOUNT_ATTR_NOSUID;
            else if (o == "nodev") attr.attr_set |= MOUNT_ATTR_NODEV;
            else if (o == "noexec") attr.attr_set |= MOUNT_ATTR_NOEXEC;
        }
        if (attr.attr_set && sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) != 0)
            return sys_error(what + ": set options " + b.fs_options);
        return tree;
    }
    unique_fd fs(sys::fsopen(b.fs_type.c_str()));
    if (!fs) return sys_error(what + ": filesystem type " + b.fs_type);
    if (!b.fs_device.empty() &&
        sys::fsconfig(fs.get(), FSCONFIG_SET_STRING, "source", b.fs_device.c_str(), 0) != 0)
        return sys_error(what + ": source " + b.fs_device);
    for (const auto& o : opts) {
        static const std::pair<const char*, unsigned> flag_attrs[] = {
            {"nosuid", MOUNT_ATTR_NOSUID}, {"nodev", MOUNT_ATTR_NODEV}, {"noexec", MOUNT_ATTR_NOEXEC},
            {"noatime", MOUNT_ATTR_NOATIME}, {"nodiratime", MOUNT_ATTR_NODIRATIME},
            {"strictatime", MOUNT_ATTR_STRICTATIME}, {"relatime", MOUNT_ATTR_RELATIME}};
        auto f = std::find_if(std::begin(flag_attrs), std::end(flag_attrs), [&](const auto& p) { return o == p.first; });
        if (f != std::end(flag_attrs)) {
            attrs |= f->second;
            continue;
        }
        if (o == "ro" || o == "rw") {
            readonly = o == "ro";
            continue;
        }
        if (o == "defaults" || o == "suid" || o == "dev" || o == "exec" || o == "atime" || o == "diratime") continue;
        const auto eq = o.find('=');
        int r = eq == std::string::npos
                    ? sys::fsconfig(fs.get(), FSCONFIG_SET_FLAG, o.c_str(), nullptr, 0)
                    : sys::fsconfig(fs.get(), FSCONFIG_SET_STRING, o.substr(0, eq).c_str(), o.substr(eq + 1).c_str(), 0);
        if (r != 0) return sys_error(what + ": option " + o);
    }
    if (readonly) {
        if (sys::fsconfig(fs.get(), FSCONFIG_SET_FLAG, "ro", nullptr, 0) != 0) return sys_error(what + ": option ro");
        attrs |= MOUNT_ATTR_RDONLY;
    }
    if (sys::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
        return sys_error(what + ": mount " + b.fs_type + " " + b.fs_device + " (" + b.fs_options + ")");
    unique_fd mnt(sys::fsmount(fs.get(), FSMOUNT_CLOEXEC, attrs));
    if (!mnt) return sys_error(what);
    return mnt;
}

result<unique_fd> clone_bind_source(const bind_mount& b) {
    if (!b.fs_type.empty() || !b.fs_device.empty()) return mount_volume_fs(b);
    if (b.create_source) {
        struct stat st;
        if (::stat(b.source.c_str(), &st) != 0 && errno == ENOENT) BERTH_TRY(make_dirs(b.source, 0755));
    }
    unique_fd tree(sys::open_tree(AT_FDCWD, b.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (!tree) return sys_error("bind source " + b.source);
    return tree;
}

// After pivot_root: fills a new named volume from the container's target
// (while empty), makes the clone read-only when asked, attaches it on the
// target made inside the root, then sets its propagation (the fd still
// names the attached mount).
status attach_bind(int tree, const bind_mount& b) {
    if (b.populate) {
        unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) return sys_error("open /");
        unique_fd content(sys::openat2(root.get(), b.target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
                                       RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
        if (content) BERTH_TRY(populate_volume(content.get(), tree));
    }
    if (b.readonly) {
        mount_attr ro{};
        ro.attr_set = MOUNT_ATTR_RDONLY;
        if (sys::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro) != 0)
            return sys_error("make bind of " + b.source + " read-only");
    }
    struct stat st;
    if (::fstat(tree, &st) != 0) return sys_error("stat bind source " + b.source);
    BERTH_ASSIGN(unique_fd point, open_target_in_root(b.target, S_ISDIR(st.st_mode), "bind target"));
    if (sys::move_mount(tree, "", point.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        return sys_error("bind " + b.source + " on " + b.target);
    const bool recursive = b.propagation.empty() || b.propagation[0] == 'r';
    const std::string kind = recursive && !b.propagation.empty() ? b.propagation.substr(1) : b.propagation;
    mount_attr prop{};
    prop.propagation = kind == "shared" ? MS_SHARED : kind == "slave" ? MS_SLAVE : MS_PRIVATE;
    if (!recursive && kind == "slave") {
        // "slave" applies to the top mount only: the submounts the clone
        // took from the host become slaves too (one-way, as runc's rslave
        // root gives), never peers of the host's mounts.
        mount_attr below{};
        below.propagation = MS_SLAVE;
        if (sys::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &below) != 0)
            return sys_error("set propagation slave below " + b.target);
    }
    if (sys::mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &prop) != 0)
        return sys_error("set propagation " + b.propagation + " on " + b.target);
    return ok();
}

// Before /proc/sys turns read-only. The keys were checked by the daemon
// (namespaced ones only, no "/" nor ".."); O_NOFOLLOW for good measure.
status write_sysctl(const std::string& key, const std::string& value) {
    const std::string path = sysctl_path(key);
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return sys_error("set sysctl " + key);
    if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
        return sys_error("set sysctl " + key + "=" + value);
    return ok();
}

// --read-only: only the root mount (the overlay) turns read-only; /proc,
// /dev, /dev/shm, /dev/mqueue and the tmpfs mounts stay as they are, as in
// Docker. The working directory is made first, as Docker makes it at create.
status make_root_readonly(const std::string& cwd) {
    if (!cwd.empty()) BERTH_TRY(make_dirs_in_root(cwd, 0755));
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (sys::mount_setattr(AT_FDCWD, "/", 0, &attr) != 0) return sys_error("make the root read-only");
    return ok();
}

status bring_up_loopback() {
    unique_fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return sys_error("socket for lo");
    struct ifreq ifr {};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("get flags of lo");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("bring lo up");
    return ok();
}

}  // namespace

status make_dirs_in_root(const std::string& path, mode_t mode) {
    unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open /");
    unique_fd cur(::dup(root.get()));
    if (!cur) return sys_error("dup /");
    std::string prefix;
    for (const auto& comp : split(path, '/')) {
        if (comp.empty() || comp == ".") continue;
        std::string next = prefix + "/" + comp;
        const std::uint64_t resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        int fd = sys::openat2(root.get(), next.c_str(), O_PATH | O_DIRECTORY, resolve);
        if (fd < 0 && errno == ENOENT) {
            if (::mkdirat(cur.get(), comp.c_str(), mode) != 0 && errno != EEXIST) return sys_error("mkdir " + next);
            fd = sys::openat2(root.get(), next.c_str(), O_PATH | O_DIRECTORY, resolve);
        }
        if (fd < 0) return sys_error("open " + next);
        cur.reset(fd);
        prefix = std::move(next);
    }
    return ok();
}

status join_cgroup(const std::string& procs) {
    unique_fd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd || ::write(fd.get(), "0", 1) != 1) return sys_error("join cgroup " + procs);
    return ok();
}

status setup_sandbox(const launch_spec& spec) {
    // The mount namespace is a copy of the zygote's; where "/" is shared
    // (systemd makes it so) the mounts below would otherwise propagate out.
    // A [r]shared or [r]slave bind is cloned before that, from the tree as
    // the namespace copied it: the clone stays in the host mount's peer
    // group (shared) or under its master (slave), so mounts made under it
    // reach the host (or the host's reach the container). The daemon
    // checked the host mount's propagation (Docker's rule).
    std::vector<unique_fd> bind_trees(spec.binds.size());
    for (std::size_t i = 0; i < spec.binds.size(); ++i) {
        const auto& p = spec.binds[i].propagation;
        if (p.find("shared") == std::string::npos && p.find("slave") == std::string::npos) continue;
        BERTH_ASSIGN(bind_trees[i], clone_bind_source(spec.binds[i]));
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return sys_error("make / private");
    BERTH_TRY(mount_overlay(spec));
    // Its memory cgroup only once the overlay is made (runtime/spawn.cc).
    if (joins_memory_cgroup_itself(spec)) BERTH_TRY(join_cgroup(spec.cgroup_v1_memory_procs));
    // Entered only now, in every cgroup: the namespace is rooted where the
    // process is when it unshares.
    if (::unshare(CLONE_NEWCGROUP) != 0) return sys_error("unshare cgroup namespace");

    unique_fd host_sys;
    if (!spec.new_network)
        host_sys.reset(sys::open_tree(AT_FDCWD, "/sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    struct statfs cg {};
    bool unified_host = ::statfs("/sys/fs/cgroup", &cg) == 0 && cg.f_type == CGROUP2_SUPER_MAGIC;

    // --init: a detached read-only bind of the host's init, taken before
    // the host's tree is out of reach and attached after pivot_root.
    unique_fd init_tree;
    if (!spec.init_binary.empty()) {
        init_tree.reset(sys::open_tree(AT_FDCWD, spec.init_binary.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
        if (!init_tree) return sys_error("open_tree " + spec.init_binary);
        mount_attr ro{};
        ro.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        if (sys::mount_setattr(init_tree.get(), "", AT_EMPTY_PATH, &ro) != 0)
            return sys_error("make the init read-only");
    }

    for (std::size_t i = 0; i < spec.binds.size(); ++i)
        if (!bind_trees[i]) {
            BERTH_ASSIGN(bind_trees[i], clone_bind_source(spec.binds[i]));
        }

    // --userns-remap: what a user namespace cannot mount after pivot_root.
    userns_mounts remapped;
    if (!spec.uid_map.empty()) {
        BERTH_ASSIGN(remapped, take_userns_mounts(spec.new_network));
        if (remapped.sys) host_sys = std::move(remapped.sys);
    }

    BERTH_TRY(pivot_into(spec.rootfs_dir));
    if (!spec.uid_map.empty()) BERTH_TRY(become_namespace_root());
    if (init_tree) {
        // Resolved inside the container's root now: a /sbin symlink stays inside.
        BERTH_TRY(make_dirs_in_root("/sbin", 0755));
        // (O_NONBLOCK: a FIFO the image put there must not stop the child,
        // and with it the zygote that may be waiting for it.)
        unique_fd point(::open("/sbin/docker-init", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0755));
        if (!point) return sys_error("create /sbin/docker-init");
        point.reset();
        if (sys::move_mount(init_tree.get(), "", AT_FDCWD, "/sbin/docker-init", MOVE_MOUNT_F_EMPTY_PATH) != 0)
            return sys_error("mount the init at /sbin/docker-init");
    }
    BERTH_TRY(ensure_mount_point("/proc"));
    if (remapped.proc) BERTH_TRY(attach_detached(remapped.proc.get(), "/proc", "proc"));
    else BERTH_TRY(do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
    BERTH_TRY(mount_dev(spec.shm_size, !spec.uid_map.empty()));
    for (auto& [path, tree] : remapped.devices) BERTH_TRY(attach_host_device(tree.get(), path));
    BERTH_TRY(mount_sys(host_sys.get(), unified_host, spec.writable_sys));
    // --userns-remap: its fresh sysfs came in detached (mount_sys's fallback
    // path): the cgroup2 mount mount_sys gives a mounted one, likewise.
    if (!spec.uid_map.empty() && spec.new_network && unified_host)
        (void)::mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    // Binds and tmpfs mounts together, parents before children (moby sorts
    // mounts by the depth of their target); stable, so binds go first.
    struct pending {
        std::size_t depth;
        const bind_mount* bind;
        int tree;
        const tmpfs_mount* tmpfs;
    };
    std::vector<pending> order;
    auto depth = [](const std::string& p) { return static_cast<std::size_t>(std::count(p.begin(), p.end(), '/')); };
    for (std::size_t i = 0; i < spec.binds.size(); ++i)
        order.push_back({depth(spec.binds[i].target), &spec.binds[i], bind_trees[i].get(), nullptr});
    for (const auto& t : spec.tmpfs) order.push_back({depth(t.target), nullptr, -1, &t});
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.depth < b.depth; });
    for (const auto& m : order) BERTH_TRY(m.bind ? attach_bind(m.tree, *m.bind) : mount_tmpfs(*m.tmpfs));
    // Device nodes after the mounts (as runc): a --device under a bind or
    // tmpfs target is not hidden by it.
    for (const auto& d : spec.devices) BERTH_TRY(make_device_node(d));
    for (const auto& [key, value] : spec.sysctls) BERTH_TRY(write_sysctl(key, value));
    std::string masked_dir;
    for (const auto& p : spec.masked_paths) BERTH_TRY(mask_path(p, masked_dir));
    for (const auto& p : spec.readonly_paths) BERTH_TRY(make_readonly(p));
    if (spec.new_network) BERTH_TRY(bring_up_loopback());
    if (spec.readonly_rootfs) BERTH_TRY(make_root_readonly(spec.cwd));
    return ok();
}

}  // namespace berth::runtime
