// berth create [OPTIONS] IMAGE [COMMAND] [ARG...]
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

void add_resource_flags(CLI::App& sub, create_options& o) {
    sub.add_option("-m,--memory", o.memory, "Memory limit");
    sub.add_option("--memory-swap", o.memory_swap,
                   "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
    sub.add_option("--memory-reservation", o.memory_reservation, "Memory soft limit");
    sub.add_option("--cpus", o.cpus, "Number of CPUs");
    sub.add_option("-c,--cpu-shares", o.cpu_shares, "CPU shares (relative weight)");
    sub.add_option("--cpuset-cpus", o.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
    sub.add_option("--cpuset-mems", o.cpuset_mems, "MEMs in which to allow execution (0-3, 0,1)");
    sub.add_option("--blkio-weight", o.blkio_weight,
                   "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)");
    sub.add_option("--pids-limit", o.pids_limit, "Tune container pids limit (-1 for unlimited)");
}

void add_container_flags(CLI::App& sub, create_options& o) {
    sub.add_option("--name", o.name, "Assign a name to the container");
    sub.add_option("-e,--env", o.env, "Set environment variables")->allow_extra_args(false);
    sub.add_option("--env-file", o.env_files, "Read in a file of environment variables")->allow_extra_args(false);
    sub.add_option("-w,--workdir", o.workdir, "Working directory inside the container");
    sub.add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
    sub.add_option("--hostname", o.hostname, "Container host name");
    sub.add_option_function<std::string>(
        "--entrypoint", [&o](const std::string& v) { o.entrypoint = v; },
        "Overwrite the default ENTRYPOINT of the image");
    sub.add_option("--cap-add", o.cap_add, "Add Linux capabilities")->allow_extra_args(false);
    sub.add_option("--cap-drop", o.cap_drop, "Drop Linux capabilities")->allow_extra_args(false);
    sub.add_option("--network,--net", o.network, "Connect a container to a network (none|host; default none)");
    sub.add_option("--userns", o.userns, "User namespace to use (host: opt out of the daemon's --userns-remap)");
    sub.add_option("-l,--label", o.labels, "Set meta data on a container")->allow_extra_args(false);
    sub.add_option("-v,--volume", o.volumes, "Bind mount a volume (SRC:DST[:ro])")->allow_extra_args(false);
    sub.add_option("--mount", o.mounts, "Attach a filesystem mount to the container (type=bind,source=,target=)")
        ->allow_extra_args(false);
    sub.add_option("--volumes-from", o.volumes_from, "Mount volumes from the specified container(s)")
        ->allow_extra_args(false);
    sub.add_option("--tmpfs", o.tmpfs, "Mount a tmpfs directory (PATH[:OPTIONS])")->allow_extra_args(false);
    sub.add_option("--security-opt", o.security_opt, "Security Options")->allow_extra_args(false);
    sub.add_option("--ulimit", o.ulimits, "Ulimit options (NAME=SOFT[:HARD])")->allow_extra_args(false);
    sub.add_option("--sysctl", o.sysctls, "Sysctl options (KEY=VALUE)")->allow_extra_args(false);
    sub.add_option("--group-add", o.group_add, "Add additional groups to join")->allow_extra_args(false);
    sub.add_option("--device", o.devices, "Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])")
        ->allow_extra_args(false);
    sub.add_option("--device-cgroup-rule", o.device_cgroup_rules, "Add a rule to the cgroup allowed devices list")
        ->allow_extra_args(false);
    sub.add_option("--time-offset", o.time_offsets,
                   "Offsets of the container's own time namespace in seconds (monotonic=S,boottime=S; "
                   "berth extension, Linux 6.1+)")
        ->allow_extra_args(false);
    sub.add_option("--shm-size", o.shm_size, "Size of /dev/shm");
    sub.add_option("--log-driver", o.log_driver, "Logging driver for the container (json-file, none)");
    sub.add_option("--log-opt", o.log_opts, "Log driver options (max-size=10m, max-file=3)")->allow_extra_args(false);
    add_resource_flags(sub, o);
    sub.add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
    sub.add_option("--stop-timeout", o.stop_timeout, "Timeout (in seconds) to stop a container");
    sub.add_option("--restart", o.restart, "Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])");
    sub.add_flag("-i,--interactive", o.interactive, "Keep STDIN open even if not attached");
    sub.add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
    sub.add_flag("--rm", o.auto_remove, "Automatically remove the container when it exits");
    sub.add_flag("--read-only", o.read_only, "Mount the container's root filesystem as read only");
    sub.add_flag("--privileged", o.privileged, "Give extended privileges to this container");
    sub.add_flag("--init", o.init, "Run an init inside the container");
    sub.add_option("--health-cmd", o.health_cmd, "Command to run to check health");
    sub.add_option("--health-interval", o.health_interval, "Time between running the check (ms|s|m|h) (default 0s)");
    sub.add_option("--health-timeout", o.health_timeout,
                   "Maximum time to allow one check to run (ms|s|m|h) (default 0s)");
    sub.add_option("--health-start-period", o.health_start_period,
                   "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)");
    sub.add_option("--health-retries", o.health_retries, "Consecutive failures needed to report unhealthy");
    sub.add_flag("--no-healthcheck", o.no_healthcheck, "Disable any container-specified HEALTHCHECK");
    sub.add_option("IMAGE", o.image, "Image to run")->required();
    sub.add_option("COMMAND", o.cmd, "Command and arguments");
    // Everything after IMAGE belongs to the container's command, flags included:
    // `berth run img sh -c 'exit 7'`.
    sub.positionals_at_end(true);
}

result<std::string> create_container(context& ctx, const create_options& o) {
    BERTH_ASSIGN(json::object body, build_create_body(o));
    std::string target = "/containers/create";
    if (!o.name.empty()) target += "?name=" + escape_query(o.name);
    BERTH_ASSIGN(const net::client* api, ctx.api());
    BERTH_ASSIGN(net::response r, api->request("POST", target, json::serialize(body)));
    if (!r.ok()) {
        error e = daemon_error(r.status, r.body);
        if (r.status == 404 && e.message.find("No such image") != std::string::npos)
            std::fprintf(stderr, "Unable to find image '%s' locally\n", normalize_reference(o.image).c_str());
        return e;
    }
    BERTH_ASSIGN(json::value v, parse_json(r.body, "create answer"));
    std::string id = json_string(v, "Id");
    if (id.empty()) return make_error(errc::internal, "the daemon's create answer has no Id");
    if (const auto* o_ = v.if_object()) {
        if (const auto* w = o_->if_contains("Warnings"); w && w->is_array())
            for (const auto& warning : w->get_array())
                if (warning.is_string()) std::fprintf(stderr, "WARNING: %s\n", warning.get_string().c_str());
    }
    return id;
}

namespace {

action setup(CLI::App& sub) {
    auto o = std::make_shared<create_options>();
    add_container_flags(sub, *o);
    return [o](context& ctx) {
        auto id = create_container(ctx, *o);
        if (!id) return fail(id.err(), 125, "berth: ");
        std::printf("%s\n", id->c_str());
        return 0;
    };
}

}  // namespace

command create_command() { return {"create", "Create a new container", 125, setup}; }

}  // namespace berth::cli
