#include "engine/runtime/child.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <grp.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>

#include <boost/json.hpp>

#include "base/fd.h"
#include "base/fd_passing.h"
#include "base/util.h"
#include "engine/runtime/caps.h"
#include "engine/runtime/mounts.h"
#include "engine/runtime/timens.h"
#include "engine/runtime/user.h"
#include "engine/runtime/userns.h"

namespace berth::runtime {
namespace {

error as_internal(error e) {
    e.code = errc::internal;
    return e;
}

// The kernel's struct sigaction: the C library's sigaction() refuses the
// signals it keeps for itself (32 and 33), which a process can still have
// been given ignored (the monitor has 32 ignored) and which survive execve
// like any other. Its layout is this one on x86_64 and arm64 (berth's
// targets); elsewhere the C library's call does what it can.
struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    std::uint64_t mask;
};

int raw_sigaction(int sig, const kernel_sigaction* act, kernel_sigaction* old) {
#if defined(__x86_64__) || defined(__aarch64__)
    static_assert(sizeof(kernel_sigaction) == 32);
    return static_cast<int>(::syscall(SYS_rt_sigaction, sig, act, old, sizeof(std::uint64_t)));
#else
    struct sigaction in {}, out {};
    if (act) {
        in.sa_handler = act->handler;
        sigemptyset(&in.sa_mask);
    }
    const int rc = ::sigaction(sig, act ? &in : nullptr, old ? &out : nullptr);
    // (A SA_SIGINFO handler is no SIG_DFL either: marked for a reset.)
    if (rc == 0 && old) old->handler = (out.sa_flags & SA_SIGINFO) ? SIG_IGN : out.sa_handler;
    return rc;
#endif
}

constexpr int k_max_signal = 64;

// The signals whose disposition the forking process has not left at SIG_DFL
// (prime_signal_reset; bit sig - 1); unprimed, a child resets every one.
std::uint64_t g_not_default = 0;
bool g_signals_primed = false;

// Dispositions set to SIG_IGN and the signal mask survive execve; a container
// must not inherit them from the zygote (an ignored SIGPIPE breaks pipelines).
void reset_signals() {
    const kernel_sigaction dfl{SIG_DFL, 0, nullptr, 0};
    for (int sig = 1; sig <= k_max_signal; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP && (!g_signals_primed || (g_not_default >> (sig - 1)) & 1))
            (void)raw_sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace

void prime_signal_reset() {
    std::uint64_t not_default = 0;
    for (int sig = 1; sig <= k_max_signal; ++sig) {
        kernel_sigaction old{};
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        // (A signal it cannot read is reset, as unprimed.)
        if (raw_sigaction(sig, nullptr, &old) != 0 || old.handler != SIG_DFL) not_default |= std::uint64_t{1} << (sig - 1);
    }
    g_not_default = not_default;
    g_signals_primed = true;
}

namespace {

std::string rlimit_name(int resource) {
    static constexpr const char* names[] = {"RLIMIT_CPU",     "RLIMIT_FSIZE",   "RLIMIT_DATA",   "RLIMIT_STACK",
                                            "RLIMIT_CORE",    "RLIMIT_RSS",     "RLIMIT_NPROC",  "RLIMIT_NOFILE",
                                            "RLIMIT_MEMLOCK", "RLIMIT_AS",      "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
                                            "RLIMIT_MSGQUEUE", "RLIMIT_NICE",   "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};
    if (resource >= 0 && resource < static_cast<int>(std::size(names))) return names[resource];
    return "rlimit " + std::to_string(resource);
}

// Copies the caller's fds above 2 first: one of them may itself be 0, 1 or 2.
status setup_stdio(const child_stdio& stdio) {
    const int src[3] = {stdio.in, stdio.out, stdio.err};
    unique_fd held[3];
    for (int i = 0; i < 3; ++i) {
        if (src[i] >= 0) {
            held[i].reset(::fcntl(src[i], F_DUPFD_CLOEXEC, 3));
            if (!held[i]) return sys_error("dup stdio fd " + std::to_string(src[i]));
            continue;
        }
        unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!null) return sys_error("open /dev/null");
        held[i].reset(::fcntl(null.get(), F_DUPFD_CLOEXEC, 3));
        if (!held[i]) return sys_error("dup /dev/null");
    }
    for (int i = 0; i < 3; ++i)
        if (::dup2(held[i].get(), i) < 0) return sys_error("dup2 stdio " + std::to_string(i));
    return ok();
}

// Opens a pty in the container's devpts (/dev/ptmx is its pts/ptmx by
// now), hands the master to the monitor over stdio.tty_socket and makes the
// slave the controlling terminal and fds 0, 1, 2. Returns the slave (still
// open above 2, so that it can be chowned to the user later).
result<unique_fd> setup_tty(const child_stdio& stdio) {
    unique_fd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master) return sys_error("open /dev/ptmx");
    int unlock = 0;
    if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return sys_error("unlock pty");
    unique_fd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) return sys_error("open pty slave");
    if (stdio.rows && stdio.cols) {
        winsize ws{};
        ws.ws_row = stdio.rows;
        ws.ws_col = stdio.cols;
        (void)::ioctl(slave.get(), TIOCSWINSZ, &ws);
    }
    if (auto s = send_with_fds(stdio.tty_socket, std::string_view("\0", 1), {master.get()}); !s)
        return s.err().wrap("send the pty master");
    master.reset();
    if (::setsid() < 0) return sys_error("setsid");
    if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) return sys_error("set controlling terminal");
    for (int i = 0; i < 3; ++i)
        if (::dup2(slave.get(), i) < 0) return sys_error("dup2 pty " + std::to_string(i));
    if (slave.get() < 3) {
        slave.reset(::fcntl(slave.get(), F_DUPFD_CLOEXEC, 3));
        if (!slave) return sys_error("dup pty slave");
    }
    return slave;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// exec.LookPath, as Docker resolves the command: the first regular file with
// an execute bit along PATH; a name with a slash is used as it is.
result<std::string> find_executable(const std::string& name, std::string_view path) {
    if (name.find('/') != std::string::npos) return name;
    if (!name.empty()) {
        for (auto dir : split(path, ':')) {
            if (dir.empty()) dir = ".";
            std::string candidate = dir + "/" + name;
            struct stat st;
            if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) return candidate;
        }
    }
    return make_error(errc::command_not_found, "exec: " + quoted(name) + ": executable file not found in $PATH");
}

