// POST /berth/containers/run?count=N&parallel=K&remove=BOOL&rate=R (a berth
// extension): the body is a /containers/create body; N containers are
// created, started and waited for (removed with remove=1 or
// HostConfig.AutoRemove), `parallel` at a time, or open loop at `rate` per
// second (latency counted from each one's due time), and the answer is the batch's summary
// (engine/batch.h).
//
// Warm pools (engine/pool.cc), also berth extensions:
//   GET    /berth/pools                 [{Image, ImageID, Size, Ready, Preparing, Taken, Failed, LastError}]
//   POST   /berth/pools                 {Image, Size, Wait}: sets the image's pool (Size 0 removes it);
//                                       with Wait, answers once it is full
//   DELETE /berth/pools/{image}         removes the image's pool (its parked sandboxes are killed)
#include <thread>

#include "base/util.h"
#include "daemon/handlers.h"
#include "engine/cgroup/manager.h"

namespace berth::api {

namespace json = boost::json;

namespace {

result<int> positive_query(const request& req, const char* key, int fallback) {
    std::string v = req.get(key);
    if (v.empty()) return fallback;
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > 1000000)
        return make_error(errc::invalid_argument, std::string("invalid ") + key + " " + v + ": a number from 1 up");
    return static_cast<int>(n);
}

json::object pool_json(const pool_info& p) {
    return {{"Image", p.image_ref}, {"ImageID", p.image_id},         {"Size", p.size},
            {"Ready", p.ready},     {"Preparing", p.preparing},     {"Taken", p.taken},
            {"Failed", p.failed},   {"LastError", p.last_error},   {"Commands", p.commands}};
}

}  // namespace

awaitable<bool> pools_route(socket_t& s, request& req, engine& eng) {
    const std::string& p = req.path;
    if (p == "/berth/pools" && req.method == http::verb::get) {
        json::array out;
        for (const auto& info : eng.pools()) out.push_back(pool_json(info));
        co_return co_await reply_json(s, req, http::status::ok, out);
    }
    if (p == "/berth/pools" && req.method == http::verb::post) {
        auto body = json_object_body(req);
        if (!body) co_return co_await reply_error(s, req, body.err());
        auto* image = body->if_contains("Image");
        auto* size = body->if_contains("Size");
        auto* wait = body->if_contains("Wait");
        if (!image || !image->is_string() || image->as_string().empty())
            co_return co_await reply_error(s, req, make_error(errc::invalid_argument, "Image is required"));
        if (!size || !size->is_int64())
            co_return co_await reply_error(s, req, make_error(errc::invalid_argument, "Size must be a number"));
        auto n = size->as_int64();
        int clamped = n < 0 ? -1 : n > 1000000 ? 1000000 : static_cast<int>(n);
        auto out = co_await eng.set_pool(std::string(image->as_string()), clamped,
                                         wait && wait->is_bool() && wait->as_bool());
        if (!out) co_return co_await reply_error(s, req, out.err());
        co_return co_await reply_json(s, req, http::status::ok, pool_json(*out));
    }
    if (starts_with(p, "/berth/pools/") && req.method == http::verb::delete_) {
        auto out = co_await eng.set_pool(p.substr(13), 0, false);
        if (!out) co_return co_await reply_error(s, req, out.err());
        co_return co_await reply(s, req, http::status::no_content, "");
    }
    co_return co_await reply_error(s, req, make_error(errc::not_found, "page not found"));
}

awaitable<bool> spares_route(socket_t& s, request& req, engine& eng) {
    // What berth keeps for the next containers: the spare cgroups' names
    // (engine/cgroup/manager.h) and the spare directories' in
    // <data-root>/containers (engine/container_dirs.h), which look like
    // containers' ids where a spare cgroup and directory go together.
    json::array cgroups;
    for (auto& name : eng.cgroups().spare_names()) cgroups.emplace_back(name);
    json::array dirs;
    for (auto& name : eng.spare_directories()) dirs.emplace_back(name);
    json::object out;
    out["Cgroups"] = std::move(cgroups);
    out["Directories"] = std::move(dirs);
    co_return co_await reply_json(s, req, http::status::ok, out);
}

awaitable<bool> containers_run_batch(socket_t& s, request& req, engine& eng) {
    auto body = json_object_body(req);
    if (!body) co_return co_await reply_error(s, req, body.err());
    batch_options opts;
    auto count = positive_query(req, "count", 1);
    if (!count) co_return co_await reply_error(s, req, count.err());
    // Default: two starts in flight per core keep the monitor and the
    // workers busy without queueing every container at once.
    int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto parallel = positive_query(req, "parallel", 2 * cores);
    if (!parallel) co_return co_await reply_error(s, req, parallel.err());
    opts.count = *count;
    opts.parallel = *parallel;
    if (std::string rate = req.get("rate"); !rate.empty()) {
        char* end = nullptr;
        opts.rate = std::strtod(rate.c_str(), &end);
        if (*end != '\0' || !(opts.rate > 0) || opts.rate > 1e6)
            co_return co_await reply_error(s, req, make_error(errc::invalid_argument,
                                                              "invalid rate " + rate + ": containers per second, above 0"));
    }
    std::string remove = req.get("remove");
    opts.remove = remove == "1" || remove == "true";
    if (auto* hc = body->if_contains("HostConfig"); hc && hc->is_object()) {
        auto* ar = hc->as_object().if_contains("AutoRemove");
        opts.remove = opts.remove || (ar && ar->is_bool() && ar->as_bool());
    }
    auto out = co_await eng.run_batch(std::move(*body), opts);
    if (!out) co_return co_await reply_error(s, req, out.err());
    co_return co_await reply_json(s, req, http::status::ok, batch_summary(*out, opts.remove));
}

}  // namespace berth::api
