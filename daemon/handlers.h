// Route handlers of the API server that live outside api.cc, one file per
// topic (api_<topic>.cc). Daemon-internal; each returns false when the
// connection must close, as route() does.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/detach_keys.h"
#include "daemon/http.h"
#include "engine/engine.h"

namespace berth::api {

// The stdin side of a hijacked attach or exec start. It runs beside the
// output copy and is never cancelled while its socket read is pending (the
// Asio 1.81 io_uring trap in docs/CONVENTIONS.md): the output side ends the
// attachment by shutting the socket down, which completes that read, and
// then awaits `finished`.
struct client_input {
    explicit client_input(asio::any_io_executor ex) : finished(ex) {}
    std::optional<std::string> detach_keys;  // scanned for (with a tty)
    std::function<void(std::string)> write;  // bytes for the process's stdin
    std::function<void()> close;             // the client's EOF (half-close)
    std::function<void()> wake;              // tells the output side it detached
    bool detached = false;
    bool output_done = false;  // set by the output side: no more closing of stdin
    async_event finished;
};
// Copies the client's bytes in, never faster than the monitor takes them,
// until EOF (close() unless the output is done), the detach keys
// (detached, wake()) or an error.
awaitable<void> copy_client_input(socket_t& s, engine& eng, client_input* in);

// api_exec.cc: POST /containers/{ref}/exec, and everything under /exec/.
awaitable<bool> exec_create(socket_t& s, request& req, engine& eng, const std::string& container_ref);
awaitable<bool> exec_route(socket_t& s, request& req, engine& eng);

// api_volumes.cc: everything under /volumes (local driver).
awaitable<bool> volumes_route(socket_t& s, request& req, engine& eng);

// api_system_df.cc: GET /system/df (docker system df).
awaitable<bool> system_df(socket_t& s, request& req, engine& eng);

// api_batch.cc: POST /berth/containers/run?count=&parallel=&remove= (berth
// run --count): N containers from one create body, the batch's summary.
awaitable<bool> containers_run_batch(socket_t& s, request& req, engine& eng);
// Warm pools: GET/POST /berth/pools, DELETE /berth/pools/{image}.
awaitable<bool> pools_route(socket_t& s, request& req, engine& eng);
awaitable<bool> spares_route(socket_t& s, request& req, engine& eng);

// api_list.cc: GET /containers/json with Docker's filters, limit, size, before, since.
awaitable<bool> containers_list(socket_t& s, request& req, engine& eng);

// api_stats.cc: GET /containers/{ref}/stats?stream=&one-shot= (Docker's
// stats JSON: one object, or one per second as JSON lines).
awaitable<bool> containers_stats(socket_t& s, request& req, engine& eng, container_ptr c);
// api_top.cc: GET /containers/{ref}/top?ps_args= ({"Processes","Titles"}).
awaitable<bool> containers_top(socket_t& s, request& req, engine& eng, container_ptr c);
// api_archive.cc: a container's filesystem. `ref` is the container as the
// client named it (Docker's messages repeat it).
// GET /containers/{ref}/export: a tar of the root filesystem, streamed.
awaitable<bool> containers_export(socket_t& s, request& req, engine& eng, container_ptr c);
// GET|HEAD /containers/{ref}/archive?path=: a tar of the path (GET) and its
// X-Docker-Container-Path-Stat header (both).
awaitable<bool> containers_archive_get(socket_t& s, request& req, engine& eng, container_ptr c, std::string ref);
// PUT /containers/{ref}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=: the
// uploaded tar (req.body_file) extracted into the directory path.
awaitable<bool> containers_archive_put(socket_t& s, request& req, engine& eng, container_ptr c, std::string ref);
// GET /containers/{ref}/changes: [{"Path","Kind"}] (0 modified, 1 added, 2 deleted), or null.
awaitable<bool> containers_changes(socket_t& s, request& req, engine& eng, container_ptr c);
// api_update.cc: POST /containers/{ref}/update ({"Warnings"}).
awaitable<bool> containers_update(socket_t& s, request& req, engine& eng, container_ptr c);

}  // namespace berth::api
