// The confinement settings of a Docker HostConfig (ReadonlyRootfs, Tmpfs,
// ShmSize, Ulimits, Sysctls, GroupAdd, SecurityOpt), checked as Docker does
// at create and read again at start into the launch spec. Engine-internal.
#pragma once

#include <cstdint>
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
};

// Reads and checks them; an invalid_argument with Docker's message where
// Docker has one. Calls getrlimit(2) and capget(2) only.
result<confinement> confinement_of(const boost::json::object& host_config);

// At create: fills the defaults inspect shows (ShmSize 64 MiB).
void set_confinement_defaults(boost::json::object& host_config);

}  // namespace berth