error exec_error(const std::string& name, const std::string& path, int err) {
    if (err == ENOENT) {
        struct stat st;
        if (::stat(path.c_str(), &st) != 0 && errno == ENOENT)
            return {errc::command_not_found, "exec: " + quoted(name) + ": stat " + path + ": no such file or directory",
                    err};
        // The file exists: its interpreter (#!) or its loader does not.
        error e = sys_error("exec: " + quoted(name), err);
        e.code = errc::command_not_found;
        return e;
    }
    error e = sys_error("exec: " + quoted(name), err);
    e.code = (err == EACCES || err == ENOEXEC || err == EPERM || err == EISDIR) ? errc::cannot_execute
                                                                                  : errc::internal;
    return e;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

status load_seccomp(const std::string& program) {
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(program.size() / sizeof(sock_filter));
    // The bytes came through JSON and base64: copy them to aligned storage.
    std::vector<sock_filter> filter(prog.len);
    std::memcpy(filter.data(), program.data(), prog.len * sizeof(sock_filter));
    prog.filter = filter.data();
    if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return sys_error("load the seccomp filter");
    return ok();
}

// An account file of the container's (/etc/passwd, /etc/group): its
// contents (nullopt: there is none), or an error for what is not a plain
// regular file of at most 4 MiB. A FIFO would block the child and with it
// a pool's preparation, or the zygote, which waits for a child that shares
// its memory; a link to /dev/zero would never end.
result<std::optional<std::string>> read_account_file(const char* path) {
    unique_fd fd(::open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::optional<std::string>();
        return sys_error(std::string("open ") + path);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (4 << 20))
        return make_error(errc::invalid_argument, std::string(path) + " is not a regular file");
    BERTH_ASSIGN(std::string out, read_to_end(fd.get(), path));
    return std::optional<std::string>(std::move(out));
}

// What a parked child did ahead for its claim's process half: the rootfs
// is the sandbox's alone until then, and its capabilities are the pool's.
struct prepared_process {
    bool accounts_read = false;
    std::optional<std::string> passwd, group;
    bool bounding_set_dropped = false;
};

// The process half: everything that depends on the command, the user and the
// environment. Returns only on failure.
error run_process(const launch_spec& spec, const child_stdio& stdio, const prepared_process* ahead = nullptr) {
    if (spec.args.empty()) return make_error(errc::invalid_argument, "no command specified");
    if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
        return as_internal(sys_error("set hostname " + spec.hostname));
    unique_fd tty;
    if (stdio.tty_socket >= 0) {
        auto t = setup_tty(stdio);
        if (!t) return as_internal(t.err());
        tty = std::move(*t);
    } else if (auto s = setup_stdio(stdio); !s) {
        return as_internal(s.err());
    }

    // Read ahead by a parked child, or told by the daemon (the image's).
    const bool read = ahead && ahead->accounts_read;
    auto passwd = spec.accounts_told ? result<std::optional<std::string>>(spec.passwd)
                  : read             ? result<std::optional<std::string>>(ahead->passwd)
                                     : read_account_file("/etc/passwd");
    if (!passwd) return as_internal(passwd.err());
    auto group = spec.accounts_told ? result<std::optional<std::string>>(spec.group)
                 : read             ? result<std::optional<std::string>>(ahead->group)
                                    : read_account_file("/etc/group");
    if (!group) return as_internal(group.err());
    auto user = resolve_user(spec.user, *passwd, *group);
    if (!user) return user.err();
    auto added = resolve_additional_groups(spec.group_add, *group);
    if (!added) return added.err();
    for (gid_t g : *added)
        if (std::find(user->groups.begin(), user->groups.end(), g) == user->groups.end()) user->groups.push_back(g);
    auto caps = capability_mask(spec.capabilities);
    if (!caps) return caps.err();
    // The terminal belongs to the user, as with a login (runc does the same).
    if (tty && ::fchown(tty.get(), user->uid, static_cast<gid_t>(-1)) != 0)
        return as_internal(sys_error("chown the terminal"));
    tty.reset();

    const std::string cwd = spec.cwd.empty() ? "/" : spec.cwd;
    if (cwd != "/")
        if (auto s = make_dirs_in_root(cwd, 0755); !s) return as_internal(s.err().wrap("create working directory"));
    if (::chdir(cwd.c_str()) != 0) return as_internal(sys_error("chdir " + cwd));

    std::vector<std::string> env = spec.env;
    const std::string path = search_path_of(env);
    if (std::none_of(env.begin(), env.end(), [](auto& kv) { return starts_with(kv, "PATH="); }))
        env.push_back("PATH=" + path);
    if (std::none_of(env.begin(), env.end(), [](auto& kv) { return starts_with(kv, "HOME="); }))
        env.push_back("HOME=" + user->home);

    // Late, so that a low RLIMIT_NOFILE does not refuse the fds opened above,
    // and still as full root: raising a hard limit needs CAP_SYS_RESOURCE.
    for (const auto& r : spec.rlimits) {
        struct rlimit rl {};
        rl.rlim_cur = r.soft;
        rl.rlim_max = r.hard;
        if (::setrlimit(static_cast<__rlimit_resource_t>(r.resource), &rl) != 0)
            return as_internal(sys_error("set " + rlimit_name(r.resource)));
    }

    // Keep the permitted set across setresuid() away from 0, so that capset()
    // below can still raise the effective set; execve() then gives a non-root
    // user none of them, as Docker does.
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return as_internal(sys_error("set keepcaps"));
    if (!ahead || !ahead->bounding_set_dropped)
        if (auto s = drop_bounding_set(*caps); !s) return as_internal(s.err());
    if (::setgroups(user->groups.size(), user->groups.data()) != 0) return as_internal(sys_error("setgroups"));
    if (::setresgid(user->gid, user->gid, user->gid) != 0)
        return as_internal(sys_error("setresgid " + std::to_string(user->gid)));
    if (::setresuid(user->uid, user->uid, user->uid) != 0)
        return as_internal(sys_error("setresuid " + std::to_string(user->uid)));
    ::umask(022);

    // Everything the zygote left open closes at execve, the exec-status pipe
    // included: its EOF tells the parent that exec succeeded.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) return as_internal(sys_error("close_range"));

    auto exe = spec.exe.empty() ? find_executable(spec.args[0], path) : result<std::string>(spec.exe);
    if (!exe) return exe.err();
    std::vector<std::string> args = spec.args;
    auto argv = c_strings(args);
    auto envp = c_strings(env);

    // Seccomp last, so that the filter sees as few of the runtime's own
    // syscalls as possible: without no_new_privs loading it needs
    // CAP_SYS_ADMIN, which setresuid() took out of the effective set (the
    // permitted set still has it), so it goes before the final capset;
    // with no_new_privs it goes after it.
    const bool filter = !spec.seccomp_program.empty();
    if (filter && !spec.no_new_privs) {
        if (auto s = raise_effective_capabilities(); !s) return as_internal(s.err());
        if (auto s = load_seccomp(spec.seccomp_program.bytes()); !s) return as_internal(s.err());
    }
    if (auto s = set_capabilities(*caps); !s) return as_internal(s.err());
    if (spec.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return as_internal(sys_error("set no_new_privs"));
    if (filter && spec.no_new_privs) {
        if (auto s = load_seccomp(spec.seccomp_program.bytes()); !s) return as_internal(s.err());
    }
    ::execve(exe->c_str(), argv.data(), envp.data());
    return exec_error(spec.args[0], *exe, errno);
}

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data.remove_prefix(static_cast<size_t>(n));
    }
}

}  // namespace

