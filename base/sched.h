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
// real-time one, below every kernel thread that has one.
inline constexpr int k_control_priority = 1;

// Thread `tid` (0: the calling thread) to SCHED_FIFO at `priority` with
// SCHED_RESET_ON_FORK; priority 0: back to SCHED_OTHER. Fails where the
// caller lacks CAP_SYS_NICE or the cgroup allows no real-time time
// (CONFIG_RT_GROUP_SCHED with cpu.rt_runtime_us 0).
status set_control_priority(pid_t tid, int priority);

// Parses a --control-priority value: 0 to 99.
result<int> parse_control_priority(std::string_view text);

}  // namespace berth
