// A container's device access, as Docker grants it: deny everything but
// Docker's defaults (default_device_rules(): mknod of any node, rwm on
// null, zero, full, random, urandom, tty, console, ptmx, /dev/pts/*, tun),
// plus allow rules from --device and --device-cgroup-rule; --privileged
// allows all. Applied by manager::create: a BPF_CGROUP_DEVICE program on
// the container's cgroup2 directory wherever cgroup2 is mounted (hybrid
// hosts included; the kernel checks it as well as v1), else the v1 devices
// controller (devices.deny "a", then one devices.allow line per rule).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "engine/cgroup/device_filter.h"

namespace berth::cgroup {

struct device_access {
    bool allow_all = false;          // --privileged: "a *:* rwm"
    std::vector<device_rule> allow;  // allowed beyond Docker's defaults
};

// "rwm", "r", "mw": each of r, w, m at most once, at least one (docker's
// validDeviceMode) -> BPF_DEVCG_ACC_* bits; nullopt otherwise.
std::optional<unsigned> parse_device_access(std::string_view mode);

// A --device-cgroup-rule as moby parses it: "TYPE MAJOR:MINOR ACCESS" with
// TYPE a, b or c, numbers or "*", ACCESS as parse_device_access ("a" alone
// is "a *:* rwm"). Errors in moby's words: "invalid device cgroup rule
// format: 'X'" (numbers beyond 32 bits: "invalid major value in ...").
result<device_rule> parse_device_cgroup_rule(std::string_view rule);

// "c 1:3 rwm", "b *:* m", "a *:* rwm": the devices.allow line of a rule.
std::string device_rule_text(const device_rule& r);

// Docker's defaults followed by `extra` (the rule set of a program).
std::vector<device_rule> rules_with_defaults(const std::vector<device_rule>& extra);

// v1: writes the access into a container's devices cgroup directory
// before any process enters it. Allow-all writes "a" to devices.allow;
// otherwise "a" to devices.deny, then the defaults and `allow`. Blocks.
status write_v1_device_rules(const std::string& dir, const device_access& access);

}  // namespace berth::cgroup
