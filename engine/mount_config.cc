#include "engine/mount_config.h"

#include <sys/stat.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include <algorithm>
#include <optional>

#include "base/util.h"
#include "engine/config_util.h"
#include "engine/runtime/confinement.h"
#include "engine/volumes.h"

namespace berth {

namespace json = boost::json;

namespace {

error invalid(std::string msg) { return make_error(errc::invalid_argument, std::move(msg)); }

bool is_propagation(std::string_view p) {
    return p == "private" || p == "rprivate" || p == "shared" || p == "rshared" || p == "slave" || p == "rslave";
}

error bad_bind_config(const std::string& why) { return invalid("invalid mount config for type \"bind\": " + why); }

status check_target(const std::string& target, const std::string& spec) {
    if (target.empty() || target[0] != '/')
        return bad_bind_config("invalid mount path: '" + target + "' mount path must be absolute");
    if (std::all_of(target.begin(), target.end(), [](char c) { return c == '/'; }))
        return invalid("invalid specification: destination can't be '/' in '" + spec + "'");
    for (const auto& comp : split(target, '/'))
        if (comp == "..") return bad_bind_config("invalid mount path: '" + target + "' must not contain ..");
    return ok();
}

// moby's normalized target: no trailing or doubled slashes.
std::string clean_path(const std::string& p) {
    std::string out;
    for (const auto& comp : split(p, '/'))
        if (!comp.empty() && comp != ".") out += "/" + comp;
    return out.empty() ? "/" : out;
}

struct parsed_mode {
    bool readonly = false;
    std::string propagation;  // empty: the default
    bool nocopy = false;
    bool copy_set = false;    // nocopy (or copy) given
};

// moby volume/mounts/linux_parser.go (linuxValidMountMode): at most one
// each of rw|ro, z|Z (no SELinux here: accepted and ignored, as on a host
// without it), a propagation, nocopy, and a consistency
// (consistent|cached|delegated, meaningless on Linux: ignored).
std::optional<parsed_mode> parse_mode_words(const std::string& mode) {
    parsed_mode m;
    if (mode.empty()) return m;
    int rw = 0, label = 0, prop = 0, copy = 0, consistency = 0;
    for (const auto& opt : split(mode, ',')) {
        if (opt == "ro" || opt == "rw") {
            m.readonly = opt == "ro";
            ++rw;
        } else if (opt == "z" || opt == "Z") {
            ++label;
        } else if (is_propagation(opt)) {
            m.propagation = opt;
            ++prop;
        } else if (opt == "nocopy") {
            m.nocopy = m.copy_set = true;
            ++copy;
        } else if (opt == "consistent" || opt == "cached" || opt == "delegated") {
            ++consistency;
        } else {
            return std::nullopt;
        }
    }
    if (rw > 1 || label > 1 || prop > 1 || copy > 1 || consistency > 1) return std::nullopt;
    return m;
}

error bad_volume_config(const std::string& why) { return invalid("invalid mount config for type \"volume\": " + why); }

struct bind_entry {
    runtime::bind_mount bind;
    std::string mode;    // inspect's Mode (Binds only)
    std::string volume;  // a named volume (bind.source is then filled by bind_mounts_of)
    bool anonymous = false;  // volume: its name from anonymous_volumes_key (empty before create names it)
    bool inherited = false;  // --volumes-from: a source container's mount
    bool tmpfs = false;      // --mount type=tmpfs (in tmpfs_mount; bind unused but for target)
    runtime::tmpfs_mount tmpfs_mount;
    json::object volume_labels, volume_options;  // --mount volume-label=, volume-opt= (used when creating it)
};

// The name create gave the anonymous volume at target (empty: none yet).
std::string anonymous_name(const json::object& hc, const std::string& target) {
    auto* m = hc.if_contains(anonymous_volumes_key);
    if (!m || !m->is_object()) return {};
    auto* n = m->as_object().if_contains(target);
    return n && n->is_string() ? std::string(n->as_string()) : std::string();
}

bind_entry anonymous_entry(const json::object& hc, const std::string& target) {
    bind_entry b;
    b.anonymous = true;
    b.bind.target = target;
    b.volume = anonymous_name(hc, target);
    b.bind.populate = true;
    b.bind.create_source = true;  // made at create, never stat'ed as a host source
    return b;
}

// moby's validateMountConfig checks of a target, with its messages.
status check_mount_target(const std::string& type, const std::string& target) {
    auto bad = [&](const std::string& why) { return invalid("invalid mount config for type \"" + type + "\": " + why); };
    if (target.empty()) return bad("field Target must not be empty");
    if (clean_path(target) == "/" && target[0] == '/') return bad("invalid specification: destination can't be '/'");
    if (target[0] != '/') return bad("invalid mount path: '" + target + "' mount path must be absolute");
    for (const auto& comp : split(target, '/'))
        if (comp == "..") return bad("invalid mount path: '" + target + "' must not contain ..");
    return ok();
}

// --mount type=volume: a named volume of the local driver; labels and
// driver options are used when the volume is created by this mount.
result<bind_entry> volume_mount(const json::object& hc, const json::object& m) {
    std::string source = str_field(m, "Source"), target = str_field(m, "Target");
    BERTH_TRY(check_mount_target("volume", target));
    if (auto* o = m.if_contains("BindOptions"); o && !o->is_null())
        return bad_volume_config("field BindOptions must not be specified");
    if (auto* o = m.if_contains("TmpfsOptions"); o && !o->is_null())
        return bad_volume_config("field TmpfsOptions must not be specified");
    if (source.empty() && bool_field(m, "ReadOnly"))
        return bad_volume_config("must not set ReadOnly mode when using anonymous volumes");
    if (!source.empty()) BERTH_TRY(volumes::check_name(source));
    bind_entry b = source.empty() ? anonymous_entry(hc, clean_path(target)) : bind_entry{};
    if (!source.empty()) b.volume = source;
    b.bind.target = clean_path(target);
    b.bind.readonly = bool_field(m, "ReadOnly");
    b.bind.populate = true;
    if (auto* o = m.if_contains("VolumeOptions"); o && o->is_object()) {
        const auto& vo = o->as_object();
        b.bind.populate = !bool_field(vo, "NoCopy");
        if (auto* l = vo.if_contains("Labels"); l && l->is_object()) {
            for (const auto& [k, v] : l->as_object())
                if (!v.is_string()) return bad_volume_config("VolumeOptions.Labels values must be strings");
            b.volume_labels = l->as_object();
        }
        if (auto* s = vo.if_contains("Subpath"); s && s->is_string() && !s->as_string().empty())
            return bad_volume_config("VolumeOptions.Subpath is not supported yet");
        if (auto* d = vo.if_contains("DriverConfig"); d && d->is_object()) {
            std::string driver = str_field(d->as_object(), "Name");
            if (!driver.empty() && driver != "local")
                return invalid("HostConfig.Mounts: volume driver " + driver + " is not supported (only local)");
            if (auto* opts = d->as_object().if_contains("Options"); opts && opts->is_object()) {
                for (const auto& [k, v] : opts->as_object())
                    if (!v.is_string()) return bad_volume_config("DriverConfig.Options values must be strings");
                b.volume_options = opts->as_object();
            }
        }
        // An anonymous volume is made without them: refused, never dropped.
        if (source.empty() && (!b.volume_options.empty() || !b.volume_labels.empty()))
            return invalid("HostConfig.Mounts: volume-opt and volume-label need a named volume (source=NAME); "
                           "for an anonymous volume they are not supported yet");
    }
    return b;
}

// --mount type=tmpfs: moby's ConvertTmpfsOptions (ro, mode, size, the
// exec/noexec Options) over Docker's defaults (noexec, nosuid, nodev).
result<bind_entry> tmpfs_mount_entry(const json::object& m) {
    std::string target = str_field(m, "Target");
    BERTH_TRY(check_mount_target("tmpfs", target));
    auto bad = [](const std::string& why) { return invalid("invalid mount config for type \"tmpfs\": " + why); };
    if (auto* o = m.if_contains("BindOptions"); o && !o->is_null()) return bad("field BindOptions must not be specified");
    if (!str_field(m, "Source").empty()) return bad("field Source must not be specified");
    if (auto* o = m.if_contains("VolumeOptions"); o && !o->is_null())
        return bad("field VolumeOptions must not be specified");
    std::string opts = bool_field(m, "ReadOnly") ? "ro" : "";
    auto add = [&](const std::string& o) { opts += (opts.empty() ? "" : ",") + o; };
    if (auto* t = m.if_contains("TmpfsOptions"); t && t->is_object()) {
        const auto& to = t->as_object();
        if (auto* mode = to.if_contains("Mode"); mode && !mode->is_null()) {
            if (!mode->is_number()) return bad("TmpfsOptions.Mode must be a number");
            auto v = mode->to_number<std::int64_t>();
            if (v < 0 || v > 07777) return bad("invalid tmpfs mode: " + std::to_string(v));
            if (v != 0) {
                char buf[16];
                std::snprintf(buf, sizeof buf, "%llo", static_cast<unsigned long long>(v));
                add(std::string("mode=") + buf);
            }
        }
        if (auto* size = to.if_contains("SizeBytes"); size && !size->is_null()) {
            if (!size->is_number()) return bad("TmpfsOptions.SizeBytes must be a number");
            auto v = size->to_number<std::int64_t>();
            if (v < 0) return bad("invalid tmpfs size: " + std::to_string(v));
            if (v != 0) add("size=" + std::to_string(v));
        }
        if (auto* extra = to.if_contains("Options"); extra && extra->is_array())
            for (const auto& o : extra->as_array()) {
                if (!o.is_array() || o.as_array().empty() || o.as_array().size() > 2)
                    return bad("invalid option array length");
                const auto& kv = o.as_array();
                std::string k = kv[0].is_string() ? std::string(kv[0].as_string()) : std::string();
                if (k != "exec" && k != "noexec") return bad("invalid option: " + k);
                add(k);
            }
    }
    auto parsed = runtime::parse_tmpfs_options(opts);
    if (!parsed) return bad(parsed.err().message);
    bind_entry b;
    b.tmpfs = true;
    b.bind.target = clean_path(target);
    b.bind.readonly = bool_field(m, "ReadOnly");
    b.tmpfs_mount = {b.bind.target, parsed->flags, parsed->data};
    return b;
}

// One Binds entry, as moby's ParseMountRaw reads it.
result<bind_entry> bind_spec(const json::object& hc, const std::string& spec) {
    auto spec_error = [&]() { return invalid("invalid volume specification: '" + spec + "'"); };
    // Its checks of the parsed mount come prefixed with the spec.
    auto wrap = [&](const error& e) { return invalid("invalid volume specification: '" + spec + "': " + e.message); };
    auto parts = split(spec, ':');
    if (parts.empty() || parts[0].empty() || parts.size() > 3) return spec_error();
    std::string source, target, mode;
    if (parts.size() == 1) {
        target = parts[0];
    } else if (parts.size() == 2) {
        if (parse_mode_words(parts[1])) return spec_error();  // "/foo:rw": a mode without a destination
        source = parts[0];
        target = parts[1];
    } else {
        source = parts[0];
        target = parts[1];
        mode = parts[2];
    }
    auto m = parse_mode_words(mode);
    if (!m) return invalid("invalid mode: " + mode);
    const bool bind = !source.empty() && source[0] == '/';
    const std::string type = bind ? "bind" : "volume";
    if (auto t = check_mount_target(type, target); !t) return wrap(t.err());
    if (bind && m->copy_set)
        return wrap(invalid("invalid mount config for type \"bind\": field VolumeOptions must not be specified"));
    if (!bind && !m->propagation.empty())
        return wrap(invalid("invalid mount config for type \"volume\": field BindOptions must not be specified"));
    bind_entry b;
    if (source.empty()) {  // "/path": anonymous
        b = anonymous_entry(hc, clean_path(target));
    } else if (bind) {
        b.bind.source = clean_path(source);
        b.bind.create_source = true;
    } else {
        BERTH_TRY(volumes::check_name(source));
        b.volume = source;
        b.mode = "z";
    }
    b.bind.target = clean_path(target);
    b.bind.readonly = m->readonly;
    b.bind.populate = !bind && !m->nocopy;
    if (!m->propagation.empty()) b.bind.propagation = m->propagation;
    if (!mode.empty()) b.mode = mode;
    return b;
}

// --volumes-from: the entries create copied from the source containers.
std::vector<bind_entry> inherited_entries(const json::object& hc) {
    std::vector<bind_entry> out;
    auto* v = hc.if_contains(volumes_from_key);
    if (!v || !v->is_array()) return out;
    for (const auto& e : v->as_array()) {
        if (!e.is_object()) continue;
        const auto& m = e.as_object();
        bind_entry b;
        b.inherited = true;
        b.bind.target = str_field(m, "Destination");
        b.bind.readonly = !bool_field(m, "RW");
        if (str_field(m, "Type") == "volume") {
            b.volume = str_field(m, "Name");
            b.anonymous = bool_field(m, "Anonymous");
        } else {
            b.bind.source = str_field(m, "Source");
            b.bind.create_source = true;  // a host directory that went away is made again, as -v does
            std::string prop = str_field(m, "Propagation");
            if (!prop.empty()) b.bind.propagation = prop;
        }
        if (!b.bind.target.empty()) out.push_back(std::move(b));
    }
    return out;
}

result<std::vector<bind_entry>> entries_of(const json::object& hc) {
    std::vector<bind_entry> out;
    if (const json::value* v = hc.if_contains("Binds"); v && !v->is_null()) {
        if (!v->is_array()) return invalid("HostConfig.Binds must be an array of strings");
        for (const auto& e : v->as_array()) {
            if (!e.is_string()) return invalid("HostConfig.Binds must be an array of strings");
            BERTH_ASSIGN(bind_entry b, bind_spec(hc, std::string(e.as_string())));
            out.push_back(std::move(b));
        }
    }
    if (const json::value* v = hc.if_contains("Mounts"); v && !v->is_null()) {
        if (!v->is_array()) return invalid("HostConfig.Mounts must be an array");
        for (const auto& e : v->as_array()) {
            if (!e.is_object()) return invalid("HostConfig.Mounts must be an array of objects");
            const auto& m = e.as_object();
            std::string type = str_field(m, "Type");
            if (type.empty()) return invalid("invalid mount config: mount type must not be empty");
            if (type == "volume") {
                BERTH_ASSIGN(bind_entry b, volume_mount(hc, m));
                out.push_back(std::move(b));
                continue;
            }
            if (type == "tmpfs") {
                BERTH_ASSIGN(bind_entry b, tmpfs_mount_entry(m));
                out.push_back(std::move(b));
                continue;
            }
            if (type == "npipe" || type == "cluster" || type == "image")
                return invalid("HostConfig.Mounts of type \"" + type + "\" is not supported yet");
            if (type != "bind") return invalid("invalid mount config for type \"" + type + "\": mount type unknown");
            std::string source = str_field(m, "Source"), target = str_field(m, "Target");
            BERTH_TRY(check_mount_target("bind", target));
            if (source.empty()) return bad_bind_config("field Source must not be empty");
            if (auto* o = m.if_contains("BindOptions"); o && o->is_object()) {
                std::string prop = str_field(o->as_object(), "Propagation");
                if (!prop.empty() && !is_propagation(prop))
                    return bad_bind_config("invalid propagation mode: " + prop);
            }
            for (const char* k : {"VolumeOptions", "TmpfsOptions"})
                if (auto* o = m.if_contains(k); o && !o->is_null())
                    return bad_bind_config(std::string("field ") + k + " must not be specified");
            if (source[0] != '/')
                return bad_bind_config("invalid mount path: '" + source + "' mount path must be absolute");
            bind_entry b;
            b.bind.source = clean_path(source);
            b.bind.target = clean_path(target);
            b.bind.readonly = bool_field(m, "ReadOnly");
            if (auto* o = m.if_contains("BindOptions"); o && o->is_object()) {
                const auto& bo = o->as_object();
                std::string prop = str_field(bo, "Propagation");
                if (!prop.empty()) b.bind.propagation = prop;
                for (const char* k : {"NonRecursive", "CreateMountpoint", "ReadOnlyNonRecursive", "ReadOnlyForceRecursive"})
                    if (bool_field(bo, k)) return bad_bind_config(std::string("BindOptions.") + k + " is not supported yet");
            }
            out.push_back(std::move(b));
        }
    }
    // Anonymous volumes of Config.Volumes and the image's VOLUME.
    if (auto* m = hc.if_contains(anonymous_volumes_key); m && m->is_object())
        for (const auto& [target, name] : m->as_object()) {
            std::string t(target);
            bool listed = std::any_of(out.begin(), out.end(), [&](const bind_entry& e) { return e.bind.target == t; });
            if (!listed) out.push_back(anonymous_entry(hc, t));
        }
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (out[i].bind.target == out[j].bind.target)
                return invalid("Duplicate mount point: " + out[i].bind.target);
    // --volumes-from: under the container's own mounts (moby lets a bind
    // or mount at the same target replace the inherited one).
    for (auto& e : inherited_entries(hc)) {
        bool listed = std::any_of(out.begin(), out.end(), [&](const bind_entry& o) { return o.bind.target == e.bind.target; });
        if (!listed) out.push_back(std::move(e));
    }
    return out;
}

}  // namespace

result<std::vector<runtime::bind_mount>> bind_mounts_of(const json::object& hc, const std::string& data_root) {
    BERTH_ASSIGN(auto entries, entries_of(hc));
    std::vector<runtime::bind_mount> out;
    for (auto& e : entries) {
        if (e.tmpfs) continue;
        if (e.anonymous && e.volume.empty())
            return make_error(errc::internal, "anonymous volume at " + e.bind.target + " has no name");
        if (!e.volume.empty()) e.bind.source = volumes::data_path(data_root, e.volume);
        e.bind.volume = e.volume;
        out.push_back(std::move(e.bind));
    }
    if (const json::value* t = hc.if_contains("Tmpfs"); t && t->is_object())
        for (const auto& b : out)
            if (t->as_object().contains(b.target)) return invalid("Duplicate mount point: " + b.target);
    return out;
}

bool binds_need_preparing(const std::vector<runtime::bind_mount>& binds) {
    return std::any_of(binds.begin(), binds.end(), [](const runtime::bind_mount& b) {
        return !b.volume.empty() || b.propagation.find("shared") != std::string::npos ||
               b.propagation.find("slave") != std::string::npos;
    });
}

namespace {

struct mount_line {
    std::string point;
    bool shared = false, slave = false;
};

// /proc/self/mountinfo: mount point (field 5, octal escapes) and the
// optional fields up to "-" (shared:N, master:N).
std::vector<mount_line> read_mountinfo() {
    std::vector<mount_line> out;
    auto text = read_file("/proc/self/mountinfo");
    if (!text) return out;
    for (const auto& line : split(*text, '\n')) {
        auto f = split(line, ' ');
        if (f.size() < 7) continue;
        mount_line m;
        const std::string& raw = f[4];
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '\\' && i + 3 < raw.size()) {
                m.point += static_cast<char>(std::stoi(raw.substr(i + 1, 3), nullptr, 8));
                i += 3;
            } else {
                m.point += raw[i];
            }
        }
        for (std::size_t i = 6; i < f.size() && f[i] != "-"; ++i) {
            if (starts_with(f[i], "shared:")) m.shared = true;
            if (starts_with(f[i], "master:")) m.slave = true;
        }
        out.push_back(std::move(m));
    }
    return out;
}

