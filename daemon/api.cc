// Routing of the Docker Engine API onto the engine. One coroutine per
// connection; HTTP/1.1 keep-alive; hijacked attach; chunked streams.
#include "daemon/api.h"

#include <signal.h>
#include <sys/stat.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/log.h"
#include "base/util.h"
#include "base/detach_keys.h"
#include "daemon/handlers.h"
#include "daemon/http.h"
#include "engine/engine.h"
#include "engine/monitor/json_log.h"

namespace berth {

using namespace api;
using namespace asio::experimental::awaitable_operators;
namespace json = boost::json;

namespace {

}  // namespace

struct api_server::impl {
    impl(asio::io_context& l, engine& e) : loop(l), eng(e), acceptor(l) {}
    asio::io_context& loop;
    engine& eng;
    asio::local::stream_protocol::acceptor acceptor;
    std::string upload_dir;

    awaitable<void> accept_loop();
    awaitable<void> serve(socket_t s);
    // Returns false when the connection must close.
    awaitable<bool> route(socket_t& s, request& req);

    awaitable<bool> containers_create(socket_t& s, request& req);
    awaitable<bool> containers_wait(socket_t& s, request& req, container_ptr c);
    awaitable<bool> containers_attach(socket_t& s, request& req, container_ptr c);
    awaitable<bool> containers_logs(socket_t& s, request& req, container_ptr c);
    awaitable<void> attach_output(socket_t& s, container_ptr c, std::uint64_t after, std::uint64_t exits_at_attach,
                                  bool want_out, bool want_err, bool tty, const client_input* in);
    awaitable<bool> images_create(socket_t& s, request& req);
    awaitable<bool> events_stream(socket_t& s, request& req);
    awaitable<bool> images_load(socket_t& s, request& req);
};

api_server::api_server(asio::io_context& loop, engine& eng) : _p(std::make_unique<impl>(loop, eng)) {
    _p->upload_dir = eng.options().data_root + "/tmp";
}
api_server::~api_server() = default;

status api_server::listen(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) BERTH_TRY(make_dirs(path.substr(0, slash), 0755));
    ::unlink(path.c_str());
    boost::system::error_code ec;
    asio::local::stream_protocol::endpoint ep(path);
    _p->acceptor.open(ep.protocol(), ec);
    if (!ec) _p->acceptor.bind(ep, ec);
    if (!ec) _p->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error(errc::unavailable, "listen on " + path + ": " + ec.message());
    ::fcntl(_p->acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
    ::chmod(path.c_str(), 0660);
    return ok();
}

void api_server::start() { asio::co_spawn(_p->loop, _p->accept_loop(), asio::detached); }

awaitable<void> api_server::impl::accept_loop() {
    for (;;) {
        boost::system::error_code ec;
        socket_t s = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            continue;
        }
        ::fcntl(s.native_handle(), F_SETFD, FD_CLOEXEC);
        asio::co_spawn(loop, serve(std::move(s)), asio::detached);
    }
}

