#include "daemon/http.h"

#include <sys/socket.h>

#include <ctime>

namespace berth::api {

bool request::flag(const std::string& k) const {
    auto it = query.find(k);
    if (it == query.end()) return false;
    std::string v = it->second;
    for (auto& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
    return !(v.empty() || v == "0" || v == "no" || v == "false" || v == "none");
}

std::string request::get(const std::string& k, const std::string& def) const {
    auto it = query.find(k);
    return it == query.end() ? def : it->second;
}

result<boost::json::object> json_object_body(const request& req) {
    if (req.body.empty()) return make_error(errc::invalid_argument, "invalid JSON: request body is empty");
    boost::system::error_code ec;
    auto v = boost::json::parse(req.body, ec);
    if (ec) return make_error(errc::invalid_argument, "invalid JSON: " + ec.message());
    if (!v.is_object()) return make_error(errc::invalid_argument, "invalid JSON: expected an object");
    return std::move(v.as_object());
}

std::string url_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() + 0 && i + 2 <= s.size() - 1) {
            int v = 0;
            if (std::sscanf(std::string(s.substr(i + 1, 2)).c_str(), "%2x", &v) == 1) {
                out.push_back(char(v));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
    return out;
}

bool parse_target(std::string_view target, request& req) {
    auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    if (q != std::string_view::npos) {
        std::string_view qs = target.substr(q + 1);
        while (!qs.empty()) {
            auto amp = qs.find('&');
            std::string_view kv = qs.substr(0, amp);
            auto eq = kv.find('=');
            std::string k = url_decode(kv.substr(0, eq));
            std::string v = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1));
            if (!k.empty()) {
                req.query[k] = v;
                req.query_list.emplace_back(k, v);
            }
            if (amp == std::string_view::npos) break;
            qs.remove_prefix(amp + 1);
        }
    }
    if (path.size() > 2 && path.substr(0, 2) == "/v" && path.size() > 2 && std::isdigit(static_cast<unsigned char>(path[2]))) {
        auto slash = path.find('/', 1);
        std::string_view ver = path.substr(2, slash == std::string_view::npos ? std::string_view::npos : slash - 2);
        for (char c : ver)
            if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
        req.version = std::string(ver);
        path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
    }
    req.path = url_decode(path);
    return true;
}

void add_docker_headers(http::fields& f) {
    f.set("Api-Version", "1.41");
    f.set("Docker-Experimental", "false");
    f.set("Ostype", "linux");
    f.set(http::field::server, "berth/" BERTH_VERSION " (linux)");
    char buf[64];
    std::time_t t = std::time(nullptr);
    std::tm tm;
    ::gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    f.set(http::field::date, buf);
}

awaitable<bool> reply(socket_t& s, const request& req, http::status st, std::string body, std::string content_type,
                      header_list extra) {
    http::response<http::string_body> res{st, req.http_version};
    add_docker_headers(res);
    for (auto& [name, value] : extra) res.set(name, value);
    if (!content_type.empty() && st != http::status::no_content && st != http::status::not_modified)
        res.set(http::field::content_type, content_type);
    res.keep_alive(req.keep_alive);
    bool head = req.method == http::verb::head;
    res.body() = std::move(body);
    res.prepare_payload();
    boost::system::error_code ec;
    if (head) {
        http::response_serializer<http::string_body> sr{res};
        co_await http::async_write_header(s, sr, asio::redirect_error(use_awaitable, ec));
    } else {
        co_await http::async_write(s, res, asio::redirect_error(use_awaitable, ec));
    }
    co_return !ec;
}

awaitable<bool> reply_json(socket_t& s, const request& req, http::status st, const boost::json::value& v) {
    co_return co_await reply(s, req, st, boost::json::serialize(v) + "\n");
}

awaitable<bool> reply_error(socket_t& s, const request& req, http::status st, std::string message) {
    // (A braced temporary inside co_await trips g++ 12: build it first.)
    boost::json::object body;
    body["message"] = std::move(message);
    co_return co_await reply_json(s, req, st, body);
}

awaitable<bool> reply_error(socket_t& s, const request& req, const error& e) {
    co_return co_await reply_error(s, req, static_cast<http::status>(berth::http_status(e.code)), e.message);
}

awaitable<bool> begin_stream(socket_t& s, const request& req, const char* content_type, header_list extra) {
    http::response<http::empty_body> res{http::status::ok, req.http_version};
    add_docker_headers(res);
    for (auto& [name, value] : extra) res.set(name, value);
    if (content_type && *content_type) res.set(http::field::content_type, content_type);
    res.chunked(true);
    res.keep_alive(req.keep_alive);
    http::response_serializer<http::empty_body> sr{res};
    boost::system::error_code ec;
    co_await http::async_write_header(s, sr, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
}

awaitable<bool> write_chunk(socket_t& s, std::string_view data) {
    if (data.empty()) co_return true;
    boost::system::error_code ec;
    co_await asio::async_write(s, http::make_chunk(asio::buffer(data.data(), data.size())),
                               asio::redirect_error(use_awaitable, ec));
    co_return !ec;
}

awaitable<bool> end_stream(socket_t& s) {
    boost::system::error_code ec;
    co_await asio::async_write(s, http::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
    co_return !ec;
}

awaitable<bool> begin_hijack(socket_t& s, const request& req) {
    http::response<http::empty_body> res{req.upgrade ? http::status::switching_protocols : http::status::ok,
                                         req.http_version};
    if (req.upgrade) res.reason("UPGRADED");
    res.set(http::field::content_type, "application/vnd.docker.raw-stream");
    add_docker_headers(res);
    if (req.upgrade) {
        res.set(http::field::connection, "Upgrade");
        res.set(http::field::upgrade, "tcp");
    }
    http::response_serializer<http::empty_body> sr{res};
    boost::system::error_code ec;
    co_await http::async_write_header(s, sr, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
}

std::string stdcopy_frame(int stream, std::string_view payload) {
    std::string f(8, '\0');
    f[0] = char(stream);
    std::uint32_t n = std::uint32_t(payload.size());
    f[4] = char(n >> 24);
    f[5] = char(n >> 16);
    f[6] = char(n >> 8);
    f[7] = char(n);
    f.append(payload);
    return f;
}

awaitable<void> until_closed(socket_t& s) {
    asio::steady_timer tick(s.get_executor());
    for (;;) {
        char buf[512];
        for (;;) {
            ssize_t n = ::recv(s.native_handle(), buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) continue;  // discarded
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            co_return;  // EOF or error
        }
        tick.expires_after(std::chrono::milliseconds(200));
        boost::system::error_code ec;
        co_await tick.async_wait(asio::redirect_error(use_awaitable, ec));
        if (ec || co_await cancelled()) co_return;
    }
}

}  // namespace berth::api
