/* berth_kernel_probe: the kernel's ceiling for berth's container start.
 *
 * Per iteration it makes only the system calls a berth container start and
 * teardown make (engine/runtime/spawn.cc, child.cc, mounts.cc, caps.cc and
 * engine/cgroup/manager.cc), with none of berth's own work (no daemon, no
 * monitor, no JSON, no logs):
 *
 *   cgroups   berth's per-container work on the hierarchies berth uses (read
 *             from /proc/self/cgroup and /proc/self/mountinfo as berth's
 *             manager::detect does): in each, mkdir of the parent (EEXIST),
 *             the cpuset copy (cpuset.cpus/mems, parent then leaf), mkdir of
 *             the leaf, or, in every v1 hierarchy, the rename of a spare
 *             (berth's spare cgroups, engine/cgroup/manager.cc); on cgroup2
 *             the device program (loaded once, as the daemon does) attached
 *             to the leaf
 *   rootfs    mkdir of upper/work/merged
 *   clone     as berth-zygote clones a cold container's init (runtime::
 *             child_heap): clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD|NEWNS|
 *             NEWPID|NEWUTS|NEWIPC[|NEWNET]) on a stack of the worker's, all
 *             signals blocked around it; the child joins every cgroup itself
 *             (cgroup.procs) and resets its signal mask and handlers; the
 *             clone returns at its execve.
 *             With --fork (and --prefork): clone3 of the same namespaces
 *             with CLONE_INTO_CGROUP (the cgroup2 leaf); the parent writes
 *             the pid into every v1 cgroup.procs, then releases the child
 *             over a socket pair
 *   child     unshare(CLONE_NEWCGROUP); / private; overlay (fsopen,
 *             fsconfig lowerdir+/upperdir/workdir, fsmount, move_mount);
 *             pivot_root; /proc; /dev tmpfs with berth's six nodes and six
 *             links, /dev/pts, /dev/shm, /dev/mqueue; /sys; berth's masked
 *             (one tmpfs for the directories, its mount cloned) and
 *             read-only paths; lo up (--net); hostname; stdio on
 *             /dev/null; keepcaps, bounding set, setgroups, setresgid,
 *             setresuid, capset (Docker's default set), ambient cleared;
 *             no_new_privs (--no-new-privs); a compiled seccomp filter
 *             (--seccomp); close_range(CLOEXEC); execve
 *   running   the parent sees EOF on the CLOEXEC exec-status pipe
 *   teardown  waitid on the pidfd; the v1 leaves checked (cgroup.procs,
 *             oom_kill, freezer.state), their counters reset and renamed to
 *             a spare (at most 256), else removed; rmdir of the cgroup2 leaf
 *             (retrying EBUSY every 10 ms as berth does); removal of the
 *             upper and work directories. The overlay and every other mount
 *             live in the container's mount namespace and go with it.
 *
 *   berth_kernel_probe [options] LOWERDIR...
 *     --scratch DIR      where per-iteration upper/work/merged dirs go (required)
 *     -n N               iterations (default 100)
 *     -w W               workers (threads), each one iteration at a time (default 1)
 *     --min-seconds S    keep iterating until S seconds have passed, too (default 0)
 *     --cgroup MODE      "berth" (default): berth's hierarchies; "none"
 *     --net              a new network namespace with lo up (berth's network none)
 *     --no-new-privs     PR_SET_NO_NEW_PRIVS before execve
 *     --seccomp FILE     a raw array of struct sock_filter, loaded with
 *                        seccomp(SECCOMP_SET_MODE_FILTER): right before execve
 *                        with --no-new-privs, else before capset (without
 *                        no_new_privs the load needs CAP_SYS_ADMIN, as in runc)
 *     --exec PATH        the program run in the container (default /bin/true)
 *     --fork             clone3 into a copy of the probe's address space, released
 *                        by the parent (berth's start before CLONE_VM; a pool's)
 *     --json FILE        the figures and every latency sample as JSON ("-": stdout)
 *     --prefork K        the warm pool's floor instead: K containers set up one
 *                        after another, each parked right before its execve
 *                        (everything above done ahead: more than a berth
 *                        sandbox, which leaves the process half to its claim);
 *                        then all released at once (a byte on each one's sync
 *                        socket); figures over the window from the release to
 *                        the last exec-status EOF, latency from the release;
 *                        teardown after it (-n, -w, --min-seconds ignored)
 *
 * SIGINT, SIGTERM and SIGHUP stop it cleanly: no new iteration, the ones in
 * flight are torn down, the figures so far are reported.
 *
 * Latency: from the start of the cgroup work to the exec-status EOF.
 * CPU per container: the whole machine's busy time (/proc/stat, first line:
 * everything but idle and iowait, so kernel workers count) over the run,
 * divided by the containers run.
 */
#define _GNU_SOURCE
/* Paths and messages are cut to their buffers on purpose (error text only). */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#define P_PIDFD_ 3

#define MAX_HIER 16
#define MAX_LOWER 64

struct hierarchy {
    char controllers[128]; /* "" for cgroup2 */
    char own_dir[512];     /* mount + own path */
    char parent[600];      /* own_dir/berth-probe-<pid> */
    int cpuset;
};

static struct hierarchy g_h[MAX_HIER];
static int g_nh;
static int g_device_prog = -1;
static const char *g_lower[MAX_LOWER];
static int g_nlower;
static const char *g_scratch;
static const char *g_exec = "/bin/true";
static int g_net, g_nnp;
static struct sock_fprog g_seccomp;
static int g_have_seccomp;
static long g_n = 100;
static int g_workers = 1;
static long g_prefork; /* --prefork: parked containers released at once */
static int g_fork;     /* --fork (implied by --prefork): clone3, not CLONE_VM */
static double g_window_end; /* --prefork: CLOCK_MONOTONIC s of the last exec */
static double g_min_seconds;
static int g_last_cap;
static long g_next;      /* next iteration number (atomic) */
static int g_failed;     /* set by the first failing worker (atomic) */
static double g_t_start; /* monotonic seconds */

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("berth_kernel_probe: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- small file helpers (as berth's read_file/write_file) ---- */

static int read_text(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
        if (got == size - 1) break;
    }
    close(fd);
    buf[got] = 0;
    return (int)got;
}

static int write_text(const char *path, const char *s) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(s);
    ssize_t n = write(fd, s, len);
    int err = errno;
    close(fd);
    errno = err;
    return n == (ssize_t)len ? 0 : -1;
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = 0;
}

/* ---- cgroups: berth's manager, hybrid/legacy/unified alike ---- */

