// GET /containers/{ref}/top?ps_args=: the container's processes. Without
// ps_args they are read from /proc in `ps -ef`'s columns; with ps_args the
// host's ps runs and its rows are kept by PID, as moby does.
#include "daemon/handlers.h"
#include "engine/cgroup/manager.h"
#include "engine/top.h"

namespace berth::api {

namespace json = boost::json;

awaitable<bool> containers_top(socket_t& s, request& req, engine& eng, container_ptr c) {
    std::string ps_args = req.get("ps_args");
    if (auto v = validate_ps_args(ps_args); !v) co_return co_await reply_error(s, req, v.err());
    if (!c->running())
        co_return co_await reply_error(s, req, http::status::conflict, "Container " + c->id + " is not running");
    auto job = [&m = eng.cgroups(), id = c->id, ps_args]() -> result<process_table> {
        BERTH_ASSIGN(std::vector<int> pids, m.pids(id));
        if (ps_args.empty()) return list_processes(pids);
        return run_ps(ps_args, pids);
    };
    auto table = co_await eng.workers().run(offload_reason::cgroup, std::move(job));
    if (!table) co_return co_await reply_error(s, req, table.err());
    json::array processes, titles;
    for (auto& row : table->processes) {
        json::array r;
        for (auto& cell : row) r.emplace_back(cell);
        processes.push_back(std::move(r));
    }
    for (auto& t : table->titles) titles.emplace_back(t);
    json::object out{{"Processes", std::move(processes)}, {"Titles", std::move(titles)}};
    co_return co_await reply_json(s, req, http::status::ok, out);
}

}  // namespace berth::api
