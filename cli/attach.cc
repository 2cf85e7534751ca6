#include "cli/attach.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <functional>
#include <optional>
#include <vector>

#include "base/detach_keys.h"
#include "cli/api.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

// Puts a terminal in raw mode for the life of the object (docker run -it):
// keystrokes, ^C included, go to the container's pty.
class raw_terminal {
public:
    explicit raw_terminal(int fd) : _fd(fd) {
        if (!::isatty(fd) || ::tcgetattr(fd, &_saved) != 0) return;
        termios raw = _saved;
        ::cfmakeraw(&raw);
        _active = ::tcsetattr(fd, TCSANOW, &raw) == 0;
    }
    ~raw_terminal() {
        if (_active) ::tcsetattr(_fd, TCSANOW, &_saved);
    }
    raw_terminal(const raw_terminal&) = delete;
    raw_terminal& operator=(const raw_terminal&) = delete;

private:
    int _fd;
    termios _saved{};
    bool _active = false;
};

// Catches signals for the copy loop: without a tty, the ones docker's
// --sig-proxy forwards to the container; with one, SIGWINCH (a resize). The
// signals are blocked except inside ppoll(), so one cannot slip in between
// a check and the wait.
constexpr int proxied_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
volatile std::sig_atomic_t caught[NSIG];

extern "C" void note_signal(int sig) { caught[sig] = 1; }

class signal_catcher {
public:
    explicit signal_catcher(std::vector<int> signals) : _signals(std::move(signals)), _old_actions(_signals.size()) {
        sigset_t set;
        sigemptyset(&set);
        for (int s : _signals) sigaddset(&set, s);
        ::sigprocmask(SIG_BLOCK, &set, &_old_mask);
        _wait_mask = _old_mask;
        struct sigaction sa {};
        sa.sa_handler = note_signal;
        sigemptyset(&sa.sa_mask);
        for (std::size_t i = 0; i < _signals.size(); ++i) {
            sigdelset(&_wait_mask, _signals[i]);
            ::sigaction(_signals[i], &sa, &_old_actions[i]);
        }
    }
    ~signal_catcher() {
        for (std::size_t i = 0; i < _signals.size(); ++i) ::sigaction(_signals[i], &_old_actions[i], nullptr);
        ::sigprocmask(SIG_SETMASK, &_old_mask, nullptr);
    }
    signal_catcher(const signal_catcher&) = delete;
    signal_catcher& operator=(const signal_catcher&) = delete;

    // The mask to wait with: the caught signals deliverable.
    const sigset_t* wait_mask() const { return &_wait_mask; }

    // Signals caught since the last call.
    std::vector<int> take() {
        std::vector<int> out;
        for (int s : _signals)
            if (caught[s]) {
                caught[s] = 0;
                out.push_back(s);
            }
        return out;
    }

private:
    std::vector<int> _signals;
    sigset_t _old_mask{};
    sigset_t _wait_mask{};
    std::vector<struct sigaction> _old_actions;
};

enum class pump_end { closed, detached };