/* Does the comma-separated list `list` contain `item`? */
static int list_has(const char *list, const char *item) {
    size_t len = strlen(item);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && strncmp(p, item, len) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static void detect_cgroups(void) {
    static char own[8192], info[65536];
    if (read_text("/proc/self/cgroup", own, sizeof own) < 0) die("read /proc/self/cgroup: %s", strerror(errno));
    if (read_text("/proc/self/mountinfo", info, sizeof info) < 0) die("read /proc/self/mountinfo: %s", strerror(errno));
    /* "ID:controllers:path" */
    char mine_ctrl[32][128], mine_path[32][512];
    int nmine = 0;
    for (char *save = NULL, *line = strtok_r(own, "\n", &save); line && nmine < 32; line = strtok_r(NULL, "\n", &save)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        snprintf(mine_ctrl[nmine], sizeof mine_ctrl[0], "%.*s", (int)(b - a - 1), a + 1);
        snprintf(mine_path[nmine], sizeof mine_path[0], "%s", b + 1);
        nmine++;
    }
    struct hierarchy v1[MAX_HIER];
    int nv1 = 0, have_v2 = 0;
    char v2_mount[512] = "";
    for (char *save = NULL, *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *dash = strstr(line, " - ");
        if (!dash) continue;
        *dash = 0;
        char mnt[512], fstype[64], source[256], opts[1024];
        if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1) continue;
        if (sscanf(dash + 3, "%63s %255s %1023s", fstype, source, opts) != 3) continue;
        if (strcmp(fstype, "cgroup2") == 0) {
            if (!have_v2) {
                have_v2 = 1;
                snprintf(v2_mount, sizeof v2_mount, "%s", mnt);
            }
        } else if (strcmp(fstype, "cgroup") == 0 && nv1 < MAX_HIER - 1) {
            /* The controllers are the super options that name one. */
            char ctrls[128] = "";
            char optcopy[1024];
            snprintf(optcopy, sizeof optcopy, "%s", opts);
            for (char *s2 = NULL, *opt = strtok_r(optcopy, ",", &s2); opt; opt = strtok_r(NULL, ",", &s2)) {
                int named = 0;
                for (int i = 0; i < nmine && !named; ++i)
                    if (mine_ctrl[i][0] && list_has(mine_ctrl[i], opt)) named = 1;
                if (!named) continue;
                if (ctrls[0]) strncat(ctrls, ",", sizeof ctrls - strlen(ctrls) - 1);
                strncat(ctrls, opt, sizeof ctrls - strlen(ctrls) - 1);
            }
            if (!ctrls[0]) continue;
            for (int i = 0; i < nmine; ++i)
                if (strcmp(mine_ctrl[i], ctrls) == 0) {
                    struct hierarchy *h = &v1[nv1++];
                    snprintf(h->controllers, sizeof h->controllers, "%s", ctrls);
                    snprintf(h->own_dir, sizeof h->own_dir, "%s%s", mnt,
                             strcmp(mine_path[i], "/") == 0 ? "" : mine_path[i]);
                    h->cpuset = list_has(ctrls, "cpuset");
                }
        }
    }
    if (have_v2) {
        /* cgroup2 first, as berth orders them. */
        struct hierarchy *h = &g_h[g_nh++];
        h->controllers[0] = 0;
        const char *p = "/";
        for (int i = 0; i < nmine; ++i)
            if (!mine_ctrl[i][0]) p = mine_path[i];
        snprintf(h->own_dir, sizeof h->own_dir, "%s%s", v2_mount, strcmp(p, "/") == 0 ? "" : p);
        h->cpuset = 0;
    }
    for (int i = 0; i < nv1; ++i) g_h[g_nh++] = v1[i];
    if (!g_nh) die("no cgroup hierarchy is mounted");
    if (nv1 == 0) die("a unified (cgroup2-only) host: not supported yet (berth's leaves and subtree_control there)");
    for (int i = 0; i < g_nh; ++i)
        snprintf(g_h[i].parent, sizeof g_h[i].parent, "%s/berth-probe-%d", g_h[i].own_dir, (int)getpid());
}

/* berth's default_device_rules() as a BPF_PROG_TYPE_CGROUP_DEVICE program
 * (engine/cgroup/device_filter.cc); loaded once, attached per container. */
struct dev_rule {
    char type;
    int major, minor;
    unsigned access;
};

