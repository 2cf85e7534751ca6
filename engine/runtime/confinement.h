// The small confinement settings of a container's HostConfig, checked and
// translated as Docker does: Tmpfs options, Ulimits, Sysctls, SecurityOpt.
// Pure (no syscalls): the daemon checks at create and translates at start,
// the child only applies the result (engine/runtime/mounts.cc, child.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::runtime {

struct tmpfs_options {
    unsigned long flags = 0;  // MS_* for mount(2)
    std::string data;         // "size=64m,mode=1777"
};

// A --tmpfs value (moby's MergeTmpfsOptions over "noexec,nosuid,nodev", then
// ParseTmpfsOptions): flag words set or clear MS_* bits, the last one wins;
// size, mode, uid, gid, nr_inodes, nr_blocks and mpol go to the data, the
// last value of a key wins. Anything else is an invalid_argument.
result<tmpfs_options> parse_tmpfs_options(std::string_view options);

// A tmpfs target: absolute and not "/" (moby's ValidateTmpfsMountDestination).
status check_tmpfs_target(std::string_view target);

// RLIMIT_* of a Docker ulimit name ("nofile", "nproc", …), nullopt when unknown.
std::optional<int> ulimit_resource(std::string_view name);

// A sysctl a container may set (runc's validation, Docker's messages): the
// IPC ones (kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem,
// kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced,
// fs.mqueue.*) and net.* only with a network namespace of its own.
// The key may not leave /proc/sys ("/" or ".." components).
status check_sysctl(std::string_view key, std::string_view value, bool own_network);

// /proc/sys/… path of a checked key ("net.ipv4.ip_forward" → "/proc/sys/net/ipv4/ip_forward").
std::string sysctl_path(std::string_view key);

struct security_opts {
    bool no_new_privs = false;
    // "seccomp=…": "unconfined", "builtin" or a profile's JSON text (the
    // docker CLI sends the file's content); nullopt: none given (the default).
    std::optional<std::string> seccomp;
};

// HostConfig.SecurityOpt as moby's parseSecurityOpt reads it:
// "no-new-privileges", "no-new-privileges=BOOL" (or ":BOOL") and
// "seccomp=…" (the profile itself is checked by the engine);
// "apparmor=unconfined" and "label=disable" are accepted (berth applies
// neither), other apparmor and label values refused until berth has them;
// anything else is moby's "invalid --security-opt".
result<security_opts> parse_security_opts(const std::vector<std::string>& opts);

}  // namespace berth::runtime
