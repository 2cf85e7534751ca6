#include "cli/common.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <thread>

#include "base/util.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/mount_flag.h"

namespace berth::cli {

namespace json = boost::json;

// ---- human formats -----------------------------------------------------------

std::string human_duration(std::int64_t s) {
    // go-units HumanDuration; hours are rounded, everything else truncated.
    if (s < 1) return "Less than a second";
    if (s == 1) return "1 second";
    if (s < 60) return std::to_string(s) + " seconds";
    std::int64_t minutes = s / 60;
    if (minutes == 1) return "About a minute";
    if (minutes < 60) return std::to_string(minutes) + " minutes";
    std::int64_t hours = (s + 1800) / 3600;
    if (hours == 1) return "About an hour";
    if (hours < 48) return std::to_string(hours) + " hours";
    if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
    if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
    if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
    return std::to_string(s / 3600 / 24 / 365) + " years";
}

std::string time_ago(std::int64_t unix_time, std::int64_t now) {
    return human_duration(now - unix_time) + " ago";
}

namespace {

std::string custom_size(double size, double base, int precision, const char* const* units, int n_units) {
    int i = 0;
    while (size >= base && i < n_units - 1) {
        size /= base;
        ++i;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g%s", precision, size, units[i]);
    return buf;
}

}  // namespace

std::string human_size(double bytes) {
    static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    return custom_size(bytes, 1000.0, 3, units, 9);
}

std::string human_size_binary(double bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    return custom_size(bytes, 1024.0, 4, units, 9);
}

result<std::int64_t> parse_ram_bytes(std::string_view s) {
    // docker's RAMInBytes: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
    auto bad = [&] { return make_error(errc::invalid_argument, "invalid size: '" + std::string(s) + "'"); };
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0 || s[0] == '.') return bad();
    std::string number(s.substr(0, i));
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return bad();
    std::string_view rest = s.substr(i);
    if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    double mult = 1;
    if (!rest.empty()) {
        static constexpr std::string_view prefixes = "kmgtp";
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(rest.front())));
        if (auto p = prefixes.find(c); p != std::string_view::npos) {
            mult = std::pow(1024.0, static_cast<double>(p + 1));
            rest.remove_prefix(1);
        }
    }
    if (!rest.empty() && (rest.front() == 'i' || rest.front() == 'I')) rest.remove_prefix(1);
    if (!rest.empty() && (rest.front() == 'b' || rest.front() == 'B')) rest.remove_prefix(1);
    if (!rest.empty()) return bad();
    return static_cast<std::int64_t>(value * mult);
}

result<std::int64_t> parse_nano_cpus(std::string_view s) {
    // docker's opts.ParseCPUs: an exact rational times 1e9 that must be whole.
    auto bad = [&] {
        return make_error(errc::invalid_argument, "invalid argument \"" + std::string(s) +
                                                      "\" for \"--cpus\" flag: failed to parse " + std::string(s) +
                                                      " as a rational number");
    };
    std::string_view digits = s;
    bool negative = !digits.empty() && digits.front() == '-';
    if (negative || (!digits.empty() && digits.front() == '+')) digits.remove_prefix(1);
    auto dot = digits.find('.');
    std::string_view whole = digits.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? std::string_view() : digits.substr(dot + 1);
    auto all_digits = [](std::string_view d) { return d.find_first_not_of("0123456789") == std::string_view::npos; };
    if ((whole.empty() && frac.empty()) || !all_digits(whole) || !all_digits(frac)) return bad();
    while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
    if (frac.size() > 9)
        return make_error(errc::invalid_argument,
                          "invalid argument \"" + std::string(s) + "\" for \"--cpus\" flag: value is too precise");
    while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
    if (whole.size() > 9) return bad();
    std::int64_t nano = whole.empty() ? 0 : std::stoll(std::string(whole)) * 1000000000;
    std::string f(frac);
    f.resize(9, '0');
    nano += std::stoll(f);
    return negative ? -nano : nano;
}

// ---- text ------------------------------------------------------------------

std::size_t display_width(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

std::string ellipsis(std::string_view s, std::size_t max_width) {
    if (max_width == 0) return {};
    if (display_width(s) <= max_width) return std::string(s);
    // Keep max_width - 1 code points, then the ellipsis.
    std::size_t points = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (points == max_width - 1) break;
            ++points;
        }
    }
    return std::string(s.substr(0, i)) + "\xE2\x80\xA6";
}

std::string go_quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
    return out;
}

