#include "cli/mount_flag.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "base/util.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

error invalid(const std::string& value, const std::string& why) {
    return make_error(errc::invalid_argument, "invalid argument \"" + value + "\" for \"--mount\" flag: " + why);
}

// Go's strconv.ParseBool.
bool parse_bool(std::string v, bool& out) {
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (v == "1" || v == "t" || v == "true") return out = true, true;
    if (v == "0" || v == "f" || v == "false") return out = false, true;
    return false;
}

}  // namespace

result<json::object> parse_mount_flag(const std::string& value) {
    json::object m{{"Type", "volume"}};
    json::object bind_opts, volume_opts, tmpfs_opts;
    for (const auto& field : split(value, ',')) {
        if (field.empty()) continue;
        const auto eq = field.find('=');
        std::string key = field.substr(0, eq);
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (eq == std::string::npos) {
            if (key == "readonly" || key == "ro") {
                m["ReadOnly"] = true;
                continue;
            }
            if (key == "volume-nocopy") {
                volume_opts["NoCopy"] = true;
                continue;
            }
            return invalid(value, "invalid field '" + field + "' must be a key=value pair");
        }
        const std::string val = field.substr(eq + 1);
        if (key == "type") {
            m["Type"] = val;
        } else if (key == "source" || key == "src") {
            m["Source"] = val;
        } else if (key == "target" || key == "dst" || key == "destination") {
            m["Target"] = val;
        } else if (key == "readonly" || key == "ro") {
            bool b = false;
            if (!parse_bool(val, b)) return invalid(value, "invalid value for " + key + ": " + val);
            m["ReadOnly"] = b;
        } else if (key == "consistency") {
            m["Consistency"] = val;
        } else if (key == "bind-propagation") {
            bind_opts["Propagation"] = val;
        } else if (key == "bind-nonrecursive") {
            bool b = false;
            if (!parse_bool(val, b)) return invalid(value, "invalid value for " + key + ": " + val);
            bind_opts["NonRecursive"] = b;
        } else if (key == "volume-nocopy") {
            bool b = false;
            if (!parse_bool(val, b)) return invalid(value, "invalid value for " + key + ": " + val);
            volume_opts["NoCopy"] = b;
        } else if (key == "volume-driver") {
            volume_opts["DriverConfig"] = json::object{{"Name", val}};
        } else if (key == "volume-label" || key == "volume-opt") {
            const auto eq2 = val.find('=');
            const char* where = key == "volume-label" ? "Labels" : "DriverConfig";
            if (key == "volume-label") {
                if (!volume_opts.contains("Labels")) volume_opts["Labels"] = json::object{};
                volume_opts["Labels"].as_object()[val.substr(0, eq2)] =
                    eq2 == std::string::npos ? std::string() : val.substr(eq2 + 1);
            } else {
                if (!volume_opts.contains(where)) volume_opts[where] = json::object{};
                auto& dc = volume_opts[where].as_object();
                if (!dc.contains("Options")) dc["Options"] = json::object{};
                dc["Options"].as_object()[val.substr(0, eq2)] =
                    eq2 == std::string::npos ? std::string() : val.substr(eq2 + 1);
            }
        } else if (key == "tmpfs-size") {
            // docker's RAMInBytes: the API takes bytes.
            auto bytes = parse_ram_bytes(val);
            if (!bytes) return invalid(value, "invalid value for " + key + ": " + val);
            tmpfs_opts["SizeBytes"] = *bytes;
        } else if (key == "tmpfs-mode") {
            // Octal, as docker reads it (strconv.ParseUint(val, 8, 32)).
            char* end = nullptr;
            errno = 0;
            unsigned long mode = val.empty() ? 0 : std::strtoul(val.c_str(), &end, 8);
            if (val.empty() || errno != 0 || *end != '\0' || val[0] == '-' || val[0] == '+' || mode > 0xffffffffUL)
                return invalid(value, "invalid value for " + key + ": " + val);
            tmpfs_opts["Mode"] = static_cast<std::uint64_t>(mode);
        } else {
            return invalid(value, "unexpected key '" + key + "' in '" + field + "'");
        }
    }
    if (m["Type"].as_string().empty()) return invalid(value, "type is required");
    if (!m.contains("Target")) return invalid(value, "target is required");
    const std::string type(m["Type"].as_string());
    if (!volume_opts.empty() && type != "volume")
        return invalid(value, "cannot mix 'volume-*' options with mount type '" + type + "'");
    if (!bind_opts.empty() && type != "bind")
        return invalid(value, "cannot mix 'bind-*' options with mount type '" + type + "'");
    if (!tmpfs_opts.empty() && type != "tmpfs")
        return invalid(value, "cannot mix 'tmpfs-*' options with mount type '" + type + "'");
    if (!bind_opts.empty()) m["BindOptions"] = std::move(bind_opts);
    if (!volume_opts.empty()) m["VolumeOptions"] = std::move(volume_opts);
    if (!tmpfs_opts.empty()) m["TmpfsOptions"] = std::move(tmpfs_opts);
    return m;
}

}  // namespace berth::cli
