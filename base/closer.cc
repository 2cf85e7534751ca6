#include "base/closer.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

namespace berth {

closer::closer() {
    // The thread takes no signal: it inherits a mask that blocks them all,
    // so a process-directed signal that the creating thread blocks (for its
    // signalfd) is never delivered here instead, where SIGCHLD's default
    // action would discard it.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    _thread = std::thread([this] { run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

closer::~closer() {
    {
        std::lock_guard lock(_mu);
        _stop = true;
    }
    _wake.notify_one();
    _thread.join();
}

void closer::close(unique_fd fd) {
    if (!fd) return;
    {
        std::lock_guard lock(_mu);
        _queue.push_back(fd.release());
        _pending.fetch_add(1, std::memory_order_release);
    }
    _wake.notify_one();
}

void closer::wait_until_pending_at_most(std::size_t n) {
    std::unique_lock lock(_mu);
    _drained.wait(lock, [&] { return pending() <= n; });
}

void closer::run() {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
    std::vector<int> batch;
    for (;;) {
        {
            std::unique_lock lock(_mu);
            _wake.wait(lock, [&] { return _stop || !_queue.empty(); });
            if (_queue.empty()) return;  // stopped, nothing left
            batch.swap(_queue);
        }
        for (int fd : batch) {
            ::close(fd);
            {
                // Under the lock: a waiter checks pending() under it too.
                std::lock_guard lock(_mu);
                _pending.fetch_sub(1, std::memory_order_release);
            }
            _drained.notify_all();
        }
        batch.clear();  // keeps its capacity: no free on this thread
    }
}

}  // namespace berth