std::string short_id(std::string_view id) {
    if (auto colon = id.find(':'); colon != std::string_view::npos) id.remove_prefix(colon + 1);
    return std::string(id.substr(0, 12));
}

std::string format_table(const std::vector<std::vector<std::string>>& rows, std::size_t min_width) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        if (row.size() > widths.size() + 1) widths.resize(row.size() - 1, 0);
        for (std::size_t c = 0; c + 1 < row.size(); ++c) widths[c] = std::max(widths[c], display_width(row[c]));
    }
    for (auto& w : widths) w = std::max<std::size_t>(w + 3, min_width);
    std::string out;
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < row.size(); ++c) {
            out += row[c];
            if (c + 1 < row.size()) out.append(widths[c] - display_width(row[c]), ' ');
        }
        out += '\n';
    }
    return out;
}

namespace {

bool unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

std::string percent_escape(std::string_view s, std::string_view keep) {
    static constexpr char hexd[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (unreserved(c) || keep.find(static_cast<char>(c)) != std::string_view::npos) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hexd[c >> 4];
            out += hexd[c & 15];
        }
    }
    return out;
}

}  // namespace

std::string escape_path(std::string_view s) { return percent_escape(s, "$&+,/:;=@"); }
std::string escape_query(std::string_view s) { return percent_escape(s, ""); }

// ---- JSON ------------------------------------------------------------------

namespace {

std::string format_double(double d) {
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15)
        return std::to_string(static_cast<std::int64_t>(d));
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
}

void indent_to(std::string& out, int depth) {
    out += '\n';
    out.append(static_cast<std::size_t>(depth) * 4, ' ');
}

// indent < 0: compact.
void write_json(std::string& out, const json::value& v, int depth, bool pretty) {
    switch (v.kind()) {
    case json::kind::object: {
        const auto& o = v.get_object();
        if (o.empty()) {
            out += "{}";
            return;
        }
        out += '{';
        bool first = true;
        for (const auto& kv : o) {
            if (!first) out += ',';
            first = false;
            if (pretty) indent_to(out, depth + 1);
            out += json::serialize(json::string_view(kv.key()));
            out += pretty ? ": " : ":";
            write_json(out, kv.value(), depth + 1, pretty);
        }
        if (pretty) indent_to(out, depth);
        out += '}';
        return;
    }
    case json::kind::array: {
        const auto& a = v.get_array();
        if (a.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        bool first = true;
        for (const auto& e : a) {
            if (!first) out += ',';
            first = false;
            if (pretty) indent_to(out, depth + 1);
            write_json(out, e, depth + 1, pretty);
        }
        if (pretty) indent_to(out, depth);
        out += ']';
        return;
    }
    case json::kind::double_:
        out += format_double(v.get_double());
        return;
    default:
        out += json::serialize(v);
        return;
    }
}

// How Go's text/template prints a value decoded from JSON.
void write_go_value(std::string& out, const json::value& v) {
    switch (v.kind()) {
    case json::kind::string: out += std::string_view(v.get_string()); return;
    case json::kind::int64: out += std::to_string(v.get_int64()); return;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); return;
    case json::kind::double_: out += format_double(v.get_double()); return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::null: out += "<nil>"; return;
    case json::kind::array: {
        out += '[';
        bool first = true;
        for (const auto& e : v.get_array()) {
            if (!first) out += ' ';
            first = false;
            write_go_value(out, e);
        }
        out += ']';
        return;
    }
    case json::kind::object: {
        std::map<std::string, const json::value*> sorted;
        for (const auto& kv : v.get_object()) sorted.emplace(std::string(kv.key()), &kv.value());
        out += "map[";
        bool first = true;
        for (const auto& [k, val] : sorted) {
            if (!first) out += ' ';
            first = false;
            out += k;
            out += ':';
            write_go_value(out, *val);
        }
        out += ']';
        return;
    }
    }
}

}  // namespace

std::string pretty_json(const json::value& v) {
    std::string out;
    write_json(out, v, 0, true);
    return out;
}

std::string compact_json(const json::value& v) {
    std::string out;
    write_json(out, v, 0, false);
    return out;
}

std::string go_value_text(const json::value& v) {
    std::string out;
    write_go_value(out, v);
    return out;
}

result<std::string> render_template(std::string_view format, const json::value& root) {
    BERTH_ASSIGN(go_template t, go_template::parse(format));
    template_data data;
    data.dot = root;
    std::string out;
    BERTH_TRY(t.execute(data, out));
    return out;
}

result<json::value> parse_json(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) return make_error(errc::internal, "parse " + std::string(what) + ": " + ec.message());
    return v;
}

