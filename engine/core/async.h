// The daemon's loop: one Boost.Asio io_context on io_uring (see CMakeLists:
// BOOST_ASIO_HAS_IO_URING, BOOST_ASIO_DISABLE_EPOLL), coroutines as
// asio::awaitable<T>, and a bounded worker pool for blocking work.
//
// Only the daemon's .cc files include this header (Asio is heavy).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <type_traits>

#include <boost/asio.hpp>

#include "base/error.h"

namespace berth {

namespace asio = boost::asio;
template <class T>
using awaitable = asio::awaitable<T>;
using asio::use_awaitable;

// Why a piece of work left the loop; counted, shown in /info and the log.
enum class offload_reason { unpack, fsync, cgroup, filesystem, metadata, seccomp, count_ };
constexpr const char* offload_reason_name(offload_reason r) {
    constexpr const char* names[] = {"unpack", "fsync", "cgroup", "filesystem", "metadata", "seccomp"};
    return names[static_cast<int>(r)];
}

// A fixed number of threads for blocking syscalls and CPU-heavy work
// (decompression, tree removal). The loop thread never blocks.
class worker_pool {
public:
    explicit worker_pool(std::size_t threads) : _pool(threads) {}
    ~worker_pool() { _pool.join(); }

    // Build f as a named variable, never as a lambda temporary inside the
    // co_await expression: g++ 12 destroys such a closure twice (double free
    // of its captures). Pass it with std::move.
    //
    // Runs f() on a worker thread and resumes the caller on its own executor
    // with f's result. f must not touch loop-owned state. (Deliberately not a
    // coroutine itself: g++ 12 mishandles by-value lambda parameters of
    // coroutine frames.)
    template <class F>
    awaitable<std::invoke_result_t<F&>> run(offload_reason why, F f) {
        using T = std::invoke_result_t<F&>;
        _counts[static_cast<int>(why)]++;
        _in_flight++;
        return asio::async_initiate<decltype(use_awaitable), void(T)>(
            [this, f = std::move(f)](auto handler) mutable {
                asio::post(_pool, [this, f = std::move(f), handler = std::move(handler)]() mutable {
                    // An exception must not cross into the pool's thread (it
                    // would terminate the daemon): it becomes an internal error.
                    T r = [&]() -> T {
                        try {
                            return f();
                        } catch (const std::exception& e) {
                            if constexpr (std::is_constructible_v<T, error>)
                                return T(make_error(errc::internal, std::string("worker: ") + e.what()));
                            else
                                return T{};
                        }
                    }();
                    _in_flight--;
                    auto ex = asio::get_associated_executor(handler);
                    asio::dispatch(ex, [h = std::move(handler), r = std::move(r)]() mutable {
                        std::move(h)(std::move(r));
                    });
                });
            },
            use_awaitable);
    }

    std::uint64_t count(offload_reason why) const { return _counts[static_cast<int>(why)]; }
    std::uint64_t in_flight() const { return _in_flight; }

private:
    asio::thread_pool _pool;
    std::array<std::atomic<std::uint64_t>, static_cast<int>(offload_reason::count_)> _counts{};
    std::atomic<std::uint64_t> _in_flight{0};
};

// True once the current coroutine has been cancelled (e.g. it lost an
// awaitable_operators `||` race). Loops that wait repeatedly must check it,
// or a cancelled wait would simply wait again and never finish.
inline awaitable<bool> cancelled() {
    auto cs = co_await asio::this_coro::cancellation_state;
    co_return cs.cancelled() != asio::cancellation_type::none;
}

// Suspends the calling coroutine until `when` (or for `d`) on its own
// executor; a cancelled wait returns early.
inline awaitable<void> sleep_until(std::chrono::steady_clock::time_point when) {
    asio::steady_timer timer(co_await asio::this_coro::executor, when);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(use_awaitable));
    (void)ec;
}
inline awaitable<void> sleep_for(std::chrono::steady_clock::duration d) {
    co_await sleep_until(std::chrono::steady_clock::now() + d);
}

// A level-triggered event for loop coroutines: wait() returns at once once
// set(); set() wakes every waiter. Loop thread only.
class async_event {
public:
    explicit async_event(asio::any_io_executor ex) : _timer(ex, std::chrono::steady_clock::time_point::max()) {}
    void set() {
        _set = true;
        _timer.cancel();
    }
    bool is_set() const { return _set; }
    awaitable<void> wait() {
        while (!_set) {
            auto [ec] = co_await _timer.async_wait(asio::as_tuple(use_awaitable));
            (void)ec;
            if (co_await cancelled()) co_return;
        }
    }

private:
    asio::steady_timer _timer;
    bool _set = false;
};

// A wake-up for loop coroutines that wait for "something changed" more than
// once (log followers, attach streams): notify() wakes current waiters.
class async_signal {
public:
    explicit async_signal(asio::any_io_executor ex) : _ex(ex) {}
    void notify() {
        auto t = std::move(_timer);
        if (t) t->cancel();
    }
    awaitable<void> wait() {
        if (!_timer) _timer = std::make_shared<asio::steady_timer>(_ex, std::chrono::steady_clock::time_point::max());
        auto t = _timer;
        auto [ec] = co_await t->async_wait(asio::as_tuple(use_awaitable));
        (void)ec;
    }

private:
    asio::any_io_executor _ex;
    std::shared_ptr<asio::steady_timer> _timer;
};

// A counting semaphore for loop coroutines whose waiters are served in the
// order they came: release() hands the unit to the oldest waiter, and only
// that one wakes. Loop thread only.
class async_semaphore {
public:
    async_semaphore(asio::any_io_executor ex, std::size_t units) : _ex(ex), _units(units) {}
    // False if the waiting coroutine was cancelled (it holds no unit then).
    awaitable<bool> acquire() {
        if (_units > 0 && _waiters.empty()) {
            --_units;
            co_return true;
        }
        auto w = std::make_shared<waiter>(_ex);
        _waiters.push_back(w);
        while (!w->granted) {
            auto [ec] = co_await w->timer.async_wait(asio::as_tuple(use_awaitable));
            (void)ec;
            if (!w->granted && co_await cancelled()) {
                std::erase(_waiters, w);
                co_return false;
            }
        }
        co_return true;
    }
    void release() {
        if (_waiters.empty()) {
            ++_units;
            return;
        }
        auto w = std::move(_waiters.front());
        _waiters.pop_front();
        w->granted = true;
        w->timer.cancel();
    }

private:
    struct waiter {
        explicit waiter(asio::any_io_executor ex) : timer(ex, std::chrono::steady_clock::time_point::max()) {}
        asio::steady_timer timer;
        bool granted = false;
    };
    asio::any_io_executor _ex;
    std::size_t _units;
    std::deque<std::shared_ptr<waiter>> _waiters;
};

}  // namespace berth
