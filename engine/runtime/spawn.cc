#include "engine/runtime/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include <boost/json.hpp>

#include "base/sys.h"
#include "base/util.h"
#include "engine/runtime/child.h"
#include "engine/runtime/overlay.h"
#include "engine/runtime/userns.h"

namespace berth::runtime {
namespace {

// glibc 2.36's idtype_t lacks it (linux/wait.h, Linux 5.4).
constexpr idtype_t k_p_pidfd = static_cast<idtype_t>(3);

struct pipe_fds {
    unique_fd read, write;
};

// Both ends above 2: the child moves its stdio onto 0-2 while it still needs
// them. The sync channel is a socket pair so that releasing a child that has
// died meanwhile is an EPIPE from send(MSG_NOSIGNAL), not a SIGPIPE.
// socket_type: 0 for a pipe, else SOCK_STREAM or SOCK_SEQPACKET.
result<pipe_fds> make_pipe(std::string_view what, int socket_type) {
    int p[2];
    int rc = socket_type ? ::socketpair(AF_UNIX, socket_type | SOCK_CLOEXEC, 0, p) : ::pipe2(p, O_CLOEXEC);
    if (rc != 0) return sys_error("create " + std::string(what) + " pipe");
    pipe_fds out{unique_fd(p[0]), unique_fd(p[1])};
    for (unique_fd* fd : {&out.read, &out.write}) {
        if (fd->get() >= 3) continue;
        int moved = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 3);
        if (moved < 0) return sys_error("dup " + std::string(what) + " pipe");
        fd->reset(moved);
    }
    return out;
}

status write_pid(const std::string& procs, pid_t pid) {
    unique_fd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + procs);
    std::string s = std::to_string(pid);
    if (::write(fd.get(), s.data(), s.size()) != static_cast<ssize_t>(s.size())) return sys_error("write " + procs);
    return ok();
}

}  // namespace

namespace {

// clone3() with `flags` (plus CLONE_PIDFD and CLONE_INTO_CGROUP when the
// spec names a cgroup2 dir); the child runs `child(sync_fd, status_fd)`,
// which must not return. The parent writes the pid into every v1
// cgroup.procs (but the memory one of a container's child that joins it
// itself: container_init), then releases the child. Returns once the child
// is released.
template <class Child>
result<spawned> clone_and_release(const launch_spec& spec, unsigned long long flags, const std::string& what,
                                  bool container_init, Child&& child) {
    BERTH_ASSIGN(auto sync, make_pipe("sync", SOCK_STREAM));
    BERTH_ASSIGN(auto exec_status, make_pipe("exec status", 0));
    unique_fd cgroup;
    if (!spec.cgroup2_dir.empty()) {
        cgroup.reset(::open(spec.cgroup2_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!cgroup) return sys_error("open cgroup " + spec.cgroup2_dir).wrap(what);
    }

    int pidfd = -1;
    struct clone_args args {};
    args.flags = CLONE_PIDFD | flags;
    if (cgroup) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<std::uint64_t>(cgroup.get());
    }
    args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
    // clone3() refuses an exit signal with CLONE_PARENT: the child then
    // signals the zygote's parent with the zygote's own exit signal.
    args.exit_signal = (args.flags & CLONE_PARENT) ? 0 : SIGCHLD;

    long pid = sys::clone3(&args);
    if (pid < 0) return sys_error("clone3").wrap(what);
    if (pid == 0) {
        sync.write.reset();
        exec_status.read.reset();
        child(sync.read.get(), exec_status.write.get());
        ::_exit(1);
    }

    spawned out;
    out.pid = static_cast<pid_t>(pid);
    out.pidfd.reset(pidfd);
    sync.read.reset();
    exec_status.write.reset();

    // The child has not been released: it has done nothing but wait, and
    // dies with the pipe's EOF or this SIGKILL. Without CLONE_PARENT it is
    // ours to reap; with it, waitid() fails with ECHILD and the monitor reaps.
    auto abort = [&](const error& e) -> error {
        (void)sys::pidfd_send_signal(out.pidfd.get(), SIGKILL);
        sync.write.reset();
        siginfo_t info{};
        while (::waitid(k_p_pidfd, static_cast<id_t>(out.pidfd.get()), &info, WEXITED) != 0 && errno == EINTR) {
        }
        return e.wrap(what);
    };
    // A new user namespace gets its maps from here, root in the parent
    // namespace: the child could map only its own id.
    if (args.flags & CLONE_NEWUSER)
        if (auto s = write_id_maps(out.pid, spec); !s) return abort(s.err());
    const bool child_joins_memory = container_init && joins_memory_cgroup_itself(spec);
    for (const auto& procs : spec.cgroup_v1_procs) {
        if (child_joins_memory && procs == spec.cgroup_v1_memory_procs) continue;
        if (auto s = write_pid(procs, out.pid); !s) return abort(s.err());
    }
    const char release = 1;
    if (::send(sync.write.get(), &release, 1, MSG_NOSIGNAL) != 1) return abort(sys_error("release child"));
    sync.write.reset();
    out.exec_status = std::move(exec_status.read);
    return out;
}

}  // namespace

