// Thin wrappers over the raw syscalls glibc 2.36 does not wrap, one each.
// They return -1 and set errno like libc; callers turn that into an error.
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>

namespace berth::sys {

inline long clone3(struct clone_args* args) { return ::syscall(SYS_clone3, args, sizeof(*args)); }

inline int pidfd_open(pid_t pid, unsigned flags = 0) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

// A descriptor of a process's namespace from its pidfd (Linux 6.11), with
// no walk of /proc/<pid>/ns: that walk makes /proc dentries for the pid,
// which its reaping then invalidates. -1 with errno ENOTTY before 6.11.
enum class pidfd_ns : unsigned long { mnt = 0xff03, net = 0xff04 };  // _IO(PIDFS_IOCTL_MAGIC=0xFF, 3 / 4)
inline int pidfd_namespace(int pidfd, pidfd_ns which) {
    return ::ioctl(pidfd, static_cast<unsigned long>(which), 0);
}

inline int pidfd_send_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

inline int openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t resolve,
                   std::uint64_t mode = 0) {
    struct open_how how {};
    how.flags = flags | O_CLOEXEC;
    how.mode = mode;
    how.resolve = resolve;
    return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

inline int fsopen(const char* fs, unsigned flags = FSOPEN_CLOEXEC) {
    return static_cast<int>(::syscall(SYS_fsopen, fs, flags));
}

inline int fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
    return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

inline int fsmount(int fd, unsigned flags, unsigned attr) {
    return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attr));
}

inline int move_mount(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags) {
    return static_cast<int>(::syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags));
}

inline int open_tree(int dfd, const char* path, unsigned flags) {
    return static_cast<int>(::syscall(SYS_open_tree, dfd, path, flags));
}

inline int mount_setattr(int dfd, const char* path, unsigned flags, struct mount_attr* attr) {
    return static_cast<int>(::syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr)));
}

inline int pivot_root(const char* new_root, const char* put_old) {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

}  // namespace berth::sys
