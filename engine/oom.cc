// OOM kills as they happen, pushed by the kernel to the loop: on cgroup v1
// an eventfd registered on the container's memory.oom_control, on cgroup2
// one inotify descriptor watching every container's memory.events. Both are
// read through io_uring like any other descriptor. A wake-up re-reads the
// oom_kill counter (on a worker: cgroupfs can stall); an increase sets
// State.OOMKilled and emits `oom` at once. The exit, when it follows, is
// recorded with its real code by the monitor's report as always.
#include <sys/inotify.h>
#include <unistd.h>

#include <thread>

#include "base/log.h"
#include "engine/cgroup/manager.h"
#include "engine/engine.h"

namespace berth {

void engine::watch_oom(container_ptr c, unique_fd efd) {
    std::uint64_t run = c->exits;
    if (_cgroups->kind() == cgroup::layout::unified) {
        std::string file = _cgroups->oom_counter_file(c->id);
        if (file.empty()) return;
        if (!_oom_inotify) {
            _oom_inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
            if (!_oom_inotify) {
                log::warn("inotify for OOM events: {}", std::strerror(errno));
                return;
            }
            asio::co_spawn(_loop, oom_inotify_loop(), asio::detached);
        }
        int wd = ::inotify_add_watch(_oom_inotify.get(), file.c_str(), IN_MODIFY);
        if (wd < 0) {
            log::warn("watch {}: {}", file, std::strerror(errno));
            return;
        }
        _oom_watches[wd] = {c, run};
        return;
    }
    asio::co_spawn(_loop, oom_eventfd_loop(c, run, std::move(efd)), asio::detached);
}

awaitable<void> engine::oom_eventfd_loop(container_ptr c, std::uint64_t run, unique_fd efd) {
    if (!efd) {
        // A daemon that found the container running arms a new eventfd
        // (v1 allows several per cgroup).
        auto arm = [this, id = c->id] { return _cgroups->oom_eventfd(id); };
        auto armed = co_await _workers.run(offload_reason::cgroup, std::move(arm));
        if (!armed || !*armed) co_return;
        efd = std::move(*armed);
    }
    asio::posix::stream_descriptor d(_loop, efd.release());
    std::uint64_t seen = 0;
    for (;;) {
        std::uint64_t count = 0;
        boost::system::error_code ec;
        co_await asio::async_read(d, asio::buffer(&count, sizeof count), asio::redirect_error(use_awaitable, ec));
        if (ec) {
            log::warn("container {}: OOM notification: {}", c->id.substr(0, 12), ec.message());
            co_return;
        }
        if (c->exits != run || c->removed) co_return;  // also: the cgroup went with the exit
        seen = co_await check_oom(c, run, seen);
    }
}

awaitable<void> engine::oom_inotify_loop() {
    asio::posix::stream_descriptor d(_loop, ::fcntl(_oom_inotify.get(), F_DUPFD_CLOEXEC, 3));
    alignas(inotify_event) char buf[4096];
    for (;;) {
        boost::system::error_code ec;
        std::size_t n = co_await d.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
        if (ec) co_return;
        for (std::size_t off = 0; off + sizeof(inotify_event) <= n;) {
            auto* ev = reinterpret_cast<inotify_event*>(buf + off);
            off += sizeof(inotify_event) + ev->len;
            auto it = _oom_watches.find(ev->wd);
            if (it == _oom_watches.end()) continue;
            if (ev->mask & IN_IGNORED) {  // the cgroup is gone
                _oom_watches.erase(it);
                continue;
            }
            auto& w = it->second;
            if (w.c->exits != w.run || w.c->removed) {
                ::inotify_rm_watch(_oom_inotify.get(), ev->wd);
                _oom_watches.erase(it);
                continue;
            }
            container_ptr c = w.c;
            std::uint64_t run = w.run, seen = w.seen;
            w.seen = co_await check_oom(c, run, seen);
        }
    }
}

awaitable<std::uint64_t> engine::check_oom(container_ptr c, std::uint64_t run, std::uint64_t seen) {
    // v1 signals the eventfd when the cgroup hits OOM, just before the
    // killer runs: give the counter a moment to move. A missing file means
    // the wake-up was the cgroup's removal.
    // cgroup2 updates memory.events after counting: no wait there.
    int tries = _cgroups->kind() == cgroup::layout::unified ? 1 : 250;  // up to 5 s on a loaded host
    auto job = [file = _cgroups->oom_counter_file(c->id), seen, tries] {
        std::uint64_t kills = 0;
        for (int i = 0; i < tries; ++i) {
            if (::access(file.c_str(), F_OK) != 0) break;
            kills = cgroup::read_oom_kills(file);
            if (kills > seen || i + 1 == tries) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return kills;
    };
    std::uint64_t kills = co_await _workers.run(offload_reason::cgroup, std::move(job));
    if (kills <= seen || c->exits != run || c->removed) co_return seen;
    c->oom_killed = true;
    c->oom_reported = true;
    emit(*c, "oom");
    co_return kills;
}

}  // namespace berth
