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
#include "net/client.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

// berth run --count N: one request, N containers; the daemon's summary.
int run_batch(context& ctx, const create_options& o, int count, int parallel, double rate) {
    constexpr std::string_view prefix = "berth: ";
    if (!o.name.empty())
        return fail(make_error(errc::invalid_argument, "--name cannot be used with --count"), 125, prefix);
    if (o.interactive || o.tty || o.detach)
        return fail(make_error(errc::invalid_argument, "--count runs containers to their end: -i, -t and -d do not apply"),
                    125, prefix);
    auto body = build_create_body(o);
    if (!body) return fail(body.err(), 125, prefix);
    auto api = ctx.api();
    if (!api) return fail(api.err(), 125, prefix);
    std::string target = "/berth/containers/run?count=" + std::to_string(count);
    if (parallel > 0) target += "&parallel=" + std::to_string(parallel);
    if (rate > 0) target += "&rate=" + std::to_string(rate);
    if (o.auto_remove) target += "&remove=1";
    auto r = (*api)->request("POST", target, json::serialize(*body));
    if (!r) return fail(r.err(), 125, prefix);
    if (!r->ok()) return fail(daemon_error(r->status, r->body), 125, prefix);
    auto v = parse_json(r->body, "batch answer");
    if (!v || !v->is_object()) return fail(make_error(errc::internal, "the daemon's batch answer is not an object"), 125, prefix);
    const auto& s = v->as_object();
    auto num = [&](const json::object& o_, const char* k) {
        const auto* x = o_.if_contains(k);
        return x && x->is_number() ? x->to_number<double>() : 0.0;
    };
    const json::object empty;
    const auto* lat_v = s.if_contains("StartLatencyMs");
    const auto& lat = lat_v && lat_v->is_object() ? lat_v->as_object() : empty;
    std::printf("%.0f containers started in %.3f s: %.1f containers/s\n", num(s, "Started"), num(s, "Seconds"),
                num(s, "ContainersPerSecond"));
    std::printf("start latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", num(lat, "P50"), num(lat, "P99"),
                num(lat, "Max"));
    if (num(s, "FromPool") > 0)
        std::printf("from a warm pool: %.0f (all running after %.3f s: %.1f containers/s)\n", num(s, "FromPool"),
                    num(s, "RunningSeconds"), num(s, "RunningPerSecond"));
    std::string codes;
    bool all_zero = true;
    if (const auto* ec = s.if_contains("ExitCodes"); ec && ec->is_object()) {
        for (const auto& [code, n] : ec->as_object()) {
            codes += (codes.empty() ? "" : ", ") + std::string(code) + " x" +
                     std::to_string(n.is_number() ? n.to_number<std::int64_t>() : 0);
            all_zero = all_zero && code == "0";
        }
    }
    std::printf("exit codes: %s\n", codes.empty() ? "none" : codes.c_str());
    const double failed = num(s, "Failed");
    if (failed > 0) {
        std::fprintf(stderr, "%.0f failed", failed);
        if (const auto* errs = s.if_contains("Errors"); errs && errs->is_array() && !errs->as_array().empty() &&
                                                      errs->as_array()[0].is_string())
            std::fprintf(stderr, ", first: %s", errs->as_array()[0].as_string().c_str());
        std::fprintf(stderr, "\n");
        return 125;
    }
    return all_zero ? 0 : 1;
}

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

struct batch_flags {
    int count = 0;
    int parallel = 0;
    double rate = 0;
};

action setup(CLI::App& sub) {
    auto o = std::make_shared<create_options>();
    auto b = std::make_shared<batch_flags>();
    sub.add_flag("-d,--detach", o->detach, "Run container in background and print container ID");
    sub.add_option("--count", b->count,
                   "Create, start and wait for N containers in one request; print a summary (berth extension)")
        ->check(CLI::Range(1, 1000000));
    sub.add_option("--parallel", b->parallel, "With --count: starts in flight at once (default: 2 per core)")
        ->check(CLI::Range(1, 100000));
    sub.add_option("--rate", b->rate,
                   "With --count: open loop, submit RATE containers per second whatever the others are doing")
        ->check(CLI::Range(0.001, 1000000.0));
    add_container_flags(sub, *o);
    return [o, b](context& ctx) {
        if (b->parallel > 0 && b->count == 0)
            return fail(make_error(errc::invalid_argument, "--parallel needs --count"), 125, "berth: ");
        if (b->rate > 0 && b->count == 0)
            return fail(make_error(errc::invalid_argument, "--rate needs --count"), 125, "berth: ");
        if (b->parallel > 0 && b->rate > 0)
            return fail(make_error(errc::invalid_argument, "--parallel and --rate exclude each other"), 125, "berth: ");
        if (b->count > 0) return run_batch(ctx, *o, b->count, b->parallel, b->rate);
        return run(ctx, *o);
    };
}

}  // namespace

command run_command() { return {"run", "Create and run a new container from an image", 125, setup}; }

}  // namespace berth::cli