std::string json_string(const json::value& obj, std::string_view key) {
    const auto* o = obj.if_object();
    if (!o) return {};
    const auto* v = o->if_contains(key);
    if (!v || !v->is_string()) return {};
    return std::string(v->get_string());
}

std::int64_t json_int(const json::value& obj, std::string_view key) {
    const auto* o = obj.if_object();
    if (!o) return 0;
    const auto* v = o->if_contains(key);
    if (!v) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
    return 0;
}

bool json_bool(const json::value& obj, std::string_view key) {
    const auto* o = obj.if_object();
    if (!o) return false;
    const auto* v = o->if_contains(key);
    return v && v->is_bool() && v->get_bool();
}

// ---- images ----------------------------------------------------------------

std::string normalize_reference(std::string_view ref) {
    if (ref.find('@') != std::string_view::npos) return std::string(ref);
    std::size_t slash = ref.rfind('/');
    std::size_t colon = ref.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
        return std::string(ref);
    return std::string(ref) + ":latest";
}

std::pair<std::string, std::string> split_reference(std::string_view ref) {
    if (auto at = ref.find('@'); at != std::string_view::npos) return {std::string(ref.substr(0, at)), ""};
    std::size_t slash = ref.rfind('/');
    std::size_t colon = ref.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
        return {std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
    return {std::string(ref), ""};
}

// ---- containers ------------------------------------------------------------

namespace {

constexpr std::string_view white = " \t\n\r\v\f";

std::optional<std::string> lookup_env(const std::string& name) {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
}

}  // namespace

result<std::vector<std::string>> resolve_env(const std::vector<std::string>& env_files,
                                             const std::vector<std::string>& env) {
    std::vector<std::string> out;
    for (const auto& file : env_files) {
        auto text = read_file(file);
        if (!text) return text.err().wrap("read env file");
        for (std::string line : split(*text, '\n')) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            std::size_t start = line.find_first_not_of(white);
            if (start == std::string::npos) continue;
            line.erase(0, start);
            if (line[0] == '#') continue;
            std::size_t eq = line.find('=');
            std::string name = line.substr(0, eq);
            if (name.empty())
                return make_error(errc::invalid_argument, "no variable name on line '" + line + "'");
            if (name.find_first_of(white) != std::string::npos)
                return make_error(errc::invalid_argument, "variable '" + name + "' contains whitespaces");
            if (eq != std::string::npos)
                out.push_back(line);
            else if (auto v = lookup_env(name))
                out.push_back(name + "=" + *v);
        }
    }
    for (const auto& e : env) {
        if (e.find('=') != std::string::npos) {
            out.push_back(e);
        } else if (auto v = lookup_env(e)) {
            out.push_back(e + "=" + *v);
        } else {
            out.push_back(e);
        }
    }
    return out;
}

std::string normalize_capability(std::string_view cap) {
    std::string c(cap);
    for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c == "ALL" || starts_with(c, "CAP_")) return c;
    return "CAP_" + c;
}

namespace {

json::value string_array_or_null(const std::vector<std::string>& v) {
    if (v.empty()) return nullptr;
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}

json::object endpoint_settings() {
    return json::object{{"IPAMConfig", nullptr},   {"Links", nullptr},       {"Aliases", nullptr},
                        {"MacAddress", ""},        {"DriverOpts", nullptr},  {"GwPriority", 0},
                        {"NetworkID", ""},         {"EndpointID", ""},       {"Gateway", ""},
                        {"IPAddress", ""},         {"IPPrefixLen", 0},       {"IPv6Gateway", ""},
                        {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"DNSNames", nullptr}};
}

}  // namespace

