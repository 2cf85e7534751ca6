// The API client against a scripted server on a UNIX socket: what goes on
// the wire, incremental chunked reads, hijack with bytes that arrive with the
// 101, half-close, chunked upload, and stdcopy demuxing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "net/client.h"

namespace berth::net {
namespace {

// Reads one request: the head, and a Content-Length or chunked body.
struct wire_request {
    std::string head;
    std::string body;
};

std::string read_until(int fd, std::string& buf, std::string_view delim) {
    for (;;) {
        if (auto p = buf.find(delim); p != std::string::npos) {
            std::string out = buf.substr(0, p);
            buf.erase(0, p + delim.size());
            return out;
        }
        char tmp[4096];
        ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n <= 0) return {};
        buf.append(tmp, static_cast<std::size_t>(n));
    }
}

std::string read_exact(int fd, std::string& buf, std::size_t n) {
    while (buf.size() < n) {
        char tmp[4096];
        ssize_t r = ::read(fd, tmp, sizeof tmp);
        if (r <= 0) break;
        buf.append(tmp, static_cast<std::size_t>(r));
    }
    std::string out = buf.substr(0, n);
    buf.erase(0, std::min(n, buf.size()));
    return out;
}

wire_request read_request(int fd) {
    std::string buf;
    wire_request r;
    r.head = read_until(fd, buf, "\r\n\r\n");
    if (auto p = r.head.find("Content-Length: "); p != std::string::npos) {
        r.body = read_exact(fd, buf, std::stoul(r.head.substr(p + 16)));
    } else if (r.head.find("Transfer-Encoding: chunked") != std::string::npos) {
        for (;;) {
            std::size_t n = std::stoul(read_until(fd, buf, "\r\n"), nullptr, 16);
            if (n == 0) {
                read_until(fd, buf, "\r\n");
                break;
            }
            r.body += read_exact(fd, buf, n);
            read_until(fd, buf, "\r\n");
        }
    }
    return r;
}

void send_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        s.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string frame(unsigned char stream, std::string_view payload) {
    std::string f(8, '\0');
    f[0] = static_cast<char>(stream);
    auto n = static_cast<std::uint32_t>(payload.size());
    f[4] = static_cast<char>(n >> 24);
    f[5] = static_cast<char>(n >> 16);
    f[6] = static_cast<char>(n >> 8);
    f[7] = static_cast<char>(n);
    return f + std::string(payload);
}

// A listening socket in a temp dir; serve() handles one connection per handler on a thread.
class fake_daemon {
public:
    fake_daemon() {
        char tmpl[] = "/tmp/berth-client-test-XXXXXX";
        _dir = ::mkdtemp(tmpl);
        _path = _dir + "/d.sock";
        _listen.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, _path.c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(::bind(_listen.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(_listen.get(), 8), 0);
    }
    ~fake_daemon() {
        // Wakes an accept() no client came for, so a failed test cannot hang.
        ::shutdown(_listen.get(), SHUT_RDWR);
        if (_thread.joinable()) _thread.join();
        ::unlink(_path.c_str());
        ::rmdir(_dir.c_str());
    }
    const std::string& path() const { return _path; }

    void serve(std::vector<std::function<void(int)>> handlers) {
        _thread = std::thread([this, handlers = std::move(handlers)] {
            for (const auto& h : handlers) {
                unique_fd c(::accept4(_listen.get(), nullptr, nullptr, SOCK_CLOEXEC));
                if (!c) return;
                h(c.get());
            }
        });
    }
    void join() { _thread.join(); }

private:
    std::string _dir, _path;
    unique_fd _listen;
    std::thread _thread;
};

TEST(CliClient, PingMissingSocketIsUnavailable) {
    client c("/nonexistent/berth.sock");
    auto st = c.ping();
    ASSERT_FALSE(st);
    EXPECT_EQ(st.err().code, errc::unavailable);
    EXPECT_EQ(st.err().sys_errno, ENOENT);
}

TEST(CliClient, PingSendsHeadAndIgnoresBodyLength) {
    fake_daemon d;
    std::string head;
    d.serve({[&](int fd) {
        head = read_request(fd).head;
        // A HEAD answer announces a length but carries no body.
        send_all(fd, "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\n");
    }});
    EXPECT_TRUE(client(d.path()).ping());
    d.join();
    EXPECT_TRUE(head.starts_with("HEAD /_ping HTTP/1.1\r\n")) << head;
}

TEST(CliClient, RequestWithJsonBody) {
    fake_daemon d;
    wire_request seen;
    d.serve({[&](int fd) {
        seen = read_request(fd);
        send_all(fd,
                 "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
                 "{\"Id\":\"ab\"}\n");
    }});
    auto r = client(d.path()).request("POST", "/containers/create?name=web", "{\"Image\":\"busybox\"}");
    d.join();
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"Id\":\"ab\"}\n");
    EXPECT_EQ(r->content_type, "application/json");
    EXPECT_TRUE(seen.head.starts_with("POST /v1.41/containers/create?name=web HTTP/1.1\r\n")) << seen.head;
    EXPECT_NE(seen.head.find("Content-Type: application/json"), std::string::npos);
    EXPECT_EQ(seen.body, "{\"Image\":\"busybox\"}");
}

TEST(CliClient, PostWithoutBodySendsZeroLength) {
    fake_daemon d;
    std::string head;
    d.serve({[&](int fd) {
        head = read_request(fd).head;
        send_all(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    }});
    auto r = client(d.path()).request("POST", "/containers/x/start");
    d.join();
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->status, 204);
    EXPECT_NE(head.find("Content-Length: 0"), std::string::npos) << head;
}

TEST(CliClient, StreamHandsOutEachChunkAsItArrives) {
    fake_daemon d;
    std::promise<void> got_first;
    auto first_seen = got_first.get_future();
    d.serve({[&](int fd) {
        read_request(fd);
        send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n");
        // The second chunk is only sent once the client has the first: a
        // client that waited for a full buffer would hang here.
        first_seen.wait();
        send_all(fd, "3\r\ntwo\r\n0\r\n\r\n");
    }});
    auto s = client(d.path()).stream("POST", "/containers/x/wait?condition=next-exit");
    ASSERT_TRUE(s) << s.err().message;
    EXPECT_EQ(s->status(), 200);
    char buf[64];
    auto n = s->read_some(buf, sizeof buf);
    ASSERT_TRUE(n);
    EXPECT_EQ(std::string(buf, *n), "one");
    got_first.set_value();
    auto rest = s->read_all();
    ASSERT_TRUE(rest);
    EXPECT_EQ(*rest, "two");
    d.join();
}

TEST(CliClient, HijackKeepsBytesThatCameWithThe101) {
    fake_daemon d;
    std::string head;
    bool saw_eof = false;
    d.serve({[&](int fd) {
        head = read_request(fd).head;
        send_all(fd,
                 "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                 "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" +
                     frame(1, "early\n"));
        char c;
        saw_eof = ::read(fd, &c, 1) == 0;  // the client half-closed
        send_all(fd, frame(2, "err\n") + frame(1, "hi\n"));
    }});
    auto h = client(d.path()).hijack("/containers/x/attach?stderr=1&stdout=1&stream=1");
    ASSERT_TRUE(h) << h.err().message;
    EXPECT_TRUE(h->has_buffered());
    ASSERT_TRUE(h->close_write());
    std::string out, err;
    stdcopy_demuxer demux([&](std_stream s, std::string_view data) {
        (s == std_stream::err ? err : out) += data;
        return ok();
    });
    char buf[3];  // small on purpose: frames arrive in pieces
    for (;;) {
        auto n = h->read_some(buf, sizeof buf);
        ASSERT_TRUE(n) << n.err().message;
        if (*n == 0) break;
        ASSERT_TRUE(demux.feed(std::string_view(buf, *n)));
    }
    d.join();
    EXPECT_TRUE(saw_eof);
    EXPECT_EQ(out, "early\nhi\n");
    EXPECT_EQ(err, "err\n");
    EXPECT_TRUE(demux.at_boundary());
    EXPECT_NE(head.find("Connection: Upgrade"), std::string::npos);
    EXPECT_NE(head.find("Upgrade: tcp"), std::string::npos);
}

TEST(CliClient, HijackRefusedCarriesTheDaemonsMessage) {
    fake_daemon d;
    d.serve({[&](int fd) {
        read_request(fd);
        send_all(fd,
                 "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n"
                 "{\"message\":\"No such container: nope\"}");
    }});
    response refused;
    auto h = client(d.path()).hijack("/containers/nope/attach?stream=1", {}, &refused);
    d.join();
    ASSERT_FALSE(h);
    EXPECT_EQ(h.err().code, errc::not_found);
    EXPECT_EQ(h.err().message, "No such container: nope");
    EXPECT_EQ(refused.status, 404);
}

TEST(CliClient, UploadStreamsAChunkedBody) {
    fake_daemon d;
    wire_request seen;
    d.serve({[&](int fd) {
        seen = read_request(fd);
        send_all(fd,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "f\r\n{\"status\":\"ok\"}\r\n0\r\n\r\n");
    }});
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    unique_fd rd(p[0]), wr(p[1]);
    std::string payload(300000, 'x');
    std::thread writer([&] {
        std::string_view s = payload;
        while (!s.empty()) {
            ssize_t n = ::write(wr.get(), s.data(), s.size());
            if (n <= 0) break;
            s.remove_prefix(static_cast<std::size_t>(n));
        }
        wr.reset();
    });
    auto s = client(d.path()).upload("POST", "/images/load?quiet=0", "application/x-tar", rd.get());
    writer.join();
    ASSERT_TRUE(s) << s.err().message;
    auto body = s->read_all();
    d.join();
    ASSERT_TRUE(body);
    EXPECT_EQ(*body, "{\"status\":\"ok\"}");
    EXPECT_TRUE(seen.head.starts_with("POST /v1.41/images/load?quiet=0 HTTP/1.1\r\n")) << seen.head;
    EXPECT_NE(seen.head.find("Content-Type: application/x-tar"), std::string::npos);
    EXPECT_EQ(seen.body, payload);
}

TEST(CliClient, ErrorMessages) {
    EXPECT_EQ(error_message(404, "{\"message\":\"No such container: x\"}\n"), "No such container: x");
    EXPECT_EQ(error_message(500, "plain text\n"), "plain text");
    EXPECT_EQ(error_message(502, ""), "status 502");
    EXPECT_EQ(api_error(409, "{\"message\":\"in use\"}").code, errc::conflict);
    EXPECT_EQ(api_error(400, "{}").code, errc::invalid_argument);
}

TEST(CliClient, DemuxerRejectsUnknownStreams) {
    stdcopy_demuxer demux([](std_stream, std::string_view) { return ok(); });
    EXPECT_FALSE(demux.feed(std::string("\x07\0\0\0\0\0\0\x01x", 9)));
}

TEST(CliClient, DemuxerByteByByte) {
    std::string wire = frame(1, "out") + frame(2, "") + frame(2, "err") + frame(0, "in");
    std::string seen;
    stdcopy_demuxer demux([&](std_stream s, std::string_view data) {
        seen += std::to_string(static_cast<int>(s)) + std::string(data);
        return ok();
    });
    for (char c : wire) {
        ASSERT_TRUE(demux.feed(std::string_view(&c, 1)));
    }
    EXPECT_TRUE(demux.at_boundary());
    EXPECT_EQ(seen, "1o1u1t2e2r2r0i0n");
}

}  // namespace
}  // namespace berth::net
