#include "engine/monitor/protocol.h"

#include <sys/socket.h>

#include <cstring>
#include <memory>

#include "base/fd_passing.h"

namespace berth::monitor {

std::string encode(const message& m) {
    std::string hdr = boost::json::serialize(m.header);
    std::string out;
    out.reserve(5 + hdr.size() + m.payload.size());
    out.push_back(static_cast<char>(m.type));
    std::uint32_t n = static_cast<std::uint32_t>(hdr.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out += hdr;
    out += m.payload;
    return out;
}

result<message> decode(std::string_view p) {
    if (p.size() < 5) return make_error(errc::invalid_argument, "monitor message: short packet");
    message m;
    m.type = static_cast<msg>(static_cast<std::uint8_t>(p[0]));
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= std::uint32_t(static_cast<std::uint8_t>(p[1 + i])) << (8 * i);
    if (5 + std::size_t(n) > p.size()) return make_error(errc::invalid_argument, "monitor message: bad header length");
    boost::system::error_code ec;
    auto v = boost::json::parse(p.substr(5, n), ec);
    if (ec || !v.is_object()) return make_error(errc::invalid_argument, "monitor message: bad header");
    m.header = std::move(v.as_object());
    m.payload.assign(p.substr(5 + n));
    return m;
}

status send_packet(int sock, std::string_view packet, const std::vector<int>& fds) {
    if (auto s = send_with_fds(sock, packet, fds); !s) return s.err().wrap("send to monitor socket");
    return ok();
}

result<std::string> recv_packet(int sock, std::vector<unique_fd>* fds) {
    // One buffer per thread for the whole life of the process: a fresh
    // max_packet string per packet was zero-filled and, past malloc's mmap
    // threshold, faulted in and given back each time (in the monitor and the
    // zygote, two to three packets per container start).
    thread_local std::unique_ptr<char[]> buf(new char[max_packet]);
    auto n = recv_with_fds(sock, buf.get(), max_packet, fds);
    if (!n) return n.err().wrap("receive from monitor socket");
    return std::string(buf.get(), *n);
}

std::string errc_name(errc c) {
    switch (c) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::conflict: return "conflict";
    case errc::unavailable: return "unavailable";
    case errc::cannot_execute: return "cannot_execute";
    case errc::command_not_found: return "command_not_found";
    case errc::internal: break;
    }
    return "internal";
}

std::string shard_file(const std::string& root, int shard, std::string_view suffix) {
    std::string f = root + (shard == 0 ? "/monitor" : "/monitor-" + std::to_string(shard));
    f += suffix;
    return f;
}

errc errc_from_name(std::string_view n) {
    for (errc c : {errc::invalid_argument, errc::not_found, errc::already_exists, errc::conflict, errc::unavailable,
                   errc::cannot_execute, errc::command_not_found})
        if (errc_name(c) == n) return c;
    return errc::internal;
}

}  // namespace berth::monitor
