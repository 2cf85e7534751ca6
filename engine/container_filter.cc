#include "engine/container_filter.h"

#include <algorithm>
#include <charconv>

#include "base/util.h"
#include "engine/config_util.h"
#include "engine/mount_config.h"

namespace berth {

namespace json = boost::json;

namespace {

// moby's acceptedPsFilterTags (API 1.41).
const std::set<std::string, std::less<>> accepted_keys = {
    "ancestor", "before", "exited", "id", "isolation", "label", "name", "status",
    "health", "since", "volume", "network", "is-task", "publish", "expose",
};

const std::set<std::string, std::less<>> valid_states = {"paused", "restarting", "removing", "running",
                                                         "dead",   "created",    "exited"};
const std::set<std::string, std::less<>> valid_health = {"starting", "healthy", "unhealthy", "none"};

// "<port>[-<port>][/<proto>]", as nat.ParsePortRange after SplitProtoPort.
bool valid_port_filter(std::string_view v) {
    auto slash = v.find('/');
    std::string_view range = v.substr(0, slash);
    auto valid_port = [](std::string_view p) {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
        return !p.empty() && ec == std::errc() && end == p.data() + p.size() && n <= 65535;
    };
    auto dash = range.find('-');
    if (dash == std::string_view::npos) return valid_port(range);
    return valid_port(range.substr(0, dash)) && valid_port(range.substr(dash + 1));
}

// Docker's invalidFilter: "Invalid filter 'key'" or "Invalid filter 'key=value'".
error invalid_filter(std::string_view key, std::string_view value = {}) {
    std::string m = "Invalid filter '" + std::string(key);
    if (!value.empty()) m += "=" + std::string(value);
    return make_error(errc::invalid_argument, m + "'");
}

// idOrNameFilter: a name (with or without its "/"), a full id, or an id
// prefix that names one container.
result<container_ptr> find_by_id_or_name(const std::vector<container_ptr>& all, std::string_view ref) {
    std::string_view name = ref;
    if (!name.empty() && name[0] == '/') name.remove_prefix(1);
    for (auto& c : all)
        if (c->id == ref || c->name == name) return c;
    container_ptr found;
    for (auto& c : all) {
        if (ref.empty() || !starts_with(c->id, ref)) continue;
        if (found) return make_error(errc::invalid_argument, "multiple IDs found with provided prefix: " + std::string(ref));
        found = c;
    }
    if (!found) return make_error(errc::not_found, "No such container: " + std::string(ref));
    return found;
}

std::map<std::string, std::string> labels_of(const container& c) {
    std::map<std::string, std::string> out;
    if (auto* l = c.config.if_contains("Labels"); l && l->is_object())
        for (auto& [k, v] : l->as_object()) out[std::string(k)] = v.is_string() ? std::string(v.as_string()) : "";
    return out;
}

// The sources and destinations of the container's mounts (binds and Mounts).
// moby's "volume" filter: a mount's volume name (or a bind's source) or
// its destination, anonymous volumes and --volumes-from mounts included.
std::set<std::string> mount_names(const container& c) {
    std::set<std::string> out;
    for (const auto& m : mount_points_json(c.host_config, std::string())) {
        const auto& o = m.as_object();
        std::string name = str_field(o, "Name");
        out.insert(name.empty() ? str_field(o, "Source") : name);
        out.insert(str_field(o, "Destination"));
    }
    out.erase(std::string());
    return out;
}

}  // namespace

result<filter_args> parse_filter_args(std::string_view text) {
    filter_args out;
    if (text.empty()) return out;
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object())
        return make_error(errc::invalid_argument, "invalid filters " + std::string(text) + ": " +
                                                      (ec ? ec.message() : std::string("not a JSON object")));
    for (auto& [k, vals] : v.as_object()) {
        auto& set = out[std::string(k)];
        if (vals.is_object()) {
            for (auto& kv : vals.as_object()) set.insert(std::string(kv.key()));
        } else if (vals.is_array()) {
            for (auto& name : vals.as_array()) {
                if (!name.is_string())
                    return make_error(errc::invalid_argument, "invalid filters: the values of '" + std::string(k) +
                                                                  "' must be strings");
                set.insert(std::string(name.as_string()));
            }
        } else if (!vals.is_null()) {
            return make_error(errc::invalid_argument,
                              "invalid filters: '" + std::string(k) + "' must map to a set or a list of values");
        }
    }
    return out;
}

bool container_running(const container& c) { return c.running() || c.restarting; }

std::string container_state(const container& c) {
    if (c.running()) return c.paused ? "paused" : "running";
    if (c.restarting) return "restarting";
    if (c.status == "removing") return "removing";
    if (c.status == "dead") return "dead";
    if (c.started_ns == 0 && c.finished_ns == 0) return "created";
    return "exited";
}

