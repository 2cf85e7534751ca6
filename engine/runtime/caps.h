// Capability names and the raw capability syscalls (no libcap).
// Private to engine/runtime.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::runtime {

// Number of a capability spelled "CAP_CHOWN" (exact, upper case) among the
// capabilities this build knows, whether or not the kernel does.
std::optional<int> capability_number(std::string_view name);
std::string_view capability_name(int number);  // "" when unknown to this build

// The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap),
// capped at what this build has names for. Read once.
int kernel_last_cap();

// Bit mask of the named capabilities; an unknown name is an invalid_argument.
result<std::uint64_t> capability_mask(const std::vector<std::string>& names);

// Removes from the bounding set every capability not in keep. Needs CAP_SETPCAP.
status drop_bounding_set(std::uint64_t keep);

// Whether capability `cap` is in the calling thread's effective set.
bool has_effective_capability(int cap);

// Makes the effective set the permitted one (after a setresuid() with
// PR_SET_KEEPCAPS cleared it).
status raise_effective_capabilities();

// capset(2), version 3: effective = permitted = caps, inheritable = none;
// then clears the ambient set.
status set_capabilities(std::uint64_t caps);

}  // namespace berth::runtime
