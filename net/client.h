// The Docker Engine API client the berth CLI speaks to the daemon with:
// HTTP/1.1 over a UNIX socket, blocking I/O, one connection per request
// (docker-py does the same; the CLI has no use for keep-alive).
//
// Vocabulary:
//   target    a path below the API version with its query, as the CLI builds
//             it: "/containers/create?name=web". The client prefixes "/v1.41".
//   response  a whole answer, read to its end.
//   stream    an answer whose headers are read at once and whose body is read
//             as it arrives (logs -f, wait, pull and load progress).
//   hijack    an attach or exec start: the daemon answers 101 and the
//             connection becomes raw bytes both ways; output uses stdcopy
//             frames unless the container has a tty.
//
// Every call blocks the calling thread. Nothing here is thread-safe; the CLI
// is single-threaded. The header stays free of Asio and Beast (pimpl).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::net {

inline constexpr std::string_view api_version = "1.41";

// The stdcopy stream numbers of a frame header.
enum class std_stream : std::uint8_t { in = 0, out = 1, err = 2, system_err = 3 };

struct http_header {
    std::string name;
    std::string value;
};

struct response {
    int status = 0;
    std::string content_type;
    std::string body;
    std::vector<http_header> headers;  // every header of the answer, in order

    // The value of a header (case-insensitive name), "" when absent.
    std::string header(std::string_view name) const;

    bool ok() const { return status >= 200 && status < 300; }
};

// The text of an error answer: "message" of {"message": "..."} when the body
// is such JSON, else the body itself, else "status N".
std::string error_message(int status, std::string_view body);

// An error for a non-2xx answer, its category chosen from the status
// (404 not_found, 409 conflict, 400 invalid_argument, 5xx internal) and its
// message the daemon's own text.
error api_error(int status, std::string_view body);

// Splits Docker's stdcopy framing: each frame is [stream, 0, 0, 0, length as
// uint32 big-endian] then length bytes. Payload is passed on as it arrives,
// so a frame may reach the sink in several pieces.
class stdcopy_demuxer {
public:
    using sink = std::function<status(std_stream, std::string_view)>;
    explicit stdcopy_demuxer(sink s) : _sink(std::move(s)) {}

    status feed(std::string_view data);
    // True when everything fed so far ended on a frame boundary.
    bool at_boundary() const { return _header_len == 0 && _left == 0; }

private:
    sink _sink;
    unsigned char _header[8] = {};
    std::size_t _header_len = 0;
    std::uint64_t _left = 0;
    std_stream _stream = std_stream::out;
};

// A response whose body is read incrementally. Move-only; closes on destruction.
class response_stream {
public:
    response_stream(response_stream&&) noexcept;
    response_stream& operator=(response_stream&&) noexcept;
    ~response_stream();

    int status() const;
    bool ok() const { return status() >= 200 && status() < 300; }
    const std::string& content_type() const;
    // The value of a header (case-insensitive name), "" when absent.
    std::string header(std::string_view name) const;

    // Reads up to n body bytes, blocking until at least one arrives; 0 means
    // the body has ended.
    result<std::size_t> read_some(char* buf, std::size_t n);
    // Reads the rest of the body.
    result<std::string> read_all();

    struct impl;

private:
    explicit response_stream(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
    friend class client;
};

// A connection switched to raw bytes after "101 UPGRADED". Move-only.
class hijacked_stream {
public:
    hijacked_stream(hijacked_stream&&) noexcept;
    hijacked_stream& operator=(hijacked_stream&&) noexcept;
    ~hijacked_stream();

    // The socket, for poll(). Check has_buffered() first: bytes that arrived
    // with the 101 header are kept in user space and do not wake poll().
    int fd() const;
    bool has_buffered() const;

    // Reads up to n bytes; 0 means the daemon closed its side.
    result<std::size_t> read_some(char* buf, std::size_t n);
    status write_all(std::string_view data);
    // Writes what the socket takes now without blocking; 0 when it takes
    // nothing. Lets one thread copy stdin in and output out without either
    // direction stalling the other.
    result<std::size_t> write_some(std::string_view data);
    // shutdown(SHUT_WR): tells the daemon there is no more stdin.
    status close_write();

    struct impl;

private:
    explicit hijacked_stream(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
    friend class client;
};

class client {
public:
    // socket_path is a filesystem path, not a unix:// URL.
    explicit client(std::string socket_path);

    const std::string& socket_path() const { return _path; }

    // HEAD /_ping. Fails with errc::unavailable when nothing accepts on the
    // socket; sys_errno then says why (ENOENT, ECONNREFUSED, EACCES).
    status ping() const;

    // Sends a request and reads the whole answer. A non-empty json_body is
    // sent as application/json. Only transport failures are errors: the
    // caller reads the status.
    result<response> request(std::string_view method, std::string_view target,
                             std::string_view json_body = {},
                             const std::vector<http_header>& headers = {}) const;

    // Like request(), but returns once the headers are in.
    result<response_stream> stream(std::string_view method, std::string_view target,
                                   std::string_view json_body = {},
                                   const std::vector<http_header>& headers = {}) const;

    // Sends everything read from body_fd until EOF as a chunked body (a file
    // or a pipe, never read into memory whole), then returns the answer as a
    // stream. body_fd is not closed.
    result<response_stream> upload(std::string_view method, std::string_view target,
                                   std::string_view content_type, int body_fd) const;
    // The same with the body from read_body(buf, size): bytes read, 0 at the
    // end. When it fails, the request is abandoned without its last chunk
    // (the daemon then discards what it received) and the failure returned.
    using body_reader = std::function<result<std::size_t>(char* buf, std::size_t size)>;
    result<response_stream> upload(std::string_view method, std::string_view target,
                                   std::string_view content_type, const body_reader& read_body) const;

    // POST with Connection: Upgrade / Upgrade: tcp. A non-101 answer becomes
    // api_error(), and is copied to *refused when given (status 0 means the
    // failure was not the daemon's answer). With no stdin to send, the caller
    // should close_write() at once, as the docker CLI does.
    result<hijacked_stream> hijack(std::string_view target, std::string_view json_body = {},
                                   response* refused = nullptr) const;

private:
    std::string _path;
};

}  // namespace berth::net
