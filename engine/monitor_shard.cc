#include "engine/monitor_shard.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "base/log.h"
#include "engine/monitor_client.h"

namespace berth {

monitor_shard::monitor_shard(asio::io_context& loop, std::string data_root, int index, hooks h)
    : _loop(loop), _root(std::move(data_root)), _index(index), _hooks(std::move(h)), _sock(loop) {}

monitor_shard::~monitor_shard() = default;

void monitor_shard::start() { asio::co_spawn(_loop, run(), asio::detached); }

status monitor_shard::send(const monitor::message& m) {
    if (!_connected && !_hold) return make_error(errc::unavailable, "the berth monitor is not connected");
    std::string pkt = monitor::encode(m);
    if (_connected && _outq.empty()) {
        ssize_t n = ::send(_sock.native_handle(), pkt.data(), pkt.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) return ok();
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) return sys_error("send to monitor");
    }
    _outq_bytes += pkt.size();
    _outq.push_back(std::move(pkt));
    kick_writer();
    return ok();
}

void monitor_shard::kick_writer() {
    if (!_connected || _writer_running || _outq.empty()) return;
    _writer_running = true;
    asio::co_spawn(_loop, write_queued(), asio::detached);
}

void monitor_shard::drop_queue() {
    _outq.clear();
    _outq_bytes = 0;
}

awaitable<void> monitor_shard::write_queued() {
    std::uint64_t gen = _generation;
    while (_connected && gen == _generation && !_outq.empty()) {
        auto& pkt = _outq.front();
        ssize_t n = ::send(_sock.native_handle(), pkt.data(), pkt.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            boost::system::error_code ec;
            co_await _sock.async_wait(asio::posix::descriptor_base::wait_write, asio::redirect_error(use_awaitable, ec));
            if (ec) break;
            continue;
        }
        if (n < 0) break;
        _outq_bytes -= pkt.size();
        _outq.pop_front();
    }
    _writer_running = false;
    // The connection this writer served was replaced while it waited.
    if (gen != _generation) kick_writer();
}

awaitable<bool> monitor_shard::connect_once() {
    std::string path = monitor::shard_file(_root, _index, ".sock");
    boost::system::error_code ec;
    if (_sock.is_open()) _sock.close(ec);
    unique_fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) co_return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    // A local connect completes at once (or fails at once).
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) co_return false;
    _sock.assign(fd.release());
    co_return true;
}

awaitable<void> monitor_shard::run() {
    for (;;) {
        bool up = co_await connect_once();
        if (!up) {
            auto s = monitor_client::spawn_monitor(_root, _hooks.cgroup_leaf ? _hooks.cgroup_leaf() : std::string(), _index,
                                                   _hooks.control_priority);
            if (!s) log::error("{}", s.err().message);
            for (int i = 0; i < 200 && !up; ++i) {
                asio::steady_timer t(_loop, std::chrono::milliseconds(10));
                co_await t.async_wait(use_awaitable);
                up = co_await connect_once();
            }
            if (!up) {
                log::error("cannot reach the monitor at {}; retrying", monitor::shard_file(_root, _index, ".sock"));
                if (std::exchange(_hold, false)) {
                    drop_queue();
                    _hooks.on_unreachable(*this);
                }
                asio::steady_timer t(_loop, std::chrono::seconds(1));
                co_await t.async_wait(use_awaitable);
                continue;
            }
        }
        _connected = true;
        _hold = false;
        ++_generation;
        // The hello goes first, before anything held for this connection.
        std::string hello = monitor::encode({monitor::msg::hello, {}, {}});
        _outq_bytes += hello.size();
        _outq.push_front(std::move(hello));
        kick_writer();
        std::string buf(monitor::max_packet, '\0');
        for (;;) {
            boost::system::error_code ec;
            co_await _sock.async_wait(asio::posix::descriptor_base::wait_read, asio::redirect_error(use_awaitable, ec));
            if (ec) break;
            ssize_t n = ::recv(_sock.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
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
                _hooks.on_message(*this, *m);
            } catch (const std::exception& e) {
                log::error("monitor message type {}: {}", int(m->type), e.what());
            }
        }
        _connected = false;
        drop_queue();
        log::warn("lost the connection to the monitor {}; reconnecting", monitor::shard_file(_root, _index, ".sock"));
        _hooks.on_lost(*this);
    }
}

}  // namespace berth
