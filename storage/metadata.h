// The daemon's metadata: one SQLite database (WAL, synchronous=NORMAL:
// durable against a process kill, not power loss) with one writer thread.
//
// Reads happen once, at start-up (load_all); afterwards the daemon serves
// reads from memory and only writes go here. Writes queue to the writer
// thread, which commits everything queued in one transaction (group commit)
// and then runs the transaction's completion callbacks: on that thread, or
// all of them in one call of the dispatcher a caller set (set_dispatch), so
// that its loop is woken once per commit, not once per write.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::storage {

// The tables are key → JSON document; the documents' shape belongs to the
// engine. kind: "container" or "image".
struct metadata_row {
    std::string kind, key, doc;
};

class metadata_db {
public:
    // Opens (creating) the database file. Blocks. The writer checkpoints the
    // WAL once nothing has been queued for `checkpoint_quiet` (and past a
    // bound of WAL even under load), never at the commit that fills it.
    static result<std::unique_ptr<metadata_db>> open(const std::string& path,
                                                     std::chrono::milliseconds checkpoint_quiet = std::chrono::milliseconds(100));
    ~metadata_db();

    // Reads every row of a kind. Blocks; call before the loop starts.
    result<std::vector<metadata_row>> load_all(const std::string& kind);

    using done_fn = std::function<void(status)>;
    // Where completion callbacks run: `post` gets one function per
    // transaction that runs all of its callbacks, in order. Unset, they run
    // on the writer thread. Call before the first write.
    void set_dispatch(std::function<void(std::function<void()>)> post);
    // Queue an upsert / delete; done runs after commit (set_dispatch).
    // wake false: the writer is not woken for it (a later wake() or write
    // does), so that a caller's writes of one turn of its loop cost one
    // wake-up and go into one transaction.
    void put(std::string kind, std::string key, std::string doc, done_fn done = {}, bool wake = true);
    void erase(std::string kind, std::string key, done_fn done = {}, bool wake = true);
    // Wakes the writer if anything is queued.
    void wake();
    // Blocks until everything queued so far is committed.
    void flush();

    std::uint64_t commits() const;  // transactions committed (group commit metric)

private:
    metadata_db() = default;
    struct impl;
    std::unique_ptr<impl> _p;
};

}  // namespace berth::storage
