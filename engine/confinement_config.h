// The confinement settings of a Docker HostConfig (ReadonlyRootfs, Tmpfs,
// ShmSize, Ulimits, Sysctls, GroupAdd, SecurityOpt), checked as Docker does
// at create and read again at start into the launch spec. Engine-internal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "engine/runtime/spec.h"

namespace berth {

// Docker's default /dev/shm size (moby config.DefaultShmSize).
constexpr std::int64_t k_default_shm_size = 64ll << 20;

struct confinement {
    bool readonly_rootfs = false;
    std::vector<runtime::tmpfs_mount> tmpfs;
    std::uint64_t shm_size = k_default_shm_size;
    std::vector<std::pair<std::string, std::string>> sysctls;
    std::vector<runtime::rlimit_spec> ulimits;  // never above this process's hard limits without CAP_SYS_RESOURCE
    std::vector<std::string> group_add;
    bool no_new_privs = false;
    // The seccomp profile (Docker's JSON format): the builtin default unless
    // SecurityOpt names another; nullopt: unconfined (seccomp=unconfined,
    // or --privileged, which Docker runs without seccomp).
    std::optional<std::string> seccomp;
    // HostConfig.BerthTimeOffsets (--time-offset, a berth extension):
    // {"monotonic": S, "boottime": S} in seconds (integer or fractional);
    // absent, null or {}: no time namespace.
    std::optional<runtime::time_offset_spec> time_offsets;
};

constexpr const char* k_time_offsets_key = "BerthTimeOffsets";

// At create only: whether this host can apply the time offsets now (Linux
// 6.1+, time namespaces built in, each clock plus its offset within what
// the kernel accepts). No work without offsets.
status check_time_offsets_on_host(const confinement& c);

// Reads and checks them; an invalid_argument with Docker's message where
// Docker has one. Calls getrlimit(2) and capget(2) only.
result<confinement> confinement_of(const boost::json::object& host_config);

// At create: fills the defaults inspect shows (ShmSize 64 MiB).
void set_confinement_defaults(boost::json::object& host_config);

}  // namespace berth