awaitable<void> api_server::impl::serve(socket_t s) {
    beast::flat_buffer buf;
    for (;;) {
        boost::system::error_code ec;
        http::request_parser<http::empty_body> hp;
        hp.header_limit(64 * 1024);
        co_await http::async_read_header(s, buf, hp, asio::redirect_error(use_awaitable, ec));
        if (ec) co_return;
        request req;
        auto& h = hp.get();
        req.method = h.method();
        req.target = std::string(h.target());
        req.keep_alive = h.keep_alive();
        req.http_version = h.version();
        auto conn = h[http::field::connection];
        req.upgrade = beast::iequals(conn, "upgrade") || !h[http::field::upgrade].empty();
        bool ok_target = parse_target(req.target, req);
        bool upload = req.method == http::verb::post &&
                      ((req.path == "/images/create" && req.query.count("fromSrc")) || req.path == "/images/load");
        // docker cp into a container: PUT /containers/{id}/archive.
        upload = upload || (req.method == http::verb::put && starts_with(req.path, "/containers/") &&
                            req.path.ends_with("/archive"));
        if (upload) {
            // Large archives go to disk as they arrive, not into memory.
            http::request_parser<http::file_body> fp{std::move(hp)};
            fp.body_limit(boost::none);
            req.body_file = upload_dir + "/upload-" + random_id().substr(0, 16);
            (void)make_dirs(upload_dir, 0700);
            fp.get().body().open(req.body_file.c_str(), beast::file_mode::write, ec);
            if (!ec) co_await http::async_read(s, buf, fp, asio::redirect_error(use_awaitable, ec));
            if (ec) {
                ::unlink(req.body_file.c_str());
                co_await reply_error(s, req, http::status::bad_request, "read request body: " + ec.message());
                co_return;
            }
            fp.get().body().close();
        } else {
            http::request_parser<http::string_body> sp{std::move(hp)};
            sp.body_limit(16 * 1024 * 1024);
            co_await http::async_read(s, buf, sp, asio::redirect_error(use_awaitable, ec));
            if (ec) {
                if (ec != http::error::end_of_stream)
                    co_await reply_error(s, req, http::status::bad_request, "read request: " + ec.message());
                co_return;
            }
            req.body = std::move(sp.get().body());
        }
        bool keep;
        if (!ok_target) {
            keep = co_await reply_error(s, req, http::status::bad_request, "malformed API version in " + req.target);
        } else {
            keep = co_await route(s, req);
        }
        if (!req.body_file.empty()) ::unlink(req.body_file.c_str());
        if (!keep || !req.keep_alive) {
            boost::system::error_code ignore;
            s.shutdown(asio::socket_base::shutdown_both, ignore);
            co_return;
        }
    }
}