static struct bpf_insn mk(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    struct bpf_insn i;
    memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

static int load_device_program(void) {
    const unsigned all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
    const struct dev_rule rules[] = {
        {'c', -1, -1, BPF_DEVCG_ACC_MKNOD}, {'b', -1, -1, BPF_DEVCG_ACC_MKNOD}, {'c', 1, 3, all},
        {'c', 1, 5, all}, {'c', 1, 7, all}, {'c', 1, 8, all}, {'c', 1, 9, all}, {'c', 5, 0, all},
        {'c', 5, 1, all}, {'c', 5, 2, all}, {'c', 136, -1, all}, {'c', 10, 200, all},
    };
    struct bpf_insn p[256];
    int n = 0;
    p[n++] = mk(BPF_LDX | BPF_MEM | BPF_W, 2, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
    p[n++] = mk(BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
    p[n++] = mk(BPF_LDX | BPF_MEM | BPF_W, 3, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
    p[n++] = mk(BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16);
    p[n++] = mk(BPF_LDX | BPF_MEM | BPF_W, 4, 1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
    p[n++] = mk(BPF_LDX | BPF_MEM | BPF_W, 5, 1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; ++r) {
        const struct dev_rule *d = &rules[r];
        int start = n, jumps[4], nj = 0;
        if (d->type != 'a') {
            jumps[nj++] = n;
            p[n++] = mk(BPF_JMP32 | BPF_JNE | BPF_K, 2, 0, 0, d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
        }
        if ((d->access & all) != all) {
            jumps[nj++] = n;
            p[n++] = mk(BPF_JMP32 | BPF_JSET | BPF_K, 3, 0, 0, (int32_t)(~d->access & all));
        }
        if (d->major >= 0) {
            jumps[nj++] = n;
            p[n++] = mk(BPF_JMP32 | BPF_JNE | BPF_K, 4, 0, 0, d->major);
        }
        if (d->minor >= 0) {
            jumps[nj++] = n;
            p[n++] = mk(BPF_JMP32 | BPF_JNE | BPF_K, 5, 0, 0, d->minor);
        }
        p[n++] = mk(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
        p[n++] = mk(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        for (int j = 0; j < nj; ++j) p[jumps[j]].off = (int16_t)(n - jumps[j] - 1);
        (void)start;
    }
    p[n++] = mk(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
    p[n++] = mk(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    static const char license[] = "GPL";
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uintptr_t)p;
    attr.insn_cnt = (uint32_t)n;
    attr.license = (uintptr_t)license;
    long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    if (fd < 0) die("load device program: %s", strerror(errno));
    return (int)fd;
}

/* berth's copy_cpuset(parent, dir). */
static int copy_cpuset(const char *parent, const char *dir) {
    static const char *files[] = {"cpuset.cpus", "cpuset.mems"};
    for (int i = 0; i < 2; ++i) {
        char path[1024], v[256];
        snprintf(path, sizeof path, "%s/%s", parent, files[i]);
        if (read_text(path, v, sizeof v) < 0) continue;
        trim(v);
        if (!v[0]) {
            char up[1024], pv[256];
            snprintf(up, sizeof up, "%s", parent);
            char *slash = strrchr(up, '/');
            if (slash) *slash = 0;
            snprintf(path, sizeof path, "%s/%s", up, files[i]);
            if (read_text(path, pv, sizeof pv) >= 0) {
                trim(pv);
                snprintf(path, sizeof path, "%s/%s", parent, files[i]);
                (void)write_text(path, pv);
                snprintf(v, sizeof v, "%s", pv);
            }
        }
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (write_text(path, v) != 0) return -1;
    }
    return 0;
}

struct box {
    char id[32];
    char dir[1024];    /* scratch/<id> */
    char upper[1100], work[1100], merged[1100];
    char leaf[MAX_HIER][700];
    char procs[MAX_HIER][720];
    int v2; /* index of the cgroup2 hierarchy, or -1 */
};

/* As berth's manager::create: the parents are made once (a v1 cpuset
 * parent with cgroup.clone_children, so that its children inherit cpus and
 * mems); later containers only mkdir their leaves. */
static atomic_int g_parents_ready;
static atomic_int g_cpuset_inherits = 1;

/* berth's spare cgroups (manager::keep_as_spare, take_spare): a removed
 * container's v1 leaves, checked and their counters reset, are renamed to
 * a spare that the next create renames into place; cgroup2's leaf is made
 * and removed anew. At most K_MAX_SPARES, removed at exit. */
#define K_MAX_SPARES 256
static pthread_mutex_t g_spares_mu = PTHREAD_MUTEX_INITIALIZER;
static long g_spares[K_MAX_SPARES];
static int g_nspares;
static long g_next_spare;

static void spare_path(char *out, size_t size, int h, long n) {
    snprintf(out, size, "%s/.spare-%ld", g_h[h].parent, n);
}

static long take_spare(void) {
    pthread_mutex_lock(&g_spares_mu);
    long n = g_nspares ? g_spares[--g_nspares] : -1;
    pthread_mutex_unlock(&g_spares_mu);
    return n;
}

/* The reset of one v1 knob: a file this kernel lacks is fine. */
static int reset_knob(const char *dir, const char *file, const char *value) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return write_text(path, value) == 0 || errno == ENOENT ? 0 : -1;
}

/* berth's reset_for_reuse of one hierarchy's leaf. */
static int reset_for_reuse(const struct hierarchy *h, const char *dir) {
    char path[1024], text[4096];
    if (list_has(h->controllers, "memory")) {
        snprintf(path, sizeof path, "%s/memory.oom_control", dir);
        if (read_text(path, text, sizeof text) < 0) return -1;
        char *k = strstr(text, "oom_kill ");
        if (k && atol(k + 9) > 0) return -1;
        static const char *const files[] = {"memory.max_usage_in_bytes", "memory.failcnt",
                                            "memory.memsw.max_usage_in_bytes", "memory.memsw.failcnt",
                                            "memory.kmem.max_usage_in_bytes", "memory.kmem.failcnt",
                                            "memory.kmem.tcp.max_usage_in_bytes", "memory.kmem.tcp.failcnt"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i)
            if (reset_knob(dir, files[i], "0") != 0) return -1;
    }
    if (list_has(h->controllers, "cpuacct") && reset_knob(dir, "cpuacct.usage", "0") != 0) return -1;
    if (list_has(h->controllers, "blkio") && reset_knob(dir, "blkio.reset_stats", "1") != 0) return -1;
    if (list_has(h->controllers, "freezer")) {
        snprintf(path, sizeof path, "%s/freezer.state", dir);
        if (read_text(path, text, sizeof text) < 0) return -1;
        trim(text);
        if (strcmp(text, "THAWED") != 0) return -1;
    }
    return 0;
}

/* 1 when the box's v1 leaves became a spare. */
static int g_reserved; /* spare slots claimed by keep_as_spare in flight */

static int keep_as_spare(struct box *b) {
    pthread_mutex_lock(&g_spares_mu);
    long n = g_nspares + g_reserved < K_MAX_SPARES ? g_next_spare++ : -1;
    if (n >= 0) g_reserved++;
    pthread_mutex_unlock(&g_spares_mu);
    if (n < 0) return 0;
    char text[4096], path[1024];
    int first = -1;
    for (int i = 0; i < g_nh && first < 0; ++i)
        if (g_h[i].controllers[0]) first = i;
    int ok = first >= 0;
    for (int i = 0; ok && i < g_nh; ++i)
        if (g_h[i].controllers[0] && (read_text(b->procs[i], text, sizeof text) != 0 ||
                                      reset_for_reuse(&g_h[i], b->leaf[i]) != 0))
            ok = 0;
    for (int i = 0; ok && i < g_nh; ++i) {
        if (!g_h[i].controllers[0]) continue;
        spare_path(path, sizeof path, i, n);
        if (rename(b->leaf[i], path) != 0) {
            for (int j = 0; j < i; ++j)
                if (g_h[j].controllers[0]) {
                    spare_path(path, sizeof path, j, n);
                    (void)rmdir(path);
                }
            ok = 0;
        }
    }
    pthread_mutex_lock(&g_spares_mu);
    g_reserved--;
    if (ok) g_spares[g_nspares++] = n;
    pthread_mutex_unlock(&g_spares_mu);
    return ok;
}

static void drop_spares(void) {
    char path[1024];
    for (int k = 0; k < g_nspares; ++k)
        for (int i = 0; i < g_nh; ++i)
            if (g_h[i].controllers[0]) {
                spare_path(path, sizeof path, i, g_spares[k]);
                (void)rmdir(path);
            }
    g_nspares = 0;
}

static int cgroup_create(struct box *b) {
    b->v2 = -1;
    const int ready = atomic_load(&g_parents_ready);
    long spare = ready ? take_spare() : -1;
    if (spare >= 0) {
        char path[1024];
        for (int i = 0; i < g_nh; ++i) {
            if (!g_h[i].controllers[0]) continue;
            spare_path(path, sizeof path, i, spare);
            if (rename(path, b->leaf[i]) != 0) {
                /* berth's take_spare: the renamed ones and the rest of the spare go */
                int err = errno;
                for (int j = 0; j < g_nh; ++j)
                    if (g_h[j].controllers[0]) {
                        spare_path(path, sizeof path, j, spare);
                        (void)rmdir(j < i ? b->leaf[j] : path);
                    }
                errno = err;
                return -1;
            }
        }
    }
    for (int i = 0; i < g_nh; ++i) {
        if (spare >= 0 && g_h[i].controllers[0]) continue; /* renamed into place */
        struct hierarchy *h = &g_h[i];
        if (!ready) {
            if (mkdir(h->parent, 0755) != 0 && errno != EEXIST) return -1;
            if (h->cpuset) {
                if (copy_cpuset(h->own_dir, h->parent) != 0) return -1;
                char cc[1024];
                snprintf(cc, sizeof cc, "%s/cgroup.clone_children", h->parent);
                atomic_store(&g_cpuset_inherits, write_text(cc, "1") == 0);
            }
        }
        if (mkdir(b->leaf[i], 0755) != 0) return -1;
        if (h->cpuset && !atomic_load(&g_cpuset_inherits) && copy_cpuset(h->parent, b->leaf[i]) != 0) return -1;
        if (!h->controllers[0]) {
            b->v2 = i;
            if (g_device_prog >= 0) {
                int dfd = open(b->leaf[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0) return -1;
                union bpf_attr attr;
                memset(&attr, 0, sizeof attr);
                attr.target_fd = (uint32_t)dfd;
                attr.attach_bpf_fd = (uint32_t)g_device_prog;
                attr.attach_type = BPF_CGROUP_DEVICE;
                attr.attach_flags = BPF_F_ALLOW_MULTI;
                long rc = syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
                int err = errno;
                close(dfd);
                errno = err;
                if (rc != 0) return -1;
            }
        }
    }
    atomic_store(&g_parents_ready, 1);
    return 0;
}

static int cgroup_remove(struct box *b) {
    int rc = 0;
    /* v1 leaves first (kept as a spare when they can be), then cgroup2
     * (berth's manager::remove). */
    const int kept = keep_as_spare(b);
    for (int pass = kept; pass < 2; ++pass)
        for (int i = 0; i < g_nh; ++i) {
            if ((pass == 0) != (i != b->v2)) continue;
            for (int attempt = 0;; ++attempt) {
                if (rmdir(b->leaf[i]) == 0 || errno == ENOENT) break;
                if (errno == EBUSY && attempt < 50) {
                    struct timespec ts = {0, 10 * 1000 * 1000};
                    nanosleep(&ts, NULL);
                    continue;
                }
                rc = -1;
                break;
            }
        }
    return rc;
}

/* ---- the container child: async-signal-safe code only (a copy of one
 * thread of a multithreaded process); every string is made beforehand. ---- */

static const char *const k_masked[] = {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                                       "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                                       "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                                       "/sys/devices/virtual/powercap"};
static const char *const k_readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
/* Docker's default capabilities (engine/runtime/spec.cc default_capabilities). */
static const int k_caps[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL,
                             CAP_SETGID, CAP_SETUID, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_NET_RAW,
                             CAP_SYS_CHROOT, CAP_MKNOD, CAP_AUDIT_WRITE, CAP_SETFCAP};

static uint64_t cap_mask(void) {
    uint64_t m = 0;
    for (size_t i = 0; i < sizeof k_caps / sizeof k_caps[0]; ++i) m |= (uint64_t)1 << k_caps[i];
    return m;
}

__attribute__((noreturn)) static void child_fail(int status_fd, const char *what) {
    int err = errno;
    char msg[256];
    size_t n = 0;
    for (const char *p = what; *p && n < 200; ++p) msg[n++] = *p;
    msg[n++] = ':';
    msg[n++] = ' ';
    const char *e = strerrorname_np(err);
    for (const char *p = e ? e : "?"; *p && n < 250; ++p) msg[n++] = *p;
    (void)!write(status_fd, msg, n);
    _exit(1);
}

#define CHECK(call, what) \
    do {                  \
        if ((call) != 0) child_fail(status_fd, what); \
    } while (0)

static int ensure_dir(const char *path, mode_t mode) {
    struct stat st;
    if (lstat(path, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
    if (errno != ENOENT) return -1;
    return mkdir(path, mode);
}

static int mkdir_ok(const char *path, mode_t mode) { return mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -1; }

static int mount_overlay(const struct box *b) {
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    for (int i = 0; i < g_nlower; ++i)
        if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", g_lower[i], 0) != 0) return -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", b->upper, 0) != 0) return -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", b->work, 0) != 0) return -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) return -1;
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
    if (mnt < 0) return -1;
    close(fs);
    if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, b->merged, MOVE_MOUNT_F_EMPTY_PATH) != 0) return -1;
    close(mnt);
    return 0;
}

static int mount_dev(void) {
    if (ensure_dir("/dev", 0755) != 0) return -1;
    if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") != 0) return -1;
    static const struct {
        const char *path;
        unsigned major, minor;
    } nodes[] = {{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
                 {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; ++i)
        if (mknod(nodes[i].path, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) != 0) return -1;
    static const char *const links[][2] = {{"pts/ptmx", "/dev/ptmx"},         {"/proc/self/fd", "/dev/fd"},
                                           {"/proc/self/fd/0", "/dev/stdin"}, {"/proc/self/fd/1", "/dev/stdout"},
                                           {"/proc/self/fd/2", "/dev/stderr"}, {"/proc/kcore", "/dev/core"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; ++i)
        if (symlink(links[i][0], links[i][1]) != 0) return -1;
    if (mkdir_ok("/dev/pts", 0755) != 0) return -1;
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0)
        return -1;
    if (mkdir_ok("/dev/shm", 01777) != 0) return -1;
    if (mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=67108864") != 0) return -1;
    if (mkdir_ok("/dev/mqueue", 0755) != 0) return -1;
    if (mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return -1;
    return 0;
}

/* As berth: one read-only tmpfs for all the masked directories, the first
 * mounted, the others clones of its mount; *first remembers which. */
static int mask_path(const char *path, const char **first) {
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return mount("/dev/null", path, NULL, MS_BIND, NULL);
    if (!*first) {
        *first = path;
        return mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    }
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, *first, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return -1;
    int r = (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
    close(tree);
    return r;
}

static int make_readonly(const char *path) {
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) return errno == ENOENT ? 0 : -1;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr);
}

static int lo_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return -1;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) return -1;
    close(s);
    return 0;
}

static int load_seccomp(void) {
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &g_seccomp);
}

__attribute__((noreturn)) static void run_child(const struct box *b, int sync_fd, int status_fd, char *const argv[],
                                                char *const envp[]) {
    char byte;
    ssize_t n;
    if (sync_fd >= 0) {
        do n = read(sync_fd, &byte, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) _exit(1);
        if (!g_prefork) close(sync_fd); /* else CLOEXEC: open until the exec */
    } else {
        /* Cloned with CLONE_VM: its cgroups its own work; signals as berth's
         * child leaves them (the handlers the probe set, the mask blocked
         * around the clone). */
        for (int i = 0; i < g_nh; ++i) CHECK(write_text(b->procs[i], "0"), "join cgroup");
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
    }
    umask(0);
    CHECK(unshare(CLONE_NEWCGROUP), "unshare cgroup namespace");
    CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
    CHECK(mount_overlay(b), "mount overlay");
    CHECK(chdir(b->merged), "chdir rootfs");
    CHECK((int)syscall(SYS_pivot_root, ".", "."), "pivot_root");
    CHECK(umount2(".", MNT_DETACH), "detach old root");
    CHECK(chdir("/"), "chdir /");
    CHECK(ensure_dir("/proc", 0755), "mkdir /proc");
    CHECK(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount /proc");
    CHECK(mount_dev(), "mount /dev");
    CHECK(ensure_dir("/sys", 0755), "mkdir /sys");
    CHECK(mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount /sys");
    const char *masked_dir = NULL;
    for (size_t i = 0; i < sizeof k_masked / sizeof k_masked[0]; ++i)
        CHECK(mask_path(k_masked[i], &masked_dir), k_masked[i]);
    for (size_t i = 0; i < sizeof k_readonly / sizeof k_readonly[0]; ++i)
        CHECK(make_readonly(k_readonly[i]), k_readonly[i]);
    if (g_net) CHECK(lo_up(), "bring lo up");
    CHECK(sethostname(b->id, 12), "sethostname");
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) child_fail(status_fd, "open /dev/null");
    for (int i = 0; i < 3; ++i)
        if (dup2(null, i) < 0) child_fail(status_fd, "dup2 stdio");
    CHECK(chdir("/"), "chdir cwd");
    const uint64_t caps = cap_mask();
    CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "keepcaps");
    for (int c = 0; c <= g_last_cap; ++c)
        if (!(caps & ((uint64_t)1 << c))) CHECK(prctl(PR_CAPBSET_DROP, c, 0, 0, 0), "drop bounding cap");
    CHECK((int)syscall(SYS_setgroups, 0, NULL), "setgroups");
    CHECK((int)syscall(SYS_setresgid, 0, 0, 0), "setresgid");
    CHECK((int)syscall(SYS_setresuid, 0, 0, 0), "setresuid");
    if (g_have_seccomp && !g_nnp) CHECK(load_seccomp(), "load seccomp filter");
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; ++i) data[i].effective = data[i].permitted = (uint32_t)(caps >> (32 * i));
    CHECK((int)syscall(SYS_capset, &hdr, data), "capset");
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient");
    if (g_nnp) CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs");
    umask(022);
    CHECK((int)syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC), "close_range");
    if (g_have_seccomp && g_nnp) CHECK(load_seccomp(), "load seccomp filter");
    if (g_prefork) {
        /* Parked: tells the parent, then waits for its release. */
        if (write(sync_fd, "\1", 1) != 1) _exit(1);
        do n = read(sync_fd, &byte, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) _exit(1);
    }
    execve(argv[0], argv, envp);
    child_fail(status_fd, "execve");
}

/* ---- the parent's side of one iteration ---- */

static int rm_tree_at(int at, const char *name) {
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return unlinkat(at, name, 0) == 0 || errno == ENOENT ? 0 : -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (e->d_type == DT_DIR) {
            if (rm_tree_at(dirfd(d), e->d_name) != 0) rc = -1;
        } else if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT) {
            rc = -1;
        }
    }
    closedir(d);
    if (unlinkat(at, name, AT_REMOVEDIR) != 0 && errno != ENOENT) rc = -1;
    return rc;
}

struct worker {
    pthread_t thread;
    int index;
    double *samples;
    long count, cap;
    double wait_s, cgroup_rm_s, tree_rm_s; /* teardown phases, summed */
    char *stack_top;                       /* its CLONE_VM children's stack */
    char error[512];
};

/* A container between its clone3 and its teardown. */
struct started {
    struct box b;
    int pidfd, sync_fd, status_fd; /* sync_fd: -1 once released */
    double t0, t_running;
};

/* Only fd (and stdio) kept, as a berth child has: not the other
 * containers' (the parked ones' before it, another worker's in flight),
 * which would stay open until its exec. */
static void close_all_but(int a, int b) {
    const int lo = a < b ? a : b, hi = a < b ? b : a;
    if (lo > 3) (void)syscall(SYS_close_range, 3, lo - 1, 0);
    if (hi > lo + 1) (void)syscall(SYS_close_range, lo + 1, hi - 1, 0);
    (void)syscall(SYS_close_range, hi + 1, ~0U, 0);
}

struct shared_memory_start {
    const struct box *b;
    int status_fd;
    char *const *argv, *const *envp;
};

static int shared_memory_child(void *arg) {
    const struct shared_memory_start *v = arg;
    close_all_but(v->status_fd, v->status_fd);
    run_child(v->b, -1, v->status_fd, v->argv, v->envp);
}

/* cgroups, directories, clone3 into them, the v1 placement; then releases
 * the child (with --prefork it sets up and parks before its exec). Without
 * --fork: the clone returns at the child's exec, the child joined its
 * cgroups. */
static int box_start(struct worker *w, long iter, struct started *s) {
    struct box *b = &s->b;
    memset(s, 0, sizeof *s);
    s->pidfd = s->sync_fd = s->status_fd = -1;
    snprintf(b->id, sizeof b->id, "%04x%08lx%012lx", (unsigned)getpid() & 0xffff, (unsigned long)iter & 0xffffffff,
             (unsigned long)w->index);
    snprintf(b->dir, sizeof b->dir, "%s/%s", g_scratch, b->id);
    snprintf(b->upper, sizeof b->upper, "%s/upper", b->dir);
    snprintf(b->work, sizeof b->work, "%s/work", b->dir);
    snprintf(b->merged, sizeof b->merged, "%s/merged", b->dir);
    for (int i = 0; i < g_nh; ++i) {
        snprintf(b->leaf[i], sizeof b->leaf[i], "%s/%s", g_h[i].parent, b->id);
        snprintf(b->procs[i], sizeof b->procs[i], "%s/cgroup.procs", b->leaf[i]);
    }
    char hostname_env[64], *argv[] = {(char *)g_exec, NULL};
    snprintf(hostname_env, sizeof hostname_env, "HOSTNAME=%.12s", b->id);
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", hostname_env,
                    "HOME=/root", NULL};

    s->t0 = now_s();
    if (cgroup_create(b) != 0) {
        snprintf(w->error, sizeof w->error, "create cgroups of %s: %s", b->id, strerror(errno));
        cgroup_remove(b);
        return -1;
    }
    if (mkdir(b->dir, 0700) != 0 || mkdir(b->upper, 0755) != 0 || mkdir(b->work, 0700) != 0 ||
        mkdir(b->merged, 0755) != 0) {
        snprintf(w->error, sizeof w->error, "mkdir %s: %s", b->dir, strerror(errno));
        cgroup_remove(b);
        return -1;
    }
    int sync[2], status[2];
    if (!g_fork) {
        if (pipe2(status, O_CLOEXEC) != 0) die("pipe: %s", strerror(errno));
        struct shared_memory_start v = {b, status[1], argv, envp};
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int pidfd = -1;
        const int pid = clone(shared_memory_child, w->stack_top,
                              CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
                                  CLONE_NEWIPC | (g_net ? CLONE_NEWNET : 0) | SIGCHLD,
                              &v, &pidfd);
        const int err = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        close(status[1]);
        s->status_fd = status[0];
        if (pid < 0) {
            snprintf(w->error, sizeof w->error, "clone: %s", strerror(err));
            return -1;
        }
        s->pidfd = pidfd;
        return 0;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) != 0 || pipe2(status, O_CLOEXEC) != 0)
        die("pipes: %s", strerror(errno));
    int cg = -1;
    if (b->v2 >= 0) {
        cg = open(b->leaf[b->v2], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cg < 0) die("open %s: %s", b->leaf[b->v2], strerror(errno));
    }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_PIDFD | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | (g_net ? CLONE_NEWNET : 0);
    if (cg >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cg;
    }
    args.pidfd = (uintptr_t)&s->pidfd;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) {
        snprintf(w->error, sizeof w->error, "clone3: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close_all_but(sync[0], status[1]);
        run_child(b, sync[0], status[1], argv, envp);
    }
    close(sync[0]);
    close(status[1]);
    if (cg >= 0) close(cg);
    s->sync_fd = sync[1];
    s->status_fd = status[0];
    char pidtext[24];
    snprintf(pidtext, sizeof pidtext, "%ld", pid);
    for (int i = 0; i < g_nh; ++i)
        if (i != b->v2 && write_text(b->procs[i], pidtext) != 0) {
            snprintf(w->error, sizeof w->error, "write %s: %s", b->procs[i], strerror(errno));
            return -1;
        }
    if (send(s->sync_fd, "\1", 1, MSG_NOSIGNAL) != 1) {
        snprintf(w->error, sizeof w->error, "release child: %s", strerror(errno));
        return -1;
    }
    if (!g_prefork) {
        close(s->sync_fd);
        s->sync_fd = -1;
    }
    return 0;
}

/* Reads the exec-status pipe (a child's error, or EOF at its exec); with
 * `block` 0 it returns 1 while the pipe is still open. Removes it from the
 * epoll set `ep` (if >= 0) before closing it: the parked children hold
 * copies of the others' descriptors until their exec, so a close alone
 * would not. */
static int box_status(struct worker *w, struct started *s, int block, int ep) {
    char msg[512];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(s->status_fd, msg + got, sizeof msg - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN && !block) {
            if (!got) return 1;
            /* Part of an error: the rest and the EOF follow (the child exits). */
            struct pollfd pfd = {.fd = s->status_fd, .events = POLLIN};
            (void)poll(&pfd, 1, -1);
            continue;
        }
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof msg - 1) break;
    }
    s->t_running = now_s();
    if (ep >= 0) (void)epoll_ctl(ep, EPOLL_CTL_DEL, s->status_fd, NULL);
    close(s->status_fd);
    s->status_fd = -1;
    if (got) {
        msg[got] = 0;
        snprintf(w->error, sizeof w->error, "container set-up: %s", msg);
        return -1;
    }
    return 0;
}