// moby's getSourceMount: the mount (the last one, which is on top) whose
// point is the longest prefix of the source's real path.
const mount_line* source_mount(const std::vector<mount_line>& mounts, const std::string& source) {
    std::string path = source;
    char buf[PATH_MAX];
    // A -v source may not exist yet: its nearest existing parent decides.
    for (;;) {
        if (::realpath(path.c_str(), buf)) {
            path = buf;
            break;
        }
        auto slash = path.find_last_of('/');
        if (slash == std::string::npos || path == "/") break;
        path = slash == 0 ? "/" : path.substr(0, slash);
    }
    const mount_line* best = nullptr;
    for (const auto& m : mounts) {
        bool under = path == m.point || m.point == "/" || starts_with(path, m.point + "/");
        if (under && (!best || m.point.size() >= best->point.size())) best = &m;
    }
    return best;
}

}  // namespace

status prepare_binds(std::vector<runtime::bind_mount>& binds, const std::string& data_root) {
    std::vector<mount_line> mounts;
    for (auto& b : binds) {
        if (!b.volume.empty()) {
            BERTH_ASSIGN(auto v, volumes::get(data_root, b.volume));
            b.fs_type = str_field(v.options, "type");
            b.fs_device = str_field(v.options, "device");
            b.fs_options = str_field(v.options, "o");
            continue;
        }
        const bool shared = b.propagation.find("shared") != std::string::npos;
        const bool slave = b.propagation.find("slave") != std::string::npos;
        if (!shared && !slave) continue;
        if (mounts.empty()) mounts = read_mountinfo();
        const mount_line* m = source_mount(mounts, b.source);
        if (!m) return make_error(errc::internal, "no mount found for " + b.source);
        // Docker's checks (daemon/oci_linux.go ensureShared, ensureSharedOrSlave).
        if (shared && !m->shared)
            return invalid("path " + b.source + " is mounted on " + m->point + " but it is not a shared mount");
        if (slave && !m->shared && !m->slave)
            return invalid("path " + b.source + " is mounted on " + m->point + " but it is not a shared or slave mount");
    }
    return ok();
}

