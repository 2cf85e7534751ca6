// The exit records of one monitor shard.
//
// A container's exit is recorded before the monitor reports it (a daemon
// that was away learns it from the record), durable against a process kill
// as the daemon's own database is (SQLite WAL with synchronous=NORMAL;
// the design's target is a process kill, not power loss): the record is written
// to the page cache of one append-only file per shard
// (exits/shard-K.journal, JSON lines) by the monitor's loop, and reported
// at once. An fdatasync per exit, even group-committed by a writer thread
// as before, put a disk flush (about 3 ms on a VM disk) between every exit
// and its report, so between a batch's container and the next: 6% fewer
// containers/s at concurrency 2. Acknowledgements are appended as lines
// too (a lost one only means a record is sent again, which the daemon
// recognises by its finish time). Once the file passes a size, it is
// rewritten with the unacknowledged records only (a new file renamed over
// the old one).
//
// Not thread-safe: for the monitor's loop thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
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
    // are taken in and those files removed.
    static result<std::unique_ptr<exit_journal>> open(const std::string& dir, int shard);
    ~exit_journal();

    // rec: {"id", "exit_code", "finished", "shard"}: written when this
    // returns (a failure is logged: the record is still reported, and the
    // daemon persists it in its own database).
    void append(boost::json::object rec);
    // The daemon has the record of this run (id and finish time).
    void ack(const std::string& id, std::int64_t finished);
    // Every record not acknowledged yet (a daemon's hello).
    std::vector<boost::json::object> unacknowledged() const;

    // Rewrite threshold (bytes); tests lower it.
    void set_compact_bytes(std::uint64_t n) { _compact_bytes = n; }

private:
    exit_journal() = default;
    void write_line(const std::string& line);
    status compact();

    std::string _dir, _path;
    unique_fd _fd;
    // id -> (finished, record)
    struct entry {
        std::int64_t finished = 0;
        boost::json::object rec;
    };
    std::map<std::string, entry> _unacked;
    std::uint64_t _size = 0;
    std::uint64_t _kept = 0;  // bytes the last rewrite kept
    std::uint64_t _compact_bytes = 1 << 20;
};

}  // namespace berth::monitor