/* Teardown: the exit, the cgroups, upper and work; the phases summed in w.
 * rc: the container's outcome so far (its first error is kept). */
static int box_finish(struct worker *w, struct started *s, int rc) {
    if (s->sync_fd >= 0) close(s->sync_fd); /* a parked child not released exits */
    if (s->status_fd >= 0) close(s->status_fd);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    double t2 = now_s();
    if (s->pidfd >= 0) {
        while (waitid((idtype_t)P_PIDFD_, (id_t)s->pidfd, &info, WEXITED) != 0 && errno == EINTR) {
        }
        close(s->pidfd);
        if (rc == 0 && (info.si_code != CLD_EXITED || info.si_status != 0)) {
            snprintf(w->error, sizeof w->error, "%s exited with code %d", g_exec, info.si_status);
            rc = -1;
        }
    }
    double t3 = now_s();
    if (cgroup_remove(&s->b) != 0 && rc == 0) {
        snprintf(w->error, sizeof w->error, "remove cgroups of %s: %s", s->b.id, strerror(errno));
        rc = -1;
    }
    double t4 = now_s();
    if (rm_tree_at(AT_FDCWD, s->b.dir) != 0 && rc == 0) {
        snprintf(w->error, sizeof w->error, "remove %s: %s", s->b.dir, strerror(errno));
        rc = -1;
    }
    w->wait_s += t3 - t2;
    w->cgroup_rm_s += t4 - t3;
    w->tree_rm_s += now_s() - t4;
    return rc;
}

