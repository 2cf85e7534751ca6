// Creating a container process (called in the zygote, a small
// single-threaded process, never in the multithreaded daemon).
#pragma once

#include <sys/types.h>

#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "engine/runtime/spec.h"

namespace berth::runtime {

struct child_stdio {
    int in = -1, out = -1, err = -1;  // become fds 0, 1, 2 in the container (-1: /dev/null)
    // With a terminal: a socket on which the child sends the master of a pty
    // it opens in the container's own devpts (SCM_RIGHTS, one byte); the
    // slave becomes its controlling terminal and fds 0, 1, 2 (in/out/err are
    // ignored). rows/cols: the initial window size (0: the kernel's default).
    int tty_socket = -1;
    unsigned short rows = 0, cols = 0;
};

struct spawned {
    pid_t pid = -1;
    unique_fd pidfd;
    // Read end of the exec-status pipe: EOF means execve succeeded; otherwise
    // it carries a serialized error (see read_exec_status).
    unique_fd exec_status;
};

// clone3() with CLONE_PIDFD and the namespace flags of the spec
// (mnt, pid, uts, ipc, and net unless new_network is false), plus
// CLONE_INTO_CGROUP when spec.cgroup2_dir is set, and extra_flags (the
// zygote passes CLONE_PARENT so the container is the monitor's child). The
// parent side writes the child's pid into every v1 cgroup.procs (the
// memory one too, unless the child joins it itself once its overlay is
// made: joins_memory_cgroup_itself), then releases the child, which runs the sandbox half and the process half and
// execs. Returns once the child is released, never waiting for its exec;
// a child that shares the caller's memory (child_heap, below) has exec'd or
// died by then.
result<spawned> spawn_container(const launch_spec& spec, const child_stdio& stdio, unsigned long long extra_flags);

// A heap for children that share the caller's memory. Where the program
// provides one (berth-zygote: engine/monitor/child_heap.cc), spawn_container
// clones a container's init with CLONE_VM | CLONE_VFORK unless it has a
// user or time namespace: no copy of the caller's address space to make
// and tear down at the execve, no copy-on-write fault in either process
// (where page faults trap to a hypervisor that was a third of a cold
// start's CPU). The caller waits in the clone until the child has exec'd or
// died; the child joins its cgroups itself (no release byte: the parent
// cannot write for it while it waits). Everything the child allocates comes
// from the heap's arena (`enter`, its first step), none of the caller's
// memory is freed by it, and `leave` empties the arena once the clone returns.
struct child_heap {
    void (*enter)();
    void (*leave)();
};
void set_child_heap(const child_heap* heap);

// For a process that forks children for the rest of its life (the zygote),
// once its own signal dispositions are final: notes which are not SIG_DFL,
// so that each child resets only those before its exec, not every signal
// (about 60 sigaction calls per start). Unprimed, a child resets them all.
void prime_signal_reset();

// A warm-pool sandbox (engine/pool.cc): clone3() as spawn_container does,
// but the child runs only the sandbox half (spec's process fields are
// ignored), then sends one byte on its end of `control` and parks, blocked
// on it, until a claim arrives there (encode_claim: the process half and the
// stdio descriptors), then runs the process half and execs like any
// container's init. EOF on `control` before a claim: the child exits 0. A
// sandbox half that fails is reported on exec_status, as for a start.
struct parked_sandbox {
    spawned sp;
    unique_fd control;  // SOCK_SEQPACKET, the parent's end
};
result<parked_sandbox> spawn_parked(const launch_spec& spec, unsigned long long extra_flags);

// The claim message for a parked sandbox: a launch spec as JSON (to_json)
// whose process half (hostname, args, env, cwd, user, capabilities,
// rlimits, groups, no_new_privs, seccomp program) the child takes, and how
// the descriptors sent with it are laid out, as stdio_from_fds reads them.
std::string encode_claim(std::string_view spec_json, bool has_stdin, bool tty, unsigned short rows,
                         unsigned short cols);
// Copies the process half of `from` into `into` (the fields encode_claim carries).
void take_process_half(launch_spec& into, launch_spec&& from);
// Descriptors, in order: [stdin] [stdout stderr | tty socket] (stdin only
// when has_stdin and not tty).
child_stdio stdio_from_fds(const std::vector<int>& fds, bool has_stdin, bool tty, unsigned short rows,
                           unsigned short cols);
constexpr std::size_t max_claim_size = 256 * 1024;

// `exec` into a running container: a fresh child that joins the namespaces
// of the process behind target_pidfd (mnt, uts, ipc, net, cgroup; the pid
// namespace by being cloned into it) and spec.cgroup2_dir / the v1 procs,
// then runs only the process half of spec (user, capabilities, rlimits,
// no_new_privs, cwd, env, execve). spec's sandbox fields are ignored. The
// caller's pid_for_children is switched to the target's pid namespace for
// the clone and restored before returning.
result<spawned> spawn_exec(const launch_spec& spec, int target_pidfd, const child_stdio& stdio,
                           unsigned long long extra_flags);

// Blocks until the exec-status pipe says how exec went: ok, or the error
// the child met (code command_not_found / cannot_execute / internal, message
// naming the step, e.g. `exec: "nosuch": executable file not found in $PATH`).
status read_exec_status(int exec_status_fd);

}  // namespace berth::runtime
