// The exit records of one monitor shard, group-committed.
//
// A container's exit must be durable before the monitor reports it (a
// daemon that was away learns it from the record). A file per exit with its
// own fsync cost the monitor's single thread a disk flush per container
// (about 3 ms on a VM disk): a ceiling on starts and exits per second, and
// every start queued behind it. Instead, records go to one append-only file
// per shard (exits/shard-K.journal, JSON lines): the loop appends, a writer
// thread writes whatever has accumulated and fdatasyncs once for all of it,
// and hands the durable records back through an eventfd. Acknowledgements
// are appended as lines too (no sync: a lost one only means a record is
// sent again, which the daemon recognises by its finish time). Once the file
// passes a size and no record is waiting, it is rewritten with the
// unacknowledged records only.
//
// Not thread-safe for the caller: every public member is for the monitor's
// loop thread; the writer thread is internal.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "base/fd.h"

namespace berth::monitor {

class exit_journal {
public:
    // Opens (creates) dir/shard-K.journal and reads what it holds; exit
    // records of this shard left by older monitors as dir/<id>.json files
    // are taken in and those files removed. Starts the writer thread: call
    // after the last fork.
    static result<std::unique_ptr<exit_journal>> open(const std::string& dir, int shard);
    ~exit_journal();

    // rec: {"id", "exit_code", "finished", "shard"}. Durable later: see take_durable.
    void append(boost::json::object rec);
    // The daemon has the record of this run (id and finish time).
    void ack(const std::string& id, std::int64_t finished);
    // Readable when take_durable() has records.
    int event_fd() const { return _event.get(); }
    // The records made durable since the last call (reads the eventfd).
    std::vector<boost::json::object> take_durable();
    // Every durable record not acknowledged yet (a daemon's hello).
    std::vector<boost::json::object> unacknowledged() const;

    // Rewrite threshold (bytes); tests lower it.
    void set_compact_bytes(std::uint64_t n) { _compact_bytes = n; }

private:
    exit_journal() = default;
    void writer();
    status compact_locked(std::unique_lock<std::mutex>& lock);

    std::string _dir, _path;
    unique_fd _fd, _event;
    std::thread _thread;

    mutable std::mutex _mu;
    std::condition_variable _cv;
    bool _stop = false;
    std::vector<std::string> _to_write;               // lines
    std::vector<boost::json::object> _in_flight;      // records among them
    std::vector<boost::json::object> _durable_ready;  // for take_durable
    // id -> (finished, record, durable)
    struct entry {
        std::int64_t finished = 0;
        boost::json::object rec;
        bool durable = false;
    };
    std::map<std::string, entry> _unacked;
    std::uint64_t _size = 0;
    std::uint64_t _compact_bytes = 1 << 20;
};

}  // namespace berth::monitor
