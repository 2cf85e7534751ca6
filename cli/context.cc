// Connecting to the daemon, and starting one when nothing answers.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "base/util.h"
#include "cli/command.h"

namespace berth::cli {

namespace {

constexpr int autostart_wait_ms = 10'000;
constexpr int autostart_poll_ms = 100;

error cannot_connect(const globals& g) {
    return make_error(errc::unavailable,
                      "Cannot connect to the berth daemon at " + g.host + ". Is the daemon running?");
}

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "/proc/self/exe";
    return std::string(buf, static_cast<std::size_t>(n));
}

void sleep_ms(int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// Starts `berth daemon -H <host> --data-root <root>` in its own session with
// stdin on /dev/null and stdout and stderr appended to <root>/daemon.log.
// posix_spawn: the CLI is small and single-threaded, and spawn leaves no
// window between fork and exec to get wrong.
result<pid_t> spawn_daemon(const globals& g, const std::string& log_path) {
    BERTH_TRY(make_dirs(g.data_root, 0711));
    unique_fd log(::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!log) return sys_error("open " + log_path);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, log.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, log.get(), 2);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all_default;
    sigemptyset(&none);
    sigfillset(&all_default);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all_default);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::string exe = self_exe();
    std::vector<std::string> args = {"berth", "daemon", "-H", g.host, "--data-root", g.data_root};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return sys_error("spawn " + exe + " daemon", rc);
    return pid;
}

bool should_autostart(const error& e) {
    return e.code == errc::unavailable && (e.sys_errno == ENOENT || e.sys_errno == ECONNREFUSED);
}

}  // namespace

result<std::string> socket_path_of(std::string_view host) {
    if (starts_with(host, "unix://")) host.remove_prefix(7);
    else if (host.find("://") != std::string_view::npos)
        return make_error(errc::invalid_argument,
                          "unsupported host " + std::string(host) + ": berth listens on unix:// sockets only");
    if (host.empty() || host[0] != '/')
        return make_error(errc::invalid_argument, "invalid host: socket path must be absolute");
    return std::string(host);
}

result<const net::client*> context::api() {
    if (_client) return &*_client;
    BERTH_ASSIGN(std::string path, socket_path_of(_globals.host));
    net::client c(path);
    auto pinged = c.ping();
    if (pinged) {
        _client.emplace(std::move(c));
        return &*_client;
    }
    if (pinged.err().sys_errno == EACCES)
        return make_error(errc::unavailable, "permission denied while trying to connect to the berth daemon socket at " +
                                                 _globals.host);
    if (_globals.no_autostart || !should_autostart(pinged.err())) return cannot_connect(_globals);

    std::string log_path = _globals.data_root + "/daemon.log";
    auto pid = spawn_daemon(_globals, log_path);
    if (!pid) return pid.err().wrap("no daemon answered on " + _globals.host + "; start one");
    std::fprintf(stderr, "berth: no daemon answered on %s; started one (data root %s, log %s)\n",
                 _globals.host.c_str(), _globals.data_root.c_str(), log_path.c_str());

    for (int waited = 0; waited < autostart_wait_ms; waited += autostart_poll_ms) {
        if (c.ping()) {
            _client.emplace(std::move(c));
            return &*_client;
        }
        int wstatus = 0;
        if (::waitpid(*pid, &wstatus, WNOHANG) == *pid) {
            std::string how = WIFEXITED(wstatus) ? "exited with status " + std::to_string(WEXITSTATUS(wstatus))
                                                 : "was killed by signal " + std::to_string(WTERMSIG(wstatus));
            return make_error(errc::unavailable, "the berth daemon " + how + "; see " + log_path);
        }
        sleep_ms(autostart_poll_ms);
    }
    return make_error(errc::unavailable, "the berth daemon started but did not answer on " + _globals.host +
                                             " within 10s; see " + log_path);
}

int fail(const error& e, int code, std::string_view prefix) {
    std::fflush(stdout);
    std::string line(prefix);
    line += e.message;
    line += '\n';
    std::fputs(line.c_str(), stderr);
    return code;
}

}  // namespace berth::cli
