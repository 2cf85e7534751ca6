#include "engine/cgroup/devices.h"

#include <linux/bpf.h>

#include <charconv>
#include <cstdint>

#include "base/util.h"

namespace berth::cgroup {
namespace {

constexpr unsigned k_acc_all = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

// A major or minor: decimal digits or "*" (-1). False for anything else;
// `too_big` set for digits beyond 32 bits (what the kernel's u32 takes).
bool parse_number(std::string_view s, std::int64_t& out, bool& too_big) {
    if (s == "*") {
        out = -1;
        return true;
    }
    if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v > 0xffffffffULL) {
        too_big = true;
        return false;
    }
    out = static_cast<std::int64_t>(v);
    return true;
}

}  // namespace

std::optional<unsigned> parse_device_access(std::string_view mode) {
    if (mode.empty()) return std::nullopt;
    unsigned bits = 0;
    for (char c : mode) {
        unsigned b = c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : c == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
        if (b == 0 || (bits & b)) return std::nullopt;
        bits |= b;
    }
    return bits;
}

result<device_rule> parse_device_cgroup_rule(std::string_view rule) {
    auto invalid = [&](const char* what) {
        return make_error(errc::invalid_argument, std::string(what) + " device cgroup rule format: '" + std::string(rule) + "'");
    };
    // moby expands the lone "a" to "a *:* rwm" before its pattern
    // ^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$.
    std::string_view text = rule == "a" ? std::string_view("a *:* rwm") : rule;
    auto parts = split(text, ' ');
    if (parts.size() != 3 || parts[0].size() != 1 || std::string_view("acb").find(parts[0][0]) == std::string_view::npos)
        return invalid("invalid");
    auto colon = parts[1].find(':');
    if (colon == std::string::npos) return invalid("invalid");
    // moby's [rwm]{1,3} lets a letter repeat ("rr"); the kernel takes it too.
    if (parts[2].empty() || parts[2].size() > 3 || parts[2].find_first_not_of("rwm") != std::string::npos)
        return invalid("invalid");
    device_rule r{parts[0][0], -1, -1, 0};
    bool too_big = false;
    if (!parse_number(std::string_view(parts[1]).substr(0, colon), r.major, too_big))
        return invalid(too_big ? "invalid major value in" : "invalid");
    if (!parse_number(std::string_view(parts[1]).substr(colon + 1), r.minor, too_big))
        return invalid(too_big ? "invalid minor value in" : "invalid");
    for (char c : parts[2])
        r.access |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
    // "a" covers every type and number whatever the rest says (the kernel's reading).
    if (r.type == 'a') r = {'a', -1, -1, k_acc_all};
    return r;
}

std::string device_rule_text(const device_rule& r) {
    if (r.type == 'a') return "a *:* rwm";
    std::string s;
    s += r.type;
    s += ' ';
    s += r.major < 0 ? "*" : std::to_string(r.major);
    s += ':';
    s += r.minor < 0 ? "*" : std::to_string(r.minor);
    s += ' ';
    if (r.access & BPF_DEVCG_ACC_READ) s += 'r';
    if (r.access & BPF_DEVCG_ACC_WRITE) s += 'w';
    if (r.access & BPF_DEVCG_ACC_MKNOD) s += 'm';
    return s;
}

std::vector<device_rule> rules_with_defaults(const std::vector<device_rule>& extra) {
    auto rules = default_device_rules();
    rules.insert(rules.end(), extra.begin(), extra.end());
    return rules;
}

status write_v1_device_rules(const std::string& dir, const device_access& access) {
    if (access.allow_all) return write_file(dir + "/devices.allow", "a");
    BERTH_TRY(write_file(dir + "/devices.deny", "a"));
    for (const auto& r : rules_with_defaults(access.allow))
        if (auto s = write_file(dir + "/devices.allow", device_rule_text(r)); !s)
            return s.err().wrap("allow device rule \"" + device_rule_text(r) + "\"");
    return ok();
}

}  // namespace berth::cgroup