status check_bind_sources(const std::vector<runtime::bind_mount>& binds) {
    for (const auto& b : binds) {
        if (b.create_source) continue;
        struct stat st;
        if (::stat(b.source.c_str(), &st) != 0) {
            if (errno == ENOENT) return bad_bind_config("bind source path does not exist: " + b.source);
            return sys_error("stat bind source " + b.source);
        }
    }
    return ok();
}

namespace {

// The inherited mounts the container's own mounts do not cover.
std::vector<bind_entry> used_inherited(const json::object& hc) {
    if (!hc.contains(volumes_from_key)) return {};
    auto entries = entries_of(hc);
    if (!entries) return inherited_entries(hc);
    std::vector<bind_entry> out;
    for (auto& e : *entries)
        if (e.inherited) out.push_back(std::move(e));
    return out;
}

}  // namespace

std::vector<std::string> volume_names_of(const json::object& hc) {
    std::vector<std::string> out;
    if (const json::value* v = hc.if_contains("Binds"); v && v->is_array())
        for (const auto& e : v->as_array())
            if (e.is_string() && !e.as_string().empty() && e.as_string()[0] != '/')
                out.push_back(split(e.as_string(), ':')[0]);
    if (const json::value* v = hc.if_contains("Mounts"); v && v->is_array())
        for (const auto& e : v->as_array())
            if (e.is_object() && str_field(e.as_object(), "Type") == "volume" &&
                !str_field(e.as_object(), "Source").empty())
                out.push_back(str_field(e.as_object(), "Source"));
    for (auto& n : anonymous_volumes_of(hc)) out.push_back(std::move(n));
    for (auto& e : used_inherited(hc))
        if (!e.volume.empty()) out.push_back(std::move(e.volume));
    return out;
}