namespace {

// go-units ParseUlimit: NAME=SOFT[:HARD], HARD defaulting to SOFT. The
// daemon checks the name and the daemon's hard limits.
result<json::array> ulimits_body(const std::vector<std::string>& values) {
    json::array out;
    for (const auto& v : values) {
        auto bad = [&v](const std::string& why) {
            return make_error(errc::invalid_argument, "invalid argument \"" + v + "\" for \"--ulimit\" flag: " + why);
        };
        auto eq = v.find('=');
        if (eq == std::string::npos) return bad("invalid ulimit argument: " + v);
        std::string name = v.substr(0, eq), limits = v.substr(eq + 1);
        auto colon = limits.find(':');
        auto number = [&](const std::string& s) -> std::optional<std::int64_t> {
            char* end = nullptr;
            errno = 0;
            long long n = std::strtoll(s.c_str(), &end, 10);
            if (s.empty() || *end != '\0' || errno == ERANGE) return std::nullopt;
            return static_cast<std::int64_t>(n);
        };
        auto soft = number(limits.substr(0, colon));
        auto hard = colon == std::string::npos ? soft : number(limits.substr(colon + 1));
        if (!soft || !hard) return bad("strconv.ParseInt: parsing \"" + limits + "\": invalid syntax");
        if (*soft > *hard)
            return bad("ulimit soft limit must be less than or equal to hard limit: " + std::to_string(*soft) +
                       " > " + std::to_string(*hard));
        out.emplace_back(json::object{{"Name", name}, {"Hard", *hard}, {"Soft", *soft}});
    }
    return out;
}

// --time-offset CLOCK=SECONDS[,CLOCK=SECONDS] (a berth extension), repeatable:
// seconds as a decimal with an optional sign, up to 9 fractional digits and
// an optional "s". HostConfig.BerthTimeOffsets {"monotonic": 86400, …}: an
// integer, or a number with a fraction. The daemon checks the clock names
// and the range against the kernel's.
result<json::object> time_offsets_body(const std::vector<std::string>& values) {
    json::object out;
    for (const auto& value : values) {
        for (const auto& item : split(value, ',')) {
            auto bad = [&item](const std::string& why) {
                return make_error(errc::invalid_argument,
                                  "invalid argument \"" + item + "\" for \"--time-offset\" flag: " + why);
            };
            auto eq = item.find('=');
            if (eq == std::string::npos || eq == 0) return bad("expected CLOCK=SECONDS (monotonic=86400,boottime=-60)");
            std::string clock = item.substr(0, eq), number = item.substr(eq + 1);
            if (out.contains(clock)) return bad("the " + clock + " clock is given twice");
            if (!number.empty() && number.back() == 's') number.pop_back();
            std::size_t i = (!number.empty() && (number[0] == '-' || number[0] == '+')) ? 1 : 0;
            std::size_t int_digits = 0, frac_digits = 0;
            while (i < number.size() && std::isdigit(static_cast<unsigned char>(number[i]))) ++i, ++int_digits;
            bool dot = i < number.size() && number[i] == '.';
            if (dot)
                for (++i; i < number.size() && std::isdigit(static_cast<unsigned char>(number[i]));) ++i, ++frac_digits;
            if (i != number.size() || int_digits == 0 || (dot && frac_digits == 0))
                return bad("\"" + item.substr(eq + 1) + "\" is not a number of seconds");
            if (frac_digits > 9) return bad("at most 9 fractional digits (nanoseconds)");
            if (int_digits > 12) return bad("offset out of range");
            if (dot) out[clock] = std::strtod(number.c_str(), nullptr);
            else out[clock] = static_cast<std::int64_t>(std::strtoll(number.c_str(), nullptr, 10));
        }
    }
    return out;
}

}  // namespace

json::object restart_policy(const std::string& spec) {
    auto colon = spec.find(':');
    std::string name = spec.substr(0, colon);
    std::int64_t max = 0;
    if (colon != std::string::npos) max = std::strtoll(spec.c_str() + colon + 1, nullptr, 10);
    return json::object{{"Name", name.empty() ? "no" : name}, {"MaximumRetryCount", max}};
}

result<json::object> resources_body(const create_options& o) {
    std::int64_t memory = 0, memory_swap = 0, memory_reservation = 0, nano_cpus = 0;
    if (!o.memory.empty()) {
        BERTH_ASSIGN(memory, parse_ram_bytes(o.memory));
    }
    // docker's MemSwapBytes: "-1" is unlimited swap.
    if (o.memory_swap == "-1") memory_swap = -1;
    else if (!o.memory_swap.empty()) {
        BERTH_ASSIGN(memory_swap, parse_ram_bytes(o.memory_swap));
    }
    if (!o.memory_reservation.empty()) {
        BERTH_ASSIGN(memory_reservation, parse_ram_bytes(o.memory_reservation));
    }
    if (!o.cpus.empty()) {
        BERTH_ASSIGN(nano_cpus, parse_nano_cpus(o.cpus));
    }
    return json::object{{"Memory", memory},           {"MemorySwap", memory_swap},
                        {"MemoryReservation", memory_reservation}, {"NanoCpus", nano_cpus},
                        {"CpuShares", o.cpu_shares},   {"CpusetCpus", o.cpuset_cpus},
                        {"CpusetMems", o.cpuset_mems}, {"BlkioWeight", o.blkio_weight},
                        {"PidsLimit", o.pids_limit}};
}

