// POST /containers/{ref}/update: new resource limits and restart policy
// (engine::update_container); Docker's {"Warnings": [...] | null}.
#include "daemon/handlers.h"

namespace berth::api {

namespace json = boost::json;

awaitable<bool> containers_update(socket_t& s, request& req, engine& eng, container_ptr c) {
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
        std::string why = "invalid JSON: request body is empty";
        if (!req.body.empty()) why = "invalid JSON: " + (ec ? ec.message() : std::string("expected an object"));
        co_return co_await reply_error(s, req, http::status::bad_request, why);
    }
    auto r = co_await eng.update_container(c->id, std::move(body.as_object()));
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