static void add_sample(struct worker *w, double latency) {
    if (w->count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->samples = realloc(w->samples, (size_t)w->cap * sizeof(double));
        if (!w->samples) die("out of memory");
    }
    w->samples[w->count++] = latency;
}

static int one_iteration(struct worker *w, long iter) {
    struct started s;
    int rc = box_start(w, iter, &s);
    if (rc == 0) rc = box_status(w, &s, 1, -1);
    const double latency = s.t_running - s.t0;
    rc = box_finish(w, &s, rc);
    if (rc == 0) add_sample(w, latency);
    return rc;
}

/* SIGINT, SIGTERM, SIGHUP: no new iteration; the ones in flight finish
 * with their teardown, so that no cgroup or directory is left behind. */
static volatile sig_atomic_t g_stop;

static void on_stop_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    if (!g_fork) {
        const size_t size = 256 * 1024;
        char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) die("map a stack: %s", strerror(errno));
        w->stack_top = stack + size;
    }
    for (;;) {
        if (__atomic_load_n(&g_failed, __ATOMIC_RELAXED) || g_stop) break;
        long i = __atomic_fetch_add(&g_next, 1, __ATOMIC_RELAXED);
        if (i >= g_n && now_s() - g_t_start >= g_min_seconds) break;
        if (one_iteration(w, i) != 0) {
            __atomic_store_n(&g_failed, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    return NULL;
}

/* ---- figures ---- */

struct cpu_times {
    unsigned long long busy, total;
};

static struct cpu_times read_cpu(void) {
    char buf[512];
    struct cpu_times t = {0, 0};
    if (read_text("/proc/stat", buf, sizeof buf) < 0) return t;
    unsigned long long v[10] = {0};
    sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
           &v[6], &v[7], &v[8], &v[9]);
    /* user nice system idle iowait irq softirq steal (guest is in user) */
    for (int i = 0; i < 8; ++i) t.total += v[i];
    t.busy = t.total - v[3] - v[4];
    return t;
}

/* --prefork K: K containers set up one after another, each parked right
 * before its execve (the kernel's part of a warm pool's sandbox, made
 * ahead); then all released at once, as a burst of claims: latency from the
 * release to each exec-status EOF, the window to the last one. Teardown
 * after the window. */
static int prefork_burst(struct worker *w, double *window_s, double *window_cpu_s) {
    struct started *boxes = calloc((size_t)g_prefork, sizeof *boxes);
    if (!boxes) die("out of memory");
    long made = 0;
    int rc = 0;
    for (; made < g_prefork && rc == 0 && !g_stop; ++made) {
        rc = box_start(w, made, &boxes[made]);
        char byte;
        ssize_t n = 0;
        while (rc == 0 && (n = read(boxes[made].sync_fd, &byte, 1)) < 0 && errno == EINTR) {
        }
        if (rc == 0 && n != 1) {
            (void)box_status(w, &boxes[made], 1, -1); /* its error, if it wrote one */
            if (!w->error[0]) snprintf(w->error, sizeof w->error, "a child exited before it parked");
            rc = -1;
        }
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    for (long i = 0; i < made && rc == 0; ++i) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (fcntl(boxes[i].status_fd, F_SETFL, O_NONBLOCK) != 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, boxes[i].status_fd, &ev) != 0)
            die("epoll: %s", strerror(errno));
    }
    struct cpu_times c0 = read_cpu();
    const double t0 = now_s();
    double last = t0;
    long pending = 0;
    for (long i = 0; i < made && rc == 0; ++i, ++pending) {
        if (send(boxes[i].sync_fd, "\1", 1, MSG_NOSIGNAL) != 1) {
            snprintf(w->error, sizeof w->error, "release parked child: %s", strerror(errno));
            rc = -1;
        }
        close(boxes[i].sync_fd);
        boxes[i].sync_fd = -1;
        boxes[i].t0 = t0;
    }
    while (pending > 0) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; ++k) {
            struct started *s = &boxes[evs[k].data.u64];
            if (s->status_fd < 0) continue;
            const int r = box_status(w, s, 0, ep);
            if (r == 1) continue;
            pending--;
            last = s->t_running;
            if (r != 0) rc = -1;
            else add_sample(w, s->t_running - s->t0);
        }
    }
    struct cpu_times c1 = read_cpu();
    close(ep);
    *window_s = last - t0;
    g_window_end = last;
    *window_cpu_s = (double)(c1.busy - c0.busy) / (double)sysconf(_SC_CLK_TCK);
    /* Unreleased ones (a failure) see EOF on their socket and exit. */
    for (long i = 0; i < made; ++i)
        if (boxes[i].sync_fd >= 0) {
            close(boxes[i].sync_fd);
            boxes[i].sync_fd = -1;
        }
    for (long i = 0; i < made; ++i) rc = box_finish(w, &boxes[i], rc) != 0 ? -1 : rc;
    free(boxes);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *s, long n, double p) {
    if (n == 0) return 0;
    long k = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    if (k < 0) k = 0;
    if (k > n - 1) k = n - 1;
    return s[k];
}

