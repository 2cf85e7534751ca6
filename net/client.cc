#include "net/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstring>

#include "base/fd.h"

namespace berth::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view user_agent = "Berth-Client/0.1.0 (linux)";
constexpr std::uint32_t header_limit = 64 * 1024;

// A blocking SyncReadStream/SyncWriteStream over a socket fd. Beast's
// synchronous read/write need nothing more, and going without an
// asio::io_context keeps the CLI off io_uring (the build selects the io_uring
// backend for the daemon; a container's seccomp profile often forbids it).
class fd_stream {
public:
    explicit fd_stream(unique_fd fd) : _fd(std::move(fd)) {}

    int native_handle() const { return _fd.get(); }

    template <class MutableBufferSequence>
    std::size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
        ec = {};
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            asio::mutable_buffer b = *it;
            if (b.size() == 0) continue;
            for (;;) {
                ssize_t n = ::recv(_fd.get(), b.data(), b.size(), 0);
                if (n > 0) return static_cast<std::size_t>(n);
                if (n == 0) {
                    ec = asio::error::eof;
                    return 0;
                }
                if (errno == EINTR) continue;
                ec = beast::error_code(errno, boost::system::system_category());
                return 0;
            }
        }
        return 0;
    }

    template <class MutableBufferSequence>
    std::size_t read_some(const MutableBufferSequence& buffers) {
        beast::error_code ec;
        std::size_t n = read_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }

    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers, beast::error_code& ec) {
        ec = {};
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            asio::const_buffer b = *it;
            if (b.size() == 0) continue;
            for (;;) {
                // MSG_NOSIGNAL: a daemon that went away is an error, not SIGPIPE.
                ssize_t n = ::send(_fd.get(), b.data(), b.size(), MSG_NOSIGNAL);
                if (n >= 0) return static_cast<std::size_t>(n);
                if (errno == EINTR) continue;
                ec = beast::error_code(errno, boost::system::system_category());
                return 0;
            }
        }
        return 0;
    }

    template <class ConstBufferSequence>
    std::size_t write_some(const ConstBufferSequence& buffers) {
        beast::error_code ec;
        std::size_t n = write_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }

    unique_fd release() { return std::move(_fd); }

private:
    unique_fd _fd;
};

result<fd_stream> connect_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return make_error(errc::invalid_argument, "socket path too long: " + path);
    std::memcpy(addr.sun_path, path.data(), path.size());
    unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return sys_error("socket");
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        error e = sys_error("connect unix://" + path);
        e.code = errc::unavailable;
        return e;
    }
    return fd_stream(std::move(fd));
}

error transport_error(std::string_view what, const std::string& path, const beast::error_code& ec) {
    return make_error(errc::unavailable, std::string(what) + " unix://" + path + ": " + ec.message());
}

std::string versioned(std::string_view target) {
    std::string t = "/v";
    t += api_version;
    t += target;
    return t;
}

http::request<http::string_body> make_request(std::string_view method, std::string target,
                                              std::string_view json_body,
                                              const std::vector<http_header>& headers) {
    http::verb v = http::string_to_verb(method);
    http::request<http::string_body> req;
    if (v == http::verb::unknown)
        req.method_string(method);
    else
        req.method(v);
    req.target(target);
    req.version(11);
    req.set(http::field::host, "api.moby.localhost");
    req.set(http::field::user_agent, user_agent);
    for (const auto& h : headers) req.set(h.name, h.value);
    if (!json_body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = std::string(json_body);
    }
    req.prepare_payload();
    return req;
}

// Connects and sends a request with an in-memory body.
result<fd_stream> send_request(const std::string& path, http::request<http::string_body>& req) {
    BERTH_ASSIGN(fd_stream s, connect_unix(path));
    beast::error_code ec;
    http::write(s, req, ec);
    if (ec) return transport_error("send request to", path, ec);
    return s;
}

}  // namespace