namespace {

// Making an overlay creates its work directory: a new ext4 block, whose
// page enters the page cache charged to the memory cgroup of whoever made
// it, and outlives the container. Made by the child in the container's
// memory cgroup, it kept that cgroup as a dying one after its removal,
// until memory pressure (measured: one per container of 200 run at once,
// and one per pooled sandbox; about 1.4 MB of kernel memory each on this
// VM). So the overlay is made outside it:
// - a cold start with a v1 memory cgroup: the child makes it before it
//   joins that cgroup itself (joins_memory_cgroup_itself), in parallel
//   with the zygote's next start (made here, it cost 6% of the starts per
//   second at concurrency 2);
// - otherwise it is made here, in the zygote, whose cgroup lives as long
//   as the daemon, and the child attaches it (mount_overlay): a child born
//   in its cgroup2 (CLONE_INTO_CGROUP), and a parked sandbox, whose child
//   sets up at nice 19: joining a v1 cgroup takes the kernel's
//   cgroup_threadgroup_rwsem for writing, which every fork and exit on the
//   host waits for, and that must not be held by a task that waits behind
//   every other for the CPU (the zygote, at its own niceness, places it).
// Before Linux 6.8 (no "lowerdir+") the child makes it.
class overlay_made_here {
public:
    static result<overlay_made_here> make(const launch_spec& spec, bool here) {
        overlay_made_here o(spec);
        if (!here) return o;
        auto made = open_overlay({spec.lower_dirs, spec.upper_dir, spec.work_dir}, "mount overlay on " + spec.rootfs_dir);
        if (!made) {
            error e = made.err();
            e.code = errc::internal;  // the sandbox's setup failed, as when the child reports it
            return e;
        }
        o._mount = std::move(*made);
        if (o._mount) {
            o._with_mount = spec;
            o._with_mount.rootfs_mount_fd = o._mount.get();
        }
        return o;
    }
    // The child's spec: rootfs_mount_fd set when the overlay was made here.
    const launch_spec& spec() const { return _mount ? _with_mount : *_given; }

private:
    explicit overlay_made_here(const launch_spec& given) : _given(&given) {}
    const launch_spec* _given;
    unique_fd _mount;
    launch_spec _with_mount;
};

const child_heap* g_child_heap = nullptr;

// The stack of a child that shares the zygote's memory: one at a time (the
// zygote waits in the clone), mapped once, with a guard page below it; 8 MiB
// as a forked child's (only the pages it touches are memory).
char* shared_memory_child_stack() {
    constexpr std::size_t k_size = std::size_t{8} << 20, k_guard = 4096;
    static char* top = [] {
        void* p = ::mmap(nullptr, k_size + k_guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                         -1, 0);
        if (p == MAP_FAILED) return static_cast<char*>(nullptr);
        (void)::mprotect(p, k_guard, PROT_NONE);
        return static_cast<char*>(p) + k_guard + k_size;
    }();
    return top;
}

struct shared_memory_child {
    const launch_spec* spec;
    const child_stdio* stdio;
    int status_fd;
};

int run_shared_memory_child(void* arg) {
    g_child_heap->enter();
    const auto* c = static_cast<const shared_memory_child*>(arg);
    run_container_child(*c->spec, *c->stdio, -1, c->status_fd);
}

// spawn_container with CLONE_VM | CLONE_VFORK (child_heap); returns once the
// child has exec'd or died. (The C library's clone(): clone3() cannot start
// a child on a new stack without the C library's help, and the child joins
// its cgroup2 itself as it does its v1 ones.)
result<spawned> clone_shared_memory(const launch_spec& spec, unsigned long long flags, const std::string& what,
                                    const child_stdio& stdio) {
    char* stack = shared_memory_child_stack();
    if (!stack) return sys_error("map the child's stack").wrap(what);
    BERTH_ASSIGN(auto exec_status, make_pipe("exec status", 0));
    shared_memory_child c{&spec, &stdio, exec_status.write.get()};
    int pidfd = -1;
    // No signal handler may run in the child on the zygote's memory (it
    // resets its dispositions and mask before its exec).
    sigset_t all, old;
    sigfillset(&all);
    ::sigprocmask(SIG_SETMASK, &all, &old);
    // (With CLONE_PARENT the exit signal is the zygote's own.)
    const int exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
    const int pid = ::clone(run_shared_memory_child, stack,
                            static_cast<int>(flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD) | exit_signal, &c, &pidfd);
    const int clone_errno = errno;
    g_child_heap->leave();
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return sys_error("clone", clone_errno).wrap(what);
    spawned out;
    out.pid = pid;
    out.pidfd.reset(pidfd);
    out.exec_status = std::move(exec_status.read);
    return out;
}

// The clone3() flags of a container's init; checks what both kinds of start need.
result<unsigned long long> container_flags(const launch_spec& spec, unsigned long long extra_flags,
                                           const std::string& what) {
    if (spec.rootfs_dir.empty()) return make_error(errc::invalid_argument, what + ": no rootfs directory");
    // The cgroup namespace is entered by the child after the parent has
    // placed it: clone3() creates namespaces before CLONE_INTO_CGROUP moves
    // the child, so the namespace would be rooted at the zygote's cgroup.
    if (extra_flags & CLONE_NEWCGROUP)
        return make_error(errc::invalid_argument, what + ": CLONE_NEWCGROUP is not allowed in clone3 flags");
    unsigned long long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | extra_flags;
    if (spec.new_network) flags |= CLONE_NEWNET;
    return flags;
}

}  // namespace