// As the docker CLI: "seccomp=FILE" travels as the file's content (compact
// JSON); "unconfined" and "builtin" stay names.
result<std::vector<std::string>> resolve_security_opts(const std::vector<std::string>& opts) {
    std::vector<std::string> out;
    for (const auto& opt : opts) {
        auto sep = opt.find('=');
        if (sep == std::string::npos) sep = opt.find(':');
        if (sep == std::string::npos || opt.substr(0, sep) != "seccomp") {
            out.push_back(opt);
            continue;
        }
        std::string value = opt.substr(sep + 1);
        if (value == "unconfined" || value == "builtin") {
            out.push_back("seccomp=" + value);
            continue;
        }
        auto text = read_file(value);
        if (!text)
            return make_error(errc::invalid_argument,
                              "opening seccomp profile (" + value + ") failed: " + text.err().message);
        boost::system::error_code ec;
        auto doc = json::parse(*text, ec);
        if (ec) return make_error(errc::invalid_argument, "compacting json for seccomp profile (" + value +
                                                             ") failed: " + ec.message());
        out.push_back("seccomp=" + json::serialize(doc));
    }
    return out;
}

namespace {

// docker's validDeviceMode: r, w and m, each at most once, at least one.
bool valid_device_mode(std::string_view mode) {
    if (mode.empty()) return false;
    std::string seen;
    for (char c : mode) {
        if ((c != 'r' && c != 'w' && c != 'm') || seen.find(c) != std::string::npos) return false;
        seen += c;
    }
    return true;
}

// Go's path.Clean for the paths docker's validateLinuxPath cleans.
std::string clean_path(std::string_view p) {
    if (p.empty()) return ".";
    std::vector<std::string> parts;
    for (auto& part : split(p, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (!parts.empty() && parts.back() != "..") parts.pop_back();
            else if (p[0] != '/') parts.push_back(part);
            continue;
        }
        parts.push_back(part);
    }
    std::string out = p[0] == '/' ? "/" : "";
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
    return out.empty() ? "." : out;
}

}  // namespace

result<json::object> parse_device_flag(std::string_view spec) {
    auto bad = [](std::string m) { return make_error(errc::invalid_argument, std::move(m)); };
    // validateLinuxPath(val, validDeviceMode), which cleans some paths...
    std::string val(spec);
    if (std::count(val.begin(), val.end(), ':') > 2) return bad("bad format for path: " + val);
    auto parts = split(val, ':');
    if (parts[0].empty()) return bad("bad format for path: " + val);
    std::string container_path;
    if (parts.size() == 1) {
        container_path = parts[0];
        val = clean_path(container_path);
    } else if (parts.size() == 2) {
        if (valid_device_mode(parts[1])) {
            container_path = parts[0];
            val = clean_path(container_path) + ":" + parts[1];
        } else {
            container_path = parts[1];
            val = parts[0] + ":" + clean_path(container_path);
        }
    } else {
        container_path = parts[1];
        if (!valid_device_mode(parts[2])) return bad("bad mode specified: " + parts[2]);
    }
    if (container_path.empty() || container_path[0] != '/') return bad(container_path + " is not an absolute path");
    // ...then parseLinuxDevice on what it returned.
    auto arr = split(val, ':');
    std::string src = arr[0], dst, permissions = "rwm";
    if (arr.size() == 3) permissions = arr[2];
    if (arr.size() >= 2) {
        if (valid_device_mode(arr[1])) permissions = arr[1];
        else dst = arr[1];
    }
    if (dst.empty()) dst = src;
    return json::object{{"PathOnHost", src}, {"PathInContainer", dst}, {"CgroupPermissions", permissions}};
}

status check_device_cgroup_rule(std::string_view rule) {
    // docker's ^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$
    auto fail = [&] {
        return make_error(errc::invalid_argument, "invalid device cgroup format '" + std::string(rule) + "'");
    };
    auto number = [](std::string_view s) {
        return s == "*" || (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos);
    };
    auto parts = split(rule, ' ');
    if (parts.size() != 3 || parts[0].size() != 1 || std::string_view("acb").find(parts[0][0]) == std::string_view::npos)
        return fail();
    auto colon = parts[1].find(':');
    if (colon == std::string::npos || !number(std::string_view(parts[1]).substr(0, colon)) ||
        !number(std::string_view(parts[1]).substr(colon + 1)))
        return fail();
    if (parts[2].empty() || parts[2].size() > 3 || parts[2].find_first_not_of("rwm") != std::string::npos) return fail();
    return ok();
}

