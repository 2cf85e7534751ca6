// HTTP plumbing of the API server: Docker's response headers, JSON and
// error replies, chunked streams and stdcopy frames. Daemon-internal.
#pragma once

#include <map>
#include <vector>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "base/error.h"
#include "engine/core/async.h"

namespace berth::api {

namespace beast = boost::beast;
namespace http = beast::http;
using socket_t = asio::local::stream_protocol::socket;

struct request {
    http::verb method{};
    std::string target;  // as sent
    std::string path;    // without /v1.xx and query
    std::string version; // "1.41" or "" when unversioned
    std::map<std::string, std::string> query;  // the last value of each key
    std::vector<std::pair<std::string, std::string>> query_list;  // every pair, in order
    std::string body;
    std::string body_file;  // for uploads streamed to disk
    bool keep_alive = true;
    bool upgrade = false;   // Connection: Upgrade (hijack)
    unsigned http_version = 11;

    bool flag(const std::string& k) const;  // moby's boolean parsing
    std::string get(const std::string& k, const std::string& def = "") const;
};

std::string url_decode(std::string_view s);
// The request body as a JSON object; a 400-worthy invalid_argument in
// Docker's words ("invalid JSON: ...") otherwise.
result<boost::json::object> json_object_body(const request& req);
// Splits target into path/version/query; false if the version is malformed.
bool parse_target(std::string_view target, request& req);

void add_docker_headers(http::fields& f);

// Response headers beyond Docker's own (X-Docker-Container-Path-Stat).
using header_list = std::vector<std::pair<std::string, std::string>>;

awaitable<bool> reply(socket_t& s, const request& req, http::status st, std::string body,
                      std::string content_type = "application/json", header_list extra = {});
awaitable<bool> reply_json(socket_t& s, const request& req, http::status st, const boost::json::value& v);
awaitable<bool> reply_error(socket_t& s, const request& req, const error& e);
awaitable<bool> reply_error(socket_t& s, const request& req, http::status st, std::string message);

// Chunked streaming: header now, chunks as they come, the last chunk at the end.
awaitable<bool> begin_stream(socket_t& s, const request& req, const char* content_type, header_list extra = {});
awaitable<bool> write_chunk(socket_t& s, std::string_view data);
awaitable<bool> end_stream(socket_t& s);

// The 101 (or 200 without Upgrade) of a hijacked connection.
awaitable<bool> begin_hijack(socket_t& s, const request& req);

// [stream, 0, 0, 0, len BE32] + payload
std::string stdcopy_frame(int stream, std::string_view payload);

// Completes when the peer closes its side (EOF or error); discards bytes.
// Meant to lose an `||` race (and be cancelled). It polls (non-blocking
// recv every 200 ms) instead of keeping a read pending: Asio 1.81 cancels a
// pending io_uring operation with an IORING_OP_ASYNC_CANCEL whose user_data
// it never sets, so the cancel's completion goes to whatever operation last
// used that ring slot, a spurious completion of another read or write (seen
// as garbage bytes and hung streams with several `logs -f` at once).
awaitable<void> until_closed(socket_t& s);

}  // namespace berth::api