std::string encode_exec_status(const error& e) {
    // One write below PIPE_BUF is atomic; a longer message is cut.
    std::string msg = e.message.substr(0, 3500);
    return std::to_string(static_cast<int>(e.code)) + " " + std::to_string(e.sys_errno) + " " + msg;
}

status decode_exec_status(const std::string& data) {
    if (data.empty()) return ok();
    const char* p = data.c_str();
    char* end = nullptr;
    long code = std::strtol(p, &end, 10);
    if (end == p || *end != ' ' || code < 0 || code > static_cast<long>(errc::command_not_found))
        return make_error(errc::internal, "read exec status: malformed message");
    p = end + 1;
    long err = std::strtol(p, &end, 10);
    if (end == p || *end != ' ') return make_error(errc::internal, "read exec status: malformed message");
    return error{static_cast<errc>(code), std::string(end + 1), static_cast<int>(err)};
}

namespace {

// The common frame of both children: wait for the release, run `body`
// (which returns only on failure), report the failure, exit.
template <class Body>
[[noreturn]] void run_released(int sync_fd, int status_fd, const char* what, Body&& body) {
    reset_signals();
    if (sync_fd >= 0) {
        char byte = 0;
        ssize_t n;
        do n = ::read(sync_fd, &byte, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1) ::_exit(1);
        ::close(sync_fd);
    }

    ::umask(0);
    error e;
    try {
        e = body();
    } catch (const std::exception& ex) {
        e = make_error(errc::internal, std::string(what) + ": " + ex.what());
    } catch (...) {
        e = make_error(errc::internal, std::string(what) + ": unknown exception");
    }
    write_all(status_fd, encode_exec_status(e));
    // The daemon takes the outcome from the status pipe; the exit code only
    // mirrors the shell's conventions.
    ::_exit(e.code == errc::command_not_found ? 127 : e.code == errc::cannot_execute ? 126 : 1);
}

}  // namespace