// Copies the attached stream to stdout/stderr and, with send_stdin, stdin to
// the stream, in one thread: poll() on both, the socket written without
// blocking, so a container that stops reading its stdin cannot stall its
// output (nor the reverse). Returns when the daemon closes its side, or when
// the detach keys were typed (escape: with a tty and stdin).
result<pump_end> pump(net::hijacked_stream& s, bool send_stdin, bool tty, const sigset_t* wait_mask,
                      const std::function<void()>& on_interrupt, escape_matcher* escape) {
    net::stdcopy_demuxer demux([](net::std_stream st, std::string_view d) {
        return write_fd(st == net::std_stream::err || st == net::std_stream::system_err ? 2 : 1, d);
    });
    bool stdin_open = send_stdin;
    bool write_closed = !send_stdin;  // the caller half-closed already
    std::string pending;              // stdin bytes the socket has not taken yet
    std::size_t off = 0;
    std::vector<char> buf(64 * 1024);

    auto finish_stdin = [&]() -> status {
        stdin_open = false;
        if (off == pending.size() && !write_closed) {
            write_closed = true;
            return s.close_write();
        }
        return ok();
    };

    for (;;) {
        if (!s.has_buffered()) {
            pollfd fds[2] = {{s.fd(), POLLIN, 0}, {0, POLLIN, 0}};
            if (off < pending.size()) fds[0].events |= POLLOUT;
            nfds_t n = (stdin_open && off == pending.size()) ? 2 : 1;
            if (::ppoll(fds, n, nullptr, wait_mask) < 0) {
                if (errno != EINTR) return sys_error("poll");
                if (on_interrupt) on_interrupt();
                continue;
            }
            if (n == 2 && fds[1].revents != 0) {
                ssize_t r = ::read(0, buf.data(), buf.size());
                if (r > 0) {
                    pending.assign(buf.data(), static_cast<std::size_t>(r));
                    off = 0;
                    bool detached = false;
                    if (escape) pending = escape->feed(pending, detached);
                    if (detached) {
                        // What came before the keys still goes in, and the
                        // keys too: the daemon then detaches this attachment
                        // rather than taking our disconnect for the end of
                        // stdin (which would close it for good).
                        (void)s.write_all(pending + escape->sequence());
                        return pump_end::detached;
                    }
                } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                    pending.clear();
                    off = 0;
                    BERTH_TRY(finish_stdin());
                }
            }
            if (off < pending.size() && (fds[0].revents & (POLLOUT | POLLERR))) {
                auto w = s.write_some(std::string_view(pending).substr(off));
                if (!w) {
                    // The daemon no longer reads stdin (the container exited):
                    // drop the rest and keep reading output.
                    pending.clear();
                    off = 0;
                    stdin_open = false;
                    write_closed = true;
                } else {
                    off += *w;
                    if (off == pending.size()) {
                        pending.clear();
                        off = 0;
                        if (!stdin_open && !write_closed) {
                            write_closed = true;
                            BERTH_TRY(s.close_write());
                        }
                    }
                }
            }
            if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        }
        BERTH_ASSIGN(std::size_t got, s.read_some(buf.data(), buf.size()));
        if (got == 0) return pump_end::closed;
        std::string_view data(buf.data(), got);
        if (tty)
            BERTH_TRY(write_fd(1, data));
        else
            BERTH_TRY(demux.feed(data));
    }
}

// base: "/containers/ID" or "/exec/ID".
void resize_tty(const net::client& api, const std::string& base) {
    winsize ws{};
    if (::ioctl(1, TIOCGWINSZ, &ws) != 0 && ::ioctl(0, TIOCGWINSZ, &ws) != 0) return;
    if (ws.ws_row == 0 || ws.ws_col == 0) return;
    // Best effort, like docker: a failed resize leaves the default size.
    (void)api.request("POST", base + "/resize?h=" + std::to_string(ws.ws_row) + "&w=" + std::to_string(ws.ws_col));
}

// The interactive part every attached command shares: raw terminal and
// resizes with a tty, signal forwarding without one (to `kill_base`/kill,
// when given), detach keys, the copy loop.
result<pump_end> copy_attached(const net::client& api, net::hijacked_stream& stream, const std::string& base,
                               bool tty, bool send_stdin, const std::string& kill_base,
                               const std::string& detach_keys) {
    std::optional<raw_terminal> raw;
    std::optional<escape_matcher> escape;
    std::vector<int> sigs;
    if (tty) {
        resize_tty(api, base);
        sigs = {SIGWINCH};
        if (send_stdin) {
            raw.emplace(0);
            BERTH_ASSIGN(auto keys, parse_detach_keys(detach_keys));
            escape.emplace(keys);
        }
    } else if (!kill_base.empty()) {
        sigs.assign(std::begin(proxied_signals), std::end(proxied_signals));
    }
    signal_catcher catcher(sigs);
    auto on_signal = [&] {
        for (int sig : catcher.take()) {
            if (sig == SIGWINCH) resize_tty(api, base);
            else (void)api.request("POST", kill_base + "/kill?signal=" + std::to_string(sig));
        }
    };
    return pump(stream, send_stdin, tty, sigs.empty() ? nullptr : catcher.wait_mask(), on_signal,
                escape ? &*escape : nullptr);
}

}  // namespace