result<json::object> build_create_body(const create_options& o) {
    BERTH_ASSIGN(auto env, resolve_env(o.env_files, o.env));
    BERTH_ASSIGN(auto security_opt, resolve_security_opts(o.security_opt));

    json::object labels;
    for (const auto& l : o.labels) {
        std::size_t eq = l.find('=');
        if (eq == 0) return make_error(errc::invalid_argument, "invalid label '" + l + "': empty name");
        labels[l.substr(0, eq)] = eq == std::string::npos ? std::string() : l.substr(eq + 1);
    }

    std::vector<std::string> binds;
    json::object volumes;
    for (const auto& v : o.volumes) {
        if (v.find(':') == std::string::npos)
            volumes[v] = json::object{};
        else
            binds.push_back(v);
    }

    BERTH_ASSIGN(json::object resources, resources_body(o));
    const json::value memory = resources["Memory"], memory_swap = resources["MemorySwap"],
                      memory_reservation = resources["MemoryReservation"], nano_cpus = resources["NanoCpus"];

    std::vector<std::string> cap_add, cap_drop;
    for (const auto& c : o.cap_add) cap_add.push_back(normalize_capability(c));
    for (const auto& c : o.cap_drop) cap_drop.push_back(normalize_capability(c));

    const std::string network = o.network.empty() ? "none" : o.network;
    const bool attach = !o.detach;

    json::value entrypoint = nullptr;
    if (o.entrypoint) entrypoint = json::array{json::string(*o.entrypoint)};

    // docker's parseLoggingOpts: KEY=VALUE (KEY alone is KEY=""); none takes none.
    if (o.log_driver == "none" && !o.log_opts.empty())
        return make_error(errc::invalid_argument, "invalid logging opts for driver none");
    json::object log_opts;
    for (const auto& kv : o.log_opts) {
        auto eq = kv.find('=');
        log_opts[kv.substr(0, eq)] = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
    }

    json::object host{
        {"Binds", string_array_or_null(binds)},
        {"ContainerIDFile", ""},
        {"LogConfig", json::object{{"Type", o.log_driver}, {"Config", std::move(log_opts)}}},
        {"NetworkMode", network},
        {"PortBindings", json::object{}},
        {"RestartPolicy", restart_policy(o.restart)},
        {"AutoRemove", o.auto_remove},
        {"VolumeDriver", ""},
        {"VolumesFrom", string_array_or_null(o.volumes_from)},
        {"ConsoleSize", json::array{o.console_height, o.console_width}},
        {"CapAdd", string_array_or_null(cap_add)},
        {"CapDrop", string_array_or_null(cap_drop)},
        {"CgroupnsMode", ""},
        {"Dns", json::array{}},
        {"DnsOptions", json::array{}},
        {"DnsSearch", json::array{}},
        {"ExtraHosts", nullptr},
        {"GroupAdd", nullptr},
        {"IpcMode", ""},
        {"Cgroup", ""},
        {"Links", nullptr},
        {"OomScoreAdj", 0},
        {"PidMode", ""},
        {"Privileged", o.privileged},
        {"PublishAllPorts", false},
        {"ReadonlyRootfs", o.read_only},
        {"SecurityOpt", string_array_or_null(security_opt)},
    };
    if (!o.mounts.empty()) {
        json::array mounts;
        for (const auto& m : o.mounts) {
            BERTH_ASSIGN(auto parsed, parse_mount_flag(m));
            mounts.emplace_back(std::move(parsed));
        }
        host["Mounts"] = std::move(mounts);
    }
    if (!o.tmpfs.empty()) {
        json::object tmpfs;
        for (const auto& t : o.tmpfs) {
            std::size_t colon = t.find(':');
            tmpfs[t.substr(0, colon)] = colon == std::string::npos ? std::string() : t.substr(colon + 1);
        }
        host["Tmpfs"] = std::move(tmpfs);
    }
    if (!o.sysctls.empty()) {
        json::object sysctls;
        for (const auto& kv : o.sysctls) {
            auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0)
                return make_error(errc::invalid_argument, "invalid argument \"" + kv + "\" for \"--sysctl\" flag: sysctl '" +
                                                              kv + "' is not allowed");
            sysctls[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        host["Sysctls"] = std::move(sysctls);
    }
    host["GroupAdd"] = string_array_or_null(o.group_add);
    if (!o.time_offsets.empty()) {
        BERTH_ASSIGN(host["BerthTimeOffsets"], time_offsets_body(o.time_offsets));
    }
    host["UTSMode"] = "";
    host["UsernsMode"] = o.userns;
    std::int64_t shm_size = 0;
    if (!o.shm_size.empty()) {
        BERTH_ASSIGN(shm_size, parse_ram_bytes(o.shm_size));
    }
    host["ShmSize"] = shm_size;
    host["Isolation"] = "";
    host["CpuShares"] = o.cpu_shares;
    host["Memory"] = memory;
    host["NanoCpus"] = nano_cpus;
    host["CgroupParent"] = "";
    host["BlkioWeight"] = o.blkio_weight;
    for (const char* k : {"BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
                          "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"})
        host[k] = json::array{};
    for (const char* k : {"CpuPeriod", "CpuQuota", "CpuRealtimePeriod", "CpuRealtimeRuntime"}) host[k] = 0;
    host["CpusetCpus"] = o.cpuset_cpus;
    host["CpusetMems"] = o.cpuset_mems;
    json::array devices;
    for (const auto& d : o.devices) {
        auto parsed = parse_device_flag(d);
        if (!parsed)
            return make_error(errc::invalid_argument,
                              "invalid argument \"" + d + "\" for \"--device\" flag: " + parsed.err().message);
        devices.emplace_back(std::move(*parsed));
    }
    host["Devices"] = std::move(devices);
    for (const auto& r : o.device_cgroup_rules)
        if (auto s = check_device_cgroup_rule(r); !s)
            return make_error(errc::invalid_argument,
                              "invalid argument \"" + r + "\" for \"--device-cgroup-rule\" flag: " + s.err().message);
    host["DeviceCgroupRules"] = string_array_or_null(o.device_cgroup_rules);
    host["DeviceRequests"] = nullptr;
    host["MemoryReservation"] = memory_reservation;
    host["MemorySwap"] = memory_swap;
    host["MemorySwappiness"] = -1;
    host["OomKillDisable"] = false;
    host["PidsLimit"] = o.pids_limit;
    BERTH_ASSIGN(host["Ulimits"], ulimits_body(o.ulimits));
    for (const char* k : {"CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth"}) host[k] = 0;
    host["MaskedPaths"] = nullptr;
    host["ReadonlyPaths"] = nullptr;
    if (o.init) host["Init"] = true;

    json::object body{
        {"Hostname", o.hostname},
        {"Domainname", ""},
        {"User", o.user},
        {"AttachStdin", o.interactive && attach},
        {"AttachStdout", attach},
        {"AttachStderr", attach},
        {"Tty", o.tty},
        {"OpenStdin", o.interactive},
        {"StdinOnce", o.interactive && attach},
        {"Env", string_array_or_null(env)},
        {"Cmd", string_array_or_null(o.cmd)},
        {"Image", o.image},
        {"Volumes", std::move(volumes)},
        {"WorkingDir", o.workdir},
        {"Entrypoint", std::move(entrypoint)},
        {"OnBuild", nullptr},
        {"Labels", std::move(labels)},
    };
    if (!o.stop_signal.empty()) body["StopSignal"] = o.stop_signal;
    // As the docker CLI: --no-healthcheck conflicts with the other health flags.
    bool health_opts = !o.health_cmd.empty() || !o.health_interval.empty() || !o.health_timeout.empty() ||
                       !o.health_start_period.empty() || o.health_retries != 0;
    if (o.no_healthcheck) {
        if (health_opts)
            return make_error(errc::invalid_argument, "--no-healthcheck conflicts with --health-* options");
        body["Healthcheck"] = json::object{{"Test", json::array{"NONE"}}};
    } else if (health_opts) {
        json::object hc;
        if (!o.health_cmd.empty()) hc["Test"] = json::array{"CMD-SHELL", o.health_cmd};
        struct {
            const char* key;
            const char* flag;
            const std::string& value;
        } durations[] = {{"Interval", "--health-interval", o.health_interval},
                         {"Timeout", "--health-timeout", o.health_timeout},
                         {"StartPeriod", "--health-start-period", o.health_start_period}};
        for (auto& d : durations) {
            if (d.value.empty()) continue;
            auto secs = parse_go_duration(d.value);
            if (!secs)
                return make_error(errc::invalid_argument, std::string("invalid argument \"") + d.value + "\" for \"" +
                                                              d.flag + "\" flag: time: invalid duration \"" + d.value + "\"");
            if (*secs < 0) return make_error(errc::invalid_argument, std::string(d.flag) + " cannot be negative");
            hc[d.key] = static_cast<std::int64_t>(*secs * 1e9);
        }
        if (o.health_retries < 0) return make_error(errc::invalid_argument, "--health-retries cannot be negative");
        if (o.health_retries) hc["Retries"] = o.health_retries;
        body["Healthcheck"] = std::move(hc);
    }
    if (o.stop_timeout) body["StopTimeout"] = *o.stop_timeout;
    body["HostConfig"] = std::move(host);
    body["NetworkingConfig"] = json::object{{"EndpointsConfig", json::object{{network, endpoint_settings()}}}};
    return body;
}

int start_failure_exit_code(std::string_view message) {
    std::string m(message);
    for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view s : {"executable file not found", "no such file or directory",
                               "system cannot find the file specified"})
        if (m.find(s) != std::string::npos) return 127;
    for (std::string_view s : {"permission denied", "exec format error", "cannot execute"})
        if (m.find(s) != std::string::npos) return 126;
    return 125;
}