result<container_filter> container_filter::make(const container_list_options& o,
                                                const std::vector<container_ptr>& containers,
                                                const image_resolver& resolve_image) {
    container_filter f;
    f._all = o.all;
    f._limit = o.limit;
    f._f = o.filters;
    for (auto& [key, values] : f._f)
        if (!accepted_keys.count(key)) return invalid_filter(key);
    auto values = [&](const char* key) -> const std::set<std::string>& {
        static const std::set<std::string> none;
        auto it = f._f.find(key);
        return it == f._f.end() ? none : it->second;
    };

    for (auto& v : values("exited")) {
        int code = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), code);
        if (v.empty() || ec != std::errc() || end != v.data() + v.size())
            return make_error(errc::invalid_argument, "strconv.Atoi: parsing \"" + v + "\": invalid syntax");
        f._exited.push_back(code);
    }
    for (auto& v : values("status")) {
        if (!valid_states.count(v)) return invalid_filter("status", v);
        f._all = true;  // moby: a status filter lists stopped containers too
    }
    if (auto& t = values("is-task"); !t.empty()) {
        if (t.size() == 1 && *t.begin() == "true") f._is_task = true;
        else if (t.size() == 1 && *t.begin() == "false") f._is_task = false;
        else {
            std::string joined;
            for (auto& v : t) joined += (joined.empty() ? "" : " ") + v;
            return invalid_filter("is-task", "[" + joined + "]");
        }
    }
    for (auto& v : values("health"))
        if (!valid_health.count(v))
            return make_error(errc::invalid_argument, "Unrecognised filter value for health: " + v);
    for (const char* key : {"publish", "expose"})
        for (auto& v : values(key)) {
            if (v.find(':') != std::string::npos)
                return make_error(errc::invalid_argument,
                                  std::string("filter for '") + key + "' should not contain ':': " + v);
            if (!valid_port_filter(v))
                return make_error(errc::invalid_argument,
                                  std::string("error while looking up for ") + key + " " + v + ": invalid port range");
        }

    // before/since: the filter values win over the deprecated parameters.
    std::string before = o.before, since = o.since;
    for (auto& v : values("before")) before = v;
    for (auto& v : values("since")) since = v;
    if (!before.empty()) {
        BERTH_ASSIGN(container_ptr c, find_by_id_or_name(containers, before));
        f._before_id = c->id;
    }
    if (!since.empty()) {
        BERTH_ASSIGN(container_ptr c, find_by_id_or_name(containers, since));
        f._since_id = c->id;
    }

    // A name value is a regular expression searched in the name (Go's
    // regexp.MatchString); one that does not compile matches nothing.
    for (auto& v : values("name")) {
        try {
            f._names.emplace_back(v, std::regex::ECMAScript);
        } catch (const std::regex_error&) {
        }
    }
    // An id value is a prefix that must name exactly one container (moby's
    // truncindex: an ambiguous prefix matches none).
    for (auto& v : values("id")) {
        std::string hit;
        int n = 0;
        for (auto& c : containers)
            if (!v.empty() && starts_with(c->id, v)) {
                hit = c->id;
                ++n;
            }
        if (n == 1) f._ids.push_back(hit);
    }
    // Unknown images are skipped (Docker logs a warning); when none is
    // known the ancestor filter matches nothing.
    for (auto& v : values("ancestor"))
        if (auto id = resolve_image(v)) f._images.insert(*id);
    return f;
}

bool container_filter::matches(const container& c) const {
    bool running = container_running(c);
    if (!running && !_all && _limit <= 0) return false;
    auto has = [&](const char* key) {
        auto it = _f.find(key);
        return it != _f.end() && !it->second.empty();
    };
    auto values = [&](const char* key) -> const std::set<std::string>& { return _f.at(key); };

    if (has("name")) {
        std::string slashed = "/" + c.name;
        bool hit = std::any_of(_names.begin(), _names.end(), [&](const std::regex& re) {
            return std::regex_search(c.name, re) || std::regex_search(slashed, re);
        });
        if (!hit) return false;
    }
    if (has("id") && std::find(_ids.begin(), _ids.end(), c.id) == _ids.end()) return false;
    if (_is_task && *_is_task) return false;  // berth runs no swarm tasks
    if (has("label")) {
        auto labels = labels_of(c);
        for (auto& v : values("label")) {
            auto eq = v.find('=');
            auto it = labels.find(v.substr(0, eq));
            if (it == labels.end()) return false;
            if (eq != std::string::npos && it->second != v.substr(eq + 1)) return false;
        }
    }
    if (!_exited.empty()) {
        bool started = c.started_ns != 0 || c.finished_ns != 0;
        if (running || !started || std::find(_exited.begin(), _exited.end(), c.exit_code) == _exited.end())
            return false;
    }
    if (has("status") && !values("status").count(container_state(c))) return false;
    // Docker: "none" for a container without a running healthcheck.
    if (has("health") && !values("health").count(c.health && running ? c.health->status : std::string("none")))
        return false;
    if (has("volume")) {
        auto mounts = mount_names(c);
        auto& want = values("volume");
        if (std::none_of(want.begin(), want.end(), [&](const std::string& v) { return mounts.count(v) > 0; }))
            return false;
    }
    if (_f.count("ancestor") && !_images.count(c.image_id)) return false;
    if (has("network")) {
        std::string net = str_field(c.host_config, "NetworkMode");
        if (net.empty() || net == "default") net = "none";
        if (!values("network").count(net)) return false;
    }
    if (has("publish") || has("expose")) return false;  // no ports are published or exposed
    return true;
}

std::vector<container_ptr> container_filter::select(const std::vector<container_ptr>& newest_first) const {
    std::vector<container_ptr> out;
    bool skipping = !_before_id.empty();
    for (auto& c : newest_first) {
        if (skipping) {
            if (c->id == _before_id) skipping = false;
            continue;
        }
        if (!_since_id.empty() && c->id == _since_id) break;
        if (!matches(*c)) continue;
        if (_limit > 0 && int(out.size()) == _limit) break;
        out.push_back(c);
    }
    return out;
}

}  // namespace berth
