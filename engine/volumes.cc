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
    return out;
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

std::string data_path(const std::string& data_root, const std::string& name) {
    return root_of(data_root) + "/" + name + "/_data";
}

result<volume> create(const std::string& data_root, const std::string& name, json::object labels) {
    BERTH_TRY(check_name(name));
    if (auto existing = read_volume(data_root, name); existing || existing.err().code != errc::not_found)
        return existing;
    const std::string root = root_of(data_root);
    const std::string stage = root + "/.stage-" + random_id().substr(0, 16);
    BERTH_TRY(make_dirs(stage + "/_data", 0755));
    volume v{name, now_ns(), std::move(labels)};
    json::object meta{{"Name", name}, {"CreatedAt", format_rfc3339_nano(v.created_ns)}, {"Labels", v.labels}};
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
                        {"Options", json::object{}},
                        {"Scope", "local"}};
}

}  // namespace berth::volumes
