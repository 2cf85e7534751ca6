#include "engine/top.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>

#include "base/fd.h"
#include "base/sys.h"
#include "base/util.h"

extern char** environ;

namespace berth {

namespace {

std::uint64_t to_u64(std::string_view s) { return std::strtoull(std::string(s).c_str(), nullptr, 10); }

std::vector<std::string> fields_of(std::string_view s) {
    // moby's fieldsASCII: split on ASCII white space only.
    std::vector<std::string> out;
    std::string cur;
    for (char ch : s) {
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\f' || ch == '\r') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += ch;
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

// uid -> name from the host's /etc/passwd, as ps (run on the host) shows it.
std::map<unsigned, std::string> host_users() {
    std::map<unsigned, std::string> out;
    auto text = read_file("/etc/passwd");
    if (!text) return out;
    for (auto& line : split(*text, '\n')) {
        auto f = split(line, ':');
        if (f.size() < 3 || f[0].empty() || f[2].empty()) continue;
        if (f[2].find_first_not_of("0123456789") != std::string::npos) continue;
        out.emplace(unsigned(std::stoul(f[2])), f[0]);
    }
    return out;
}

// procps dev_to_tty for the terminals a container can have.
std::string tty_name(std::uint64_t tty_nr) {
    if (tty_nr == 0) return "?";
    unsigned major = unsigned((tty_nr >> 8) & 0xfff);
    unsigned minor = unsigned((tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
    if (major >= 136 && major <= 143) return "pts/" + std::to_string(minor + (major - 136) * 256);
    if (major == 4 && minor < 64) return "tty" + std::to_string(minor);
    if (major == 4) return "ttyS" + std::to_string(minor - 64);
    return "?";
}

// procps pr_time: cumulative CPU time, [DD-]HH:MM:SS.
std::string cpu_time(std::uint64_t seconds) {
    char buf[48];
    std::uint64_t days = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
    if (days)
        std::snprintf(buf, sizeof buf, "%llu-%02llu:%02llu:%02llu", (unsigned long long)days, (unsigned long long)h,
                      (unsigned long long)m, (unsigned long long)s);
    else
        std::snprintf(buf, sizeof buf, "%02llu:%02llu:%02llu", (unsigned long long)h, (unsigned long long)m,
                      (unsigned long long)s);
    return buf;
}

// procps pr_stime: HH:MM today, MmmDD this year, else the year.
std::string start_time(std::time_t started, std::time_t now) {
    struct tm mine {}, theirs {};
    ::localtime_r(&now, &mine);
    ::localtime_r(&started, &theirs);
    const char* fmt = "%H:%M";
    if (mine.tm_yday != theirs.tm_yday) fmt = "%b%d";
    if (mine.tm_year != theirs.tm_year) fmt = "%Y";
    char buf[32];
    std::size_t n = std::strftime(buf, sizeof buf, fmt, &theirs);
    return std::string(buf, n);
}

std::uint64_t boot_time() {
    auto text = read_file("/proc/stat");
    if (!text) return 0;
    for (auto& line : split(*text, '\n'))
        if (starts_with(line, "btime ")) return to_u64(trim(std::string_view(line).substr(6)));
    return 0;
}

double uptime_seconds() {
    auto text = read_file("/proc/uptime");
    return text ? std::strtod(text->c_str(), nullptr) : 0.0;
}

// Reads a pipe to its end, or until the deadline passes.
struct child_output {
    std::string out, err;
    bool timed_out = false;
};

child_output drain(int out_fd, int err_fd, std::chrono::steady_clock::time_point deadline) {
    child_output r;
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open = 2;
    char buf[16384];
    while (open > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            break;
        }
        int n = ::poll(fds, 2, int(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                fds[i].fd = -1;
                --open;
                continue;
            }
            (i == 0 ? r.out : r.err).append(buf, std::size_t(got));
        }
    }
    return r;
}

std::string find_ps() {
    for (const char* p : {"/usr/bin/ps", "/bin/ps", "/usr/local/bin/ps"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

// Runs ps; its exit status is out of reach (the daemon ignores SIGCHLD, so
// children are reaped by the kernel): success is output with a header.
result<child_output> spawn_ps(const std::string& exe, const std::vector<std::string>& args) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return sys_error("ps: pipe");
    unique_fd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) return sys_error("ps: pipe");
    unique_fd err_r(err[0]), err_w(err[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
    std::vector<std::string> all = {"ps"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    // posix_spawn (clone with CLONE_VM|CLONE_VFORK, then exec): nothing of
    // the daemon's address space is copied, no handler runs in the child.
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &at, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return sys_error("ps: start " + exe, rc);
    // Held before anything can reap it, so a timeout kills this ps and never
    // a process that reused its pid.
    unique_fd pidfd(sys::pidfd_open(pid));
    out_w.reset();
    err_w.reset();
    auto r = drain(out_r.get(), err_r.get(), std::chrono::steady_clock::now() + std::chrono::seconds(10));
    if (r.timed_out) {
        if (pidfd) sys::pidfd_send_signal(pidfd.get(), SIGKILL);
        return make_error(errc::internal, "ps: timed out after 10 s");
    }
    return r;
}

}  // namespace

process_table list_processes(const std::vector<int>& pids) {
    process_table t;
    t.titles = {"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"};
    auto users = host_users();
    std::uint64_t hz = std::uint64_t(std::max(1L, ::sysconf(_SC_CLK_TCK)));
    std::uint64_t btime = boot_time();
    double up = uptime_seconds();
    std::time_t now = std::time(nullptr);
    for (int pid : pids) {
        std::string base = "/proc/" + std::to_string(pid);
        auto stat = read_file(base + "/stat");
        auto status = read_file(base + "/status");
        if (!stat || !status) continue;  // exited meanwhile
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        auto open = stat->find('('), close = stat->rfind(')');
        if (open == std::string::npos || close == std::string::npos || close < open) continue;
        std::string comm = stat->substr(open + 1, close - open - 1);
        auto f = fields_of(std::string_view(*stat).substr(close + 1));
        if (f.size() < 20) continue;
        std::string state = f[0];
        std::uint64_t ppid = to_u64(f[1]), tty_nr = to_u64(f[4]);
        std::uint64_t ticks = to_u64(f[11]) + to_u64(f[12]);
        std::uint64_t started_ticks = to_u64(f[19]);
        // The effective uid: ps -f's UID column.
        unsigned euid = 0;
        for (auto& line : split(*status, '\n'))
            if (starts_with(line, "Uid:")) {
                auto u = fields_of(std::string_view(line).substr(4));
                if (u.size() >= 2) euid = unsigned(to_u64(u[1]));
            }
        auto user = users.find(euid);
        // procps pr_c: CPU time over lifetime, in percent, at most 99.
        double lifetime = up - double(started_ticks) / double(hz);
        std::uint64_t c = 0;
        if (lifetime >= 1) c = std::min<std::uint64_t>(99, std::uint64_t(double(ticks * 100 / hz) / lifetime));
        std::string cmd;
        if (auto cl = read_file(base + "/cmdline"); cl && !cl->empty()) {
            std::string v = *cl;
            while (!v.empty() && v.back() == '\0') v.pop_back();
            std::replace(v.begin(), v.end(), '\0', ' ');
            cmd = v;
        }
        if (cmd.empty()) cmd = "[" + comm + "]";
        if (state == "Z") cmd = "[" + comm + "] <defunct>";
        t.processes.push_back({user != users.end() ? user->second : std::to_string(euid), std::to_string(pid),
                               std::to_string(ppid), std::to_string(c),
                               start_time(std::time_t(btime + started_ticks / hz), now), tty_name(tty_nr),
                               cpu_time(ticks / hz), cmd});
    }
    return t;
}

status validate_ps_args(const std::string& ps_args) {
    // moby: \s+([^\s]*)=\s*(PID[^\s]*) must have "pid" as its key.
    auto space = [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; };
    for (std::size_t eq = ps_args.find('='); eq != std::string::npos; eq = ps_args.find('=', eq + 1)) {
        std::size_t v = eq + 1;
        while (v < ps_args.size() && space(ps_args[v])) ++v;
        if (ps_args.compare(v, 3, "PID") != 0) continue;
        std::size_t k = eq;
        while (k > 0 && !space(ps_args[k - 1])) --k;
        if (k == 0) continue;  // the pattern needs white space before the key
        std::string key = ps_args.substr(k, eq - k);
        std::size_t vend = v;
        while (vend < ps_args.size() && !space(ps_args[vend])) ++vend;
        if (key != "pid")
            return make_error(errc::invalid_argument,
                              "specifying \"" + key + "=" + ps_args.substr(v, vend - v) + "\" is not allowed");
    }
    return ok();
}

result<process_table> run_ps(const std::string& ps_args, std::vector<int> pids) {
    BERTH_TRY(validate_ps_args(ps_args));
    std::sort(pids.begin(), pids.end());
    std::string exe = find_ps();
    if (exe.empty())
        return make_error(errc::unavailable, "ps_args needs the ps command, which is not installed on the host "
                                             "(without ps_args, top lists the processes from /proc)");
    std::vector<std::string> args;
    for (auto& a : split(ps_args, ' '))
        if (!a.empty()) args.push_back(a);
    std::string list = "-q";
    for (std::size_t i = 0; i < pids.size(); ++i) list += (i ? "," : "") + std::to_string(pids[i]);
    auto with_pids = args;
    with_pids.push_back(list);
    auto has_header = [](const child_output& o) { return fields_of(o.out.substr(0, o.out.find('\n'))).size() > 0; };
    BERTH_ASSIGN(child_output r, spawn_ps(exe, with_pids));
    if (!has_header(r)) {
        // Some options (such as f) cannot be combined with q: retry without.
        BERTH_ASSIGN(r, spawn_ps(exe, args));
        if (!has_header(r)) {
            std::string why = trim(r.err.substr(0, r.err.find('\n')));
            return make_error(errc::internal, "ps: " + (why.empty() ? std::string("no output") : why));
        }
    }
    // moby parsePSOutput.
    process_table t;
    auto lines = split(r.out, '\n');
    t.titles = fields_of(lines[0]);
    auto pid_col = std::find(t.titles.begin(), t.titles.end(), "PID");
    if (pid_col == t.titles.end()) return make_error(errc::internal, "Couldn't find PID field in ps output");
    std::size_t pid_index = std::size_t(pid_col - t.titles.begin());
    bool previous_kept = false;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        auto f = fields_of(lines[i]);
        if (f.empty()) continue;
        if (f.size() <= pid_index) continue;
        auto keep = [&] {
            // Overhanging fields (a CMD with spaces) join the last column.
            std::vector<std::string> row(f.begin(), f.begin() + std::min(f.size(), t.titles.size() - 1));
            std::string last;
            for (std::size_t j = t.titles.size() - 1; j < f.size(); ++j) last += (last.empty() ? "" : " ") + f[j];
            row.push_back(last);
            t.processes.push_back(std::move(row));
        };
        if (f[pid_index] == "-") {
            if (previous_kept) keep();
            continue;
        }
        if (f[pid_index].find_first_not_of("0123456789") != std::string::npos)
            return make_error(errc::internal, "Unexpected pid '" + f[pid_index] + "'");
        int p = std::atoi(f[pid_index].c_str());
        previous_kept = std::binary_search(pids.begin(), pids.end(), p);
        if (previous_kept) keep();
    }
    return t;
}

}  // namespace berth
