#include "engine/userns_remap.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "base/fd.h"
#include "base/log.h"
#include "base/util.h"

extern char** environ;

namespace berth {
namespace {

std::optional<std::uint64_t> number(std::string_view s) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

// passwd/group lines: "name:x:id:..."; finds by name or by id.
struct account {
    std::string name;
    std::uint32_t id = 0;
};
std::optional<account> find_account(std::string_view file, const std::string& key) {
    auto id = number(key);
    for (auto line : split(file, '\n')) {
        auto f = split(line, ':');
        if (f.size() < 3) continue;
        auto fid = number(f[2]);
        if (!fid) continue;
        if (f[0] == key || (id && *fid == *id)) return account{std::string(f[0]), static_cast<std::uint32_t>(*fid)};
    }
    return std::nullopt;
}

std::string read_or_empty(const std::string& path) { return read_file(path).value_or(std::string()); }

status append_line(const std::string& path, const std::string& line) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return sys_error("open " + path);
    if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        return sys_error("write " + path);
    if (::fsync(fd.get()) != 0) return sys_error("fsync " + path);
    return ok();
}

status run_command(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    if (int err = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ); err != 0)
        return sys_error("run " + argv[0], err);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return sys_error("wait for " + argv[0]);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return make_error(errc::internal, argv[0] + " " + argv.back() + " failed (status " + std::to_string(st) + ")");
    return ok();
}

// "default": the berth user and group, created as Docker creates
// dockremap (a system user without a home or shell), and ranges of
// 65536 ids after every range already given out.
status ensure_default_user(const std::string& etc) {
    if (!find_account(read_or_empty(etc + "/passwd"), k_default_remap_user)) {
        if (etc != "/etc") return make_error(errc::not_found, "the userns-remap user berth was not found");
        log::info("userns-remap: creating the user {}", k_default_remap_user);
        auto made = run_command({"useradd", "--system", "--user-group", "--no-create-home", "--shell", "/bin/false",
                                 k_default_remap_user});
        if (!made) return made.err().wrap("create the userns-remap user");
    }
    for (const char* file : {"/subuid", "/subgid"}) {
        const std::string path = etc + file;
        std::string text = read_or_empty(path);
        if (!subordinate_ranges(text, k_default_remap_user, "").empty()) continue;
        std::string line = std::string(k_default_remap_user) + ":" + std::to_string(next_free_subordinate(text)) +
                           ":" + std::to_string(k_default_remap_size) + "\n";
        if (!text.empty() && text.back() != '\n') line = "\n" + line;
        log::info("userns-remap: adding {}{}", path, ": " + trim(line));
        BERTH_TRY(append_line(path, line));
    }
    return ok();
}

}  // namespace

std::vector<runtime::id_range> subordinate_ranges(std::string_view file, const std::string& name,
                                                  const std::string& id) {
    std::vector<runtime::id_range> out;
    std::uint64_t inside = 0;
    for (auto line : split(file, '\n')) {
        auto f = split(line, ':');
        if (f.size() != 3 || f[0].empty() || f[0][0] == '#') continue;
        if (f[0] != name && (id.empty() || f[0] != id)) continue;
        auto start = number(f[1]), count = number(f[2]);
        if (!start || !count || *count == 0 || inside + *count > 0xffffffffull || *start + *count > 0xffffffffull)
            continue;
        out.push_back({static_cast<std::uint32_t>(inside), static_cast<std::uint32_t>(*start),
                       static_cast<std::uint32_t>(*count)});
        inside += *count;
        if (out.size() == 340) break;  // the kernel's limit of map lines
    }
    return out;
}

std::uint32_t next_free_subordinate(std::string_view file) {
    std::uint64_t next = 100000;
    for (auto line : split(file, '\n')) {
        auto f = split(line, ':');
        if (f.size() != 3) continue;
        auto start = number(f[1]), count = number(f[2]);
        if (start && count) next = std::max(next, *start + *count);
    }
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(next, 0xffffffffull - k_default_remap_size));
}

result<userns_remap> resolve_userns_remap(const std::string& arg, const std::string& etc) {
    auto parts = split(arg, ':');
    if (arg.empty() || parts.size() > 2 || parts[0].empty() || (parts.size() == 2 && parts[1].empty()))
        return make_error(errc::invalid_argument, "invalid --userns-remap value " + arg + ": expected default, USER or "
                                                  "USER:GROUP");
    std::string user(parts[0]), group(parts.size() == 2 ? std::string(parts[1]) : std::string());
    if (user == "default") {
        if (!group.empty())
            return make_error(errc::invalid_argument, "invalid --userns-remap value " + arg + ": default takes no group");
        BERTH_TRY(ensure_default_user(etc));
        user = k_default_remap_user;
    }
    // As moby: without a group, the group of the same name.
    if (group.empty()) group = user;

    userns_remap out;
    std::string uid_key, gid_key;
    if (auto a = find_account(read_or_empty(etc + "/passwd"), user)) {
        out.user = a->name;
        uid_key = std::to_string(a->id);
    } else if (number(user)) {
        out.user = user;  // an id without a name: its ranges are keyed by the id
        uid_key = user;
    } else {
        return make_error(errc::not_found, "userns-remap: no such user: " + user);
    }
    if (auto g = find_account(read_or_empty(etc + "/group"), group)) {
        out.group = g->name;
        gid_key = std::to_string(g->id);
    } else if (number(group)) {
        out.group = group;
        gid_key = group;
    } else {
        return make_error(errc::not_found, "userns-remap: no such group: " + group);
    }
    out.uid_map = subordinate_ranges(read_or_empty(etc + "/subuid"), out.user, uid_key);
    if (out.uid_map.empty())
        return make_error(errc::not_found, "No subuid ranges found for user \"" + out.user + "\"");
    out.gid_map = subordinate_ranges(read_or_empty(etc + "/subgid"), out.group, gid_key);
    if (out.gid_map.empty())
        return make_error(errc::not_found, "No subgid ranges found for group \"" + out.group + "\"");
    return out;
}

}  // namespace berth
