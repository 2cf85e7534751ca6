#include "engine/runtime/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>

#include "base/util.h"

namespace berth::runtime {
namespace {

// Indexed by capability number (linux/capability.h).
constexpr std::array<std::string_view, 41> k_names = {
    "CAP_CHOWN",          "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",         "CAP_KILL",          "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",      "CAP_NET_RAW",       "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",     "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",   "CAP_SYS_TIME",      "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",          "CAP_AUDIT_WRITE",   "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",   "CAP_MAC_ADMIN",     "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",    "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
static_assert(k_names.size() >= CAP_LAST_CAP + 1, "capability table out of date with linux/capability.h");

}  // namespace

std::optional<int> capability_number(std::string_view name) {
    for (size_t i = 0; i < k_names.size(); ++i)
        if (k_names[i] == name) return static_cast<int>(i);
    return std::nullopt;
}

std::string_view capability_name(int number) {
    if (number < 0 || static_cast<size_t>(number) >= k_names.size()) return {};
    return k_names[static_cast<size_t>(number)];
}

int kernel_last_cap() {
    static const int last = [] {
        int known = static_cast<int>(k_names.size()) - 1;
        auto text = read_file("/proc/sys/kernel/cap_last_cap");
        if (!text) return known;
        char* end = nullptr;
        long n = std::strtol(text->c_str(), &end, 10);
        if (end == text->c_str() || n < 0) return known;
        return n < known ? static_cast<int>(n) : known;
    }();
    return last;
}

result<std::uint64_t> capability_mask(const std::vector<std::string>& names) {
    std::uint64_t mask = 0;
    for (const auto& n : names) {
        auto num = capability_number(n);
        if (!num) return make_error(errc::invalid_argument, "unknown capability: \"" + n + "\"");
        mask |= std::uint64_t{1} << *num;
    }
    return mask;
}

status drop_bounding_set(std::uint64_t keep) {
    for (int c = 0; c <= kernel_last_cap(); ++c) {
        if (keep & (std::uint64_t{1} << c)) continue;
        if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
            return sys_error("drop " + std::string(capability_name(c)) + " from the bounding set");
    }
    return ok();
}

bool has_effective_capability(int cap) {
    __user_cap_header_struct header{};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (cap < 0 || cap >= 32 * _LINUX_CAPABILITY_U32S_3 || ::syscall(SYS_capget, &header, data) != 0) return false;
    return (data[cap / 32].effective >> (cap % 32)) & 1u;
}

status raise_effective_capabilities() {
    __user_cap_header_struct header{};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return sys_error("capget");
    for (auto& d : data) d.effective = d.permitted;
    if (::syscall(SYS_capset, &header, data) != 0) return sys_error("capset");
    return ok();
}

status set_capabilities(std::uint64_t caps) {
    __user_cap_header_struct header{};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
        auto word = static_cast<std::uint32_t>(caps >> (32 * i));
        data[i].effective = word;
        data[i].permitted = word;
        data[i].inheritable = 0;
    }
    if (::syscall(SYS_capset, &header, data) != 0) return sys_error("capset");
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return sys_error("clear ambient capabilities");
    return ok();
}

}  // namespace berth::runtime
