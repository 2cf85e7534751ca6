// The zygote: a tiny child of the monitor that creates containers with
// clone3(CLONE_PARENT), so each container is the monitor's child while the
// clone copies only the zygote's small fd table and address space.
//
// Request  (monitor -> zygote): header {spec}, fds [stdin, stdout, stderr] (stdin may be absent: "has_stdin")
// Reply    (zygote -> monitor): header {pid} and fds [exec_status], or {code, message} on failure.
//          No pidfd: the monitor, the container's parent, signals it by pid
//          until it reaps it.
#pragma once

#include "base/fd.h"

namespace berth::monitor {

// Forks the zygote, which execs the small `berth-zygote` binary next to
// berth's own (engine/monitor/main.cc): every container child is cloned
// from it, and its execve tears down that address space, so the smaller
// the better (a fork of the monitor maps ~140 regions and ~3 MiB). Without
// that binary the forked child serves as it is. Returns the monitor's end
// of the socketpair and the pid. Blocks; called at monitor start-up while
// single-threaded.
struct zygote_handle {
    unique_fd sock;
    pid_t pid = -1;
};
zygote_handle start_zygote();

// The signal the zygote, and so every child it clones (clone3 with
// CLONE_PARENT takes the caller's exit signal), sends the monitor when it
// dies: a real-time signal, which queues one siginfo per death where
// SIGCHLD coalesces, so the monitor learns each pid and reaps it with an
// O(1) waitpid(pid) instead of a waitpid(-1) that walks all its children
// (thousands of parked sandboxes and idle containers). Children whose exit
// signal is not SIGCHLD are "clone" children: wait for them with __WALL.
// Orphans the monitor adopts as subreaper still signal SIGCHLD.
int child_exit_signal();

// The zygote's loop on its socket (fd `sock`); returns never.
[[noreturn]] void run_zygote(int sock);

}  // namespace berth::monitor