namespace {

// What the parent does for a child it releases: the child's pid into every
// v1 cgroup.procs but the memory one when it joins that itself
// (joins_memory_cgroup_itself), and its cgroup2 (else CLONE_INTO_CGROUP).
status join_cgroups(const launch_spec& spec) {
    const bool memory_later = joins_memory_cgroup_itself(spec);
    for (const auto& procs : spec.cgroup_v1_procs)
        if (!memory_later || procs != spec.cgroup_v1_memory_procs) BERTH_TRY(join_cgroup(procs));
    if (!spec.cgroup2_dir.empty()) BERTH_TRY(join_cgroup(spec.cgroup2_dir + "/cgroup.procs"));
    return ok();
}

}  // namespace

void run_container_child(const launch_spec& spec, const child_stdio& stdio, int sync_fd, int status_fd) {
    run_released(sync_fd, status_fd, "set up container", [&]() -> error {
        if (sync_fd < 0)
            if (auto j = join_cgroups(spec); !j) return as_internal(j.err());
        auto s = setup_sandbox(spec);
        if (!s) return as_internal(s.err());
        // Nothing has forked since the clone, and nothing will before the
        // command's execve, which enters the namespace (/proc/self is the
        // container's own /proc by now).
        if (spec.time_offsets) {
            if (auto t = unshare_time_namespace(*spec.time_offsets); !t)
                return t.err().code == errc::invalid_argument ? t.err() : as_internal(t.err());
        }
        return run_process(spec, stdio);
    });
}

