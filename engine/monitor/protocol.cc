#include "engine/monitor/protocol.h"

#include <sys/socket.h>

#include <cstring>

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
    iovec iov{const_cast<char*>(packet.data()), packet.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    std::vector<char> ctrl;
    if (!fds.empty()) {
        ctrl.resize(CMSG_SPACE(sizeof(int) * fds.size()));
        mh.msg_control = ctrl.data();
        mh.msg_controllen = ctrl.size();
        cmsghdr* c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        if (::sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0) return ok();
        if (errno != EINTR) return sys_error("send to monitor socket");
    }
}

result<std::string> recv_packet(int sock, std::vector<unique_fd>* fds) {
    std::string buf(max_packet, '\0');
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int) * 16)];
    mh.msg_control = ctrl;
    mh.msg_controllen = sizeof ctrl;
    ssize_t n;
    do n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return sys_error("receive from monitor socket");
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (fds) fds->emplace_back(fd);
            else ::close(fd);
        }
    }
    buf.resize(static_cast<std::size_t>(n));
    return buf;
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

errc errc_from_name(std::string_view n) {
    for (errc c : {errc::invalid_argument, errc::not_found, errc::already_exists, errc::conflict, errc::unavailable,
                   errc::cannot_execute, errc::command_not_found})
        if (errc_name(c) == n) return c;
    return errc::internal;
}

}  // namespace berth::monitor