result<spawned> spawn_container(const launch_spec& spec, const child_stdio& stdio, unsigned long long extra_flags) {
    const std::string what = spec.id.empty() ? "spawn container" : "spawn container " + spec.id.substr(0, 12);
    if (spec.args.empty()) return make_error(errc::invalid_argument, what + ": no command specified");
    BERTH_ASSIGN(auto flags, container_flags(spec, extra_flags, what));
    if (spec.uid_map.empty()) {
        auto rootfs = overlay_made_here::make(spec, spec.cgroup_v1_memory_procs.empty());
        if (!rootfs) return rootfs.err().wrap(what);
        // Not a start that fills a new named volume from the image: a copy
        // of any size, which the zygote would wait for.
        const bool populates = std::any_of(spec.binds.begin(), spec.binds.end(), [](const auto& b) { return b.populate; });
        if (g_child_heap && !spec.time_offsets && !populates && (flags >> 32) == 0)
            return clone_shared_memory(rootfs->spec(), flags, what, stdio);
        return clone_and_release(rootfs->spec(), flags, what, true, [&](int sync_fd, int status_fd) {
            run_container_child(rootfs->spec(), stdio, sync_fd, status_fd);
        });
    }
    // --userns-remap: the overlay is built here, with init-namespace
    // privilege on idmapped layers; the child inherits it and attaches it.
    auto rootfs = open_remapped_rootfs(spec);
    if (!rootfs) return rootfs.err().wrap(what);
    launch_spec remapped = spec;
    remapped.rootfs_mount_fd = rootfs->get();
    return clone_and_release(remapped, flags | CLONE_NEWUSER, what, true, [&](int sync_fd, int status_fd) {
        run_container_child(remapped, stdio, sync_fd, status_fd);
    });
}