void run_parked_child(const launch_spec& spec, int control_fd, int sync_fd, int status_fd, int host_net_fd) {
    run_released(sync_fd, status_fd, "set up sandbox", [&]() -> error {
        // A sandbox is a stock for later: set up behind the work running
        // now (claims from a pool that refills while it runs low, cold
        // starts), at nice 19 like the daemon's half of the preparation;
        // back to the zygote's (a cold start's) before it parks
        // (CAP_SYS_NICE is still effective, the filter not loaded yet), so
        // that the claim wakes a task of that priority (placed at nice 19 it
        // waited behind every other runnable task: a burst from the pool
        // made 5% fewer containers running per second) and the container
        // runs as a cold one would.
        // (Only with CAP_SYS_NICE, without which it could not come back.)
        errno = 0;
        const int got = ::getpriority(PRIO_PROCESS, 0);
        const int own_nice = errno == 0 ? got : 0;
        const bool lowered = has_effective_capability(CAP_SYS_NICE) && ::setpriority(PRIO_PROCESS, 0, 19) == 0;
        if (auto s = setup_sandbox(spec); !s) return as_internal(s.err());
        // Waits in the zygote's network namespace, holding its own (lo is up,
        // /sys is mounted for it): a host's agent that looks at every
        // process's network namespace (this VM's pid 1 does, once a second)
        // spent 150 ms/s on 2,000 parked children inside theirs, 27 ms/s
        // with them outside.
        unique_fd own_net;
        if (spec.parks_outside_netns) {
            if (!spec.new_network || host_net_fd < 0)
                return make_error(errc::internal, "parks outside a network namespace it does not have");
            own_net.reset(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
            if (!own_net) return as_internal(sys_error("open the sandbox's network namespace"));
            if (::setns(host_net_fd, CLONE_NEWNET) != 0)
                return as_internal(sys_error("wait outside the sandbox's network namespace"));
        }
        if (host_net_fd >= 0) ::close(host_net_fd);
        // Ahead of the claim, so that it finds them done: the account files
        // (nothing else writes this rootfs until the claim) and, with the
        // pool's capabilities, the bounding set (before the seccomp filter,
        // which every later syscall runs through).
        // (Regular files only, never blocking the pool: anything else, or an
        // unreadable one, is left for the claim, which reads or reports it.)
        prepared_process ahead;
        auto passwd = read_account_file("/etc/passwd");
        auto group = read_account_file("/etc/group");
        if (passwd && group) {
            ahead.accounts_read = true;
            ahead.passwd = std::move(*passwd);
            ahead.group = std::move(*group);
        }
        if (spec.seccomp_preloaded && !spec.capabilities.empty()) {
            auto caps = capability_mask(spec.capabilities);
            if (!caps) return caps.err();
            if (auto s = drop_bounding_set(*caps); !s) return as_internal(s.err());
            ahead.bounding_set_dropped = true;
        }
        if (lowered && ::setpriority(PRIO_PROCESS, 0, own_nice) != 0) return as_internal(sys_error("set priority"));
        if (spec.seccomp_preloaded) {
            // The default hostname, then the filter (which refuses sethostname without CAP_SYS_ADMIN).
            if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
                return as_internal(sys_error("set hostname " + spec.hostname));
            if (!spec.seccomp_program.empty())
                if (auto s = load_seccomp(spec.seccomp_program.bytes()); !s) return as_internal(s.err());
        }
        // Ready; with the namespace it will enter, for the monitor to hold.
        std::vector<int> own;
        if (own_net) own.push_back(own_net.get());
        if (!send_with_fds(control_fd, std::string_view("\1", 1), own)) ::_exit(0);  // the pool let it go
        // Parked: nothing runs here until the claim (or EOF) arrives. A
        // peek learns its size.
        ssize_t size;
        do size = ::recv(control_fd, nullptr, 0, MSG_PEEK | MSG_TRUNC);
        while (size < 0 && errno == EINTR);
        if (size <= 0) ::_exit(0);
        if (static_cast<std::size_t>(size) > max_claim_size) return make_error(errc::internal, "claim: too large");
        std::string packet(static_cast<std::size_t>(size), '\0');
        std::vector<unique_fd> fds;
        auto n = recv_with_fds(control_fd, packet.data(), packet.size(), &fds);
        if (!n || *n == 0) ::_exit(0);
        // Into its own network namespace, and setns refused from then on as
        // the container's profile does, before the byte: a failure here is
        // a claim not taken (the container starts cold).
        if (spec.parks_outside_netns) {
            if (!own_net || ::setns(own_net.get(), CLONE_NEWNET) != 0)
                return make_error(errc::unavailable, "claim: enter the sandbox's network namespace: " +
                                                         std::string(own_net ? std::strerror(errno) : "not held"));
            own_net.reset();
            if (!spec.seccomp_after_netns.empty())
                if (auto s = load_seccomp(spec.seccomp_after_netns.bytes()); !s)
                    return make_error(errc::unavailable, "claim: " + s.err().message);
        }
        // Taken (the monitor waits for this byte: see its claim).
        const char taken = 1;
        if (::send(control_fd, &taken, 1, MSG_NOSIGNAL) != 1) ::_exit(0);
        ::close(control_fd);
        packet.resize(*n);
        boost::system::error_code ec;
        auto v = boost::json::parse(packet, ec);
        const auto* o = !ec && v.is_object() ? &v.as_object() : nullptr;
        const auto* text = o ? o->if_contains("spec") : nullptr;
        if (!text || !text->is_string()) return make_error(errc::internal, "claim: malformed message");
        auto process = launch_spec_from_json(text->as_string());
        if (!process) return as_internal(process.err().wrap("claim"));
        if (spec.seccomp_preloaded && (!process->seccomp_program.empty() || !process->hostname.empty()))
            return make_error(errc::internal, "claim: the sandbox has its hostname and seccomp program already");
        auto flag = [&](const char* k) {
            auto* f = o->if_contains(k);
            return f && f->is_bool() && f->as_bool();
        };
        auto number = [&](const char* k) -> unsigned short {
            auto* f = o->if_contains(k);
            return f && f->is_int64() ? static_cast<unsigned short>(f->as_int64()) : 0;
        };
        std::vector<int> raw;
        for (auto& fd : fds) raw.push_back(fd.get());
        auto stdio = stdio_from_fds(raw, flag("has_stdin"), flag("tty"), number("rows"), number("cols"));
        // (The daemon matched them; otherwise the container starts cold.)
        if (ahead.bounding_set_dropped && process->capabilities != spec.capabilities)
            return make_error(errc::unavailable, "claim: the sandbox's bounding set has other capabilities");
        launch_spec claimed = spec;
        take_process_half(claimed, std::move(*process));
        return run_process(claimed, stdio, &ahead);
    });
}

void run_exec_child(const launch_spec& spec, const child_stdio& stdio, int target_pidfd, int sync_fd,
                    int status_fd) {
    run_released(sync_fd, status_fd, "exec", [&]() -> error {
        // Already in the container's pid namespace and cgroups; the cgroup
        // namespace after the cgroup (as the container's own init did). The
        // mount namespace sets root and cwd to the container's root.
        int ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
        // The container's time namespace (this child is single-threaded, as
        // joining one requires; it applies to the caller at once).
        if (spec.time_offsets) ns |= CLONE_NEWTIME;
        // --userns-remap: the container's user namespace, whatever the
        // daemon's setting is now (it may have restarted with another).
        auto other = in_other_user_namespace(target_pidfd);
        const bool join_user = other ? *other : !spec.uid_map.empty();
        if (join_user) ns |= CLONE_NEWUSER;
        if (::setns(target_pidfd, ns) != 0) {
            if (errno == ESRCH) return make_error(errc::conflict, "the container is not running");
            return as_internal(sys_error("join the container's namespaces"));
        }
        ::close(target_pidfd);
        // Joined with the others (setns takes the user namespace first):
        // still the host's root by id until this.
        if (join_user)
            if (auto u = become_namespace_root(); !u) return as_internal(u.err());
        launch_spec process = spec;
        process.hostname.clear();  // the container's, already set
        return run_process(process, stdio);
    });
}

}  // namespace berth::runtime
