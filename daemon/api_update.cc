// POST /containers/{ref}/update: new resource limits and restart policy
// (engine::update_container); Docker's {"Warnings": [...] | null}.
#include "daemon/handlers.h"

namespace berth::api {

namespace json = boost::json;

awaitable<bool> containers_update(socket_t& s, request& req, engine& eng, container_ptr c) {
    auto body = json_object_body(req);
    if (!body) co_return co_await reply_error(s, req, body.err());
    auto r = co_await eng.update_container(c->id, std::move(*body));
    if (!r) co_return co_await reply_error(s, req, r.err());
    json::array warnings;
    for (auto& w : *r) warnings.emplace_back(w);
    json::object out;
    // Go's nil slice: null when there is nothing to say.
    if (warnings.empty()) out["Warnings"] = nullptr;
    else out["Warnings"] = std::move(warnings);
    co_return co_await reply_json(s, req, http::status::ok, out);
}

}  // namespace berth::api
