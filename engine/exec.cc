// docker exec: a fresh process in a running container. The monitor's
// zygote clones it into the container's pid namespace and cgroups, the
// child joins the other namespaces through the container's pidfd and runs
// the same process half as the container's own init (user, capabilities,
// rlimits, cwd, env). Its output reaches the attached client only.
#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/config_util.h"
#include "engine/engine.h"
#include "engine/monitor_client.h"

namespace berth {

namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;

namespace {

std::string command_line(const json::object& config) {
    std::string out;
    for (auto& a : string_list(config.if_contains("Cmd"))) {
        if (!out.empty()) out += ' ';
        out += a;
    }
    return out;
}

// What `docker exec` refuses, in Docker's words (moby daemon/exec.go).
status check_exec_target(const container& c) {
    if (c.paused)
        return make_error(errc::conflict, "Container " + c.id + " is paused, unpause the container before exec");
    if (c.restarting)
        return make_error(errc::conflict, "Container " + c.id + " is restarting, wait until the container is running");
    if (!c.running()) return make_error(errc::conflict, "Container " + c.id + " is not running");
    return ok();
}

}  // namespace

bool exec_instance::tty() const { return bool_field(config, "Tty"); }

awaitable<result<std::string>> engine::create_exec(std::string container_ref, json::object body) {
    auto found = find_container(container_ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    if (auto s = check_exec_target(*c); !s) co_return s.err();
    auto cmd = string_list(body.if_contains("Cmd"));
    if (cmd.empty()) co_return make_error(errc::invalid_argument, "No exec command specified");
    for (const char* k : {"Env", "Cmd"})
        if (auto* v = body.if_contains(k); v && !v->is_null() && !v->is_array())
            co_return make_error(errc::invalid_argument, std::string(k) + " must be a list of strings");

    auto e = std::make_shared<exec_instance>();
    e->id = random_id();
    e->container_id = c->id;
    e->config = {{"User", str_field(body, "User")},
                 {"Privileged", bool_field(body, "Privileged")},
                 {"Tty", bool_field(body, "Tty")},
                 {"AttachStdin", bool_field(body, "AttachStdin")},
                 {"AttachStdout", bool_field(body, "AttachStdout")},
                 {"AttachStderr", bool_field(body, "AttachStderr")},
                 {"DetachKeys", str_field(body, "DetachKeys")},
                 {"Env", to_array(string_list(body.if_contains("Env")))},
                 {"WorkingDir", str_field(body, "WorkingDir")},
                 {"Cmd", to_array(cmd)}};
    e->changed = std::make_unique<async_signal>(_loop.get_executor());
    e->start_done = std::make_unique<async_event>(_loop.get_executor());
    // Docker keeps exited execs for inspection; bound them per container.
    std::size_t mine = 0;
    for (auto& [id, x] : _execs) mine += x->container_id == c->id;
    if (mine >= 1024) {
        for (auto it = _execs.begin(); it != _execs.end();)
            if (it->second->container_id == c->id && it->second->exited) it = _execs.erase(it);
            else ++it;
    }
    _execs[e->id] = e;
    emit(*c, "exec_create: " + command_line(e->config), {{"execID", e->id}});
    co_return e->id;
}

result<exec_ptr> engine::find_exec(std::string_view id) const {
    auto it = _execs.find(std::string(id));
    if (it == _execs.end() || it->second->hidden) return make_error(errc::not_found, "No such exec instance: " + std::string(id));
    return it->second;
}

awaitable<status> engine::start_exec(exec_ptr e, unsigned short rows, unsigned short cols) {
    if (e->started) {
        if (e->running) co_return make_error(errc::conflict, "Error: Exec command " + e->id + " is already running");
        co_return make_error(errc::conflict, "Error: Exec command " + e->id + " has already run");
    }
    e->started = true;
    // Whatever stops it from running, the instance ends as Docker's do: not
    // running, exit code 126, the reason kept.
    auto never_ran = [&](const error& err) {
        e->exited = true;
        e->exit_code = 126;
        e->error = err.message;
        e->start_done->set();
        e->changed->notify();
        return err;
    };
    auto found = find_container(e->container_id);
    if (!found) co_return never_ran(found.err());
    container_ptr c = *found;
    if (auto s = check_exec_target(*c); !s) co_return never_ran(s.err());

    std::optional<std::string> seccomp_profile;
    auto spec = process_half(*c, &seccomp_profile);
    if (!spec) co_return never_ran(spec.err());
    spec->hostname.clear();
    spec->args = string_list(e->config.if_contains("Cmd"));
    spec->env = merge_env(std::move(spec->env), string_list(e->config.if_contains("Env")));
    if (auto u = str_field(e->config, "User"); !u.empty()) spec->user = u;
    if (auto w = str_field(e->config, "WorkingDir"); !w.empty()) spec->cwd = w;
    // The container's filter, compiled for the container's capabilities:
    // as with Docker, --privileged widens the exec's capabilities only.
    if (auto sc = co_await add_seccomp(seccomp_profile, *spec); !sc) co_return never_ran(sc.err());
    if (bool_field(e->config, "Privileged")) spec->capabilities = runtime::privileged_capabilities();
    auto cg = _cgroups->paths(c->id);
    spec->cgroup2_dir = cg.v2_dir;
    spec->cgroup_v1_procs = cg.v1_procs();

    monitor::message m{monitor::msg::exec,
                       {{"id", e->id},
                        {"container", c->id},
                        {"spec", runtime::to_json(*spec)},
                        {"open_stdin", bool_field(e->config, "AttachStdin")},
                        {"tty", e->tty()}},
                       {}};
    if (e->tty() && rows && cols) {
        m.header["rows"] = rows;
        m.header["cols"] = cols;
    }
    if (auto s = _monitor->send(m); !s) co_return never_ran(s.err());
    co_await e->start_done->wait();
    if (!e->error.empty() && !e->running) co_return make_error(e->exit_code == 127 ? errc::command_not_found
                                                                                   : errc::cannot_execute,
                                                               e->error);
    emit(*c, "exec_start: " + command_line(e->config), {{"execID", e->id}});
    co_return ok();
}

void engine::write_exec_stdin(exec_instance& e, std::string data, bool close) {
    constexpr std::size_t chunk = 64 * 1024;
    for (std::size_t off = 0; off < data.size(); off += chunk)
        (void)_monitor->send({monitor::msg::stdin_data, {{"id", e.id}}, data.substr(off, chunk)});
    if (close) (void)_monitor->send({monitor::msg::stdin_close, {{"id", e.id}}, {}});
}

status engine::resize_container(const container& c, int rows, int cols) {
    if (!c.running()) return make_error(errc::conflict, "Container " + c.id + " is not running");
    if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535)
        return make_error(errc::invalid_argument, "invalid terminal size " + std::to_string(rows) + "x" +
                                                      std::to_string(cols));
    if (!c.tty()) return ok();  // nothing to resize, as Docker
    return _monitor->send({monitor::msg::resize, {{"id", c.id}, {"rows", rows}, {"cols", cols}}, {}});
}

awaitable<status> engine::resize_exec(exec_ptr e, int rows, int cols) {
    if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535)
        co_return make_error(errc::invalid_argument, "invalid terminal size " + std::to_string(rows) + "x" +
                                                         std::to_string(cols));
    if (!e->tty()) co_return ok();
    if (!e->running && !e->exited) {
        asio::steady_timer deadline(_loop, std::chrono::seconds(10));
        co_await (e->start_done->wait() || deadline.async_wait(use_awaitable));
    }
    if (!e->running) co_return ok();
    co_return _monitor->send({monitor::msg::resize, {{"id", e->id}, {"rows", rows}, {"cols", cols}}, {}});
}

