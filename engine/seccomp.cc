#include "engine/seccomp.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <unordered_map>

#include <boost/json.hpp>

#include "base/fd.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"

namespace json = boost::json;

namespace berth {
namespace {

// The Go architecture name Docker matches includes/excludes "arches" against.
constexpr const char* k_go_arch =
#if defined(__x86_64__)
    "amd64";
#elif defined(__aarch64__)
    "arm64";
#elif defined(__s390x__)
    "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    "riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    "ppc64le";
#else
    "unknown";
#endif

error bad_profile(const std::string& what) { return make_error(errc::invalid_argument, "seccomp profile: " + what); }

struct condition {
    unsigned index = 0;
    scmp_compare op = SCMP_CMP_EQ;
    std::uint64_t value = 0, value_two = 0;
};

struct filter_set {  // "includes" / "excludes"
    std::vector<std::string> caps, arches;
    std::optional<std::pair<int, int>> min_kernel;
};

struct syscall_rule {
    std::vector<std::string> names;
    std::uint32_t action = SCMP_ACT_ALLOW;
    std::vector<condition> args;
    filter_set includes, excludes;
};

struct profile {
    std::uint32_t default_action = SCMP_ACT_ERRNO(EPERM);
    std::vector<std::uint32_t> arches;  // SCMP_ARCH_* to add besides the native one
    std::vector<syscall_rule> syscalls;
};

std::vector<std::string> strings_of(const json::object& o, std::string_view key, bool& ok) {
    std::vector<std::string> out;
    const json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return out;
    if (!v->is_array()) {
        ok = false;
        return out;
    }
    for (const auto& e : v->as_array()) {
        if (!e.is_string()) {
            ok = false;
            return out;
        }
        out.emplace_back(e.as_string());
    }
    return out;
}

result<std::uint64_t> number_of(const json::value& v, const std::string& what) {
    if (v.is_uint64()) return v.as_uint64();
    if (v.is_int64() && v.as_int64() >= 0) return static_cast<std::uint64_t>(v.as_int64());
    return bad_profile(what + " must be a non-negative integer");
}

result<std::uint32_t> action_of(const std::string& name, const json::value* errno_ret) {
    std::uint32_t ret = EPERM;
    if (errno_ret && !errno_ret->is_null()) {
        BERTH_ASSIGN(auto n, number_of(*errno_ret, "errnoRet"));
        if (n > 0xffff) return bad_profile("errnoRet out of range");
        ret = static_cast<std::uint32_t>(n);
    }
    if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
    if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
    if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
    if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
    if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
    if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
    if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
    if (name == "SCMP_ACT_NOTIFY") return bad_profile("SCMP_ACT_NOTIFY needs a listener, which berth does not offer");
    return bad_profile("unknown action " + name);
}

result<scmp_compare> op_of(const std::string& name) {
    static const std::pair<const char*, scmp_compare> ops[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
    for (auto& [n, op] : ops)
        if (name == n) return op;
    return bad_profile("unknown operator " + name);
}

// "SCMP_ARCH_X86_64" -> libseccomp's token.
result<std::uint32_t> arch_of(const std::string& name) {
    std::string s = name;
    if (starts_with(s, "SCMP_ARCH_")) s = s.substr(10);
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::uint32_t token = seccomp_arch_resolve_name(s.c_str());
    if (token == 0) return bad_profile("unknown architecture " + name);
    return token;
}

std::optional<std::pair<int, int>> parse_kernel_version(std::string_view s) {
    int major = 0, minor = 0;
    if (std::sscanf(std::string(s).c_str(), "%d.%d", &major, &minor) < 1) return std::nullopt;
    return std::pair{major, minor};
}

result<filter_set> filter_of(const json::object& rule, std::string_view key) {
    filter_set f;
    const json::value* v = rule.if_contains(key);
    if (!v || v->is_null()) return f;
    if (!v->is_object()) return bad_profile(std::string(key) + " must be an object");
    const auto& o = v->as_object();
    bool ok = true;
    f.caps = strings_of(o, "caps", ok);
    f.arches = strings_of(o, "arches", ok);
    if (!ok) return bad_profile(std::string(key) + ": caps and arches must be arrays of strings");
    if (const json::value* k = o.if_contains("minKernel"); k && !k->is_null()) {
        if (!k->is_string()) return bad_profile(std::string(key) + ".minKernel must be a string");
        f.min_kernel = parse_kernel_version(k->as_string());
        if (!f.min_kernel) return bad_profile("invalid minKernel " + std::string(k->as_string()));
    }
    return f;
}

result<profile> parse_profile(std::string_view text) {
    boost::system::error_code ec;
    json::value doc = json::parse(text, ec);
    if (ec) return bad_profile("invalid JSON: " + ec.message());
    if (!doc.is_object()) return bad_profile("not a JSON object");
    const auto& o = doc.as_object();
    profile p;
    std::string def = o.contains("defaultAction") && o.at("defaultAction").is_string()
                          ? std::string(o.at("defaultAction").as_string())
                          : "";
    if (def.empty()) return bad_profile("defaultAction is missing");
    BERTH_ASSIGN(p.default_action, action_of(def, o.if_contains("defaultErrnoRet")));
    if (o.contains("listenerPath") && o.at("listenerPath").is_string() && !o.at("listenerPath").as_string().empty())
        return bad_profile("listenerPath is not supported");
    // seccomp(2) flags (SPEC_ALLOW, LOG, …) would change how the filter is
    // loaded: refused rather than ignored.
    if (const json::value* f = o.if_contains("flags"); f && f->is_array() && !f->as_array().empty())
        return bad_profile("flags are not supported");

    bool ok = true;
    auto arches = strings_of(o, "architectures", ok);
    if (!ok) return bad_profile("architectures must be an array of strings");
    const json::value* map = o.if_contains("archMap");
    bool has_map = map && map->is_array() && !map->as_array().empty();
    if (!arches.empty() && has_map) return bad_profile("'architectures' and 'archMap' were specified together");
    for (const auto& a : arches) {
        BERTH_ASSIGN(auto token, arch_of(a));
        p.arches.push_back(token);
    }
    if (has_map) {
        // As moby: only the native entry counts (an architecture this
        // libseccomp does not know cannot be the native one).
        const std::uint32_t native = seccomp_arch_native();
        for (const auto& e : map->as_array()) {
            if (!e.is_object()) return bad_profile("archMap entries must be objects");
            const auto& m = e.as_object();
            if (!m.contains("architecture") || !m.at("architecture").is_string())
                return bad_profile("archMap entry without architecture");
            auto token = arch_of(std::string(m.at("architecture").as_string()));
            if (!token || *token != native) continue;
            auto subs = strings_of(m, "subArchitectures", ok);
            if (!ok) return bad_profile("subArchitectures must be an array of strings");
            p.arches.push_back(*token);
            for (const auto& s : subs) {
                BERTH_ASSIGN(auto t, arch_of(s));
                p.arches.push_back(t);
            }
            break;
        }
    }

    if (const json::value* calls = o.if_contains("syscalls"); calls && !calls->is_null()) {
        if (!calls->is_array()) return bad_profile("syscalls must be an array");
        for (const auto& e : calls->as_array()) {
            if (!e.is_object()) return bad_profile("syscalls entries must be objects");
            const auto& r = e.as_object();
            syscall_rule rule;
            rule.names = strings_of(r, "names", ok);
            if (!ok) return bad_profile("names must be an array of strings");
            if (const json::value* n = r.if_contains("name"); n && n->is_string() && !n->as_string().empty()) {
                if (!rule.names.empty()) return bad_profile("use either 'name' or 'names', not both");
                rule.names.emplace_back(n->as_string());
            }
            if (rule.names.empty()) return bad_profile("a syscalls entry names no syscall");
            const json::value* act = r.if_contains("action");
            if (!act || !act->is_string()) return bad_profile("syscalls entry without action");
            BERTH_ASSIGN(rule.action, action_of(std::string(act->as_string()), r.if_contains("errnoRet")));
            if (const json::value* args = r.if_contains("args"); args && !args->is_null()) {
                if (!args->is_array()) return bad_profile("args must be an array");
                for (const auto& a : args->as_array()) {
                    if (!a.is_object()) return bad_profile("args entries must be objects");
                    const auto& ao = a.as_object();
                    condition c;
                    BERTH_ASSIGN(auto index, number_of(ao.contains("index") ? ao.at("index") : json::value(0),
                                                       "args index"));
                    if (index > 5) return bad_profile("args index must be 0 to 5");
                    c.index = static_cast<unsigned>(index);
                    if (ao.contains("value")) {
                        BERTH_ASSIGN(c.value, number_of(ao.at("value"), "args value"));
                    }
                    if (ao.contains("valueTwo")) {
                        BERTH_ASSIGN(c.value_two, number_of(ao.at("valueTwo"), "args valueTwo"));
                    }
                    if (!ao.contains("op") || !ao.at("op").is_string()) return bad_profile("args entry without op");
                    BERTH_ASSIGN(c.op, op_of(std::string(ao.at("op").as_string())));
                    rule.args.push_back(c);
                }
            }
            BERTH_ASSIGN(rule.includes, filter_of(r, "includes"));
            BERTH_ASSIGN(rule.excludes, filter_of(r, "excludes"));
            p.syscalls.push_back(std::move(rule));
        }
    }
    return p;
}

std::pair<int, int> running_kernel() {
    static const std::pair<int, int> version = [] {
        utsname u{};
        ::uname(&u);
        return parse_kernel_version(u.release).value_or(std::pair{0, 0});
    }();
    return version;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// Docker's conditions: every included capability held, an included
// architecture, a recent enough kernel; none of the excluded ones.
bool applies(const syscall_rule& r, const std::vector<std::string>& caps) {
    const auto& in = r.includes;
    const auto& ex = r.excludes;
    if (!in.arches.empty() && !contains(in.arches, k_go_arch)) return false;
    for (const auto& c : in.caps)
        if (!contains(caps, c)) return false;
    if (in.min_kernel && running_kernel() < *in.min_kernel) return false;
    if (contains(ex.arches, k_go_arch)) return false;
    for (const auto& c : ex.caps)
        if (contains(caps, c)) return false;
    if (ex.min_kernel && running_kernel() >= *ex.min_kernel) return false;
    return true;
}

scmp_arg_cmp to_cmp(const condition& c) {
    return scmp_arg_cmp{c.index, c.op, c.value, c.value_two};
}

struct filter_ctx {
    scmp_filter_ctx ctx;
    explicit filter_ctx(std::uint32_t def) : ctx(seccomp_init(def)) {}
    ~filter_ctx() {
        if (ctx) seccomp_release(ctx);
    }
};

error seccomp_error(const std::string& what, int rc) {
    return error{errc::internal, "seccomp: " + what + ": " + std::strerror(-rc), -rc};
}

result<std::string> export_program(scmp_filter_ctx ctx) {
    unique_fd mem(static_cast<int>(::memfd_create("berth-seccomp", MFD_CLOEXEC)));
    if (!mem) return sys_error("memfd_create");
    if (int rc = seccomp_export_bpf(ctx, mem.get()); rc < 0) return seccomp_error("export the program", rc);
    std::string out;
    char buf[16384];
    if (::lseek(mem.get(), 0, SEEK_SET) < 0) return sys_error("seek the seccomp program");
    for (;;) {
        ssize_t n = ::read(mem.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_error("read the seccomp program");
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

// Native syscalls above `highest` answer ENOSYS; everything else goes on to
// libseccomp's program, which checks the architecture itself. BPF jumps are
// relative, so the program can follow unchanged.
std::string enosys_prefix(int highest) {
    const std::uint32_t native = seccomp_arch_native();
    const sock_filter prefix[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, native, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, static_cast<std::uint32_t>(highest), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    };
    return std::string(reinterpret_cast<const char*>(prefix), sizeof prefix);
}

}  // namespace

status check_seccomp_profile(std::string_view json_text) {
    auto p = parse_profile(json_text);
    if (!p) return p.err();
    return ok();
}

result<compiled_seccomp> compile_seccomp(std::string_view profile_json, const std::vector<std::string>& caps) {
    BERTH_ASSIGN(auto p, parse_profile(profile_json));
    filter_ctx f(p.default_action);
    if (!f.ctx) return make_error(errc::internal, "seccomp: cannot create a filter");
    // Exported, never loaded by libseccomp: no_new_privs is the child's choice.
    seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_NNP, 0);
    // A binary search over syscall numbers instead of libseccomp's linear
    // chain: fewer instructions run per syscall inside the container.
    seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (std::uint32_t arch : p.arches) {
        int rc = seccomp_arch_add(f.ctx, arch);
        if (rc < 0 && rc != -EEXIST) return seccomp_error("add architecture", rc);
    }

    compiled_seccomp out;
    std::set<std::string> skipped;
    for (const auto& rule : p.syscalls) {
        if (!applies(rule, caps)) continue;
        // The ENOSYS threshold counts the rules that apply (as runc does),
        // those with the default's action too.
        for (const auto& name : rule.names) {
            int native = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name.c_str());
            if (native >= 0) out.highest_syscall = std::max(out.highest_syscall, native);
        }
        if (rule.action == p.default_action) continue;
        // libseccomp ANDs the conditions of one rule but refuses two on the
        // same argument; such conditions become rules of their own (ORed),
        // as runc does.
        std::vector<std::vector<scmp_arg_cmp>> groups(1);
        std::set<unsigned> seen;
        bool repeated = false;
        for (const auto& c : rule.args) repeated = repeated || !seen.insert(c.index).second;
        if (repeated) {
            groups.clear();
            for (const auto& c : rule.args) groups.push_back({to_cmp(c)});
        } else {
            for (const auto& c : rule.args) groups[0].push_back(to_cmp(c));
        }
        for (const auto& name : rule.names) {
            int nr = seccomp_syscall_resolve_name(name.c_str());
            if (nr == __NR_SCMP_ERROR) {
                skipped.insert(name);
                continue;
            }
            for (const auto& g : groups) {
                int rc = seccomp_rule_add_array(f.ctx, rule.action, nr, static_cast<unsigned>(g.size()),
                                                g.empty() ? nullptr : g.data());
                if (rc < 0) return seccomp_error("add a rule for " + name, rc);
            }
        }
    }
    BERTH_ASSIGN(auto program, export_program(f.ctx));
    // Only an allowlist needs the stub: where the default lets a syscall
    // through, a newer one passes as well.
    const bool allowlist = p.default_action != SCMP_ACT_ALLOW && p.default_action != SCMP_ACT_LOG &&
                           (p.default_action & 0xffff0000u) != SCMP_ACT_TRACE(0);
    out.program = allowlist && out.highest_syscall >= 0 ? enosys_prefix(out.highest_syscall) + program : program;
    if (out.program.size() / sizeof(sock_filter) > BPF_MAXINSNS)
        return make_error(errc::invalid_argument, "seccomp profile: the compiled program has " +
                                                      std::to_string(out.program.size() / sizeof(sock_filter)) +
                                                      " instructions, more than the kernel's 4096");
    out.skipped.assign(skipped.begin(), skipped.end());
    return out;
}

result<std::optional<netns_entry_profiles>> netns_entry_profiles_of(std::string_view profile_json,
                                                                    const std::vector<std::string>& caps) {
    BERTH_ASSIGN(auto p, parse_profile(profile_json));
    const bool allowing = p.default_action == SCMP_ACT_ALLOW || p.default_action == SCMP_ACT_LOG;
    // Waits inside unless: the profile has no rule for setns of its own;
    // the parked child can send its ready byte with a descriptor (sendmsg)
    // and load the refusal (seccomp) under it; and allowing setns does not
    // move the ENOSYS threshold (the highest native syscall the profile
    // names, compile_seccomp).
    bool sendmsg = allowing, seccomp = allowing;
    int highest = -1;
    for (const auto& rule : p.syscalls) {
        if (!applies(rule, caps)) continue;
        if (contains(rule.names, "setns")) return std::optional<netns_entry_profiles>();
        const bool allows = rule.action == SCMP_ACT_ALLOW && rule.args.empty();
        sendmsg = sendmsg || (allows && contains(rule.names, "sendmsg"));
        seccomp = seccomp || (allows && contains(rule.names, "seccomp"));
        for (const auto& name : rule.names)
            highest = std::max(highest, seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, name.c_str()));
    }
    const int setns_nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, "setns");
    if (!sendmsg || !seccomp || (!allowing && (setns_nr < 0 || highest < setns_nr)))
        return std::optional<netns_entry_profiles>();
    json::object doc = json::parse(profile_json).as_object();  // parse_profile checked it
    netns_entry_profiles out;
    if (!allowing) {
        // The same architectures, so that every ABI's setns is refused.
        json::object refusal{{"defaultAction", "SCMP_ACT_ALLOW"}};
        for (const char* k : {"architectures", "archMap"})
            if (const json::value* v = doc.if_contains(k)) refusal[k] = *v;
        json::object rule{{"names", json::array{"setns"}}, {"action", doc.at("defaultAction")}};
        if (const json::value* e = doc.if_contains("defaultErrnoRet")) rule["errnoRet"] = *e;
        refusal["syscalls"] = json::array{std::move(rule)};
        out.refusal = json::serialize(refusal);
    }
    json::value* rules = doc.if_contains("syscalls");
    if (!rules || !rules->is_array()) rules = &(doc["syscalls"] = json::array());
    rules->as_array().push_back(json::object{{"names", json::array{"setns"}}, {"action", "SCMP_ACT_ALLOW"}});
    out.parked = json::serialize(doc);
    return std::optional<netns_entry_profiles>(std::move(out));
}

std::string seccomp_cache::key_of(std::string_view profile_json, const std::vector<std::string>& caps) {
    std::vector<std::string> sorted = caps;
    std::sort(sorted.begin(), sorted.end());
    std::string caps_lines;
    for (const auto& c : sorted) {
        caps_lines += '\n';
        caps_lines += c;
    }
    // Every start asks for the key of its profile: the builtin one's keys,
    // one per capability set (a handful), are kept.
    static std::mutex memo_mu;
    static std::unordered_map<std::string, std::string> builtin_keys;
    const bool builtin = profile_json == default_seccomp_profile();
    if (builtin) {
        std::lock_guard lock(memo_mu);
        if (auto it = builtin_keys.find(caps_lines); it != builtin_keys.end()) return it->second;
    }
    sha256 h;
    // Bumped whenever this file changes what a profile compiles to, so that
    // programs saved by an older berth are not reused.
    h.update("berth-seccomp-compiler 2\n");
    // The builtin profile is hashed once, not on every start.
    static const std::string builtin_digest = sha256::of(default_seccomp_profile());
    h.update(builtin ? std::string_view(builtin_digest) : profile_json);
    h.update(caps_lines);
    const scmp_version* v = seccomp_version();
    auto [kmaj, kmin] = running_kernel();
    // The kernel matters for minKernel rules.
    h.update(std::string("\n") + k_go_arch + " libseccomp " + std::to_string(v->major) + "." +
             std::to_string(v->minor) + "." + std::to_string(v->micro) + " linux " + std::to_string(kmaj) + "." +
             std::to_string(kmin));
    std::string key = h.digest().substr(7, 32);
    if (builtin) {
        std::lock_guard lock(memo_mu);
        if (builtin_keys.size() < 64) builtin_keys.emplace(std::move(caps_lines), key);
    }
    return key;
}

std::shared_ptr<const std::string> seccomp_cache::find(const std::string& key) const {
    std::lock_guard lock(_mu);
    auto it = _programs.find(key);
    return it == _programs.end() ? nullptr : it->second;
}

result<std::shared_ptr<const std::string>> seccomp_cache::load(const std::string& key, std::string_view profile_json,
                                                               const std::vector<std::string>& caps) {
    // One compile per key even when a burst of starts misses at once.
    std::lock_guard single(_load_mu);
    if (auto p = find(key)) return p;
    const std::string path = _dir + "/" + key + ".bpf";
    std::shared_ptr<const std::string> program;
    auto sane = [](const std::string& prog) {
        const std::size_t n = prog.size() / sizeof(sock_filter);
        if (prog.empty() || prog.size() % sizeof(sock_filter) != 0 || n > BPF_MAXINSNS) return false;
        sock_filter last{};
        std::memcpy(&last, prog.data() + prog.size() - sizeof last, sizeof last);
        return BPF_CLASS(last.code) == BPF_RET;
    };
    bool saved_ok = false;
    if (auto saved = read_file(path); saved && sane(*saved)) {
        program = std::make_shared<const std::string>(std::move(*saved));
        saved_ok = true;
    } else {
        auto t0 = std::chrono::steady_clock::now();
        BERTH_ASSIGN(auto compiled, compile_seccomp(profile_json, caps));
        auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::string skipped;
        for (const auto& n : compiled.skipped) skipped += (skipped.empty() ? "; names this libseccomp does not know, skipped: " : ", ") + n;
        log::info("seccomp: compiled filter {} ({} instructions, highest syscall {}, {:.1f} ms)", key,
                  compiled.program.size() / sizeof(sock_filter), compiled.highest_syscall, ms);
        if (!skipped.empty()) log::warn("seccomp: filter {}{}", key, skipped);
        program = std::make_shared<const std::string>(std::move(compiled.program));
        if (auto s = make_dirs(_dir, 0700); !s) log::warn("seccomp: {}", s.err().message);
        else if (auto w = write_file_atomic(path, *program, 0600); !w) log::warn("seccomp: {}", w.err().message);
        else saved_ok = true;
        std::lock_guard lock(_mu);
        _compiles++;
    }
    std::lock_guard lock(_mu);
    if (saved_ok) _saved.insert(key);
    auto [it, inserted] = _programs.emplace(key, std::move(program));
    return it->second;
}

std::string seccomp_cache::file_of(const std::string& key) const {
    std::lock_guard lock(_mu);
    return _saved.count(key) ? _dir + "/" + key + ".bpf" : std::string();
}

std::uint64_t seccomp_cache::compiles() const {
    std::lock_guard lock(_mu);
    return _compiles;
}

}  // namespace berth
