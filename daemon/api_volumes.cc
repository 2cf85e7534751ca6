// The /volumes endpoints (local driver only): list, create, inspect,
// remove (409 while a container uses the volume), prune. The store is on
// disk (engine/volumes.h): every call runs on a worker.
#include <algorithm>

#include "base/util.h"
#include "daemon/handlers.h"
#include "engine/config_util.h"
#include "engine/container_filter.h"
#include "engine/mount_config.h"
#include "engine/volumes.h"

namespace berth::api {

namespace json = boost::json;

namespace {

// The ids of the containers (any state) whose HostConfig names the volume.
std::vector<std::string> users_of(engine& eng, const std::string& name) {
    std::vector<std::string> ids;
    for (const auto& c : eng.containers()) {
        auto names = volume_names_of(c->host_config);
        if (std::find(names.begin(), names.end(), name) != names.end()) ids.push_back(c->id);
    }
    return ids;
}

bool has_label(const volumes::volume& v, const std::string& want) {
    auto eq = want.find('=');
    const json::value* l = v.labels.if_contains(want.substr(0, eq));
    if (!l) return false;
    return eq == std::string::npos || (l->is_string() && l->as_string() == want.substr(eq + 1));
}

awaitable<bool> volumes_list(socket_t& s, request& req, engine& eng) {
    auto filters = parse_filter_args(req.get("filters"));
    if (!filters) co_return co_await reply_error(s, req, filters.err());
    for (const auto& [k, vals] : *filters)
        if (k != "name" && k != "dangling" && k != "label" && k != "driver")
            co_return co_await reply_error(s, req, http::status::bad_request, "invalid filter '" + k + "'");
    auto job = [root = eng.options().data_root] { return volumes::list(root); };
    auto all = co_await eng.workers().run(offload_reason::filesystem, std::move(job));
    if (!all) co_return co_await reply_error(s, req, all.err());
    json::array out;
    for (const auto& v : *all) {
        bool keep = true;
        for (const auto& [k, vals] : *filters)
            for (const auto& want : vals) {
                if (k == "name") keep = keep && v.name.find(want) != std::string::npos;
                if (k == "driver") keep = keep && want == "local";
                if (k == "label") keep = keep && has_label(v, want);
                if (k == "dangling") keep = keep && (users_of(eng, v.name).empty() == (want == "true" || want == "1"));
            }
        if (keep) out.push_back(volumes::to_json(eng.options().data_root, v));
    }
    json::object body{{"Volumes", std::move(out)}, {"Warnings", nullptr}};
    co_return co_await reply_json(s, req, http::status::ok, body);
}

awaitable<bool> volumes_create(socket_t& s, request& req, engine& eng) {
    auto body = json_object_body(req);
    if (!body) co_return co_await reply_error(s, req, body.err());
    std::string name = str_field(*body, "Name");
    if (name.empty()) name = random_id();
    std::string driver = str_field(*body, "Driver");
    if (!driver.empty() && driver != "local")
        co_return co_await reply_error(s, req, http::status::not_found, "plugin \"" + driver + "\" not found");
    json::object labels, options;
    if (auto* o = body->if_contains("DriverOpts"); o && o->is_object()) options = o->as_object();
    if (auto* l = body->if_contains("Labels"); l && l->is_object()) labels = l->as_object();
    auto job = [root = eng.options().data_root, name, labels = std::move(labels), options = std::move(options)]() mutable {
        return volumes::create(root, name, std::move(labels), std::move(options));
    };
    auto made = co_await eng.workers().run(offload_reason::filesystem, std::move(job));
    if (!made) co_return co_await reply_error(s, req, made.err());
    co_return co_await reply_json(s, req, http::status::created, volumes::to_json(eng.options().data_root, *made));
}

awaitable<bool> volumes_prune(socket_t& s, request& req, engine& eng) {
    auto filters = parse_filter_args(req.get("filters"));
    if (!filters) co_return co_await reply_error(s, req, filters.err());
    // API 1.42 and later prune anonymous volumes only unless all=true (an
    // older API prunes every unused volume).
    bool all = !req.version.empty() && std::stod(req.version) < 1.42;
    std::vector<std::string> labels;
    for (const auto& [k, vals] : *filters) {
        if (k == "all") {
            for (const auto& v : vals) all = all || v == "true" || v == "1";
        } else if (k == "label") {
            labels.assign(vals.begin(), vals.end());
        } else {
            co_return co_await reply_error(s, req, http::status::bad_request, "invalid filter '" + k + "'");
        }
    }
    json::array deleted;
    {
        auto job = [root = eng.options().data_root] { return volumes::list(root); };
        auto vols = co_await eng.workers().run(offload_reason::filesystem, std::move(job));
        if (!vols) co_return co_await reply_error(s, req, vols.err());
        std::vector<std::string> unused;
        for (const auto& v : *vols) {
            bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& l) { return has_label(v, l); });
            match = match && (all || v.labels.contains(anonymous_volume_label));
            if (match && users_of(eng, v.name).empty()) unused.push_back(v.name);
        }
        auto rm = [root = eng.options().data_root, unused]() {
            std::vector<std::string> gone;
            for (const auto& n : unused)
                if (volumes::remove(root, n)) gone.push_back(n);
            return gone;
        };
        auto gone = co_await eng.workers().run(offload_reason::filesystem, std::move(rm));
        for (const auto& n : gone) deleted.emplace_back(n);
    }
    json::object out;
    out["VolumesDeleted"] = deleted.empty() ? json::value(nullptr) : json::value(std::move(deleted));
    out["SpaceReclaimed"] = 0;
    co_return co_await reply_json(s, req, http::status::ok, out);
}

}  // namespace

awaitable<bool> volumes_route(socket_t& s, request& req, engine& eng) {
    using v = http::verb;
    const std::string& p = req.path;
    const auto m = req.method;
    if (p == "/volumes" && m == v::get) co_return co_await volumes_list(s, req, eng);
    if (p == "/volumes/create" && m == v::post) co_return co_await volumes_create(s, req, eng);
    if (p == "/volumes/prune" && m == v::post) co_return co_await volumes_prune(s, req, eng);
    const std::string name = p.size() > 9 ? url_decode(p.substr(9)) : std::string();
    if (name.empty() || name.find('/') != std::string::npos)
        co_return co_await reply_error(s, req, http::status::not_found, "page not found");
    if (m == v::get) {
        auto job = [root = eng.options().data_root, name] { return volumes::get(root, name); };
        auto got = co_await eng.workers().run(offload_reason::filesystem, std::move(job));
        if (!got) co_return co_await reply_error(s, req, got.err());
        co_return co_await reply_json(s, req, http::status::ok, volumes::to_json(eng.options().data_root, *got));
    }
    if (m == v::delete_) {
        auto users = users_of(eng, name);
        if (!users.empty()) {
            std::string list;
            for (const auto& id : users) list += (list.empty() ? "" : ", ") + id;
            co_return co_await reply_error(s, req, http::status::conflict,
                                           "remove " + name + ": volume is in use - [" + list + "]");
        }
        auto job = [root = eng.options().data_root, name] { return volumes::remove(root, name); };
        auto gone = co_await eng.workers().run(offload_reason::filesystem, std::move(job));
        if (!gone && !(gone.err().code == errc::not_found && req.flag("force")))
            co_return co_await reply_error(s, req, gone.err());
        co_return co_await reply(s, req, http::status::no_content, "");
    }
    co_return co_await reply_error(s, req, http::status::not_found, "page not found");
}

}  // namespace berth::api