awaitable<bool> api_server::impl::route(socket_t& s, request& req) {
    const std::string& p = req.path;
    auto m = req.method;
    using v = http::verb;
    if (!req.version.empty()) {
        // The CLI negotiates down to what /_ping advertises; refuse newer.
        auto dot = req.version.find('.');
        int minor = dot == std::string::npos ? 0 : std::atoi(req.version.c_str() + dot + 1);
        if (req.version.substr(0, dot) != "1" || minor > 41)
            co_return co_await reply_error(s, req, http::status::bad_request,
                                           "client version " + req.version +
                                               " is too new. Maximum supported API version is 1.41");
    }

    if (p == "/_ping" && (m == v::get || m == v::head)) {
        http::response<http::string_body> res{http::status::ok, req.http_version};
        add_docker_headers(res);
        res.set(http::field::cache_control, "no-cache, no-store, must-revalidate");
        res.set(http::field::pragma, "no-cache");
        res.set(http::field::content_type, "text/plain; charset=utf-8");
        res.keep_alive(req.keep_alive);
        res.body() = m == v::get ? "OK" : "";
        res.prepare_payload();
        if (m == v::head) res.content_length(0);
        boost::system::error_code ec;
        if (m == v::head) {
            http::response_serializer<http::string_body> sr{res};
            co_await http::async_write_header(s, sr, asio::redirect_error(use_awaitable, ec));
        } else {
            co_await http::async_write(s, res, asio::redirect_error(use_awaitable, ec));
        }
        co_return !ec;
    }
    if (p == "/version" && m == v::get) co_return co_await reply_json(s, req, http::status::ok, engine::version_json());
    if (p == "/events" && m == v::get) co_return co_await events_stream(s, req);
    if (p == "/info" && m == v::get) co_return co_await reply_json(s, req, http::status::ok, eng.info_json());

    if (p == "/volumes" || starts_with(p, "/volumes/")) co_return co_await volumes_route(s, req, eng);
    if (p == "/system/df" && m == v::get) co_return co_await system_df(s, req, eng);

    // Containers.
    if (p == "/containers/create" && m == v::post) co_return co_await containers_create(s, req);
    if (p == "/berth/containers/run" && m == v::post) co_return co_await containers_run_batch(s, req, eng);
    if (p == "/berth/pools" || starts_with(p, "/berth/pools/")) co_return co_await pools_route(s, req, eng);
    if (p == "/berth/spares" && m == v::get) co_return co_await spares_route(s, req, eng);
    if (p == "/containers/json" && m == v::get) co_return co_await containers_list(s, req, eng);
    if (p == "/containers/prune" && m == v::post) {
        auto removed = co_await eng.prune_containers();
        json::array ids;
        for (auto& id : removed) ids.emplace_back(id);
        json::object out;
        out["ContainersDeleted"] = ids.empty() ? json::value(nullptr) : json::value(ids);
        out["SpaceReclaimed"] = 0;
        co_return co_await reply_json(s, req, http::status::ok, out);
    }
    if (starts_with(p, "/containers/")) {
        std::string rest = p.substr(12);
        auto slash = rest.find('/');
        std::string ref = rest.substr(0, slash);
        std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
        auto found = eng.find_container(ref);
        if (!found) co_return co_await reply_error(s, req, found.err());
        container_ptr c = *found;
        if (action.empty() && m == v::delete_) {
            auto r = co_await eng.remove_container(c->id, req.flag("force"), req.flag("v"));
            if (!r) co_return co_await reply_error(s, req, r.err());
            co_return co_await reply(s, req, http::status::no_content, "");
        }
        if (action == "json" && m == v::get) co_return co_await reply_json(s, req, http::status::ok, eng.inspect_json(*c));
        if (action == "start" && m == v::post) {
            if (c->running()) co_return co_await reply(s, req, http::status::not_modified, "");
            auto r = co_await eng.start_container(c->id);
            if (!r) co_return co_await reply_error(s, req, r.err());
            co_return co_await reply(s, req, http::status::no_content, "");
        }
        if (action == "wait" && m == v::post) co_return co_await containers_wait(s, req, c);
        if (action == "attach" && m == v::post) co_return co_await containers_attach(s, req, c);
        if (action == "logs" && m == v::get) co_return co_await containers_logs(s, req, c);
        if (action == "kill" && m == v::post) {
            int sig = parse_signal(req.get("signal"));
            if (sig <= 0 || sig >= 65)
                co_return co_await reply_error(s, req, http::status::bad_request, "Invalid signal: " + req.get("signal"));
            auto r = co_await eng.kill_container(c->id, sig);
            if (!r) co_return co_await reply_error(s, req, r.err());
            co_return co_await reply(s, req, http::status::no_content, "");
        }
        if ((action == "pause" || action == "unpause") && m == v::post) {
            status r;
            if (action == "pause") r = co_await eng.pause_container(c->id);
            else r = co_await eng.unpause_container(c->id);
            if (!r) co_return co_await reply_error(s, req, r.err());
            co_return co_await reply(s, req, http::status::no_content, "");
        }
        if (action == "rename" && m == v::post) {
            auto r = co_await eng.rename_container(c->id, req.get("name"));
            if (!r) co_return co_await reply_error(s, req, r.err());
            co_return co_await reply(s, req, http::status::no_content, "");
        }
        if ((action == "stop" || action == "restart") && m == v::post) {
            std::optional<int> timeout;
            if (!req.get("t").empty()) timeout = std::atoi(req.get("t").c_str());
            int sig = 0;
            if (!req.get("signal").empty()) {
                sig = parse_signal(req.get("signal"));
                if (sig <= 0 || sig >= 65)
                    co_return co_await reply_error(s, req, http::status::bad_request, "Invalid signal: " + req.get("signal"));
            }
            if (action == "restart") {
                auto r = co_await eng.restart_container(c->id, timeout, sig);
                if (!r) co_return co_await reply_error(s, req, r.err());
                co_return co_await reply(s, req, http::status::no_content, "");
            }
            auto r = co_await eng.stop_container(c->id, timeout, sig);
            if (!r) co_return co_await reply_error(s, req, r.err());
            co_return co_await reply(s, req, *r ? http::status::no_content : http::status::not_modified, "");
        }
        if (action == "export" && m == v::get) co_return co_await containers_export(s, req, eng, c);
        if (action == "archive" && (m == v::get || m == v::head)) co_return co_await containers_archive_get(s, req, eng, c, ref);
        if (action == "archive" && m == v::put) co_return co_await containers_archive_put(s, req, eng, c, ref);
        if (action == "changes" && m == v::get) co_return co_await containers_changes(s, req, eng, c);
        if (action == "resize" && m == v::post) {
            auto r = eng.resize_container(*c, std::atoi(req.get("h").c_str()), std::atoi(req.get("w").c_str()));
            if (!r) co_return co_await reply_error(s, req, r.err());
            co_return co_await reply(s, req, http::status::ok, "", "text/plain");
        }
        if (action == "exec" && m == v::post) co_return co_await exec_create(s, req, eng, c->id);
        if (action == "stats" && m == v::get) co_return co_await containers_stats(s, req, eng, c);
        if (action == "top" && m == v::get) co_return co_await containers_top(s, req, eng, c);
        if (action == "update" && m == v::post) co_return co_await containers_update(s, req, eng, c);
    }

    if (starts_with(p, "/exec/")) co_return co_await exec_route(s, req, eng);

    // Images: names contain '/' and ':', so route by suffix.
    if (p == "/images/json" && m == v::get) {
        json::array out;
        auto imgs = eng.images();
        std::sort(imgs.begin(), imgs.end(), [](auto& a, auto& b) { return a.created_ns > b.created_ns; });
        for (auto& img : imgs) out.push_back(eng.image_json(img, false));
        co_return co_await reply_json(s, req, http::status::ok, out);
    }
    if (p == "/images/create" && m == v::post) co_return co_await images_create(s, req);
    if (p == "/images/load" && m == v::post) co_return co_await images_load(s, req);
    if (starts_with(p, "/images/") && p.size() > 13 && p.substr(p.size() - 5) == "/json" && m == v::get) {
        auto img = eng.find_image(p.substr(8, p.size() - 13));
        if (!img) co_return co_await reply_error(s, req, img.err());
        co_return co_await reply_json(s, req, http::status::ok, eng.image_json(*img, true));
    }
    if (starts_with(p, "/images/") && m == v::delete_) {
        auto r = co_await eng.remove_image(p.substr(8), req.flag("force"));
        if (!r) co_return co_await reply_error(s, req, r.err());
        co_return co_await reply_json(s, req, http::status::ok, *r);
    }
    co_return co_await reply_error(s, req, http::status::not_found, "page not found");
}

