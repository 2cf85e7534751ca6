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

struct bind_entry;
result<bind_entry> volume_mount(const json::object& m);

struct bind_entry {
    runtime::bind_mount bind;
    std::string mode;    // inspect's Mode (Binds only)
    std::string volume;  // a named volume (bind.source is then filled by bind_mounts_of)
};

// --mount type=volume: a named volume of the local driver, without options.
result<bind_entry> volume_mount(const json::object& m) {
    std::string source = str_field(m, "Source"), target = str_field(m, "Target");
    if (target.empty()) return bad_volume_config("field Target must not be empty");
    if (source.empty()) return invalid("HostConfig.Mounts: anonymous volumes are not supported yet");
    BERTH_TRY(volumes::check_name(source));
    BERTH_TRY(check_target(target, source + ":" + target));
    if (auto* o = m.if_contains("BindOptions"); o && !o->is_null())
        return bad_volume_config("field BindOptions must not be specified");
    if (auto* o = m.if_contains("TmpfsOptions"); o && !o->is_null())
        return bad_volume_config("field TmpfsOptions must not be specified");
    bind_entry b;
    b.volume = source;
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
                BERTH_ASSIGN(bind_entry b, volume_mount(m));
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
