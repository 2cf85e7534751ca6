// Closes descriptors on a thread of its own. The last close of some
// handles is slow work that blocks: a mount namespace's unmounts (an
// overlay's sync of its upper filesystem waits for the journal, tens of
// milliseconds on a VM disk), a network namespace's put. A single-threaded
// event loop (the monitor) hands such descriptors here instead of closing
// them between two requests it serves.
//
// The thread runs at nice 19, blocks every signal, and never allocates: it
// swaps the queue the caller filled for its own empty one, so a bare
// clone() of the process (without fork's at-fork locking) cannot catch it
// holding the heap's lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fd.h"

namespace berth {

class closer {
public:
    closer();
    ~closer();  // closes what is queued, then joins
    closer(const closer&) = delete;
    closer& operator=(const closer&) = delete;

    // Queues fd to be closed; an empty one is ignored.
    void close(unique_fd fd);
    // Descriptors queued and not closed yet: they still count against
    // RLIMIT_NOFILE.
    std::size_t pending() const { return _pending.load(std::memory_order_acquire); }
    // Blocks until at most `n` are pending.
    void wait_until_pending_at_most(std::size_t n);

private:
    void run();

    std::mutex _mu;
    std::condition_variable _wake, _drained;
    std::vector<int> _queue;
    std::atomic<std::size_t> _pending{0};
    bool _stop = false;
    std::thread _thread;
};

}  // namespace berth