// ---- calling the daemon -------------------------------------------------------

result<json::value> get_list(context& ctx, std::string path, std::string_view query) {
    if (!query.empty()) path += "?" + std::string(query.substr(1));
    BERTH_ASSIGN(json::value list, call_json(ctx, "GET", path));
    if (!list.is_array()) return make_error(errc::internal, "unexpected answer to " + path);
    return list;
}

std::vector<std::string> for_each_name(const std::vector<std::string>& names,
                                       const std::function<status(const std::string&)>& fn) {
    std::vector<std::string> failed;
    for (const auto& name : names) {
        if (auto st = fn(name); !st) {
            fail(st.err(), 1);
            failed.push_back(name);
        }
    }
    return failed;
}

std::vector<std::string> for_each_name_concurrently(const std::vector<std::string>& names,
                                                    const std::function<status(const std::string&)>& fn) {
    constexpr std::size_t max_in_flight = 16;
    std::vector<status> results(names.size());
    std::deque<std::thread> running;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (running.size() == max_in_flight) {
            running.front().join();
            running.pop_front();
        }
        running.emplace_back([&, i] { results[i] = fn(names[i]); });
    }
    for (auto& t : running) t.join();
    std::vector<std::string> failed;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (results[i]) {
            std::printf("%s\n", names[i].c_str());
            continue;
        }
        std::fflush(stdout);
        fail(results[i].err(), 1);
        failed.push_back(names[i]);
    }
    return failed;
}