std::vector<std::string> removable_volumes_of(const json::object& hc) {
    std::vector<std::string> out = anonymous_volumes_of(hc);
    for (auto& e : used_inherited(hc))
        if (e.anonymous && !e.volume.empty()) out.push_back(std::move(e.volume));
    return out;
}

result<std::vector<runtime::tmpfs_mount>> tmpfs_mounts_of(const json::object& hc) {
    std::vector<runtime::tmpfs_mount> out;
    bool any = false;
    if (const json::value* v = hc.if_contains("Mounts"); v && v->is_array())
        for (const auto& e : v->as_array()) any = any || (e.is_object() && str_field(e.as_object(), "Type") == "tmpfs");
    if (!any) return out;
    BERTH_ASSIGN(auto entries, entries_of(hc));
    const json::value* t = hc.if_contains("Tmpfs");
    for (auto& e : entries) {
        if (!e.tmpfs) continue;
        if (t && t->is_object() && t->as_object().contains(e.bind.target))
            return invalid("Duplicate mount point: " + e.bind.target);
        out.push_back(std::move(e.tmpfs_mount));
    }
    return out;
}

std::vector<volume_request> volume_requests_of(const json::object& hc) {
    std::vector<volume_request> out;
    auto entries = entries_of(hc);
    if (!entries) return out;
    for (auto& e : *entries)
        if (!e.volume.empty() && !e.anonymous && !e.inherited)
            out.push_back({e.volume, std::move(e.volume_labels), std::move(e.volume_options)});
    return out;
}

