/* A static probe run inside containers: it reports, one "key=value" a line,
 * what the runtime promised, as seen from inside.
 *
 *   probe                    facts: pid, hostname, uid, gid, groups, Cap*,
 *                            NoNewPrivs, cgroup, ns_<name>, cwd
 *   probe mknod-block PATH   mknod a block device 8:0, then open it O_RDWR
 *   probe read PATH          read the whole file: read=ok bytes=N, or read=ERRNO
 *   probe write PATH         write "1\n": write=ok, or write=ERRNO
 * The sub-commands exit 0 once they have reported an outcome, ok or not.
 *   probe exit N             exit with status N
 *   probe kill-self SIG      kill(getpid(), SIG); prints kill=survived if it returns
 *   probe clocks             monotonic=SEC.NSEC boottime=… realtime=… (clock_gettime)
 *   probe syscalls           what seccomp lets through, one NAME=ok|ERRNO a line:
 *                            unshare_user, mount_tmpfs, keyctl, bpf, kexec_load,
 *                            clone_newns, clone3, personality_bad, mkdir, nr_1000
 *
 * Only libc: it is linked -static and copied into bare rootfs directories. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const char* errno_name(int err) {
    const char* n = strerrorname_np(err);
    static char buf[32];
    if (n) return n;
    snprintf(buf, sizeof buf, "errno%d", err);
    return buf;
}

/* The lines of /proc/self/status named in keys, printed as key=value. */
static void status_fields(void) {
    static const char* keys[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"};
    char line[512];
    FILE* f = fopen("/proc/self/status", "re");
    if (!f) {
        printf("status=%s\n", errno_name(errno));
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char* colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
            if (strcmp(line, keys[i]) != 0) continue;
            char* v = colon + 1;
            while (*v == ' ' || *v == '\t') ++v;
            v[strcspn(v, "\n")] = '\0';
            printf("%s=%s\n", keys[i], v);
        }
    }
    fclose(f);
}

/* /proc/self/cgroup with its lines joined by ';'. */
static void cgroup_line(void) {
    char line[4096];
    FILE* f = fopen("/proc/self/cgroup", "re");
    if (!f) {
        printf("cgroup=%s\n", errno_name(errno));
        return;
    }
    printf("cgroup=");
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        printf("%s%s", first ? "" : ";", line);
        first = 0;
    }
    printf("\n");
    fclose(f);
}

static void namespaces(void) {
    DIR* d = opendir("/proc/self/ns");
    if (!d) {
        printf("ns=%s\n", errno_name(errno));
        return;
    }
    struct dirent* e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[PATH_MAX], target[256];
        snprintf(path, sizeof path, "/proc/self/ns/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0) {
            printf("ns_%s=%s\n", e->d_name, errno_name(errno));
            continue;
        }
        target[n] = '\0';
        printf("ns_%s=%s\n", e->d_name, target);
    }
    closedir(d);
}

static int facts(void) {
    char host[256] = "";
    char cwd[PATH_MAX] = "";
    gid_t groups[256];
    printf("pid=%d\n", (int)getpid());
    if (gethostname(host, sizeof host - 1) == 0) printf("hostname=%s\n", host);
    printf("uid=%d\n", (int)getuid());
    printf("gid=%d\n", (int)getgid());
    int n = getgroups(sizeof groups / sizeof groups[0], groups);
    printf("groups=");
    for (int i = 0; i < n; ++i) printf("%s%d", i ? "," : "", (int)groups[i]);
    printf("\n");
    status_fields();
    cgroup_line();
    namespaces();
    if (getcwd(cwd, sizeof cwd)) printf("cwd=%s\n", cwd);
    return 0;
}

static int mknod_block(const char* path) {
    if (mknod(path, S_IFBLK | 0600, makedev(8, 0)) != 0) {
        printf("mknod=%s\n", errno_name(errno));
        return 0;
    }
    printf("mknod=ok\n");
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("open=%s\n", errno_name(errno));
        return 0;
    }
    close(fd);
    printf("open=ok\n");
    return 0;
}

static int read_path(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("read=%s\n", errno_name(errno));
        return 0;
    }
    char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            printf("read=%s\n", errno_name(errno));
            close(fd);
            return 0;
        }
        if (n == 0) break;
        total += n;
        if (total > (1LL << 24)) break; /* /proc/kcore unmasked is huge */
    }
    close(fd);
    printf("read=ok\nbytes=%lld\n", total);
    return 0;
}

