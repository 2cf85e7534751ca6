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

// Output of the exec until it has exited and everything it wrote is sent,
// or the client detached.
awaitable<void> exec_output(socket_t& s, exec_ptr e, bool want_out, bool want_err, const client_input* in) {
    std::uint64_t after = 0;
    for (;;) {
        if (in && in->detached) co_return;
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

}  // namespace

awaitable<void> copy_client_input(socket_t& s, engine& eng, client_input* in) {
    std::optional<escape_matcher> escape;
    if (in->detach_keys) escape.emplace(*in->detach_keys);
    char buf[16384];
    for (;;) {
        // Back-pressure: do not read the client faster than the monitor takes it.
        while (eng.monitor_backlog() > (4u << 20) && !in->output_done) {
            asio::steady_timer t(eng.loop(), std::chrono::milliseconds(5));
            co_await t.async_wait(use_awaitable);
        }
        boost::system::error_code ec;
        std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
        if (ec || in->output_done) break;
        std::string data(buf, n);
        bool detached = false;
        if (escape) data = escape->feed(data, detached);
        if (!data.empty()) in->write(std::move(data));
        if (detached) {
            in->detached = true;
            in->wake();
            in->finished.set();
            co_return;
        }
    }
    if (!in->output_done) in->close();
    in->finished.set();
}

awaitable<bool> exec_create(socket_t& s, request& req, engine& eng, const std::string& container_ref) {
    auto body = json_object_body(req);
    if (!body) co_return co_await reply_error(s, req, body.err());
    if (auto* dk = body->if_contains("DetachKeys"); dk && dk->is_string()) {
        auto keys = parse_detach_keys(dk->as_string());
        if (!keys) co_return co_await reply_error(s, req, keys.err());
    }
    auto r = co_await eng.create_exec(container_ref, std::move(*body));
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

    json::object body;  // optional: {Detach, Tty, ConsoleSize}
    if (!req.body.empty()) {
        auto parsed = json_object_body(req);
        if (!parsed) co_return co_await reply_error(s, req, parsed.err());
        body = std::move(*parsed);
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
        bool want_in = bool_field(e->config, "AttachStdin");
        client_input in(eng.loop().get_executor());
        if (e->tty()) in.detach_keys = *keys;
        in.write = [&eng, e](std::string data) { eng.write_exec_stdin(*e, std::move(data), false); };
        in.close = [&eng, e] { eng.write_exec_stdin(*e, {}, true); };
        in.wake = [e] { e->changed->notify(); };
        if (want_in) asio::co_spawn(eng.loop(), copy_client_input(s, eng, &in), asio::detached);
        co_await exec_output(s, e, want_out, want_err, &in);
        in.output_done = true;
        boost::system::error_code ignore;
        s.shutdown(asio::socket_base::shutdown_both, ignore);
        if (want_in) co_await in.finished.wait();
        co_return false;
    }
    boost::system::error_code ignore;
    s.shutdown(asio::socket_base::shutdown_both, ignore);
    co_return false;
}

}  // namespace berth::api
