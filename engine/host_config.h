// Readers of a Docker HostConfig the engine shares between create, start
// and update: the resource limits and the restart policy. Engine-internal.
#pragma once

#include <cstdint>

#include <boost/json.hpp>

#include "base/error.h"
#include "engine/cgroup/manager.h"

namespace berth {

// A HostConfig integer; 0 when absent or null; an error naming
// "HostConfig.<k>" for anything but an integer.
result<std::int64_t> int_field(const boost::json::object& o, const char* k);
// The limits of a HostConfig (or of an update body, which has the same
// top-level fields), as given: no check, no default.
result<cgroup::limits> limits_of(const boost::json::object& host_config);
// The CPUs this process may run on (Go's runtime.NumCPU, Docker's bound for --cpus).
int usable_cpus();
// The RestartPolicy of a HostConfig checked as moby's validateRestartPolicy
// does, as {"Name", "MaximumRetryCount"}; absent or unnamed is "no".
result<boost::json::object> restart_policy_of(const boost::json::object& host_config);

}  // namespace berth