awaitable<bool> api_server::impl::containers_create(socket_t& s, request& req) {
    auto body = json_object_body(req);
    if (!body) co_return co_await reply_error(s, req, body.err());
    auto r = co_await eng.create_container(std::move(*body), req.get("name"));
    if (!r) co_return co_await reply_error(s, req, r.err());
    json::array warnings;
    for (auto& w : r->warnings) warnings.emplace_back(w);
    json::object out;
    out["Id"] = r->id;
    out["Warnings"] = std::move(warnings);
    co_return co_await reply_json(s, req, http::status::created, out);
}

awaitable<bool> api_server::impl::containers_wait(socket_t& s, request& req, container_ptr c) {
    std::string cond = req.get("condition");
    if (!cond.empty() && cond != "not-running" && cond != "next-exit" && cond != "removed")
        co_return co_await reply_error(s, req, http::status::bad_request, "invalid condition: \"" + cond + "\"");
    // Headers at once, the body when the condition is met (the CLI relies on it).
    if (!co_await begin_stream(s, req, "application/json")) co_return false;
    auto outcome = co_await (eng.wait_container(c, cond) || until_closed(s));
    if (outcome.index() == 1) co_return false;  // the client went away
    auto code = std::get<0>(outcome);
    json::object body{{"Error", nullptr}, {"StatusCode", code ? *code : -1}};
    if (!code) body["Error"] = json::object{{"Message", code.err().message}};
    else if (!c->error.empty()) body["Error"] = json::object{{"Message", c->error}};
    if (!co_await write_chunk(s, json::serialize(body) + "\n")) co_return false;
    co_return co_await end_stream(s);
}