result<parked_sandbox> spawn_parked(const launch_spec& spec, unsigned long long extra_flags) {
    const std::string what = spec.id.empty() ? "prepare sandbox" : "prepare sandbox " + spec.id.substr(0, 12);
    BERTH_ASSIGN(auto flags, container_flags(spec, extra_flags, what));
    // A remapped rootfs is built per start by the zygote, and a time
    // namespace is entered right before the command: neither is pooled.
    if (!spec.uid_map.empty() || spec.time_offsets)
        return make_error(errc::invalid_argument, what + ": user and time namespaces are not pooled");
    BERTH_ASSIGN(auto control, make_pipe("control", SOCK_SEQPACKET));
    auto rootfs = overlay_made_here::make(spec, true);
    if (!rootfs) return rootfs.err().wrap(what);
    // Before Linux 6.8 the child makes its overlay; the zygote still places
    // it in every cgroup (never a join at nice 19).
    launch_spec placed;
    const launch_spec* made = &rootfs->spec();
    if (joins_memory_cgroup_itself(*made)) {
        placed = *made;
        placed.cgroup_v1_memory_procs.clear();
        made = &placed;
    }
    const launch_spec& child_spec = *made;
    // The zygote's own network namespace, where a child that parks outside
    // its own waits (opened once: the zygote never changes namespace).
    static unique_fd host_net;
    if (!host_net) host_net.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (child_spec.parks_outside_netns && !host_net) return sys_error(what + ": open the network namespace");
    auto sp = clone_and_release(child_spec, flags, what, true, [&](int sync_fd, int status_fd) {
        control.write.reset();
        // A parked child lives long: it must hold no descriptor of the
        // zygote's (its socket to the monitor is fd 3), or the monitor
        // would never see the zygote's EOF. Its own three are above 3, and
        // mount_overlay() closes the rootfs's.
        ::close_range(3, 3, 0);
        run_parked_child(child_spec, control.read.get(), sync_fd, status_fd, host_net ? host_net.get() : -1);
    });
    if (!sp) return sp.err();
    return parked_sandbox{std::move(*sp), std::move(control.write)};
}

void set_child_heap(const child_heap* heap) { g_child_heap = heap; }

std::string encode_claim(std::string_view spec_json, bool has_stdin, bool tty, unsigned short rows,
                         unsigned short cols) {
    boost::json::object o{{"spec", spec_json}, {"has_stdin", has_stdin}, {"tty", tty}, {"rows", rows},
                          {"cols", cols}};
    return boost::json::serialize(o);
}

void take_process_half(launch_spec& into, launch_spec&& from) {
    into.hostname = std::move(from.hostname);
    into.args = std::move(from.args);
    into.exe = std::move(from.exe);
    into.env = std::move(from.env);
    into.cwd = std::move(from.cwd);
    into.user = std::move(from.user);
    into.capabilities = std::move(from.capabilities);
    into.rlimits = std::move(from.rlimits);
    into.group_add = std::move(from.group_add);
    into.no_new_privs = from.no_new_privs;
    into.seccomp_program = std::move(from.seccomp_program);
    into.seccomp_file = std::move(from.seccomp_file);
}

child_stdio stdio_from_fds(const std::vector<int>& fds, bool has_stdin, bool tty, unsigned short rows,
                           unsigned short cols) {
    child_stdio stdio;
    std::size_t i = 0;
    if (has_stdin && !tty && fds.size() > i) stdio.in = fds[i++];
    if (tty) {
        if (fds.size() > i) stdio.tty_socket = fds[i++];
        stdio.rows = rows;
        stdio.cols = cols;
    } else {
        if (fds.size() > i) stdio.out = fds[i++];
        if (fds.size() > i) stdio.err = fds[i++];
    }
    return stdio;
}

result<spawned> spawn_exec(const launch_spec& spec, int target_pidfd, const child_stdio& stdio,
                           unsigned long long extra_flags) {
    const std::string what = spec.id.empty() ? "exec" : "exec in container " + spec.id.substr(0, 12);
    if (spec.args.empty()) return make_error(errc::invalid_argument, what + ": no command specified");
    // Only the pid namespace must be entered before the clone (a process
    // never changes its own); the child joins the others itself.
    unique_fd own_pidns(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (!own_pidns) return sys_error("open own pid namespace").wrap(what);
    if (::setns(target_pidfd, CLONE_NEWPID) != 0) {
        if (errno == ESRCH) return make_error(errc::conflict, what + ": the container is not running");
        return sys_error("join the container's pid namespace").wrap(what);
    }
    auto restore = scope_exit([&] {
        if (::setns(own_pidns.get(), CLONE_NEWPID) != 0) ::_exit(1);  // never leave later containers nested
    });
    return clone_and_release(spec, extra_flags, what, false, [&](int sync_fd, int status_fd) {
        run_exec_child(spec, stdio, target_pidfd, sync_fd, status_fd);
    });
}

status read_exec_status(int exec_status_fd) {
    std::string data;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(exec_status_fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read exec status");
        }
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
    }
    return decode_exec_status(data);
}

}  // namespace berth::runtime
