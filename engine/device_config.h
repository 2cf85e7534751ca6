// Devices of a Docker HostConfig (Privileged, Devices, DeviceCgroupRules):
// checked at create, gathered from the host at start (as moby's
// WithDevices does then) into the nodes the container gets and the device
// cgroup's rules. Engine-internal.
#pragma once

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "engine/cgroup/devices.h"
#include "engine/runtime/spec.h"

namespace berth {

struct device_mapping {
    std::string path_on_host;
    std::string path_in_container;  // PathOnHost when empty
    std::string permissions;        // "rwm" when empty
};

struct device_config {
    bool privileged = false;
    std::vector<device_mapping> devices;
    std::vector<cgroup::device_rule> cgroup_rules;  // --device-cgroup-rule
    // Whether the start has anything to gather (else Docker's defaults alone).
    bool any() const { return privileged || !devices.empty() || !cgroup_rules.empty(); }
};

// Reads and checks them with Docker's messages ("bad mode specified: X",
// "X is not an absolute path", "invalid device cgroup rule format: 'X'").
// Pure.
result<device_config> device_config_of(const boost::json::object& host_config);

struct gathered_devices {
    std::vector<runtime::device_node> nodes;
    cgroup::device_access access;
};

// moby's DevicesFromPath for each mapping (a symlink is followed; a
// directory gives every device node and fifo below it, the host path
// replaced by the container's; a path that is neither fails with "error
// gathering device information while adding custom device \"X\": not a
// device node" or the stat's error), an allow rule per node with the
// mapping's permissions, then the cgroup rules. Privileged: every device
// of host_dev (containerd's HostDevices: not pts, shm, fd, mqueue, .lxc,
// .lxd-mounts, .udev nor console, no fifos or symlinks), the mappings
// whose container path differs from the host's, and allow-all. Blocks.
result<gathered_devices> gather_devices(const device_config& config, const std::string& host_dev = "/dev");

}  // namespace berth