awaitable<bool> api_server::impl::containers_attach(socket_t& s, request& req, container_ptr c) {
    bool want_out = req.flag("stdout"), want_err = req.flag("stderr"), want_in = req.flag("stdin");
    bool tty = c->tty();
    bool open_stdin = c->config.contains("OpenStdin") && c->config["OpenStdin"].as_bool();
    bool stdin_once = c->config.contains("StdinOnce") && c->config["StdinOnce"].as_bool();
    if (!req.flag("stream") && !req.flag("logs"))
        co_return co_await reply_error(s, req, http::status::bad_request, "at least one of stream or logs must be set");
    auto detach_keys = parse_detach_keys(req.get("detachKeys"));
    if (!detach_keys) co_return co_await reply_error(s, req, detach_keys.err());
    std::uint64_t after = c->next_seq - 1;
    std::uint64_t exits_at_attach = c->exits;
    if (!co_await begin_hijack(s, req)) co_return false;

    // Reader: stdin bytes go to the container; EOF is a half-close, not a
    // disconnect — output keeps flowing until the container exits.
    if (req.flag("logs")) {
        std::uint64_t end = 0;
        auto job0 = [path = eng.log_path(*c), &end] {
            return engine::read_log_file(path, &end);
        };
        auto entries = co_await eng.workers().run(offload_reason::filesystem, std::move(job0));
        if (entries)
            for (auto& e : *entries) {
                if ((e.is_err && !want_err) || (!e.is_err && !want_out)) continue;
                std::string f = tty ? e.text : stdcopy_frame(e.is_err ? 2 : 1, e.text);
                boost::system::error_code ec;
                co_await asio::async_write(s, asio::buffer(f), asio::redirect_error(use_awaitable, ec));
                if (ec) co_return false;
            }
    }
    client_input in(loop.get_executor());
    bool reading = req.flag("stream") && want_in && open_stdin;
    if (reading) {
        // With a terminal, the detach keys end this attachment (not the
        // container); binary stdin through a pipe is never scanned. EOF is
        // a half-close: output goes on until the container exits. The reader
        // ends before the socket (in serve()'s frame) goes away.
        if (tty) in.detach_keys = *detach_keys;
        in.write = [this, c](std::string data) { eng.write_stdin(*c, std::move(data), false); };
        in.close = [this, c, stdin_once] {
            if (stdin_once) eng.write_stdin(*c, {}, true);
        };
        in.wake = [c] { c->output->notify(); };
        asio::co_spawn(loop, copy_client_input(s, eng, &in), asio::detached);
    }
    if (req.flag("stream")) co_await attach_output(s, c, after, exits_at_attach, want_out, want_err, tty, &in);
    in.output_done = true;
    boost::system::error_code ignore;
    s.shutdown(asio::socket_base::shutdown_both, ignore);
    if (reading) co_await in.finished.wait();
    co_return false;
}

