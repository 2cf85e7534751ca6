// The control path's scheduling class: the daemon's loop thread, each
// monitor and each zygote run SCHED_FIFO at a low priority, so that a
// wake-up on the way of a container's start runs at once on the CPU it
// lands on, before whatever ordinary task runs there (a container's own
// teardown at its exit, a kernel worker), instead of waiting for that
// task's slice to end. On a host whose scheduler knows no shared caches
// (the PVM guest of docs/ARCHITECTURE.md) a woken task goes to its own or
// its waker's CPU, busy or not, and that wait was a scheduler tick (4 ms)
// in the tail of the starts. With SCHED_RESET_ON_FORK: no process or
// thread they create inherits it (containers, execs, worker threads).
#pragma once

#include <sys/types.h>

#include <string_view>

#include "base/error.h"

namespace berth {

// The default priority (berth daemon --control-priority): the lowest
// real-time one (kernel threads that have one are at it or above).
inline constexpr int k_control_priority = 1;

// Thread `tid` (0: the calling thread) to SCHED_FIFO at `priority` with
// SCHED_RESET_ON_FORK; priority 0: back to SCHED_OTHER. Fails where the
// caller lacks CAP_SYS_NICE or the cgroup allows no real-time time
// (CONFIG_RT_GROUP_SCHED with cpu.rt_runtime_us 0).
status set_control_priority(pid_t tid, int priority);

// Parses a --control-priority value: 0 to 99.
result<int> parse_control_priority(std::string_view text);

// Keeps a control thread real-time only while it is not busy: one that
// used more than half a CPU over a window (a container flooding its
// output through the monitor, a flood of API requests) goes back to
// SCHED_OTHER, where it shares its CPU fairly with ordinary tasks, and
// returns to SCHED_FIFO once under a quarter. Starts cost these threads
// little (a few percent of a CPU at a container every 6 ms), so the wake-ups
// of a start stay real-time; what a thread does in bulk does not. tick()
// from the governed thread itself, as often as it likes: it reads the
// thread's CPU time once per window.
class control_priority_governor {
public:
    // Takes the thread to `priority` (0: never real-time).
    control_priority_governor(int priority, long window_ms);
    void tick();
    bool realtime() const { return _rt; }
    int priority() const { return _priority; }

private:
    void set(bool rt);
    int _priority;
    long _window_ns;
    bool _rt = false;
    long long _window_start_ns = 0, _cpu_start_ns = 0;
};

}  // namespace berth
