// berth exec [OPTIONS] CONTAINER COMMAND [ARG...]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "cli/attach.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    bool detach = false, interactive = false, tty = false, privileged = false;
    std::string detach_keys, user, workdir;
    std::vector<std::string> env, env_files;
    std::string container;
    std::vector<std::string> cmd;
};

int exec(context& ctx, const options& o) {
    if (o.cmd.empty()) {
        std::fprintf(stderr, "berth: 'exec' requires at least 2 arguments.\nSee 'berth exec --help'.\n");
        return 1;
    }
    if (o.tty && o.interactive && !o.detach && !::isatty(0))
        return fail(make_error(errc::invalid_argument, "the input device is not a TTY"), 1);
    auto env = resolve_env(o.env_files, o.env);
    if (!env) return fail(env.err(), 1);
    exec_plan plan;
    plan.container = o.container;
    plan.detach = o.detach;
    plan.interactive = o.interactive && !o.detach;
    plan.tty = o.tty;
    plan.detach_keys = o.detach_keys;
    boost::json::array cmd, envs;
    for (auto& a : o.cmd) cmd.emplace_back(a);
    for (auto& e : *env) envs.emplace_back(e);
    plan.body = {{"User", o.user},
                 {"Privileged", o.privileged},
                 {"Tty", o.tty},
                 {"AttachStdin", plan.interactive},
                 {"AttachStderr", !o.detach},
                 {"AttachStdout", !o.detach},
                 {"Detach", o.detach},
                 {"DetachKeys", o.detach_keys},
                 {"Env", envs.empty() ? boost::json::value(nullptr) : boost::json::value(envs)},
                 {"WorkingDir", o.workdir},
                 {"Cmd", cmd}};
    return run_exec(ctx, plan);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-d,--detach", o->detach, "Detached mode: run command in the background");
    sub.add_option("--detach-keys", o->detach_keys, "Override the key sequence for detaching a container");
    sub.add_option("-e,--env", o->env, "Set environment variables");
    sub.add_option("--env-file", o->env_files, "Read in a file of environment variables");
    sub.add_flag("-i,--interactive", o->interactive, "Keep STDIN open even if not attached");
    sub.add_flag("--privileged", o->privileged, "Give extended privileges to the command");
    sub.add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
    sub.add_option("-u,--user", o->user, "Username or UID (format: \"<name|uid>[:<group|gid>]\")");
    sub.add_option("-w,--workdir", o->workdir, "Working directory inside the container");
    sub.add_option("CONTAINER", o->container, "Container to run the command in")->required();
    sub.add_option("COMMAND", o->cmd, "Command and arguments");
    // Everything after CONTAINER belongs to the command, flags included.
    sub.positionals_at_end(true);
    return [o](context& ctx) { return exec(ctx, *o); };
}

}  // namespace

command exec_command() { return {"exec", "Execute a command in a running container", 1, setup}; }

}  // namespace berth::cli