// ---- errors ----------------------------------------------------------------

std::string error_message(int status, std::string_view body) {
    std::string_view trimmed = body;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r' || trimmed.back() == ' '))
        trimmed.remove_suffix(1);
    if (!trimmed.empty()) {
        boost::system::error_code ec;
        json::value v = json::parse(trimmed, ec);
        if (!ec && v.is_object()) {
            if (auto* m = v.as_object().if_contains("message"); m && m->is_string())
                return std::string(m->as_string());
        }
        return std::string(trimmed);
    }
    return "status " + std::to_string(status);
}

error api_error(int status, std::string_view body) {
    errc code = errc::internal;
    switch (status) {
    case 400: code = errc::invalid_argument; break;
    case 404: code = errc::not_found; break;
    case 409: code = errc::conflict; break;
    case 501: case 503: code = errc::unavailable; break;
    default: break;
    }
    return make_error(code, error_message(status, body));
}

// ---- stdcopy ---------------------------------------------------------------

status stdcopy_demuxer::feed(std::string_view data) {
    while (!data.empty()) {
        if (_left == 0) {
            std::size_t take = std::min(data.size(), sizeof _header - _header_len);
            std::memcpy(_header + _header_len, data.data(), take);
            _header_len += take;
            data.remove_prefix(take);
            if (_header_len < sizeof _header) return ok();
            _header_len = 0;
            if (_header[0] > 3)
                return make_error(errc::internal,
                                  "unrecognized input header: " + std::to_string(_header[0]));
            _stream = static_cast<std_stream>(_header[0]);
            _left = (std::uint32_t(_header[4]) << 24) | (std::uint32_t(_header[5]) << 16) |
                    (std::uint32_t(_header[6]) << 8) | std::uint32_t(_header[7]);
            continue;
        }
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), _left));
        BERTH_TRY(_sink(_stream, data.substr(0, take)));
        _left -= take;
        data.remove_prefix(take);
    }
    return ok();
}

// ---- response_stream -------------------------------------------------------

struct response_stream::impl {
    explicit impl(fd_stream s, std::string p) : stream(std::move(s)), path(std::move(p)) {
        parser.body_limit(boost::none);
        parser.header_limit(header_limit);
    }
    fd_stream stream;
    std::string path;
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    std::string content_type;
    int status = 0;
};

response_stream::response_stream(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
response_stream::response_stream(response_stream&&) noexcept = default;
response_stream& response_stream::operator=(response_stream&&) noexcept = default;
response_stream::~response_stream() = default;

int response_stream::status() const { return _impl->status; }
const std::string& response_stream::content_type() const { return _impl->content_type; }
std::string response_stream::header(std::string_view name) const { return std::string(_impl->parser.get()[name]); }

std::string response::header(std::string_view name) const {
    for (const auto& h : headers)
        if (beast::iequals(h.name, name)) return h.value;
    return {};
}

result<std::size_t> response_stream::read_some(char* buf, std::size_t n) {
    auto& p = _impl->parser;
    if (n == 0) return std::size_t{0};
    while (!p.is_done()) {
        p.get().body().data = buf;
        p.get().body().size = n;
        beast::error_code ec;
        // read_some, not read: a chunk smaller than buf must be handed out at
        // once (logs -f), not after the buffer fills.
        http::read_some(_impl->stream, _impl->buffer, p, ec);
        if (ec == http::error::need_buffer) ec = {};
        std::size_t got = n - p.get().body().size;
        if (ec) return transport_error("read response from", _impl->path, ec);
        if (got > 0) return got;
    }
    return std::size_t{0};
}

result<std::string> response_stream::read_all() {
    std::string out;
    char buf[16384];
    for (;;) {
        BERTH_ASSIGN(std::size_t n, read_some(buf, sizeof buf));
        if (n == 0) return out;
        out.append(buf, n);
    }
}

// ---- hijacked_stream -------------------------------------------------------

struct hijacked_stream::impl {
    unique_fd fd;
    std::string pending;  // raw bytes read together with the 101 header
    std::size_t pending_off = 0;
};

hijacked_stream::hijacked_stream(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
hijacked_stream::hijacked_stream(hijacked_stream&&) noexcept = default;
hijacked_stream& hijacked_stream::operator=(hijacked_stream&&) noexcept = default;
hijacked_stream::~hijacked_stream() = default;

int hijacked_stream::fd() const { return _impl->fd.get(); }

bool hijacked_stream::has_buffered() const { return _impl->pending_off < _impl->pending.size(); }

result<std::size_t> hijacked_stream::read_some(char* buf, std::size_t n) {
    if (has_buffered()) {
        std::size_t take = std::min(n, _impl->pending.size() - _impl->pending_off);
        std::memcpy(buf, _impl->pending.data() + _impl->pending_off, take);
        _impl->pending_off += take;
        return take;
    }
    for (;;) {
        ssize_t r = ::recv(_impl->fd.get(), buf, n, 0);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno == EINTR) continue;
        // The daemon resetting the connection after the container exited is an end, not a failure.
        if (errno == ECONNRESET) return std::size_t{0};
        return sys_error("read attached stream");
    }
}

status hijacked_stream::write_all(std::string_view data) {
    while (!data.empty()) {
        ssize_t r = ::send(_impl->fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) continue;
            return sys_error("write attached stream");
        }
        data.remove_prefix(static_cast<std::size_t>(r));
    }
    return ok();
}

