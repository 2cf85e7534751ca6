// A container's filesystem over the API: export, archive (docker cp both
// ways) and changes (docker diff). The file work happens on the worker pool
// through a rootfs_view (engine/rootfs_view.h); archives stream to the client
// through a pipe the worker fills and this loop drains, chunk by chunk.
#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/log.h"
#include "base/util.h"
#include "daemon/handlers.h"
#include "engine/rootfs_archive.h"

namespace berth::api {

using namespace asio::experimental::awaitable_operators;
namespace json = boost::json;

namespace {

// The pipe between the worker writing a tar and the loop: 1 MiB lets the
// worker run ahead of a slow client for a while, no further.
constexpr int k_pipe_size = 1 << 20;
constexpr std::size_t k_chunk = std::size_t{256} * 1024;

// The tar a worker writes: one path (cp from a container) or the whole root
// (export).
struct tar_job {
    rootfs_view view;
    std::optional<archive_source> source;

    status operator()(int fd) const {
        return source ? write_path_archive(view, *source, fd) : write_rootfs_archive(view, fd);
    }
};

// Copies what the worker writes into the pipe to the client as chunks, until
// EOF. Closing the read end (on return) makes a worker still writing fail
// with EPIPE, so it never outlives a client that went away for long.
awaitable<bool> pump_pipe(socket_t& s, unique_fd& pipe) {
    asio::posix::stream_descriptor in(s.get_executor(), pipe.release());
    std::vector<char> buf(k_chunk);
    for (;;) {
        boost::system::error_code ec;
        std::size_t n = co_await in.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
        if (n > 0) {
            std::string_view chunk(buf.data(), n);
            if (!co_await write_chunk(s, chunk)) co_return false;
        }
        if (ec == asio::error::eof) co_return true;
        if (ec) co_return false;
    }
}

// The body of a 200 already begun: the tar, then the last chunk. A failure
// halfway closes the connection without the last chunk, so that the client
// sees a cut stream rather than a short archive.
awaitable<bool> stream_tar(socket_t& s, engine& eng, tar_job job, std::string what) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        log::warn("{}: {}", what, sys_error("pipe").message);
        co_return false;
    }
    unique_fd rd(fds[0]), wr(fds[1]);
    (void)::fcntl(wr.get(), F_SETPIPE_SZ, k_pipe_size);
    auto produce = [job = std::move(job), wr = std::move(wr)]() mutable -> status {
        status st = job(wr.get());
        wr.reset();  // EOF for the loop
        return st;
    };
    auto [written, sent] = co_await (eng.workers().run(offload_reason::filesystem, std::move(produce)) &&
                                     pump_pipe(s, rd));
    if (!sent) co_return false;  // the client went away (the worker then failed with EPIPE)
    if (!written) {
        log::warn("{}: {}", what, written.err().message);
        co_return false;
    }
    co_return co_await end_stream(s);
}

// Docker's words for a path that is not there (containerFileNotFound).
std::string file_not_found(const std::string& path, const std::string& ref) {
    return "Could not find the file " + path + " in container " + ref;
}

}  // namespace

awaitable<bool> containers_export(socket_t& s, request& req, engine& eng, container_ptr c) {
    auto layout = container_layout(eng, *c);
    auto open = [layout] { return open_snapshot(layout); };
    auto view = co_await eng.workers().run(offload_reason::filesystem, std::move(open));
    if (!view) co_return co_await reply_error(s, req, view.err());
    if (!co_await begin_stream(s, req, "application/octet-stream")) co_return false;
    tar_job job{std::move(*view), std::nullopt};
    co_return co_await stream_tar(s, eng, std::move(job), "export container " + c->id);
}

