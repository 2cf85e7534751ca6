// Time namespaces (--time-offset, a berth extension; no peer offers it).
//
// A process that unshare(CLONE_NEWTIME)s stays in its own time namespace:
// the new one becomes its time_for_children, whose offsets
// (/proc/self/timens_offsets, CAP_SYS_TIME) may be written until a process
// enters it; the kernel then freezes them. Since Linux 6.1 execve() enters
// time_for_children, so the container's init unshares, writes the offsets
// and enters the namespace with its own execve (never CLONE_NEWTIME in
// clone3: a child created in the namespace freezes the offsets at zero).
// An exec joins the container's time namespace by setns(pidfd, CLONE_NEWTIME).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "engine/runtime/spec.h"

namespace berth::runtime {

// The kernel's bound: a clock in a time namespace stays within
// [0, KTIME_SEC_MAX / 2] seconds once its offset is added.
constexpr std::int64_t k_ktime_sec_max = 9223372036;  // KTIME_MAX / NSEC_PER_SEC
constexpr std::int64_t k_timens_clock_max_sec = k_ktime_sec_max / 2;

// The text written to /proc/<pid>/timens_offsets: one "<clock> <sec> <nsec>"
// line per clock, nsec in [0, 1e9) (a negative offset has a negative sec).
std::string timens_offsets_text(const time_offset_spec& offsets);

// Whether this host can give a container a time namespace: Linux 6.1 or
// later (execve enters time_for_children) and /proc/self/timens_offsets
// (CONFIG_TIME_NS). `release` is uname's (tests pass their own).
status check_time_namespace_support(std::string_view release);
status check_time_namespace_support();

// Whether the kernel would accept `offset_ns` for `clock` ("monotonic" or
// "boottime") now: the host's clock plus the offset within
// [0, KTIME_SEC_MAX / 2] s. `now_ns`: the host's reading of that clock.
status check_time_offset(std::string_view clock, std::int64_t offset_ns, std::int64_t now_ns);
status check_time_offset(std::string_view clock, std::int64_t offset_ns);

// In the container's init, single-threaded, before any process is created
// and before execve: unshare(CLONE_NEWTIME) and write the offsets for the
// namespace the execve will enter.
status unshare_time_namespace(const time_offset_spec& offsets);

}  // namespace berth::runtime
