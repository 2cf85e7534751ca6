// POST /berth/containers/run?count=N&parallel=K&remove=BOOL (a berth
// extension): the body is a /containers/create body; N containers are
// created, started and waited for (removed with remove=1 or
// HostConfig.AutoRemove), and the answer is the batch's summary
// (engine/batch.h).
#include <thread>

#include "daemon/handlers.h"

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

}  // namespace

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
