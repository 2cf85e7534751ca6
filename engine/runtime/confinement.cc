#include "engine/runtime/confinement.h"

#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>

#include "base/util.h"

namespace berth::runtime {
namespace {

struct flag_word {
    std::string_view name;
    bool clear;  // the word clears the bits rather than setting them
    unsigned long bits;
};

// moby/sys/mount's flag words that make sense for a fresh tmpfs; the
// propagation words are accepted and ignored (every mount in the container
// is private).
constexpr flag_word k_flag_words[] = {
    {"defaults", false, 0},         {"rw", true, MS_RDONLY},          {"ro", false, MS_RDONLY},
    {"suid", true, MS_NOSUID},      {"nosuid", false, MS_NOSUID},     {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},     {"exec", true, MS_NOEXEC},        {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS}, {"async", true, MS_SYNCHRONOUS}, {"dirsync", false, MS_DIRSYNC},
    {"atime", true, MS_NOATIME},    {"noatime", false, MS_NOATIME},   {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME}, {"relatime", false, MS_RELATIME}, {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"private", false, 0},          {"rprivate", false, 0},           {"shared", false, 0},
    {"rshared", false, 0},          {"slave", false, 0},              {"rslave", false, 0},
};

// moby/sys/mount ParseTmpfsOptions' validFlags.
constexpr std::string_view k_data_keys[] = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"};

constexpr std::pair<std::string_view, int> k_ulimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

constexpr std::string_view k_ipc_sysctls[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                              "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                              "kernel.shmmni", "kernel.shm_rmid_forced"};

// Go's strconv.ParseBool.
std::optional<bool> parse_go_bool(std::string_view s) {
    for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
        if (s == t) return true;
    for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
        if (s == f) return false;
    return std::nullopt;
}

}  // namespace

result<tmpfs_options> parse_tmpfs_options(std::string_view options) {
    tmpfs_options out;
    out.flags = MS_NOEXEC | MS_NOSUID | MS_NODEV;
    std::vector<std::pair<std::string, std::string>> data;
    for (const auto& raw : split(options, ',')) {
        std::string opt = trim(raw);
        if (opt.empty()) continue;
        auto eq = opt.find('=');
        if (eq == std::string::npos) {
            auto w = std::find_if(std::begin(k_flag_words), std::end(k_flag_words),
                                  [&](const flag_word& f) { return f.name == opt; });
            if (w == std::end(k_flag_words))
                return make_error(errc::invalid_argument, "invalid tmpfs option \"" + opt + "\"");
            if (w->clear) out.flags &= ~w->bits;
            else out.flags |= w->bits;
            continue;
        }
        std::string key = opt.substr(0, eq), value = opt.substr(eq + 1);
        if (std::find(std::begin(k_data_keys), std::end(k_data_keys), key) == std::end(k_data_keys))
            return make_error(errc::invalid_argument, "invalid tmpfs option \"" + opt + "\"");
        if (value.empty() || value.find_first_of(", ") != std::string::npos)
            return make_error(errc::invalid_argument, "invalid tmpfs option \"" + opt + "\"");
        auto same = std::find_if(data.begin(), data.end(), [&](const auto& kv) { return kv.first == key; });
        if (same != data.end()) same->second = std::move(value);
        else data.emplace_back(std::move(key), std::move(value));
    }
    for (const auto& [k, v] : data) {
        if (!out.data.empty()) out.data += ',';
        out.data += k + "=" + v;
    }
    return out;
}

status check_tmpfs_target(std::string_view target) {
    if (target.empty() || target[0] != '/')
        return make_error(errc::invalid_argument, "invalid mount config for type \"tmpfs\": invalid mount path: '" +
                                                      std::string(target) + "' mount path must be absolute");
    if (std::all_of(target.begin(), target.end(), [](char c) { return c == '/'; }))
        return make_error(errc::invalid_argument,
                          "invalid specification: destination can't be '/' in '" + std::string(target) + "'");
    for (const auto& comp : split(target, '/'))
        if (comp == "..")
            return make_error(errc::invalid_argument,
                              "invalid mount config for type \"tmpfs\": invalid mount path: '" + std::string(target) +
                                  "' must not contain ..");
    return ok();
}

std::optional<int> ulimit_resource(std::string_view name) {
    for (const auto& [n, r] : k_ulimits)
        if (n == name) return r;
    return std::nullopt;
}

status check_sysctl(std::string_view key, std::string_view value, bool own_network) {
    const std::string kv = std::string(key) + "=" + std::string(value);
    bool sane = !key.empty() && key.find('/') == std::string_view::npos && key.front() != '.' &&
                key.back() != '.' && key.find("..") == std::string_view::npos;
    if (!sane) return make_error(errc::invalid_argument, "sysctl '" + kv + "' is not allowed");
    if (std::find(std::begin(k_ipc_sysctls), std::end(k_ipc_sysctls), key) != std::end(k_ipc_sysctls) ||
        starts_with(key, "fs.mqueue."))
        return ok();
    if (starts_with(key, "net.")) {
        if (!own_network)
            return make_error(errc::invalid_argument,
                              "sysctl '" + kv + "' is not allowed in the hosts network namespace");
        return ok();
    }
    return make_error(errc::invalid_argument, "sysctl '" + kv + "' is not allowed");
}

std::string sysctl_path(std::string_view key) {
    std::string out = "/proc/sys/";
    for (char c : key) out += c == '.' ? '/' : c;
    return out;
}

result<security_opts> parse_security_opts(const std::vector<std::string>& opts) {
    security_opts out;
    for (const auto& opt : opts) {
        if (opt == "no-new-privileges") {
            out.no_new_privs = true;
            continue;
        }
        auto sep = opt.find('=');
        if (sep == std::string::npos) sep = opt.find(':');
        if (sep == std::string::npos)
            return make_error(errc::invalid_argument, "invalid --security-opt 1: \"" + opt + "\"");
        std::string key = opt.substr(0, sep), value = opt.substr(sep + 1);
        if (key == "no-new-privileges") {
            auto b = parse_go_bool(value);
            if (!b) return make_error(errc::invalid_argument, "invalid --security-opt 2: \"" + opt + "\"");
            out.no_new_privs = *b;
        } else if (key == "seccomp") {
            if (value.empty()) return make_error(errc::invalid_argument, "invalid --security-opt 2: \"" + opt + "\"");
            out.seccomp = value;
        } else if ((key == "apparmor" && value == "unconfined") || (key == "label" && value == "disable")) {
            // What scripts pass to turn them off: berth applies neither.
        } else if (key == "apparmor" || key == "label") {
            return make_error(errc::invalid_argument,
                              "--security-opt " + key + "=…: " + key + " is not supported yet");
        } else {
            return make_error(errc::invalid_argument, "invalid --security-opt 2: \"" + opt + "\"");
        }
    }
    return out;
}

}  // namespace berth::runtime