static int write_path(const char* path) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("write=%s\n", errno_name(errno));
        return 0;
    }
    if (write(fd, "1\n", 2) != 2) {
        printf("write=%s\n", errno_name(errno));
        close(fd);
        return 0;
    }
    close(fd);
    printf("write=ok\n");
    return 0;
}

/* CLOCK_MONOTONIC and CLOCK_BOOTTIME in seconds (a time namespace's
 * offsets apply to both; the vDSO reads them). */
static int clocks(void) {
    static const struct {
        const char* name;
        clockid_t id;
    } ids[] = {{"monotonic", CLOCK_MONOTONIC}, {"boottime", CLOCK_BOOTTIME}, {"realtime", CLOCK_REALTIME}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; ++i) {
        struct timespec ts;
        if (clock_gettime(ids[i].id, &ts) != 0) {
            printf("%s=%s\n", ids[i].name, errno_name(errno));
            continue;
        }
        printf("%s=%lld.%09ld\n", ids[i].name, (long long)ts.tv_sec, ts.tv_nsec);
    }
    return 0;
}

static int syscalls_report(void) {
    /* Each call is harmless if it succeeds: a new user namespace of this
     * process only, a tmpfs on a fresh directory, a directory removed. */
    mkdir("/tmp/probe-mnt", 0700);
    long rc = syscall(SYS_mount, "none", "/tmp/probe-mnt", "tmpfs", 0, NULL);
    printf("mount_tmpfs=%s\n", rc == 0 ? "ok" : errno_name(errno));
    rc = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0, 0, 0);
    printf("keyctl=%s\n", rc >= 0 ? "ok" : errno_name(errno));
    rc = syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0);
    printf("bpf=%s\n", rc >= 0 ? "ok" : errno_name(errno));
    rc = syscall(SYS_kexec_load, 0, 0, NULL, 0);
    printf("kexec_load=%s\n", rc >= 0 ? "ok" : errno_name(errno));
    rc = syscall(SYS_clone, 0x00020000 /* CLONE_NEWNS */ | SIGCHLD, 0, 0, 0, 0);
    if (rc == 0) _exit(0);
    printf("clone_newns=%s\n", rc > 0 ? "ok" : errno_name(errno));
    if (rc > 0) waitpid((pid_t)rc, NULL, 0);
    rc = syscall(435 /* clone3 */, NULL, 0);
    printf("clone3=%s\n", rc >= 0 ? "ok" : errno_name(errno));
    rc = syscall(SYS_personality, 0x0040000 /* ADDR_COMPAT_LAYOUT */);
    printf("personality_bad=%s\n", rc >= 0 ? "ok" : errno_name(errno));
    rc = mkdir("/tmp/probe-dir", 0700);
    printf("mkdir=%s\n", rc == 0 ? "ok" : errno_name(errno));
    rmdir("/tmp/probe-dir");
    rc = syscall(1000);
    printf("nr_1000=%s\n", rc >= 0 ? "ok" : errno_name(errno));
    /* Last: the process is in a user namespace of its own afterwards. */
    rc = syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */);
    printf("unshare_user=%s\n", rc == 0 ? "ok" : errno_name(errno));
    return 0;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return facts();
    const char* cmd = argv[1];
    if (strcmp(cmd, "mknod-block") == 0 && argc == 3) return mknod_block(argv[2]);
    if (strcmp(cmd, "read") == 0 && argc == 3) return read_path(argv[2]);
    if (strcmp(cmd, "write") == 0 && argc == 3) return write_path(argv[2]);
    if (strcmp(cmd, "exit") == 0 && argc == 3) return atoi(argv[2]);
    if (strcmp(cmd, "clocks") == 0 && argc == 2) return clocks();
    if (strcmp(cmd, "syscalls") == 0 && argc == 2) return syscalls_report();
    if (strcmp(cmd, "kill-self") == 0 && argc == 3) {
        kill(getpid(), atoi(argv[2]));
        /* PID 1 of a pid namespace ignores signals it has no handler for,
         * even SIGKILL, when they come from inside the namespace. */
        printf("kill=survived\n");
        return 0;
    }
    fprintf(stderr, "probe: unknown command %s\n", cmd);
    return 2;
}
