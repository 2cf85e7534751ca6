#include "cli/attach.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <functional>
#include <vector>

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

// Forwards the signals a user sends to `berth run` to the container, as
// docker's --sig-proxy does for a container without a tty. The signals are
// blocked except inside ppoll(), so one cannot slip in between a check and
// the wait.
constexpr int proxied_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
volatile std::sig_atomic_t caught[NSIG];

extern "C" void note_signal(int sig) { caught[sig] = 1; }

class signal_proxy {
public:
    signal_proxy() {
        sigset_t set;
        sigemptyset(&set);
        for (int s : proxied_signals) sigaddset(&set, s);
        ::sigprocmask(SIG_BLOCK, &set, &_old_mask);
        _wait_mask = _old_mask;
        struct sigaction sa {};
        sa.sa_handler = note_signal;
        sigemptyset(&sa.sa_mask);
        for (std::size_t i = 0; i < std::size(proxied_signals); ++i) {
            sigdelset(&_wait_mask, proxied_signals[i]);
            ::sigaction(proxied_signals[i], &sa, &_old_actions[i]);
        }
    }
    ~signal_proxy() {
        for (std::size_t i = 0; i < std::size(proxied_signals); ++i)
            ::sigaction(proxied_signals[i], &_old_actions[i], nullptr);
        ::sigprocmask(SIG_SETMASK, &_old_mask, nullptr);
    }
    signal_proxy(const signal_proxy&) = delete;
    signal_proxy& operator=(const signal_proxy&) = delete;

    // The mask to wait with: the proxied signals deliverable.
    const sigset_t* wait_mask() const { return &_wait_mask; }

    // Signals caught since the last call.
    static std::vector<int> take() {
        std::vector<int> out;
        for (int s : proxied_signals)
            if (caught[s]) {
                caught[s] = 0;
                out.push_back(s);
            }
        return out;
    }

private:
    sigset_t _old_mask{};
    sigset_t _wait_mask{};
    struct sigaction _old_actions[std::size(proxied_signals)] {};
};

// Copies the attached stream to stdout/stderr and, with send_stdin, stdin to
// the stream, in one thread: poll() on both, the socket written without
// blocking, so a container that stops reading its stdin cannot stall its
// output (nor the reverse). Returns when the daemon closes its side.
status pump(net::hijacked_stream& s, bool send_stdin, bool tty, const sigset_t* wait_mask,
            const std::function<void()>& on_interrupt) {
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
        if (got == 0) return ok();
        std::string_view data(buf.data(), got);
        if (tty)
            BERTH_TRY(write_fd(1, data));
        else
            BERTH_TRY(demux.feed(data));
    }
}

void resize_tty(const net::client& api, const std::string& id) {
    winsize ws{};
    if (::ioctl(1, TIOCGWINSZ, &ws) != 0 && ::ioctl(0, TIOCGWINSZ, &ws) != 0) return;
    if (ws.ws_row == 0 || ws.ws_col == 0) return;
    // Best effort, like docker: a failed resize leaves the default size.
    (void)api.request("POST", "/containers/" + escape_path(id) + "/resize?h=" + std::to_string(ws.ws_row) +
                                  "&w=" + std::to_string(ws.ws_col));
}

}  // namespace

int run_attached(context& ctx, const attach_plan& plan) {
    auto fail_with = [&](const error& e, int code) { return fail(e, code, plan.error_prefix); };
    auto api_r = ctx.api();
    if (!api_r) return fail_with(api_r.err(), 125);
    const net::client& api = **api_r;
    const std::string base = "/containers/" + escape_path(plan.id);

    net::response refused;
    auto attached = api.hijack(base + (plan.send_stdin ? "/attach?stderr=1&stdin=1&stdout=1&stream=1"
                                                       : "/attach?stderr=1&stdout=1&stream=1"),
                               {}, &refused);
    if (!attached) {
        if (refused.status != 0) return fail_with(daemon_error(refused.status, refused.body), 125);
        return fail_with(attached.err(), 125);
    }
    if (!plan.send_stdin) {
        if (auto st = attached->close_write(); !st) return fail_with(st.err(), 125);
    }

    auto waiter = api.stream("POST", base + "/wait?condition=" + plan.wait_condition);
    if (!waiter) return fail_with(waiter.err(), 125);
    if (!waiter->ok()) {
        auto body = waiter->read_all();
        return fail_with(daemon_error(waiter->status(), body ? *body : std::string()), 125);
    }

    auto started = api.request("POST", base + "/start");
    if (!started) return fail_with(started.err(), 125);
    if (!started->ok()) {
        std::string msg = net::error_message(started->status, started->body);
        return fail_with(make_error(errc::internal, "Error response from daemon: " + msg),
                         start_failure_exit_code(msg));
    }

    {
        // With a tty, ^C reaches the container as a byte through the raw
        // terminal; without one, the signal itself is forwarded.
        std::optional<raw_terminal> raw;
        std::optional<signal_proxy> proxy;
        if (plan.tty) {
            resize_tty(api, plan.id);
            if (plan.send_stdin) raw.emplace(0);
        } else {
            proxy.emplace();
        }
        auto forward = [&] {
            for (int sig : signal_proxy::take())
                (void)api.request("POST", base + "/kill?signal=" + std::to_string(sig));
        };
        auto st = pump(*attached, plan.send_stdin, plan.tty, proxy ? proxy->wait_mask() : nullptr, forward);
        if (!st) {
            raw.reset();
            return fail_with(st.err(), 125);
        }
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

}  // namespace berth::cli
