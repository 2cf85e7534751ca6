// The daemon's side of the monitor connection: connects to (or starts) the
// monitors of the data root, sends requests, and turns the monitors'
// messages into engine events on the loop. Reconnects, restarting a
// monitor, if a connection drops.
//
// Shards: one monitor process holds at most `shard budget` containers and
// execs (its RLIMIT_NOFILE hard limit allows about three descriptors each:
// (hard - 512) / 3; BERTH_MONITOR_SHARD_SIZE overrides it). Shard 0 always
// exists; at start the client also connects to every shard k > 0 it finds
// in the data root (monitor-<k>.sock or .pid), and it starts shard
// max + 1 when a container is to start and every shard is at its budget.
// A shard left without containers stays up. The engine sees one monitor:
// - `start` goes to the shard with the fewest processes under the budget
//   (the one that last ran the container, if it has room); every other
//   message goes to the shard holding its id (container id, or exec id;
//   `exec` to its container's shard). The id -> shard map is learned from
//   starts, execs, `state` replies and `exited` reports.
// - at start-up, on_monitor_state gets the union of every shard's running
//   set once all shards have answered their hello (or after 10 s, with what
//   answered); messages that arrive before are delivered after it, in order.
// - when one shard's connection drops, on_monitor_lost and then its next
//   on_monitor_state concern only the ids that shard held.
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
    // Resolves once every shard found at start has answered its first hello.
    awaitable<void> ready();
    // Queues a message; sent in order. Fails if the monitor is not connected.
    status send(const monitor::message& m);

    // Starts `berth monitor` for one shard of the data root; `cgroup_leaf`,
    // when set, is the cgroup2 leaf it moves itself into
    // (cgroup::manager::monitor_leaf); `control_priority`, its and its
    // zygotes' SCHED_FIFO priority (base/sched.h; 0: none).
    static status spawn_monitor(const std::string& data_root, const std::string& cgroup_leaf = {}, int shard = 0,
                                int control_priority = 0);
    // Bytes queued for the monitors and not yet taken by their sockets.
    std::size_t backlog() const;
    // Processes one shard may hold (see above).
    std::size_t shard_budget() const;

private:
    struct shard;
    shard& add_shard(int index, bool hold);
    result<int> place_start(const std::string& id);
    int owner_of(const std::string& id) const;
    void on_shard_message(int index, monitor::message& m);
    void on_shard_lost(int index);
    void on_shard_unreachable(int index);
    void on_shard_state(shard& s);
    void finish_sync();
    awaitable<void> sync_deadline();
    void handle(int index, monitor::message& m);
    void dispatch(monitor::message& m);

    asio::io_context& _loop;
    engine& _engine;
    std::string _root;
    struct impl;
    std::unique_ptr<impl> _p;
};

}  // namespace berth