awaitable<void> api_server::impl::attach_output(socket_t& s, container_ptr c, std::uint64_t after,
                                                std::uint64_t exits_at_attach, bool want_out, bool want_err, bool tty,
                                                const client_input* in) {
    for (;;) {
        if (in->detached) co_return;
        auto entries = eng.entries_after(*c, after);
        if (!entries.empty()) {
            std::string out;
            for (auto& e : entries) {
                after = e.seq;
                if ((e.is_err && !want_err) || (!e.is_err && !want_out)) continue;
                out += tty ? e.text : stdcopy_frame(e.is_err ? 2 : 1, e.text);
            }
            boost::system::error_code ec;
            if (!out.empty()) co_await asio::async_write(s, asio::buffer(out), asio::redirect_error(use_awaitable, ec));
            if (ec) co_return;
            continue;
        }
        if (c->exits > exits_at_attach || c->removed) co_return;
        co_await c->output->wait();
    }
}

awaitable<bool> api_server::impl::containers_logs(socket_t& s, request& req, container_ptr c) {
    if (!json_log::settings_of(c->host_config).enabled)
        co_return co_await reply_error(s, req, http::status::not_implemented,
                                       "configured logging driver does not support reading");
    logs_options o;
    o.out = req.flag("stdout");
    o.err = req.flag("stderr");
    if (!o.out && !o.err)
        co_return co_await reply_error(s, req, http::status::bad_request, "You must choose at least one stream");
    o.follow = req.flag("follow");
    o.timestamps = req.flag("timestamps");
    std::string tail = req.get("tail", "all");
    if (tail != "all" && !tail.empty()) {
        char* end = nullptr;
        long n = std::strtol(tail.c_str(), &end, 10);
        if (*end == 0 && n >= 0) o.tail = std::size_t(n);
    }
    auto parse_time = [](const std::string& t) -> std::int64_t {
        if (t.empty()) return 0;
        return std::int64_t(std::strtod(t.c_str(), nullptr) * 1e9);
    };
    o.since_ns = parse_time(req.get("since"));
    o.until_ns = parse_time(req.get("until"));
    bool tty = c->tty();
    std::uint64_t after = c->next_seq - 1;  // subscribe before reading the file
    bool was_running = c->running() || c->starting;
    std::uint64_t exits_at_start = c->exits;
    std::uint64_t file_end = 0;
    auto job1 = [path = eng.log_path(*c), &file_end] {
        return engine::read_log_file(path, &file_end);
    };
    auto entries = co_await eng.workers().run(offload_reason::filesystem, std::move(job1));
    if (!entries) co_return co_await reply_error(s, req, entries.err());
    if (!co_await begin_stream(s, req, nullptr)) co_return false;
    auto render = [&](const log_entry& e) -> std::string {
        if ((e.is_err && !o.err) || (!e.is_err && !o.out)) return {};
        if (o.since_ns && e.time_ns < o.since_ns) return {};
        if (o.until_ns && e.time_ns > o.until_ns) return {};
        std::string text = o.timestamps ? format_rfc3339_nano(e.time_ns) + " " + e.text : e.text;
        return tty ? text : stdcopy_frame(e.is_err ? 2 : 1, text);
    };
    std::vector<log_entry>& all = *entries;
    std::size_t first = 0;
    if (o.tail) first = all.size() > *o.tail ? all.size() - *o.tail : 0;
    std::string out;
    for (std::size_t i = first; i < all.size(); ++i) {
        out += render(all[i]);
        if (out.size() > 64 * 1024) {
            if (!co_await write_chunk(s, out)) co_return false;
            out.clear();
        }
    }
    if (!co_await write_chunk(s, out)) co_return false;
    if (o.follow && was_running) {
        for (;;) {
            auto live = eng.entries_after(*c, after);
            if (!live.empty()) {
                std::string chunk;
                for (auto& e : live) {
                    after = e.seq;
                    if (e.offset > file_end) chunk += render(e);
                }
                if (!co_await write_chunk(s, chunk)) co_return false;
                continue;
            }
            if (c->exits > exits_at_start || c->removed) break;
            auto r = co_await (c->output->wait() || until_closed(s));
            if (r.index() == 1) co_return false;
        }
    }
    co_return co_await end_stream(s);
}

