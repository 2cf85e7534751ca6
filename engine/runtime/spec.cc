#include "engine/runtime/spec.h"

#include <linux/filter.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <map>
#include <mutex>

#include "base/util.h"
#include "engine/runtime/caps.h"

namespace berth::runtime {

namespace json = boost::json;

std::vector<std::string> default_capabilities() {
    return {"CAP_CHOWN",  "CAP_DAC_OVERRIDE",     "CAP_FOWNER",  "CAP_FSETID",     "CAP_KILL",
            "CAP_SETGID", "CAP_SETUID",           "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
            "CAP_NET_RAW", "CAP_SYS_CHROOT",      "CAP_MKNOD",   "CAP_AUDIT_WRITE", "CAP_SETFCAP"};
}

std::vector<std::string> default_masked_paths() {
    return {"/proc/asound",       "/proc/acpi",        "/proc/kcore",       "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
            "/proc/scsi",         "/sys/firmware",     "/sys/devices/virtual/powercap"};
}

std::vector<std::string> default_readonly_paths() {
    return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

std::vector<std::string> all_capabilities() {
    std::vector<std::string> out;
    for (int c = 0; c <= kernel_last_cap(); ++c) out.emplace_back(capability_name(c));
    return out;
}

std::vector<std::string> privileged_capabilities() {
    std::vector<std::string> out;
    for (int c = 0; c <= kernel_last_cap(); ++c)
        if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) out.emplace_back(capability_name(c));
    return out;
}

namespace {

constexpr std::string_view k_all = "ALL";

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// moby's NormalizeLegacyCapabilities: upper case, "CAP_" prefixed, known to
// the kernel; "ALL" kept as is.
result<std::vector<std::string>> normalize(const std::vector<std::string>& names,
                                           const std::vector<std::string>& known) {
    std::vector<std::string> out;
    for (auto name : names) {
        for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (name != k_all && name.rfind("CAP_", 0) != 0) name = "CAP_" + name;
        if (name != k_all && !contains(known, name))
            return make_error(errc::invalid_argument, "unknown capability: \"" + name + "\"");
        out.push_back(std::move(name));
    }
    return out;
}

}  // namespace

result<std::vector<std::string>> effective_capabilities(const std::vector<std::string>& add,
                                                        const std::vector<std::string>& drop) {
    // Most containers: nothing to check against every capability known.
    if (add.empty() && drop.empty()) return default_capabilities();
    auto known = all_capabilities();
    BERTH_ASSIGN(auto adds, normalize(add, known));
    BERTH_ASSIGN(auto drops, normalize(drop, known));

    std::vector<std::string> caps;
    auto push = [&caps](const std::string& c) {
        if (c != k_all && !contains(caps, c)) caps.push_back(c);
    };
    if (contains(adds, k_all)) {
        // As moby: "ALL" is what this daemon holds (its bounding set), not
        // every capability the kernel knows (root here may lack some).
        for (const auto& c : privileged_capabilities())
            if (!contains(drops, c)) push(c);
    } else if (contains(drops, k_all)) {
        for (const auto& c : adds) push(c);
    } else {
        for (const auto& c : default_capabilities())
            if (!contains(drops, c)) push(c);
        for (const auto& c : adds) push(c);
    }
    return caps;
}

namespace {

json::array to_array(const std::vector<std::string>& v) {
    json::array a;
    a.reserve(v.size());
    for (const auto& s : v) a.emplace_back(s);
    return a;
}

error field_error(std::string_view field, std::string_view expected) {
    return make_error(errc::invalid_argument,
                      "parse launch spec: field \"" + std::string(field) + "\": expected " + std::string(expected));
}

// A seccomp program carried as base64 (v: null when the field's form has none).
result<bpf_program> program_field(std::string_view field, const json::value* v) {
    auto program = v && v->is_string() ? base64_decode(v->as_string()) : std::nullopt;
    if (!program) return field_error(field, "a base64 string or {\"file\": a path}");
    return bpf_program(std::move(*program));
}

status get_string(const json::object& o, std::string_view key, std::string& out) {
    const json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return ok();
    if (!v->is_string()) return field_error(key, "a string");
    out = std::string(v->get_string());
    return ok();
}

status get_bool(const json::object& o, std::string_view key, bool& out) {
    const json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return ok();
    if (!v->is_bool()) return field_error(key, "a boolean");
    out = v->get_bool();
    return ok();
}

status get_strings(const json::object& o, std::string_view key, std::vector<std::string>& out) {
    const json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return ok();
    if (!v->is_array()) return field_error(key, "an array of strings");
    out.clear();
    for (const auto& e : v->get_array()) {
        if (!e.is_string()) return field_error(key, "an array of strings");
        out.emplace_back(e.get_string());
    }
    return ok();
}

bool get_u64(const json::value& v, std::uint64_t& out) {
    if (v.is_uint64()) {
        out = v.get_uint64();
        return true;
    }
    if (v.is_int64() && v.get_int64() >= 0) {
        out = static_cast<std::uint64_t>(v.get_int64());
        return true;
    }
    return false;
}

status get_rlimits(const json::object& o, std::vector<rlimit_spec>& out) {
    const json::value* v = o.if_contains("rlimits");
    if (!v || v->is_null()) return ok();
    if (!v->is_array()) return field_error("rlimits", "an array");
    out.clear();
    for (const auto& e : v->get_array()) {
        if (!e.is_object()) return field_error("rlimits", "an array of objects");
        const auto& r = e.get_object();
        rlimit_spec rl;
        const json::value* res = r.if_contains("resource");
        const json::value* soft = r.if_contains("soft");
        const json::value* hard = r.if_contains("hard");
        std::uint64_t resource = 0;
        if (!res || !get_u64(*res, resource) || resource >= RLIM_NLIMITS) return field_error("rlimits.resource", "a resource number");
        if (!soft || !get_u64(*soft, rl.soft)) return field_error("rlimits.soft", "an unsigned integer");
        if (!hard || !get_u64(*hard, rl.hard)) return field_error("rlimits.hard", "an unsigned integer");
        rl.resource = static_cast<int>(resource);
        out.push_back(rl);
    }
    return ok();
}

status get_tmpfs(const json::object& o, std::vector<tmpfs_mount>& out) {
    const json::value* v = o.if_contains("tmpfs");
    if (!v || v->is_null()) return ok();
    if (!v->is_array()) return field_error("tmpfs", "an array");
    out.clear();
    for (const auto& e : v->get_array()) {
        if (!e.is_object()) return field_error("tmpfs", "an array of objects");
        const auto& t = e.get_object();
        tmpfs_mount m;
        std::uint64_t flags = 0;
        BERTH_TRY(get_string(t, "target", m.target));
        BERTH_TRY(get_string(t, "data", m.data));
        const json::value* f = t.if_contains("flags");
        if (!f || !get_u64(*f, flags)) return field_error("tmpfs.flags", "an unsigned integer");
        m.flags = static_cast<unsigned long>(flags);
        out.push_back(std::move(m));
    }
    return ok();
}

status get_binds(const json::object& o, std::vector<bind_mount>& out) {
    const json::value* v = o.if_contains("binds");
    if (!v || v->is_null()) return ok();
    if (!v->is_array()) return field_error("binds", "an array");
    out.clear();
    for (const auto& e : v->get_array()) {
        if (!e.is_object()) return field_error("binds", "an array of objects");
        const auto& b = e.get_object();
        bind_mount m;
        BERTH_TRY(get_string(b, "source", m.source));
        BERTH_TRY(get_string(b, "target", m.target));
        BERTH_TRY(get_bool(b, "readonly", m.readonly));
        BERTH_TRY(get_bool(b, "create_source", m.create_source));
        BERTH_TRY(get_string(b, "propagation", m.propagation));
        BERTH_TRY(get_bool(b, "populate", m.populate));
        BERTH_TRY(get_string(b, "volume", m.volume));
        BERTH_TRY(get_string(b, "fs_type", m.fs_type));
        BERTH_TRY(get_string(b, "fs_device", m.fs_device));
        BERTH_TRY(get_string(b, "fs_options", m.fs_options));
        out.push_back(std::move(m));
    }
    return ok();
}

status get_sysctls(const json::object& o, std::vector<std::pair<std::string, std::string>>& out) {
    const json::value* v = o.if_contains("sysctls");
    if (!v || v->is_null()) return ok();
    if (!v->is_array()) return field_error("sysctls", "an array");
    out.clear();
    for (const auto& e : v->get_array()) {
        const json::array* kv = e.if_array();
        if (!kv || kv->size() != 2 || !(*kv)[0].is_string() || !(*kv)[1].is_string())
            return field_error("sysctls", "an array of [key, value] pairs");
        out.emplace_back(std::string((*kv)[0].get_string()), std::string((*kv)[1].get_string()));
    }
    return ok();
}

status get_time_offsets(const json::object& o, std::optional<time_offset_spec>& out) {
    const json::value* v = o.if_contains("time_offsets");
    if (!v || v->is_null()) return ok();
    const json::object* t = v->if_object();
    if (!t) return field_error("time_offsets", "an object");
    time_offset_spec spec;
    for (auto [key, field] : {std::pair{"monotonic_ns", &spec.monotonic_ns}, std::pair{"boottime_ns", &spec.boottime_ns}}) {
        const json::value* n = t->if_contains(key);
        if (!n || n->is_null()) continue;
        if (n->is_int64()) *field = n->get_int64();
        else return field_error(std::string("time_offsets.") + key, "an integer");
    }
    out = spec;
    return ok();
}

json::array id_ranges_to_json(const std::vector<id_range>& ranges) {
    json::array out;
    for (const auto& r : ranges)
        out.emplace_back(json::array{std::uint64_t(r.inside), std::uint64_t(r.outside), std::uint64_t(r.count)});
    return out;
}

status get_id_ranges(const json::object& o, const char* key, std::vector<id_range>& out) {
    const json::value* v = o.if_contains(key);
    if (!v || v->is_null()) return ok();
    if (!v->is_array()) return field_error(key, "an array");
    out.clear();
    for (const auto& e : v->get_array()) {
        const json::array* t = e.if_array();
        std::uint64_t n[3] = {};
        bool good = t && t->size() == 3;
        for (std::size_t i = 0; good && i < 3; ++i) good = get_u64((*t)[i], n[i]) && n[i] <= 0xffffffffull;
        if (!good) return field_error(key, "an array of [inside, outside, count] triples");
        out.push_back({std::uint32_t(n[0]), std::uint32_t(n[1]), std::uint32_t(n[2])});
    }
    return ok();
}

status get_devices(const json::object& o, std::vector<device_node>& out) {
    const json::value* v = o.if_contains("devices");
    if (!v || v->is_null()) return ok();
    if (!v->is_array()) return field_error("devices", "an array");
    out.clear();
    for (const auto& e : v->get_array()) {
        if (!e.is_object()) return field_error("devices", "an array of objects");
        const auto& d = e.get_object();
        device_node n;
        std::string type;
        BERTH_TRY(get_string(d, "path", n.path));
        BERTH_TRY(get_string(d, "type", type));
        if (type != "c" && type != "b" && type != "p") return field_error("devices.type", "\"c\", \"b\" or \"p\"");
        n.type = type[0];
        const std::pair<const char*, std::uint32_t*> fields[] = {
            {"major", &n.major}, {"minor", &n.minor}, {"mode", &n.mode}, {"uid", &n.uid}, {"gid", &n.gid}};
        for (auto [key, field] : fields) {
            std::uint64_t u = 0;
            const json::value* f = d.if_contains(key);
            if (!f || !get_u64(*f, u) || u > 0xffffffffULL)
                return field_error(std::string("devices.") + key, "a 32-bit unsigned integer");
            *field = static_cast<std::uint32_t>(u);
        }
        out.push_back(std::move(n));
    }
    return ok();
}

}  // namespace

std::string to_json(const launch_spec& spec) {
    json::array rlimits;
    for (const auto& r : spec.rlimits)
        rlimits.emplace_back(json::object{{"resource", r.resource}, {"soft", r.soft}, {"hard", r.hard}});
    json::object o;
    o["id"] = spec.id;
    o["lower_dirs"] = to_array(spec.lower_dirs);
    o["upper_dir"] = spec.upper_dir;
    o["work_dir"] = spec.work_dir;
    o["rootfs_dir"] = spec.rootfs_dir;
    o["new_network"] = spec.new_network;
    o["masked_paths"] = to_array(spec.masked_paths);
    o["readonly_paths"] = to_array(spec.readonly_paths);
    o["init_binary"] = spec.init_binary;
    o["readonly_rootfs"] = spec.readonly_rootfs;
    json::array tmpfs;
    for (const auto& t : spec.tmpfs)
        tmpfs.emplace_back(json::object{{"target", t.target}, {"flags", std::uint64_t(t.flags)}, {"data", t.data}});
    o["tmpfs"] = std::move(tmpfs);
    json::array binds;
    for (const auto& b : spec.binds)
        binds.emplace_back(json::object{{"source", b.source},
                                        {"target", b.target},
                                        {"readonly", b.readonly},
                                        {"create_source", b.create_source},
                                        {"propagation", b.propagation},
                                        {"populate", b.populate},
                                        {"volume", b.volume},
                                        {"fs_type", b.fs_type},
                                        {"fs_device", b.fs_device},
                                        {"fs_options", b.fs_options}});
    o["binds"] = std::move(binds);
    o["shm_size"] = spec.shm_size;
    json::array sysctls;
    for (const auto& [k, v] : spec.sysctls) sysctls.emplace_back(json::array{json::string(k), json::string(v)});
    o["sysctls"] = std::move(sysctls);
    json::array devices;
    for (const auto& d : spec.devices)
        devices.emplace_back(json::object{{"path", d.path},
                                          {"type", std::string(1, d.type)},
                                          {"major", d.major},
                                          {"minor", d.minor},
                                          {"mode", d.mode},
                                          {"uid", d.uid},
                                          {"gid", d.gid}});
    o["devices"] = std::move(devices);
    o["writable_sys"] = spec.writable_sys;
    if (spec.seccomp_preloaded) o["seccomp_preloaded"] = true;
    if (spec.parks_outside_netns) o["parks_outside_netns"] = true;
    if (!spec.seccomp_after_netns.empty()) o["seccomp_after_netns"] = base64_encode(spec.seccomp_after_netns.bytes());
    o["cgroup2_dir"] = spec.cgroup2_dir;
    o["cgroup_v1_procs"] = to_array(spec.cgroup_v1_procs);
    o["cgroup_v1_memory_procs"] = spec.cgroup_v1_memory_procs;
    o["hostname"] = spec.hostname;
    o["args"] = to_array(spec.args);
    if (!spec.exe.empty()) o["exe"] = spec.exe;
    o["env"] = to_array(spec.env);
    o["cwd"] = spec.cwd;
    o["user"] = spec.user;
    if (spec.accounts_told) {
        auto text = [](const std::optional<std::string>& f) { return f ? json::value(*f) : json::value(nullptr); };
        o["accounts"] = json::object{{"passwd", text(spec.passwd)}, {"group", text(spec.group)}};
    }
    o["capabilities"] = to_array(spec.capabilities);
    o["no_new_privs"] = spec.no_new_privs;
    // The file as {"file": path}, never as a key of its own: a zygote from
    // before seccomp_file (a monitor that outlived a daemon upgrade) must
    // refuse the start (it wants a base64 string here), not run unconfined.
    // A sandbox that parks outside its network namespace carries a program
    // that lets setns through until its refusal is loaded: under a key an
    // older zygote refuses (it would load that program and never the refusal).
    if (spec.parks_outside_netns && !spec.seccomp_program.empty())
        o["seccomp"] = spec.seccomp_file.empty() ? json::object{{"parked", base64_encode(spec.seccomp_program.bytes())}}
                                                 : json::object{{"parked_file", spec.seccomp_file}};
    else if (!spec.seccomp_file.empty()) o["seccomp"] = json::object{{"file", spec.seccomp_file}};
    else if (!spec.seccomp_program.empty()) o["seccomp"] = base64_encode(spec.seccomp_program.bytes());
    o["group_add"] = to_array(spec.group_add);
    o["rlimits"] = std::move(rlimits);
    if (!spec.uid_map.empty()) {
        o["uid_map"] = id_ranges_to_json(spec.uid_map);
        o["gid_map"] = id_ranges_to_json(spec.gid_map);
        o["userns_copy"] = spec.userns_copy;
    }
    if (spec.time_offsets)
        o["time_offsets"] = json::object{{"monotonic_ns", spec.time_offsets->monotonic_ns},
                                         {"boottime_ns", spec.time_offsets->boottime_ns}};
    return json::serialize(o);
}

std::string search_path_of(const std::vector<std::string>& env) {
    for (const auto& kv : env)
        if (kv.starts_with("PATH=")) return kv.substr(5);
    return std::string(default_search_path);
}

namespace {
const std::string k_no_program;  // constant-initialized: no guard
}  // namespace

const std::string& bpf_program::none() noexcept { return k_no_program; }

result<bpf_program> seccomp_program_file(const std::string& path) {
    static std::mutex mu;
    static std::map<std::string, bpf_program> programs;
    std::lock_guard lock(mu);
    if (auto it = programs.find(path); it != programs.end()) return it->second;
    // Every program kept is copied into each child the zygote forks: a few
    // (the default profile's, per capability set) are worth keeping, not
    // every custom profile ever seen.
    if (programs.size() >= 16) programs.clear();
    auto program = read_file(path);
    if (!program) return program.err().wrap("seccomp program");
    const std::size_t n = program->size() / sizeof(sock_filter);
    if (program->empty() || program->size() % sizeof(sock_filter) != 0 || n > BPF_MAXINSNS)
        return make_error(errc::internal, "seccomp program " + path + ": not a program");
    return programs.emplace(path, bpf_program(std::move(*program))).first->second;
}

result<launch_spec> launch_spec_from_json(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) return make_error(errc::invalid_argument, "parse launch spec: " + ec.message());
    if (!v.is_object()) return make_error(errc::invalid_argument, "parse launch spec: expected an object");
    const auto& o = v.get_object();
    launch_spec s;
    BERTH_TRY(get_string(o, "id", s.id));
    BERTH_TRY(get_strings(o, "lower_dirs", s.lower_dirs));
    BERTH_TRY(get_string(o, "upper_dir", s.upper_dir));
    BERTH_TRY(get_string(o, "work_dir", s.work_dir));
    BERTH_TRY(get_string(o, "rootfs_dir", s.rootfs_dir));
    BERTH_TRY(get_bool(o, "new_network", s.new_network));
    BERTH_TRY(get_strings(o, "masked_paths", s.masked_paths));
    BERTH_TRY(get_strings(o, "readonly_paths", s.readonly_paths));
    BERTH_TRY(get_string(o, "init_binary", s.init_binary));
    BERTH_TRY(get_bool(o, "readonly_rootfs", s.readonly_rootfs));
    BERTH_TRY(get_tmpfs(o, s.tmpfs));
    BERTH_TRY(get_binds(o, s.binds));
    if (const json::value* shm = o.if_contains("shm_size"); shm && !shm->is_null() && !get_u64(*shm, s.shm_size))
        return field_error("shm_size", "an unsigned integer");
    BERTH_TRY(get_sysctls(o, s.sysctls));
    BERTH_TRY(get_devices(o, s.devices));
    BERTH_TRY(get_bool(o, "writable_sys", s.writable_sys));
    BERTH_TRY(get_bool(o, "seccomp_preloaded", s.seccomp_preloaded));
    BERTH_TRY(get_bool(o, "parks_outside_netns", s.parks_outside_netns));
    if (const json::value* after = o.if_contains("seccomp_after_netns"); after && !after->is_null()) {
        BERTH_ASSIGN(s.seccomp_after_netns, program_field("seccomp_after_netns", after));
    }
    BERTH_TRY(get_string(o, "cgroup2_dir", s.cgroup2_dir));
    BERTH_TRY(get_strings(o, "cgroup_v1_procs", s.cgroup_v1_procs));
    BERTH_TRY(get_string(o, "cgroup_v1_memory_procs", s.cgroup_v1_memory_procs));
    BERTH_TRY(get_string(o, "hostname", s.hostname));
    BERTH_TRY(get_strings(o, "args", s.args));
    BERTH_TRY(get_string(o, "exe", s.exe));
    BERTH_TRY(get_strings(o, "env", s.env));
    BERTH_TRY(get_string(o, "cwd", s.cwd));
    BERTH_TRY(get_string(o, "user", s.user));
    if (const json::value* a = o.if_contains("accounts"); a && !a->is_null()) {
        if (!a->is_object()) return field_error("accounts", "an object");
        s.accounts_told = true;
        for (auto [key, out] : {std::pair{"passwd", &s.passwd}, std::pair{"group", &s.group}}) {
            const json::value* f = a->as_object().if_contains(key);
            if (!f || f->is_null()) continue;
            if (!f->is_string()) return field_error(key, "a string");
            *out = std::string(f->get_string());
        }
    }
    BERTH_TRY(get_strings(o, "capabilities", s.capabilities));
    BERTH_TRY(get_bool(o, "no_new_privs", s.no_new_privs));
    // The program: a base64 string or {"file": path}; a parked one
    // (parks_outside_netns only) as {"parked": base64} or {"parked_file": path}.
    if (const json::value* sc = o.if_contains("seccomp"); sc && !sc->is_null()) {
        const json::object* obj = sc->if_object();
        const bool parked = obj && (obj->contains("parked") || obj->contains("parked_file"));
        if (parked && !s.parks_outside_netns) return field_error("seccomp", "a parked program only for parks_outside_netns");
        const json::value* file = obj ? obj->if_contains(parked ? "parked_file" : "file") : nullptr;
        if (file && file->is_string() && !file->as_string().empty()) {
            s.seccomp_file = std::string(file->as_string());
            BERTH_ASSIGN(s.seccomp_program, seccomp_program_file(s.seccomp_file));
        } else {
            const json::value* text = obj ? (parked ? obj->if_contains("parked") : nullptr) : sc;
            BERTH_ASSIGN(s.seccomp_program, program_field("seccomp", text));
        }
    }
    BERTH_TRY(get_strings(o, "group_add", s.group_add));
    BERTH_TRY(get_rlimits(o, s.rlimits));
    BERTH_TRY(get_time_offsets(o, s.time_offsets));
    BERTH_TRY(get_id_ranges(o, "uid_map", s.uid_map));
    BERTH_TRY(get_id_ranges(o, "gid_map", s.gid_map));
    BERTH_TRY(get_bool(o, "userns_copy", s.userns_copy));
    return s;
}

}  // namespace berth::runtime