result<std::size_t> hijacked_stream::write_some(std::string_view data) {
    if (data.empty()) return std::size_t{0};
    for (;;) {
        ssize_t r = ::send(_impl->fd.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
        return sys_error("write attached stream");
    }
}

status hijacked_stream::close_write() {
    if (::shutdown(_impl->fd.get(), SHUT_WR) != 0 && errno != ENOTCONN)
        return sys_error("shutdown attached stream");
    return ok();
}

// ---- client ----------------------------------------------------------------

client::client(std::string socket_path) : _path(std::move(socket_path)) {}

status client::ping() const {
    auto req = make_request("HEAD", "/_ping", {}, {});
    BERTH_ASSIGN(fd_stream s, send_request(_path, req));
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> p;
    p.skip(true);  // a HEAD answer has no body whatever its Content-Length says
    beast::error_code ec;
    http::read(s, buffer, p, ec);
    if (ec) return transport_error("ping", _path, ec);
    return ok();
}

result<response> client::request(std::string_view method, std::string_view target,
                                 std::string_view json_body,
                                 const std::vector<http_header>& headers) const {
    auto req = make_request(method, versioned(target), json_body, headers);
    BERTH_ASSIGN(fd_stream s, send_request(_path, req));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    p.header_limit(header_limit);
    if (req.method() == http::verb::head) p.skip(true);
    beast::error_code ec;
    http::read(s, buffer, p, ec);
    if (ec) return transport_error("read response from", _path, ec);
    response r;
    r.status = static_cast<int>(p.get().result_int());
    r.content_type = std::string(p.get()[http::field::content_type]);
    for (const auto& f : p.get()) r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    r.body = std::move(p.get().body());
    return r;
}

namespace {

result<std::unique_ptr<response_stream::impl>> read_stream_header(std::unique_ptr<response_stream::impl> i) {
    beast::error_code ec;
    http::read_header(i->stream, i->buffer, i->parser, ec);
    if (ec) return transport_error("read response from", i->path, ec);
    i->status = static_cast<int>(i->parser.get().result_int());
    i->content_type = std::string(i->parser.get()[http::field::content_type]);
    return i;
}

}  // namespace

result<response_stream> client::stream(std::string_view method, std::string_view target,
                                       std::string_view json_body,
                                       const std::vector<http_header>& headers) const {
    auto req = make_request(method, versioned(target), json_body, headers);
    BERTH_ASSIGN(fd_stream s, send_request(_path, req));
    auto i = std::make_unique<response_stream::impl>(std::move(s), _path);
    BERTH_ASSIGN(auto ready, read_stream_header(std::move(i)));
    return response_stream(std::move(ready));
}

result<response_stream> client::upload(std::string_view method, std::string_view target,
                                       std::string_view content_type, int body_fd) const {
    body_reader read_fd = [body_fd](char* buf, std::size_t size) -> result<std::size_t> {
        for (;;) {
            ssize_t n = ::read(body_fd, buf, size);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) return sys_error("read upload body");
        }
    };
    return upload(method, target, content_type, read_fd);
}