awaitable<bool> containers_archive_get(socket_t& s, request& req, engine& eng, container_ptr c, std::string ref) {
    std::string path = req.get("path");
    if (path.empty()) co_return co_await reply_error(s, req, http::status::bad_request, "path is required");
    auto layout = container_layout(eng, *c);
    auto open = [layout, path]() -> result<tar_job> {
        BERTH_ASSIGN(rootfs_view v, open_snapshot(layout));
        BERTH_ASSIGN(archive_source src, stat_container_path(v, path));
        return tar_job{std::move(v), std::move(src)};
    };
    auto job = co_await eng.workers().run(offload_reason::filesystem, std::move(open));
    if (!job && job.err().code == errc::not_found)
        co_return co_await reply_error(s, req, http::status::not_found, file_not_found(path, ref));
    if (!job) co_return co_await reply_error(s, req, job.err());
    header_list headers;
    headers.emplace_back("X-Docker-Container-Path-Stat", base64_encode(path_stat_json(job->source->stat)));
    if (req.method == http::verb::head) co_return co_await reply(s, req, http::status::ok, "", "", std::move(headers));
    if (!co_await begin_stream(s, req, "application/x-tar", std::move(headers))) co_return false;
    co_return co_await stream_tar(s, eng, std::move(*job), "archive " + path + " of container " + c->id);
}

awaitable<bool> containers_archive_put(socket_t& s, request& req, engine& eng, container_ptr c, std::string ref) {
    std::string path = req.get("path");
    if (path.empty()) co_return co_await reply_error(s, req, http::status::bad_request, "path is required");
    if (req.body_file.empty())
        co_return co_await reply_error(s, req, http::status::internal_server_error, "the archive was not received");
    if (auto* ro = c->host_config.if_contains("ReadonlyRootfs"); ro && ro->is_bool() && ro->as_bool())
        co_return co_await reply_error(s, req, http::status::forbidden, "container rootfs is marked read-only");
    if (c->starting || c->status == "removing")
        co_return co_await reply_error(s, req, http::status::conflict,
                                       "container " + ref + " is starting or being removed; try again");
    // A container created from a warm pool has a parked sandbox with its
    // overlay live on upper/: given up first (it then starts cold).
    co_await eng.unpark(c);
    // A running container is written through its own root (its live
    // overlay); a stopped one through an overlay of our own, which a start
    // waits for.
    bool live = c->running();
    extract_request r;
    r.path = path;
    r.no_overwrite_dir_non_dir = req.flag("noOverwriteDirNonDir");
    r.copy_uid_gid = req.flag("copyUIDGID");
    if (auto* u = c->config.if_contains("User"); u && u->is_string()) r.user = std::string(u->as_string());
    auto layout = container_layout(eng, *c);
    auto extract = [layout, pid = c->pid, live, r, file = req.body_file]() -> status {
        result<rootfs_view> v = live ? open_live(pid, layout) : open_writable(layout);
        if (!v) return v.err();
        return extract_into_container(*v, r, file);
    };
    c->pristine = false;  // its command may be elsewhere along PATH now (engine::told_command)
    if (!live) c->rootfs_writes++;
    status done = co_await eng.workers().run(offload_reason::filesystem, std::move(extract));
    if (!live) {
        c->rootfs_writes--;
        c->changed->notify();
    }
    if (!done && done.err().code == errc::not_found)
        co_return co_await reply_error(s, req, http::status::not_found, file_not_found(path, ref));
    if (!done) co_return co_await reply_error(s, req, done.err());
    co_return co_await reply(s, req, http::status::ok, "", "");
}

awaitable<bool> containers_changes(socket_t& s, request& req, engine& eng, container_ptr c) {
    auto layout = container_layout(eng, *c);
    auto diff = [layout] { return rootfs_changes(layout); };
    auto changes = co_await eng.workers().run(offload_reason::filesystem, std::move(diff));
    if (!changes) co_return co_await reply_error(s, req, changes.err());
    // Docker sends null, not [], when nothing changed.
    json::value out = nullptr;
    if (!changes->empty()) {
        json::array list;
        for (const auto& ch : *changes) {
            json::object o;
            o["Path"] = ch.path;
            o["Kind"] = static_cast<int>(ch.kind);
            list.push_back(std::move(o));
        }
        out = std::move(list);
    }
    co_return co_await reply_json(s, req, http::status::ok, out);
}

}  // namespace berth::api