std::vector<std::string> engine::exec_ids(const container& c) const {
    std::vector<std::string> out;
    for (auto& [id, e] : _execs)
        if (e->container_id == c.id && e->running && !e->hidden) out.push_back(id);
    return out;
}

json::object engine::exec_json(const exec_instance& e) const {
    auto cmd = string_list(e.config.if_contains("Cmd"));
    json::array arguments;
    for (std::size_t i = 1; i < cmd.size(); ++i) arguments.emplace_back(cmd[i]);
    json::object process{{"tty", e.tty()},
                         {"entrypoint", cmd.empty() ? std::string() : cmd[0]},
                         {"arguments", std::move(arguments)},
                         {"privileged", bool_field(e.config, "Privileged")}};
    if (auto u = str_field(e.config, "User"); !u.empty()) process["user"] = u;
    json::object out{{"ID", e.id},
                     {"Running", e.running},
                     {"ExitCode", nullptr},
                     {"ProcessConfig", std::move(process)},
                     {"OpenStdin", bool_field(e.config, "AttachStdin")},
                     {"OpenStderr", bool_field(e.config, "AttachStderr")},
                     {"OpenStdout", bool_field(e.config, "AttachStdout")},
                     {"CanRemove", false},
                     {"ContainerID", e.container_id},
                     {"DetachKeys", str_field(e.config, "DetachKeys")},
                     {"Pid", e.pid}};
    if (e.exited) out["ExitCode"] = e.exit_code;
    return out;
}

void engine::on_monitor_exec_started(const std::string& id, int pid) {
    auto it = _execs.find(id);
    if (it == _execs.end()) return;
    auto& e = *it->second;
    e.running = true;
    e.pid = pid;
    e.start_done->set();
    e.changed->notify();
}

void engine::on_monitor_exec_failed(const std::string& id, error err) {
    auto it = _execs.find(id);
    if (it == _execs.end()) return;
    auto& e = *it->second;
    e.running = false;
    e.exited = true;
    // Docker's exit codes for an exec that never ran (moby translates the
    // runtime's error the same way for containers).
    e.exit_code = err.code == errc::command_not_found ? 127 : 126;
    e.error = err.message;
    e.start_done->set();
    e.changed->notify();
}

void engine::on_monitor_exec_output(const std::string& id, bool is_err, std::int64_t time_ns, std::string text) {
    auto it = _execs.find(id);
    if (it == _execs.end()) return;
    auto& e = *it->second;
    // Bounded like a container's live window; an exec's output has no log
    // file behind it, so the bound is generous.
    e.output_bytes += text.size();
    e.output.push_back({e.next_seq++, is_err, time_ns, 0, std::move(text)});
    while (e.output_bytes > (64u << 20) && e.output.size() > 1) {
        e.output_bytes -= e.output.front().text.size();
        e.output.pop_front();
    }
    e.changed->notify();
}

void engine::on_monitor_exec_exited(const std::string& id, int exit_code) {
    auto it = _execs.find(id);
    if (it == _execs.end()) return;
    auto& e = *it->second;
    e.running = false;
    e.exited = true;
    e.exit_code = exit_code;
    e.start_done->set();
    e.changed->notify();
    if (auto c = find_container(e.container_id))
        emit(**c, "exec_die", {{"execID", e.id}, {"exitCode", std::to_string(exit_code)}});
}

}  // namespace berth
