#include "engine/mount_config.h"

#include <sys/stat.h>

#include <algorithm>

#include "base/util.h"
#include "engine/config_util.h"
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
};

// moby volume/mounts/linux_parser.go: rw|ro, one propagation, z|Z (no
// SELinux here: accepted and ignored, as on a host without it), nocopy
// (volumes only).
result<parsed_mode> parse_mode(const std::string& mode) {
    parsed_mode m;
    int rw = 0, prop = 0;
    for (const auto& opt : split(mode, ',')) {
        if (opt == "ro" || opt == "rw") {
            m.readonly = opt == "ro";
            ++rw;
        } else if (is_propagation(opt)) {
            m.propagation = opt;
            ++prop;
        } else if (opt == "z" || opt == "Z") {
        } else if (opt == "nocopy") {
            m.nocopy = true;
        } else {
            return invalid("invalid mode: " + mode);
        }
    }
    if (rw > 1 || prop > 1) return invalid("invalid mode: " + mode);
    return m;
}

error bad_volume_config(const std::string& why) { return invalid("invalid mount config for type \"volume\": " + why); }

struct bind_entry {
    runtime::bind_mount bind;
    std::string mode;    // inspect's Mode (Binds only)
    std::string volume;  // a named volume (bind.source is then filled by bind_mounts_of)
    bool anonymous = false;  // volume: its name from anonymous_volumes_key (empty before create names it)
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

// --mount type=volume: a named volume of the local driver, without options.
result<bind_entry> volume_mount(const json::object& hc, const json::object& m) {
    std::string source = str_field(m, "Source"), target = str_field(m, "Target");
    if (target.empty()) return bad_volume_config("field Target must not be empty");
    if (!source.empty()) BERTH_TRY(volumes::check_name(source));
    BERTH_TRY(check_target(target, source + ":" + target));
    if (auto* o = m.if_contains("BindOptions"); o && !o->is_null())
        return bad_volume_config("field BindOptions must not be specified");
    if (auto* o = m.if_contains("TmpfsOptions"); o && !o->is_null())
        return bad_volume_config("field TmpfsOptions must not be specified");
    bind_entry b = source.empty() ? anonymous_entry(hc, clean_path(target)) : bind_entry{};
    if (!source.empty()) b.volume = source;
    b.bind.target = clean_path(target);
    b.bind.readonly = bool_field(m, "ReadOnly");
    b.bind.populate = true;
    if (auto* o = m.if_contains("VolumeOptions"); o && o->is_object()) {
        const auto& vo = o->as_object();
        b.bind.populate = !bool_field(vo, "NoCopy");
        if (auto* l = vo.if_contains("Labels"); l && l->is_object() && !l->as_object().empty())
            return invalid("HostConfig.Mounts: volume-label is not supported yet");
        if (auto* d = vo.if_contains("DriverConfig"); d && d->is_object()) {
            std::string driver = str_field(d->as_object(), "Name");
            if (!driver.empty() && driver != "local")
                return invalid("HostConfig.Mounts: volume driver " + driver + " is not supported (only local)");
            if (auto* opts = d->as_object().if_contains("Options"); opts && opts->is_object() && !opts->as_object().empty())
                return invalid("HostConfig.Mounts: volume-opt is not supported yet");
        }
    }
    return b;
}

result<std::vector<bind_entry>> entries_of(const json::object& hc) {
    std::vector<bind_entry> out;
    if (const json::value* v = hc.if_contains("Binds"); v && !v->is_null()) {
        if (!v->is_array()) return invalid("HostConfig.Binds must be an array of strings");
        for (const auto& e : v->as_array()) {
            if (!e.is_string()) return invalid("HostConfig.Binds must be an array of strings");
            const std::string spec(e.as_string());
            auto parts = split(spec, ':');
            if (parts.size() == 1 && !parts[0].empty() && parts[0][0] == '/') {  // "/path": anonymous
                BERTH_TRY(check_target(parts[0], spec));
                out.push_back(anonymous_entry(hc, clean_path(parts[0])));
                continue;
            }
            if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
                return invalid("invalid volume specification: '" + spec + "'");
            const bool named = parts[0][0] != '/';
            if (named) BERTH_TRY(volumes::check_name(parts[0]));
            BERTH_TRY(check_target(parts[1], spec));
            bind_entry b;
            b.bind.target = clean_path(parts[1]);
            if (named) {
                b.volume = parts[0];
                b.bind.populate = true;
                b.mode = "z";
            } else {
                b.bind.source = clean_path(parts[0]);
                b.bind.create_source = true;
            }
            if (parts.size() == 3) {
                BERTH_ASSIGN(auto mode, parse_mode(parts[2]));
                if (mode.nocopy && !named) return invalid("invalid mode: " + parts[2]);
                if (!mode.propagation.empty() && named) return invalid("invalid mode: " + parts[2]);
                b.bind.readonly = mode.readonly;
                b.bind.populate = named && !mode.nocopy;
                if (!mode.propagation.empty()) b.bind.propagation = mode.propagation;
                b.mode = parts[2];
            }
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
            if (type == "tmpfs" || type == "npipe" || type == "cluster")
                return invalid("HostConfig.Mounts of type \"" + type + "\" is not supported yet");
            if (type != "bind") return invalid("invalid mount config for type \"" + type + "\": mount type unknown");
            for (const char* k : {"VolumeOptions", "TmpfsOptions"})
                if (auto* o = m.if_contains(k); o && !o->is_null())
                    return bad_bind_config(std::string("field ") + k + " must not be specified");
            std::string source = str_field(m, "Source"), target = str_field(m, "Target");
            if (target.empty()) return bad_bind_config("field Target must not be empty");
            if (source.empty()) return bad_bind_config("field Source must not be empty");
            if (source[0] != '/')
                return bad_bind_config("invalid mount path: '" + source + "' mount path must be absolute");
            BERTH_TRY(check_target(target, source + ":" + target));
            bind_entry b;
            b.bind.source = clean_path(source);
            b.bind.target = clean_path(target);
            b.bind.readonly = bool_field(m, "ReadOnly");
            if (auto* o = m.if_contains("BindOptions"); o && o->is_object()) {
                const auto& bo = o->as_object();
                std::string prop = str_field(bo, "Propagation");
                if (!prop.empty() && !is_propagation(prop))
                    return bad_bind_config("invalid propagation mode: " + prop);
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
    return out;
}

}  // namespace

result<std::vector<runtime::bind_mount>> bind_mounts_of(const json::object& hc, const std::string& data_root) {
    BERTH_ASSIGN(auto entries, entries_of(hc));
    std::vector<runtime::bind_mount> out;
    for (auto& e : entries) {
        if (e.anonymous && e.volume.empty())
            return make_error(errc::internal, "anonymous volume at " + e.bind.target + " has no name");
        if (!e.volume.empty()) e.bind.source = volumes::data_path(data_root, e.volume);
        out.push_back(std::move(e.bind));
    }
    if (const json::value* t = hc.if_contains("Tmpfs"); t && t->is_object())
        for (const auto& b : out)
            if (t->as_object().contains(b.target)) return invalid("Duplicate mount point: " + b.target);
    return out;
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
    for (const auto& e : entries) (e.anonymous ? wanted : covered).push_back(e.bind.target);
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
        if (!e.volume.empty())
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