result<response_stream> client::upload(std::string_view method, std::string_view target,
                                       std::string_view content_type, const body_reader& read_body) const {
    BERTH_ASSIGN(fd_stream s, connect_unix(_path));
    http::request<http::empty_body> req;
    http::verb v = http::string_to_verb(method);
    if (v == http::verb::unknown)
        req.method_string(method);
    else
        req.method(v);
    req.target(versioned(target));
    req.version(11);
    req.set(http::field::host, "api.moby.localhost");
    req.set(http::field::user_agent, user_agent);
    req.set(http::field::content_type, content_type);
    req.chunked(true);

    beast::error_code ec;
    http::request_serializer<http::empty_body> sr{req};
    http::write_header(s, sr, ec);
    // A failed send may mean the daemon answered early (a bad query) and
    // closed: its answer is more useful than EPIPE, so try to read it.
    error send_failed;
    bool failed = false;
    if (ec) {
        failed = true;
        send_failed = transport_error("send request to", _path, ec);
    }
    std::vector<char> buf(256 * 1024);
    while (!failed) {
        BERTH_ASSIGN(std::size_t n, read_body(buf.data(), buf.size()));
        if (n == 0) {
            asio::write(s, http::make_chunk_last(), ec);
        } else {
            asio::write(s, http::make_chunk(asio::const_buffer(buf.data(), static_cast<std::size_t>(n))), ec);
        }
        if (ec) {
            failed = true;
            send_failed = transport_error("send request body to", _path, ec);
        }
        if (n == 0) break;
    }
    auto i = std::make_unique<response_stream::impl>(std::move(s), _path);
    auto ready = read_stream_header(std::move(i));
    if (!ready) return failed ? send_failed : ready.err();
    return response_stream(std::move(ready).value());
}

result<hijacked_stream> client::hijack(std::string_view target, std::string_view json_body,
                                       response* refused) const {
    if (refused) *refused = {};
    std::vector<http_header> headers = {{"Connection", "Upgrade"}, {"Upgrade", "tcp"}};
    if (json_body.empty()) headers.push_back({"Content-Type", "text/plain"});
    auto req = make_request("POST", versioned(target), json_body, headers);
    BERTH_ASSIGN(fd_stream s, send_request(_path, req));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> p;
    p.header_limit(header_limit);
    beast::error_code ec;
    http::read_header(s, buffer, p, ec);
    if (ec) return transport_error("read response from", _path, ec);
    int code = static_cast<int>(p.get().result_int());
    if (code != 101) {
        if (!p.is_done()) http::read(s, buffer, p, ec);
        if (refused) {
            refused->status = code;
            refused->content_type = std::string(p.get()[http::field::content_type]);
            refused->body = p.get().body();
        }
        if (code >= 200 && code < 300)
            return make_error(errc::internal, "daemon did not upgrade the attach connection (status " +
                                                  std::to_string(code) + ")");
        return api_error(code, p.get().body());
    }
    auto i = std::make_unique<hijacked_stream::impl>();
    i->pending = beast::buffers_to_string(buffer.data());
    i->fd = s.release();
    return hijacked_stream(std::move(i));
}

}  // namespace berth::net
