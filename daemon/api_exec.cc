// docker exec over the API: POST /containers/{id}/exec, POST
// /exec/{id}/start (hijacked, or detached), GET /exec/{id}/json, POST
// /exec/{id}/resize.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/detach_keys.h"
#include "base/util.h"
#include "daemon/handlers.h"
#include "engine/config_util.h"

namespace berth::api {

using namespace asio::experimental::awaitable_operators;
namespace json = boost::json;

namespace {

// Output of the exec until it has exited and everything it wrote is sent.
awaitable<void> exec_output(socket_t& s, exec_ptr e, bool want_out, bool want_err) {
    std::uint64_t after = 0;
    for (;;) {
        std::string out;
        for (auto& x : e->output) {
            if (x.seq <= after) continue;
            after = x.seq;
            if ((x.is_err && !want_err) || (!x.is_err && !want_out)) continue;
            out += e->tty() ? x.text : stdcopy_frame(x.is_err ? 2 : 1, x.text);
        }
        if (!out.empty()) {
            boost::system::error_code ec;
            co_await asio::async_write(s, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
            if (ec) co_return;
            continue;
        }
        if (e->exited) co_return;
        co_await e->changed->wait();
    }
}

// The client's bytes to the exec's stdin; EOF closes it. With a terminal,
// the detach keys end the attachment (the process goes on). Completes only
// on detach (or cancellation): EOF is a half-close, output goes on.
awaitable<void> exec_input(socket_t& s, engine& eng, exec_ptr e, std::string detach_keys) {
    std::optional<escape_matcher> escape;
    if (e->tty()) escape.emplace(detach_keys);
    char buf[16384];
    for (;;) {
        while (eng.monitor_backlog() > (4u << 20)) {
            asio::steady_timer t(eng.loop(), std::chrono::milliseconds(5));
            co_await t.async_wait(use_awaitable);
        }
        boost::system::error_code ec;
        std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        std::string data(buf, n);
        bool detached = false;
        if (escape) data = escape->feed(data, detached);
        if (!data.empty()) eng.write_exec_stdin(*e, std::move(data), false);
        if (detached) co_return;
    }
    if (co_await cancelled()) co_return;
    eng.write_exec_stdin(*e, {}, true);
    async_event never(eng.loop().get_executor());
    co_await never.wait();
}

}  // namespace

awaitable<bool> exec_create(socket_t& s, request& req, engine& eng, const std::string& container_ref) {
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
        std::string why = "invalid JSON: request body is empty";
        if (!req.body.empty()) why = "invalid JSON: " + (ec ? ec.message() : std::string("expected an object"));
        co_return co_await reply_error(s, req, http::status::bad_request, why);
    }
    if (auto* dk = body.as_object().if_contains("DetachKeys"); dk && dk->is_string()) {
        auto keys = parse_detach_keys(dk->as_string());
        if (!keys) co_return co_await reply_error(s, req, keys.err());
    }
    auto r = co_await eng.create_exec(container_ref, std::move(body.as_object()));
    if (!r) co_return co_await reply_error(s, req, r.err());
    json::object out;
    out["Id"] = *r;
    co_return co_await reply_json(s, req, http::status::created, out);
}

awaitable<bool> exec_route(socket_t& s, request& req, engine& eng) {
    using v = http::verb;
    std::string rest = req.path.substr(6);  // after "/exec/"
    auto slash = rest.find('/');
    std::string id = rest.substr(0, slash);
    std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
    auto found = eng.find_exec(id);
    if (!found) co_return co_await reply_error(s, req, found.err());
    exec_ptr e = *found;

    if (action == "json" && req.method == v::get) co_return co_await reply_json(s, req, http::status::ok, eng.exec_json(*e));
    if (action == "resize" && req.method == v::post) {
        auto st = co_await eng.resize_exec(e, std::atoi(req.get("h").c_str()), std::atoi(req.get("w").c_str()));
        if (!st) co_return co_await reply_error(s, req, st.err());
        co_return co_await reply(s, req, http::status::ok, "", "text/plain");
    }
    if (action != "start" || req.method != v::post)
        co_return co_await reply_error(s, req, http::status::not_found, "page not found");

    json::object body;
    if (!req.body.empty()) {
        boost::system::error_code ec;
        auto parsed = json::parse(req.body, ec);
        if (ec || !parsed.is_object())
            co_return co_await reply_error(s, req, http::status::bad_request, "invalid JSON: " + req.body.substr(0, 100));
        body = std::move(parsed.as_object());
    }
    auto flag = [&](const char* k) {
        auto* x = body.if_contains(k);
        return x && x->is_bool() && x->as_bool();
    };
    unsigned short rows = 0, cols = 0;
    if (auto* cs = body.if_contains("ConsoleSize"); cs && cs->is_array() && cs->as_array().size() == 2) {
        rows = static_cast<unsigned short>(cs->as_array()[0].to_number<int>());
        cols = static_cast<unsigned short>(cs->as_array()[1].to_number<int>());
    }
    if (e->started) {
        std::string why = "Error: Exec command " + e->id + (e->running ? " is already running" : " has already run");
        co_return co_await reply_error(s, req, http::status::conflict, why);
    }
    auto keys = parse_detach_keys(str_field(e->config, "DetachKeys"));
    if (!keys) keys = parse_detach_keys("");

    if (flag("Detach")) {
        auto st = co_await eng.start_exec(e, rows, cols);
        if (!st) co_return co_await reply_error(s, req, st.err());
        co_return co_await reply(s, req, http::status::ok, "");
    }

    if (!co_await begin_hijack(s, req)) co_return false;
    auto st = co_await eng.start_exec(e, rows, cols);
    if (!st) {
        // As Docker: the error as text on the stream; the exit code (126 or
        // 127) is in /exec/{id}/json.
        std::string text = st.err().message + "\r\n";
        std::string framed = e->tty() ? text : stdcopy_frame(1, text);
        boost::system::error_code ec;
        co_await asio::async_write(s, asio::buffer(framed), asio::redirect_error(use_awaitable, ec));
    } else {
        bool want_out = bool_field(e->config, "AttachStdout"), want_err = bool_field(e->config, "AttachStderr");
        if (bool_field(e->config, "AttachStdin"))
            co_await (exec_output(s, e, want_out, want_err) || exec_input(s, eng, e, *keys));
        else
            co_await exec_output(s, e, want_out, want_err);
    }
    boost::system::error_code ignore;
    s.shutdown(asio::socket_base::shutdown_both, ignore);
    co_return false;
}

}  // namespace berth::api
