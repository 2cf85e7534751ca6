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

// berth-zygote's allocator for children that share its memory
// (engine/monitor/child_heap.cc, linked into that binary only): once
// installed, a cold container's init is cloned with CLONE_VM | CLONE_VFORK
// (runtime::child_heap). Called first thing in its main.
void install_child_heap();

// The zygote's loop on its socket (fd `sock`); returns never.
[[noreturn]] void run_zygote(int sock);

}  // namespace berth::monitor
