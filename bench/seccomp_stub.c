/* berth_seccomp_stub OUT: writes a compiled seccomp filter (a raw array of
 * struct sock_filter, as SECCOMP_SET_MODE_FILTER takes it) for the kernel
 * probe's --seccomp, until the daemon's own compiled programs
 * (<data-root>/seccomp/<key>.bpf) are there to use instead.
 *
 * The filter has the shape and size of Docker's default profile: EPERM by
 * default and an allowlist of every syscall libseccomp knows on the native
 * architecture except the ones Docker's profile leaves out without
 * CAP_SYS_ADMIN and friends. It is a stand-in for measuring the cost of
 * loading and running a filter of that size, not a security profile. */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const k_denied[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
    "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
    "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
    "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
    "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
    "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs", "_sysctl", "umount",
    "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: berth_seccomp_stub OUT\n");
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        fprintf(stderr, "berth_seccomp_stub: seccomp_init failed\n");
        return 1;
    }
    int allowed = 0;
    for (int nr = 0; nr < 1024; ++nr) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!name) continue;
        int denied = 0;
        for (size_t i = 0; i < sizeof k_denied / sizeof k_denied[0]; ++i)
            if (strcmp(name, k_denied[i]) == 0) denied = 1;
        free(name);
        if (denied) continue;
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0) allowed++;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "berth_seccomp_stub: open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int rc = seccomp_export_bpf(ctx, fd);
    close(fd);
    seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "berth_seccomp_stub: export: %s\n", strerror(-rc));
        return 1;
    }
    fprintf(stderr, "berth_seccomp_stub: %d syscalls allowed\n", allowed);
    return 0;
}
