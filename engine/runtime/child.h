// The container child, from clone3() to execve(). Private to engine/runtime.
#pragma once

#include <string>

#include "base/error.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/spec.h"

namespace berth::runtime {

// Waits for the release byte on sync_fd (EOF: the parent gave up; exit
// quietly), runs the sandbox half and the process half and execs. On any
// failure it writes the error to status_fd (see encode_exec_status) and exits.
// sync_fd -1: a child that shares its parent's memory (child_heap), released
// at birth, which joins its cgroups itself.
[[noreturn]] void run_container_child(const launch_spec& spec, const child_stdio& stdio, int sync_fd,
                                      int status_fd);

// The child of spawn_parked: the sandbox half, then one byte on control_fd,
// then the claim (encode_claim) read from it, the process half and exec.
// With spec.parks_outside_netns it waits in host_net_fd's network namespace
// (the zygote's), and the byte carries a descriptor of its own one.
[[noreturn]] void run_parked_child(const launch_spec& spec, int control_fd, int sync_fd, int status_fd,
                                   int host_net_fd);

// The child of spawn_exec: waits for the release byte, joins the target's
// namespaces, runs the process half and execs.
[[noreturn]] void run_exec_child(const launch_spec& spec, const child_stdio& stdio, int target_pidfd, int sync_fd,
                                 int status_fd);

// The exec-status pipe carries nothing when execve succeeds (the pipe is
// close-on-exec), else one message: "<errc number> <errno> <message>".
std::string encode_exec_status(const error& e);
status decode_exec_status(const std::string& data);

}  // namespace berth::runtime