result<std::pair<std::string, std::string>> parse_volumes_from(const std::string& spec) {
    if (spec.empty()) return invalid("volumes-from specification cannot be an empty string");
    const auto colon = spec.find(':');
    std::string id = spec.substr(0, colon), mode = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (mode.empty()) return std::pair{id, std::string("rw")};
    auto m = parse_mode_words(mode);
    // Propagation and copy modes are not for volumes-from (moby).
    if (!m || !m->propagation.empty() || m->copy_set) return invalid("invalid mode: " + mode);
    return std::pair{id, mode};
}

result<json::array> inherited_mounts(const json::object& source_hc, const std::string& mode) {
    BERTH_ASSIGN(auto entries, entries_of(source_hc));
    const bool rw = !parse_mode_words(mode).value_or(parsed_mode{}).readonly;
    json::array out;
    for (const auto& e : entries) {
        if (e.tmpfs) continue;
        if (e.anonymous && e.volume.empty())
            return make_error(errc::internal, "anonymous volume at " + e.bind.target + " has no name");
        json::object m{{"Type", e.volume.empty() ? "bind" : "volume"},
                       {"Destination", e.bind.target},
                       {"RW", !e.bind.readonly && rw}};
        if (e.volume.empty()) {
            m["Source"] = e.bind.source;
            m["Propagation"] = e.bind.propagation;
        } else {
            m["Name"] = e.volume;
            if (e.anonymous) m["Anonymous"] = true;
        }
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<std::string> anonymous_volumes_of(const json::object& hc) {
    std::vector<std::string> out;
    if (auto* m = hc.if_contains(anonymous_volumes_key); m && m->is_object())
        for (const auto& [target, name] : m->as_object())
            if (name.is_string()) out.emplace_back(name.as_string());
    return out;
}

result<json::object> assign_anonymous_volumes(const json::object& hc, const json::object& request_volumes,
                                              const json::object& image_volumes) {
    json::object bare = hc;
    bare.erase(anonymous_volumes_key);
    BERTH_ASSIGN(auto entries, entries_of(bare));
    std::vector<std::string> covered, wanted;
    for (const auto& e : entries) (e.anonymous && !e.inherited ? wanted : covered).push_back(e.bind.target);
    if (const json::value* t = hc.if_contains("Tmpfs"); t && t->is_object())
        for (const auto& [k, v] : t->as_object()) covered.push_back(clean_path(std::string(k)));
    for (const auto* vols : {&request_volumes, &image_volumes})
        for (const auto& [k, v] : *vols) {
            std::string target(k);
            BERTH_TRY(check_target(target, target));
            wanted.push_back(clean_path(target));
        }
    json::object out;
    for (const auto& t : wanted)
        if (std::find(covered.begin(), covered.end(), t) == covered.end() && !out.contains(t)) out[t] = random_id();
    return out;
}

json::array mount_points_json(const json::object& hc, const std::string& data_root) {
    json::array out;
    auto entries = entries_of(hc);
    if (!entries) return out;
    for (const auto& e : *entries)
        if (e.tmpfs)
            out.emplace_back(json::object{{"Type", "tmpfs"},
                                          {"Source", ""},
                                          {"Destination", e.bind.target},
                                          {"Mode", ""},
                                          {"RW", !e.bind.readonly},
                                          {"Propagation", ""}});
        else if (!e.volume.empty())
            out.emplace_back(json::object{{"Type", "volume"},
                                          {"Name", e.volume},
                                          {"Source", volumes::data_path(data_root, e.volume)},
                                          {"Destination", e.bind.target},
                                          {"Driver", "local"},
                                          {"Mode", e.mode},
                                          {"RW", !e.bind.readonly},
                                          {"Propagation", ""}});
        else
            out.emplace_back(json::object{{"Type", "bind"},
                                      {"Source", e.bind.source},
                                      {"Destination", e.bind.target},
                                      {"Mode", e.mode},
                                      {"RW", !e.bind.readonly},
                                      {"Propagation", e.bind.propagation}});
    return out;
}

}  // namespace berth