static void usage(void) {
    fprintf(stderr,
            "usage: berth_kernel_probe --scratch DIR [-n N] [-w W] [--min-seconds S] [--cgroup berth|none]\n"
            "                          [--net] [--no-new-privs] [--seccomp FILE] [--exec PATH] [--fork] [--prefork K]\n"
            "                          [--json FILE]\n"
            "                          LOWERDIR...\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *json = NULL, *seccomp_file = NULL, *cgroup_mode = "berth";
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--scratch") == 0 && next) g_scratch = argv[++i];
        else if (strcmp(a, "-n") == 0 && next) g_n = atol(argv[++i]);
        else if (strcmp(a, "-w") == 0 && next) g_workers = atoi(argv[++i]);
        else if (strcmp(a, "--min-seconds") == 0 && next) g_min_seconds = atof(argv[++i]);
        else if (strcmp(a, "--cgroup") == 0 && next) cgroup_mode = argv[++i];
        else if (strcmp(a, "--net") == 0) g_net = 1;
        else if (strcmp(a, "--no-new-privs") == 0) g_nnp = 1;
        else if (strcmp(a, "--seccomp") == 0 && next) seccomp_file = argv[++i];
        else if (strcmp(a, "--exec") == 0 && next) g_exec = argv[++i];
        else if (strcmp(a, "--json") == 0 && next) json = argv[++i];
        else if (strcmp(a, "--prefork") == 0 && next) g_prefork = atol(argv[++i]);
        else if (strcmp(a, "--fork") == 0) g_fork = 1;
        else if (a[0] == '-') usage();
        else if (g_nlower < MAX_LOWER) g_lower[g_nlower++] = a;
        else die("too many lower directories (at most %d)", MAX_LOWER);
    }
    if (!g_scratch || !g_nlower || g_n < 1 || g_workers < 1 || g_prefork < 0) usage();
    if (g_prefork) g_fork = 1; /* a parked child lives on: its own address space */
    if (g_prefork) {
        /* Three descriptors per parked container, within the hard limit. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
            nofile.rlim_cur = nofile.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &nofile);
        }
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && (rlim_t)g_prefork * 3 + 64 > nofile.rlim_cur)
            die("--prefork %ld: needs %ld descriptors, RLIMIT_NOFILE is %lu", g_prefork, g_prefork * 3 + 64,
                (unsigned long)nofile.rlim_cur);
    }
    if (strcmp(cgroup_mode, "berth") == 0) {
        detect_cgroups();
        for (int i = 0; i < g_nh; ++i)
            if (!g_h[i].controllers[0]) g_device_prog = load_device_program();
    } else if (strcmp(cgroup_mode, "none") != 0) {
        die("--cgroup %s: expected \"berth\" or \"none\"", cgroup_mode);
    }
    if (seccomp_file) {
        static char buf[1 << 20];
        int fd = open(seccomp_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open %s: %s", seccomp_file, strerror(errno));
        ssize_t got = 0, n;
        while ((n = read(fd, buf + got, sizeof buf - (size_t)got)) > 0) got += n;
        close(fd);
        if (got <= 0 || got % (ssize_t)sizeof(struct sock_filter) != 0 ||
            got / (ssize_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
            die("%s: not an array of struct sock_filter (%zd bytes)", seccomp_file, got);
        g_seccomp.len = (unsigned short)(got / (ssize_t)sizeof(struct sock_filter));
        g_seccomp.filter = (struct sock_filter *)buf;
        g_have_seccomp = 1;
    }
    {
        char buf[32];
        g_last_cap = CAP_LAST_CAP;
        if (read_text("/proc/sys/kernel/cap_last_cap", buf, sizeof buf) > 0 && atoi(buf) < g_last_cap)
            g_last_cap = atoi(buf);
    }
    if (mkdir(g_scratch, 0755) != 0 && errno != EEXIST) die("mkdir %s: %s", g_scratch, strerror(errno));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if (g_prefork) g_workers = 1;
    struct worker *ws = calloc((size_t)g_workers, sizeof *ws);
    double wall, cpu_s;
    if (g_prefork) {
        (void)prefork_burst(&ws[0], &wall, &cpu_s);
    } else {
        struct cpu_times c0 = read_cpu();
        g_t_start = now_s();
        for (int i = 0; i < g_workers; ++i) {
            ws[i].index = i;
            if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) die("pthread_create");
        }
        for (int i = 0; i < g_workers; ++i) pthread_join(ws[i].thread, NULL);
        wall = now_s() - g_t_start;
        struct cpu_times c1 = read_cpu();
        cpu_s = (double)(c1.busy - c0.busy) / (double)sysconf(_SC_CLK_TCK);
    }
    drop_spares();
    for (int i = 0; i < g_nh; ++i) (void)rmdir(g_h[i].parent);

    long total = 0;
    double wait_s = 0, cgroup_rm_s = 0, tree_rm_s = 0;
    for (int i = 0; i < g_workers; ++i) {
        total += ws[i].count;
        wait_s += ws[i].wait_s;
        cgroup_rm_s += ws[i].cgroup_rm_s;
        tree_rm_s += ws[i].tree_rm_s;
    }
    const double per = total ? 1e3 / (double)total : 0;
    double *all = malloc((size_t)(total ? total : 1) * sizeof(double));
    long k = 0;
    for (int i = 0; i < g_workers; ++i)
        for (long j = 0; j < ws[i].count; ++j) all[k++] = ws[i].samples[j];
    double *sorted = malloc((size_t)(total ? total : 1) * sizeof(double));
    memcpy(sorted, all, (size_t)total * sizeof(double));
    qsort(sorted, (size_t)total, sizeof(double), cmp_double);
    const double per_s = wall > 0 ? total / wall : 0;
    const double p50 = pct(sorted, total, 50) * 1e3, p99 = pct(sorted, total, 99) * 1e3;
    const double cpu_ms = total ? cpu_s * 1e3 / total : 0;
    const char *error = NULL;
    for (int i = 0; i < g_workers; ++i)
        if (ws[i].error[0]) error = ws[i].error;

    if (g_prefork)
        fprintf(stderr, "berth_kernel_probe: %ld parked containers released at once, running in %.3f s: %.1f "
                        "running/s, p50 %.2f ms, p99 %.2f ms, CPU %.2f ms/container (machine, in that window)\n",
                total, wall, per_s, p50, p99, cpu_ms);
    else
        fprintf(stderr, "berth_kernel_probe: %ld containers, %d worker(s), %.2f s: %.1f containers/s, p50 %.2f ms, "
                        "p99 %.2f ms, CPU %.2f ms/container (machine)\n",
                total, g_workers, wall, per_s, p50, p99, cpu_ms);
    fprintf(stderr, "berth_kernel_probe: teardown per container: wait for exit %.2f ms, cgroup rmdir %.2f ms, "
                    "upper/work removal %.2f ms\n", wait_s * per, cgroup_rm_s * per, tree_rm_s * per);
    if (error) fprintf(stderr, "berth_kernel_probe: %s\n", error);
    if (json) {
        FILE *f = strcmp(json, "-") == 0 ? stdout : fopen(json, "w");
        if (!f) die("open %s: %s", json, strerror(errno));
        fprintf(f, "{\"runner\": \"kernel probe\", \"n\": %ld, \"workers\": %d, \"wall_s\": %.6f, "
                   "\"containers_per_s\": %.3f, \"p50_ms\": %.4f, \"p99_ms\": %.4f, \"cpu_ms_per_container\": %.4f, "
                   "\"machine_busy_cpu_s\": %.3f, \"cgroup\": \"%s\", \"hierarchies\": %d, \"net\": %s, "
                   "\"no_new_privs\": %s, \"fork\": %s, \"prefork\": %ld, \"window_end_s\": %.6f, \"seccomp_insns\": %d, "
                   "\"teardown_ms\": {\"wait\": %.4f, "
                   "\"cgroup_rmdir\": %.4f, \"tree_removal\": %.4f}, \"error\": ",
                total, g_workers, wall, per_s, p50, p99, cpu_ms, cpu_s, cgroup_mode, g_nh, g_net ? "true" : "false",
                g_nnp ? "true" : "false", g_fork ? "true" : "false", g_prefork, g_prefork ? g_window_end : now_s(), g_have_seccomp ? g_seccomp.len : 0, wait_s * per, cgroup_rm_s * per,
                tree_rm_s * per);
        if (error) {
            fputc('"', f);
            for (const char *p = error; *p; ++p) {
                if (*p == '"' || *p == '\\') fputc('\\', f);
                if ((unsigned char)*p >= 0x20) fputc(*p, f);
            }
            fputc('"', f);
        } else {
            fputs("null", f);
        }
        fputs(", \"samples_ms\": [", f);
        for (long i = 0; i < total; ++i) fprintf(f, "%s%.4f", i ? "," : "", all[i] * 1e3);
        fputs("]}\n", f);
        if (f != stdout) fclose(f);
    }
    return error ? 1 : 0;
}