// ---- output ----------------------------------------------------------------

status write_fd(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                // An inherited O_NONBLOCK stdout: wait until it drains.
                pollfd p{fd, POLLOUT, 0};
                ::poll(&p, 1, -1);
                continue;
            }
            return sys_error(fd == 1 ? "write stdout" : fd == 2 ? "write stderr" : "write");
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok();
}

std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

// ---- time arguments ------------------------------------------------------------

// Go's time.ParseDuration: "1h30m", "10s", "1.5m"; seconds.
std::optional<double> parse_go_duration(std::string_view s) {
    if (s.empty()) return std::nullopt;
    double total = 0;
    while (!s.empty()) {
        std::size_t i = 0;
        while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
        if (i == 0) return std::nullopt;
        double n = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
        s.remove_prefix(i);
        double unit = 0;
        for (auto [name, mult] : {std::pair<std::string_view, double>{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3},
                                  {"s", 1}, {"m", 60}, {"h", 3600}}) {
            if (s.starts_with(name) && !(name == "m" && s.starts_with("ms"))) {
                unit = mult;
                s.remove_prefix(name.size());
                break;
            }
        }
        if (unit == 0) return std::nullopt;
        total += n * unit;
    }
    return total;
}

// docker's GetTimestamp: a duration counts back from now, an RFC 3339 time
// is converted, a unix timestamp passes as is.
result<std::string> api_timestamp(std::string_view v, std::string_view flag) {
    if (v != "0") {
        if (auto d = parse_go_duration(v)) return std::to_string(now_unix() - static_cast<std::int64_t>(*d));
    }
    if (v.find('-') != std::string_view::npos) {
        auto ns = parse_rfc3339(v);
        if (!ns) return make_error(errc::invalid_argument, "invalid value for \"" + std::string(flag) + "\": " + std::string(v));
        char buf[64];
        std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(*ns / 1'000'000'000),
                      static_cast<long long>(*ns % 1'000'000'000));
        return std::string(buf);
    }
    bool numeric = !v.empty() && v.find_first_not_of("0123456789.") == std::string_view::npos;
    if (!numeric)
        return make_error(errc::invalid_argument,
                          "failed to parse value as time or duration: \"" + std::string(v) + "\"");
    return std::string(v);
}

}  // namespace berth::cli
