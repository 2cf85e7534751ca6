// One connection from the daemon to one monitor shard of the data root
// (<root>/monitor.sock for shard 0, <root>/monitor-<k>.sock for shard k; see
// engine/monitor/protocol.h). It connects, starting that shard's monitor if
// none answers, says hello, and hands every message the shard sends to its
// owner (monitor_client) on the loop; when the connection drops it tells the
// owner and reconnects, restarting the monitor if it is gone.
//
// Never blocks the loop: packets the socket cannot take wait in a queue that
// a coroutine drains as the socket becomes writable. The queue is dropped
// with the connection.
#pragma once

#include <deque>
#include <functional>
#include <string>

#include "base/error.h"
#include "engine/core/async.h"
#include "engine/monitor/protocol.h"

namespace berth {

class monitor_shard {
public:
    struct hooks {
        // A message from the shard (state, started, output, exited, ...).
        std::function<void(monitor_shard&, monitor::message&)> on_message;
        // The connection dropped after having been up (the queue is gone).
        std::function<void(monitor_shard&)> on_lost;
        // A shard told to hold messages (hold_until_connected) could not be
        // reached by its first round of attempts: what it held is dropped.
        std::function<void(monitor_shard&)> on_unreachable;
        // The cgroup2 leaf a spawned monitor moves itself into ("" for none).
        std::function<std::string()> cgroup_leaf;
        // A spawned monitor's --control-priority (base/sched.h).
        int control_priority = 0;
    };

    monitor_shard(asio::io_context& loop, std::string data_root, int index, hooks h);
    ~monitor_shard();

    // Starts the connection task; returns at once.
    void start();
    // Queues a message; sent in order after the hello. Fails while not
    // connected, unless the shard holds messages until its first connection.
    status send(const monitor::message& m);
    // For a shard the daemon is starting now: accept messages before the
    // first connection (they follow the hello); see hooks::on_unreachable.
    void hold_until_connected() { _hold = true; }

    int index() const { return _index; }
    bool connected() const { return _connected; }
    // Accepts messages now (connected, or holding them for the first connection).
    bool usable() const { return _connected || _hold; }
    // Bytes queued for the shard and not yet taken by its socket.
    std::size_t backlog() const { return _outq_bytes; }

private:
    awaitable<void> run();
    awaitable<bool> connect_once();
    awaitable<void> write_queued();
    void kick_writer();
    void drop_queue();

    asio::io_context& _loop;
    std::string _root;
    int _index;
    hooks _hooks;
    // A SOCK_SEQPACKET socket awaited for readability (IORING_OP_POLL_ADD)
    // and read with recv: Asio has no local seq-packet protocol.
    asio::posix::stream_descriptor _sock;
    bool _connected = false, _hold = false, _writer_running = false;
    std::uint64_t _generation = 0;  // connections made so far
    std::deque<std::string> _outq;
    std::size_t _outq_bytes = 0;
};

}  // namespace berth