awaitable<bool> api_server::impl::images_create(socket_t& s, request& req) {
    if (!req.query.count("fromSrc")) {
        co_return co_await reply_error(s, req, http::status::not_implemented,
                                       "pulling images from a registry is not supported yet; use berth import or berth load");
    }
    if (req.get("fromSrc") != "-")
        co_return co_await reply_error(s, req, http::status::bad_request, "only fromSrc=- (the request body) is supported");
    std::string ref = req.get("repo");
    if (!ref.empty() && !req.get("tag").empty()) ref += ":" + req.get("tag");
    std::vector<std::string> changes;
    for (auto& [k, val] : req.query_list)
        if (k == "changes") changes.push_back(val);
    auto r = co_await eng.import_image(req.body_file, ref, changes);
    if (!r) co_return co_await reply_error(s, req, r.err());
    json::object out;
    out["status"] = r->id;
    co_return co_await reply_json(s, req, http::status::ok, out);
}

awaitable<bool> api_server::impl::images_load(socket_t& s, request& req) {
    auto r = co_await eng.load_images(req.body_file);
    if (!r) co_return co_await reply_error(s, req, r.err());
    if (!co_await begin_stream(s, req, "application/json")) co_return false;
    auto line = [](const std::string& text) {
        json::object o;
        o["stream"] = text + "\n";
        return json::serialize(o) + "\n";
    };
    for (auto& img : *r) {
        std::string msgs;
        if (img.repo_tags.empty()) msgs += line("Loaded image ID: " + img.id);
        for (auto& t : img.repo_tags) msgs += line("Loaded image: " + t);
        if (!co_await write_chunk(s, msgs)) co_return false;
    }
    co_return co_await end_stream(s);
}

namespace {

// Docker's filters: {"key":{"value":true}} or the older {"key":["value"]}.
result<event_filter> parse_event_filters(const std::string& text) {
    event_filter f;
    if (text.empty()) return f;
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return make_error(errc::invalid_argument, "invalid filter: " + text);
    for (auto& [k, vals] : v.as_object()) {
        auto& list = f.by_key[std::string(k)];
        if (vals.is_object())
            for (auto& [name, on] : vals.as_object()) list.emplace_back(name);
        else if (vals.is_array())
            for (auto& name : vals.as_array())
                if (name.is_string()) list.emplace_back(name.as_string());
    }
    return f;
}

std::int64_t parse_unix_time(const std::string& t) {
    if (t.empty()) return 0;
    return std::int64_t(std::strtold(t.c_str(), nullptr) * 1e9L);
}

}  // namespace

awaitable<bool> api_server::impl::events_stream(socket_t& s, request& req) {
    auto filter = parse_event_filters(req.get("filters"));
    if (!filter) co_return co_await reply_error(s, req, filter.err());
    std::int64_t since = parse_unix_time(req.get("since")), until = parse_unix_time(req.get("until"));
    std::uint64_t after = req.query.count("since") ? 0 : eng.events().last_seq();
    if (!co_await begin_stream(s, req, "application/json")) co_return false;
    for (;;) {
        std::string out;
        bool past_until = false;
        for (auto& e : eng.events().after(after)) {
            after = e.seq;
            if (since && e.time_ns < since) continue;
            if (until && e.time_ns > until) {
                past_until = true;
                break;
            }
            if (filter->matches(e)) out += json::serialize(e.to_json()) + "\n";
        }
        if (!co_await write_chunk(s, out)) co_return false;
        if (past_until || (until && now_ns() >= until)) break;
        // Wait for news, the client leaving, or `until`.
        auto wait_for = until ? std::chrono::nanoseconds(until - now_ns()) : std::chrono::nanoseconds(std::chrono::hours(24));
        asio::steady_timer deadline(loop, wait_for);
        auto r = co_await (eng.events().changed().wait() || until_closed(s) || deadline.async_wait(use_awaitable));
        if (r.index() == 1) co_return false;
    }
    co_return co_await end_stream(s);
}

}  // namespace berth
