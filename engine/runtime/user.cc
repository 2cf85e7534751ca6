#include "engine/runtime/user.h"

#include "base/util.h"

namespace berth::runtime {
namespace {

// uids and gids above 2^31-1 are refused, as runc does: many tools treat
// them as negative.
constexpr unsigned long k_max_id = 0x7fffffff;

std::optional<unsigned long> parse_id(std::string_view s) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    unsigned long n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    if (n > k_max_id) return std::nullopt;
    return n;
}

struct passwd_entry {
    std::string name;
    unsigned long uid = 0, gid = 0;
    std::string home;
};

struct group_entry {
    std::string name;
    unsigned long gid = 0;
    std::vector<std::string> members;
};

std::vector<std::string> fields_of(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return split(line, ':');
}

bool skip_line(std::string_view line) {
    auto t = trim(line);
    return t.empty() || t[0] == '#';
}

std::vector<passwd_entry> parse_passwd(const std::string& text) {
    std::vector<passwd_entry> out;
    for (const auto& line : split(text, '\n')) {
        if (skip_line(line)) continue;
        auto f = fields_of(line);
        if (f.size() < 4) continue;
        auto uid = parse_id(f[2]);
        auto gid = parse_id(f[3]);
        if (!uid || !gid) continue;
        out.push_back({f[0], *uid, *gid, f.size() > 5 ? f[5] : std::string()});
    }
    return out;
}

std::vector<group_entry> parse_group(const std::string& text) {
    std::vector<group_entry> out;
    for (const auto& line : split(text, '\n')) {
        if (skip_line(line)) continue;
        auto f = fields_of(line);
        if (f.size() < 3) continue;
        auto gid = parse_id(f[2]);
        if (!gid) continue;
        group_entry g{f[0], *gid, {}};
        if (f.size() > 3 && !f[3].empty())
            for (auto& m : split(f[3], ',')) {
                auto t = trim(m);
                if (!t.empty()) g.members.push_back(std::move(t));
            }
        out.push_back(std::move(g));
    }
    return out;
}

}  // namespace

result<exec_user> resolve_user(std::string_view spec, const std::optional<std::string>& passwd,
                               const std::optional<std::string>& group) {
    std::string_view user_arg = spec, group_arg;
    bool explicit_group = false;
    if (auto colon = spec.find(':'); colon != std::string_view::npos) {
        user_arg = spec.substr(0, colon);
        group_arg = spec.substr(colon + 1);
        explicit_group = !group_arg.empty();
    }
    if (user_arg.empty()) user_arg = "0";

    exec_user out;
    std::string matched_name;
    auto uid_arg = parse_id(user_arg);
    const passwd_entry* found = nullptr;
    std::vector<passwd_entry> users;
    if (passwd) users = parse_passwd(*passwd);
    for (const auto& u : users)
        if (u.name == user_arg || (uid_arg && u.uid == *uid_arg)) {
            found = &u;
            break;
        }
    if (found) {
        out.uid = static_cast<uid_t>(found->uid);
        out.gid = static_cast<gid_t>(found->gid);
        if (!found->home.empty()) out.home = found->home;
        matched_name = found->name;
    } else if (uid_arg) {
        out.uid = static_cast<uid_t>(*uid_arg);
    } else {
        return make_error(errc::invalid_argument,
                          "unable to find user " + std::string(user_arg) + ": no matching entries in passwd file");
    }

    if (!explicit_group && matched_name.empty()) return out;
    std::vector<group_entry> groups;
    if (group) groups = parse_group(*group);
    if (explicit_group) {
        auto gid_arg = parse_id(group_arg);
        const group_entry* g = nullptr;
        for (const auto& e : groups)
            if (e.name == group_arg || (gid_arg && e.gid == *gid_arg)) {
                g = &e;
                break;
            }
        if (g)
            out.gid = static_cast<gid_t>(g->gid);
        else if (gid_arg)
            out.gid = static_cast<gid_t>(*gid_arg);
        else
            return make_error(errc::invalid_argument, "unable to find group " + std::string(group_arg) +
                                                          ": no matching entries in group file");
        return out;
    }
    for (const auto& e : groups)
        for (const auto& m : e.members)
            if (m == matched_name) {
                out.groups.push_back(static_cast<gid_t>(e.gid));
                break;
            }
    return out;
}

result<std::vector<gid_t>> resolve_additional_groups(const std::vector<std::string>& names,
                                                     const std::optional<std::string>& group) {
    std::vector<group_entry> groups;
    if (group) groups = parse_group(*group);
    std::vector<gid_t> out;
    for (const auto& raw : names) {
        std::string name = trim(raw);
        auto gid_arg = parse_id(name);
        std::optional<unsigned long> gid;
        for (const auto& e : groups)
            if (e.name == name || (gid_arg && e.gid == *gid_arg)) {
                gid = e.gid;
                break;
            }
        if (!gid) gid = gid_arg;
        if (!gid)
            return make_error(errc::invalid_argument,
                              "Unable to find group " + name + ": no matching entries in group file");
        out.push_back(static_cast<gid_t>(*gid));
    }
    return out;
}

}  // namespace berth::runtime
