// Seccomp: Docker's JSON profile format compiled to a classic BPF program
// with libseccomp, once per (profile, capabilities, architecture), and kept.
//
// The daemon decides which profile a container gets (the builtin default,
// one sent in HostConfig.SecurityOpt, or none) and compiles it off the loop
// on a cache miss; a start only copies the cached program into the launch
// spec, and the container's child loads it with seccomp(2) right before
// execve (engine/runtime/child.cc). Engine-internal.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth {

// The builtin profile: Docker's default semantics (an allowlist, argument
// filters for clone, personality and socket, rules that depend on
// capabilities, architecture and kernel version, EPERM for the rest).
std::string_view default_seccomp_profile();

// What HostConfig.SecurityOpt asks for: nullopt = unconfined; otherwise the
// profile's JSON text ("builtin" and no seccomp option give the default).
// A profile that does not parse or uses what berth cannot honour (notify
// actions, unknown actions, operators or architectures) is an
// invalid_argument naming the problem.
status check_seccomp_profile(std::string_view json);

struct compiled_seccomp {
    std::string program;               // struct sock_filter[], ready for SECCOMP_SET_MODE_FILTER
    int highest_syscall = -1;          // of the native ABI, among the names the profile lists
    std::vector<std::string> skipped;  // names this libseccomp cannot resolve
};

// Compiles for a process holding exactly these capabilities ("CAP_…") on
// this kernel and architecture. Names libseccomp does not know are skipped;
// for an allowlist (a default action that refuses), a prefix answers ENOSYS
// for native syscall numbers above the highest one the profile lists, so
// that a newer libc falls back as on an older kernel.
// Blocking (milliseconds): call it off the loop.
result<compiled_seccomp> compile_seccomp(std::string_view profile_json, const std::vector<std::string>& caps);

// A warm pool's sandbox waits outside its network namespace and enters it
// at its claim (runtime::launch_spec::parks_outside_netns), under its
// filter already: `parked` is the profile with setns allowed, loaded before
// the sandbox parks; `refusal` refuses setns as the profile does (with its
// default action), loaded right after that setns; "" where the profile's
// default lets setns through. nullopt (such a sandbox waits inside) where
// a rule of the profile names setns for these capabilities, where it does
// not let sendmsg and seccomp through unconditionally (the parked child
// needs them), or where allowing setns would move its ENOSYS threshold.
struct netns_entry_profiles {
    std::string parked, refusal;
};
result<std::optional<netns_entry_profiles>> netns_entry_profiles_of(std::string_view profile_json,
                                                                    const std::vector<std::string>& caps);

// Programs by (profile digest, capabilities, architecture, libseccomp
// version), in memory and under dir as <key>.bpf, so that a profile is
// compiled once per data root, not once per container or daemon start.
class seccomp_cache {
public:
    explicit seccomp_cache(std::string dir) : _dir(std::move(dir)) {}

    static std::string key_of(std::string_view profile_json, const std::vector<std::string>& caps);

    // The program if it is in memory (cheap; any thread).
    std::shared_ptr<const std::string> find(const std::string& key) const;
    // From the directory, or compiled (and written there). Blocking.
    result<std::shared_ptr<const std::string>> load(const std::string& key, std::string_view profile_json,
                                                    const std::vector<std::string>& caps);
    std::uint64_t compiles() const;
    // The file the program of `key` is saved in; "" if it could not be saved.
    std::string file_of(const std::string& key) const;

private:
    std::string _dir;
    mutable std::mutex _mu;
    std::mutex _load_mu;
    std::map<std::string, std::shared_ptr<const std::string>> _programs;
    std::set<std::string> _saved;  // keys whose file holds their program
    std::uint64_t _compiles = 0;
};

}  // namespace berth
