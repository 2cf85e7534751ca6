// The daemon's side of the monitor connection: connects to (or starts) the
// monitor of the data root, sends requests, and turns the monitor's
// messages into engine events on the loop. Reconnects, restarting the
// monitor, if the connection drops.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "engine/core/async.h"
#include "engine/monitor/protocol.h"

namespace berth {

class engine;

class monitor_client {
public:
    monitor_client(asio::io_context& loop, engine& eng, std::string data_root);
    ~monitor_client();

    // Starts the connection task; returns at once.
    void start();
    // Resolves once the first hello has been answered.
    awaitable<void> ready();
    // Queues a message; sent in order. Fails if the monitor is not connected.
    status send(const monitor::message& m);

    // Starts `berth monitor` for the data root; `cgroup_leaf`, when set, is
    // the cgroup2 leaf it moves itself into (cgroup::manager::monitor_leaf).
    static status spawn_monitor(const std::string& data_root, const std::string& cgroup_leaf = {});
    // Bytes queued for the monitor and not yet taken by its socket.
    std::size_t backlog() const;

private:
    awaitable<void> run();
    awaitable<bool> connect_once();
    awaitable<void> write_queued();
    void dispatch(monitor::message& m);

    asio::io_context& _loop;
    engine& _engine;
    std::string _root;
    struct impl;
    std::unique_ptr<impl> _p;
};

}  // namespace berth
