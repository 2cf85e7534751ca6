#include "engine/volumes.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

#include "base/util.h"

namespace berth::volumes {

namespace json = boost::json;

namespace {

std::string root_of(const std::string& data_root) { return data_root + "/volumes"; }

bool name_char(char c, bool first) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || (!first && (c == '_' || c == '.' || c == '-'));
}

result<volume> read_volume(const std::string& data_root, const std::string& name) {
    auto text = read_file(root_of(data_root) + "/" + name + "/volume.json");
    if (!text) {
        if (text.err().sys_errno == ENOENT)
            return make_error(errc::not_found, "get " + name + ": no such volume");
        return text.err();
    }
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    if (ec || !v.is_object()) return make_error(errc::internal, "volume " + name + ": corrupt volume.json");
    volume out;
    out.name = name;
    if (auto* c = v.as_object().if_contains("CreatedAt"); c && c->is_string())
        out.created_ns = parse_rfc3339(c->as_string()).value_or(0);
    if (auto* l = v.as_object().if_contains("Labels"); l && l->is_object()) out.labels = l->as_object();
    if (auto* o = v.as_object().if_contains("Options"); o && o->is_object()) out.options = o->as_object();
    return out;
}

// go-units RAMInBytes: "10", "10k", "1.5m", "2 GiB" (binary multipliers).
result<std::int64_t> parse_ram_bytes(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    double num = 0;
    try {
        num = i ? std::stod(s.substr(0, i)) : -1;
    } catch (...) {
        num = -1;
    }
    std::string unit = s.substr(i);
    if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
    for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    static const std::pair<const char*, double> units[] = {{"", 1}, {"b", 1}, {"k", 1024.0}, {"m", 1048576.0},
                                                          {"g", 1073741824.0}, {"t", 1099511627776.0},
                                                          {"p", 1125899906842624.0}};
    for (const auto& [u, mult] : units)
        for (const char* suffix : {"", "b", "i", "ib"})
            if (num >= 0 && unit == std::string(u) + (std::string(u).empty() ? "" : suffix))
                return static_cast<std::int64_t>(num * mult);
    return make_error(errc::invalid_argument, "invalid size: '" + s + "'");
}

}  // namespace

status check_name(const std::string& name) {
    bool good = name.size() >= 2 && name_char(name[0], true);
    for (std::size_t i = 1; good && i < name.size(); ++i) good = name_char(name[i], false);
    if (!good)
        return make_error(errc::invalid_argument,
                          "create " + name + ": \"" + name +
                              "\" includes invalid characters for a local volume name, only "
                              "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
                              "directory, use absolute path");
    return ok();
}

status check_options(const std::string& name, const json::object& options) {
    auto bad = [&](const std::string& why) { return make_error(errc::invalid_argument, "create " + name + ": " + why); };
    for (const auto& [k, v] : options) {
        if (k != "type" && k != "device" && k != "o" && k != "size") return bad("invalid option: \"" + std::string(k) + "\"");
        if (!v.is_string()) return bad("option " + std::string(k) + " must be a string");
    }
    if (auto* size = options.if_contains("size")) {
        auto bytes = parse_ram_bytes(std::string(size->as_string()));
        if (!bytes) return bad(bytes.err().message);
        if (*bytes > 0) return bad("quota size requested but no quota support");
    }
    static const std::pair<const char*, std::vector<const char*>> mandatory[] = {
        {"device", {"type"}}, {"o", {"device", "type"}}, {"type", {"device"}}};
    for (const auto& [opt, needs] : mandatory)
        if (options.contains(opt))
            for (const char* need : needs)
                if (!options.contains(need)) return bad("missing required option: \"" + std::string(need) + "\"");
    return ok();
}

std::string data_path(const std::string& data_root, const std::string& name) {
    return root_of(data_root) + "/" + name + "/_data";
}

result<volume> create(const std::string& data_root, const std::string& name, json::object labels,
                      json::object options) {
    BERTH_TRY(check_name(name));
    BERTH_TRY(check_options(name, options));
    if (auto existing = read_volume(data_root, name); existing || existing.err().code != errc::not_found)
        return existing;
    const std::string root = root_of(data_root);
    const std::string stage = root + "/.stage-" + random_id().substr(0, 16);
    BERTH_TRY(make_dirs(stage + "/_data", 0755));
    volume v{name, now_ns(), std::move(labels), std::move(options)};
    json::object meta{{"Name", name}, {"CreatedAt", format_rfc3339_nano(v.created_ns)}, {"Labels", v.labels}};
    if (!v.options.empty()) meta["Options"] = v.options;
    if (auto w = write_file_atomic(stage + "/volume.json", json::serialize(meta)); !w) {
        (void)remove_all(stage);
        return w.err();
    }
    if (::rename(stage.c_str(), (root + "/" + name).c_str()) != 0) {
        int err = errno;
        (void)remove_all(stage);
        if (err == EEXIST || err == ENOTEMPTY) return read_volume(data_root, name);  // created meanwhile
        return sys_error("create volume " + name, err);
    }
    return v;
}

result<volume> get(const std::string& data_root, const std::string& name) { return read_volume(data_root, name); }

result<std::vector<volume>> list(const std::string& data_root) {
    std::vector<volume> out;
    const std::string root = root_of(data_root);
    BERTH_TRY(make_dirs(root, 0701));
    unique_fd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return sys_error("open " + root);
    BERTH_ASSIGN(auto names, list_directory(dir.get(), root));
    for (const auto& n : names) {
        if (n.empty() || n[0] == '.') continue;  // staging and removal in progress
        auto v = read_volume(data_root, n);
        if (v) out.push_back(std::move(*v));
    }
    return out;
}

status remove(const std::string& data_root, const std::string& name) {
    BERTH_TRY(read_volume(data_root, name));
    const std::string root = root_of(data_root);
    const std::string gone = root + "/.remove-" + random_id().substr(0, 16);
    if (::rename((root + "/" + name).c_str(), gone.c_str()) != 0) return sys_error("remove volume " + name);
    return remove_all(gone);
}

json::object to_json(const std::string& data_root, const volume& v) {
    return json::object{{"CreatedAt", format_rfc3339_nano(v.created_ns)},
                        {"Driver", "local"},
                        {"Labels", v.labels},
                        {"Mountpoint", data_path(data_root, v.name)},
                        {"Name", v.name},
                        {"Options", v.options},
                        {"Scope", "local"}};
}

}  // namespace berth::volumes
