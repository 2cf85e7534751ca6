// berth run [OPTIONS] IMAGE [COMMAND] [ARG...]
#include <sys/ioctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/attach.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

int run(context& ctx, create_options o) {
    constexpr std::string_view prefix = "berth: ";
    if (o.tty && o.interactive && !::isatty(0))
        return fail(make_error(errc::invalid_argument, "the input device is not a TTY"), 1, prefix);
    if (o.tty) {
        winsize ws{};
        if (::ioctl(1, TIOCGWINSZ, &ws) == 0 || ::ioctl(0, TIOCGWINSZ, &ws) == 0) {
            o.console_height = ws.ws_row;
            o.console_width = ws.ws_col;
        }
    }

    auto id = create_container(ctx, o);
    if (!id) return fail(id.err(), 125, prefix);

    if (o.detach) {
        auto api = ctx.api();
        if (!api) return fail(api.err(), 125, prefix);
        auto r = (*api)->request("POST", "/containers/" + *id + "/start");
        if (!r) return fail(r.err(), 125, prefix);
        if (!r->ok()) {
            std::string msg = net::error_message(r->status, r->body);
            return fail(make_error(errc::internal, "Error response from daemon: " + msg),
                        start_failure_exit_code(msg), prefix);
        }
        std::printf("%s\n", id->c_str());
        return 0;
    }

    attach_plan plan;
    plan.id = *id;
    plan.send_stdin = o.interactive;
    plan.tty = o.tty;
    plan.wait_condition = o.auto_remove ? "removed" : "next-exit";
    plan.error_prefix = prefix;
    return run_attached(ctx, plan);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<create_options>();
    sub.add_flag("-d,--detach", o->detach, "Run container in background and print container ID");
    add_container_flags(sub, *o);
    return [o](context& ctx) { return run(ctx, *o); };
}

}  // namespace

command run_command() { return {"run", "Create and run a new container from an image", 125, setup}; }

}  // namespace berth::cli