int run_attached(context& ctx, const attach_plan& plan) {
    auto fail_with = [&](const error& e, int code) { return fail(e, code, plan.error_prefix); };
    auto api_r = ctx.api();
    if (!api_r) return fail_with(api_r.err(), 125);
    const net::client& api = **api_r;
    const std::string base = "/containers/" + escape_path(plan.id);

    std::string target = base + (plan.send_stdin ? "/attach?stderr=1&stdin=1&stdout=1&stream=1"
                                                 : "/attach?stderr=1&stdout=1&stream=1");
    if (!plan.detach_keys.empty()) target += "&detachKeys=" + escape_query(plan.detach_keys);
    net::response refused;
    auto attached = api.hijack(target, {}, &refused);
    if (!attached) {
        if (refused.status != 0) return fail_with(daemon_error(refused.status, refused.body), 125);
        return fail_with(attached.err(), 125);
    }
    if (!plan.send_stdin) {
        if (auto st = attached->close_write(); !st) return fail_with(st.err(), 125);
    }

    std::optional<net::response_stream> waiter;
    if (plan.start) {
        auto w = api.stream("POST", base + "/wait?condition=" + plan.wait_condition);
        if (!w) return fail_with(w.err(), 125);
        if (!w->ok()) {
            auto body = w->read_all();
            return fail_with(daemon_error(w->status(), body ? *body : std::string()), 125);
        }
        waiter.emplace(std::move(*w));

        auto started = api.request("POST", base + "/start");
        if (!started) return fail_with(started.err(), 125);
        if (!started->ok()) {
            std::string msg = net::error_message(started->status, started->body);
            return fail_with(make_error(errc::internal, "Error response from daemon: " + msg),
                             start_failure_exit_code(msg));
        }
    }

    // With a tty, ^C reaches the container as a byte through the raw
    // terminal; without one, the signal itself is forwarded (--sig-proxy).
    auto end = copy_attached(api, *attached, base, plan.tty, plan.send_stdin, plan.sig_proxy ? base : std::string(),
                             plan.detach_keys);
    if (!end) return fail_with(end.err(), 125);
    if (*end == pump_end::detached) return 0;  // the container goes on

    if (!waiter) {
        // docker attach: the container's exit code once the stream ends.
        auto r = api.request("GET", base + "/json");
        if (!r || !r->ok()) return 0;
        auto v = parse_json(r->body, "inspect answer");
        if (!v) return 0;
        const auto* state = v->is_object() ? v->as_object().if_contains("State") : nullptr;
        if (!state || json_bool(*state, "Running")) return 0;
        return static_cast<int>(json_int(*state, "ExitCode"));
    }
    auto body = waiter->read_all();
    if (!body) return fail_with(body.err().wrap("Error waiting for container"), 125);
    auto v = parse_json(*body, "wait answer");
    if (!v) return fail_with(v.err(), 125);
    if (const auto* o = v->if_object()) {
        if (const auto* e = o->if_contains("Error"); e && e->is_object()) {
            std::string msg = json_string(*e, "Message");
            if (!msg.empty())
                return fail_with(make_error(errc::internal, "Error waiting for container: " + msg), 125);
        }
    }
    return static_cast<int>(json_int(*v, "StatusCode"));
}

int run_exec(context& ctx, const exec_plan& plan) {
    auto api_r = ctx.api();
    if (!api_r) return fail(api_r.err(), 1);
    const net::client& api = **api_r;
    auto created = api.request("POST", "/containers/" + escape_path(plan.container) + "/exec",
                               boost::json::serialize(plan.body));
    if (!created) return fail(created.err(), 1);
    if (created->status != 201) return fail(daemon_error(created->status, created->body), 1);
    auto v = parse_json(created->body, "exec answer");
    if (!v) return fail(v.err(), 1);
    std::string id = json_string(*v, "Id");
    const std::string base = "/exec/" + escape_path(id);
    boost::json::object start{{"Detach", plan.detach}, {"Tty", plan.tty}};

    if (plan.detach) {
        auto r = api.request("POST", base + "/start", boost::json::serialize(start));
        if (!r) return fail(r.err(), 1);
        if (!r->ok()) return fail(daemon_error(r->status, r->body), 1);
        return 0;
    }
    net::response refused;
    auto attached = api.hijack(base + "/start", boost::json::serialize(start), &refused);
    if (!attached) {
        if (refused.status != 0) return fail(daemon_error(refused.status, refused.body), 1);
        return fail(attached.err(), 1);
    }
    if (!plan.interactive) {
        if (auto st = attached->close_write(); !st) return fail(st.err(), 1);
    }
    auto end = copy_attached(api, *attached, base, plan.tty, plan.interactive, {}, plan.detach_keys);
    if (!end) return fail(end.err(), 1);
    if (*end == pump_end::detached) return 0;

    auto r = api.request("GET", base + "/json");
    if (!r) return fail(r.err(), 1);
    if (!r->ok()) return fail(daemon_error(r->status, r->body), 1);
    auto info = parse_json(r->body, "exec inspect answer");
    if (!info) return fail(info.err(), 1);
    return static_cast<int>(json_int(*info, "ExitCode"));
}

}  // namespace berth::cli
