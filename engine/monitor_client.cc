#include "engine/monitor_client.h"

#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <deque>

#include "base/log.h"
#include "engine/cgroup/manager.h"
#include "engine/engine.h"

extern char** environ;

namespace berth {

struct monitor_client::impl {
    explicit impl(asio::io_context& l) : sock(l), ready(l.get_executor()) {}
    // A SOCK_SEQPACKET socket awaited for readability (IORING_OP_POLL_ADD)
    // and read with recvmsg: Asio has no local seq-packet protocol.
    asio::posix::stream_descriptor sock;
    async_event ready;
    bool connected = false;
    // Outbound packets the socket could not take at once; the loop never
    // blocks on the monitor (which may be busy, or stopped).
    std::deque<std::string> outq;
    std::size_t outq_bytes = 0;
    bool writer_running = false;
    std::vector<std::pair<std::string, int>> running;  // state parts received so far
};

monitor_client::monitor_client(asio::io_context& loop, engine& eng, std::string data_root)
    : _loop(loop), _engine(eng), _root(std::move(data_root)), _p(std::make_unique<impl>(loop)) {}

monitor_client::~monitor_client() = default;

status monitor_client::spawn_monitor(const std::string& root, const std::string& cgroup_leaf) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string logp = root + "/monitor.log";
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logp.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF);
    std::string exe = "/proc/self/exe";
    std::vector<std::string> args = {"berth", "monitor", "--data-root", root};
    if (!cgroup_leaf.empty()) args.insert(args.end(), {"--cgroup", cgroup_leaf});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, &at, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return sys_error("start monitor", rc);
    log::info("started monitor pid {} for {}", pid, root);
    // The monitor is not our child to wait for: it outlives us. A reaper
    // thread would be wrong; SIGCHLD is ignored by the daemon (SA_NOCLDWAIT).
    return ok();
}

void monitor_client::start() {
    asio::co_spawn(_loop, run(), asio::detached);
}

awaitable<void> monitor_client::ready() { co_await _p->ready.wait(); }

status monitor_client::send(const monitor::message& m) {
    if (!_p->connected) return make_error(errc::unavailable, "the berth monitor is not connected");
    std::string pkt = monitor::encode(m);
    if (_p->outq.empty()) {
        ssize_t n = ::send(_p->sock.native_handle(), pkt.data(), pkt.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) return ok();
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) return sys_error("send to monitor");
    }
    _p->outq_bytes += pkt.size();
    _p->outq.push_back(std::move(pkt));
    if (!_p->writer_running) {
        _p->writer_running = true;
        asio::co_spawn(_loop, write_queued(), asio::detached);
    }
    return ok();
}

std::size_t monitor_client::backlog() const { return _p->outq_bytes; }

awaitable<void> monitor_client::write_queued() {
    while (_p->connected && !_p->outq.empty()) {
        auto& pkt = _p->outq.front();
        ssize_t n = ::send(_p->sock.native_handle(), pkt.data(), pkt.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            boost::system::error_code ec;
            co_await _p->sock.async_wait(asio::posix::descriptor_base::wait_write, asio::redirect_error(use_awaitable, ec));
            if (ec) break;
            continue;
        }
        if (n < 0) break;
        _p->outq_bytes -= pkt.size();
        _p->outq.pop_front();
    }
    _p->writer_running = false;
}

awaitable<bool> monitor_client::connect_once() {
    std::string path = _root + "/monitor.sock";
    boost::system::error_code ec;
    if (_p->sock.is_open()) _p->sock.close(ec);
    unique_fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) co_return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    // A local connect completes at once (or fails at once).
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) co_return false;
    _p->sock.assign(fd.release());
    co_return true;
}

awaitable<void> monitor_client::run() {
    for (;;) {
        bool up = co_await connect_once();
        if (!up) {
            auto s = spawn_monitor(_root, _engine.cgroups().monitor_leaf());
            if (!s) log::error("{}", s.err().message);
            for (int i = 0; i < 200 && !up; ++i) {
                asio::steady_timer t(_loop, std::chrono::milliseconds(10));
                co_await t.async_wait(use_awaitable);
                up = co_await connect_once();
            }
            if (!up) {
                log::error("cannot reach the monitor at {}/monitor.sock; retrying", _root);
                asio::steady_timer t(_loop, std::chrono::seconds(1));
                co_await t.async_wait(use_awaitable);
                continue;
            }
        }
        _p->connected = true;
        (void)send({monitor::msg::hello, {}, {}});
        std::string buf(monitor::max_packet, '\0');
        for (;;) {
            boost::system::error_code ec;
            co_await _p->sock.async_wait(asio::posix::descriptor_base::wait_read, asio::redirect_error(use_awaitable, ec));
            if (ec) break;
            ssize_t n = ::recv(_p->sock.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) break;
            auto m = monitor::decode(std::string_view(buf.data(), std::size_t(n)));
            if (!m) {
                log::error("monitor: {}", m.err().message);
                continue;
            }
            // A monitor from another berth version may send what we do not
            // expect: log it, never let it take the daemon down.
            try {
                dispatch(*m);
            } catch (const std::exception& e) {
                log::error("monitor message type {}: {}", int(m->type), e.what());
            }
        }
        _p->connected = false;
        _p->outq.clear();
        _p->outq_bytes = 0;
        _p->running.clear();
        log::warn("lost the connection to the monitor; reconnecting");
        _engine.on_monitor_lost();
    }
}

void monitor_client::dispatch(monitor::message& m) {
    auto str = [&](const char* k) { return std::string(m.header[k].as_string()); };
    auto* exec_flag = m.header.if_contains("exec");
    bool is_exec = exec_flag && exec_flag->is_bool() && exec_flag->as_bool();
    switch (m.type) {
    case monitor::msg::state: {
        for (auto& v : m.header["running"].as_array())
            _p->running.emplace_back(std::string(v.at("id").as_string()), int(v.at("pid").to_number<int64_t>()));
        auto* last = m.header.if_contains("last");
        if (last && last->is_bool() && !last->as_bool()) break;  // more parts follow
        _engine.on_monitor_state(_p->running);
        _p->running.clear();
        _p->ready.set();
        break;
    }
    case monitor::msg::started:
        if (is_exec) _engine.on_monitor_exec_started(str("id"), int(m.header["pid"].to_number<int64_t>()));
        else _engine.on_monitor_started(str("id"), int(m.header["pid"].to_number<int64_t>()));
        break;
    case monitor::msg::start_failed: {
        auto e = make_error(monitor::errc_from_name(str("code")), str("message"));
        if (is_exec) _engine.on_monitor_exec_failed(str("id"), std::move(e));
        else _engine.on_monitor_start_failed(str("id"), std::move(e));
        break;
    }
    case monitor::msg::output:
        if (is_exec) {
            _engine.on_monitor_exec_output(str("id"), str("stream") == "stderr", m.header["time"].to_number<int64_t>(),
                                           std::move(m.payload));
            break;
        }
        _engine.on_monitor_output(str("id"), str("stream") == "stderr", m.header["time"].to_number<int64_t>(),
                                  m.header["offset"].to_number<std::uint64_t>(), std::move(m.payload));
        break;
    case monitor::msg::exited: {
        std::string id = str("id");
        if (is_exec) {
            _engine.on_monitor_exec_exited(id, int(m.header["exit_code"].to_number<int64_t>()));
            break;
        }
        _engine.on_monitor_exited(id, int(m.header["exit_code"].to_number<int64_t>()),
                                  m.header["finished"].to_number<int64_t>());
        break;
    }
    default: break;
    }
}

}  // namespace berth
