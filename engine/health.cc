// Healthchecks, as Docker runs them (moby daemon/health.go): while a
// container runs, every Interval an exec'd probe (the image's HEALTHCHECK
// or --health-cmd) with a Timeout; Retries consecutive failures after the
// StartPeriod make it unhealthy, one success healthy. State.Health keeps
// the last five probes; each change of status is a `health_status` event.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/log.h"
#include "base/util.h"
#include "engine/config_util.h"
#include "engine/engine.h"
#include "engine/monitor_client.h"

namespace berth {

namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::chrono::nanoseconds k_default_interval = std::chrono::seconds(30);
constexpr std::chrono::nanoseconds k_default_timeout = std::chrono::seconds(30);
constexpr int k_default_retries = 3;
constexpr std::size_t k_max_log = 5;
constexpr std::size_t k_max_output = 4096;

std::chrono::nanoseconds duration_field(const json::object& o, const char* k, std::chrono::nanoseconds def) {
    auto* v = o.if_contains(k);
    if (!v || !v->is_number()) return def;
    auto ns = v->to_number<std::int64_t>();
    return ns > 0 ? std::chrono::nanoseconds(ns) : def;
}

// The probe's argv, or empty when there is no healthcheck.
std::vector<std::string> probe_command(const json::object& hc) {
    auto test = string_list(hc.if_contains("Test"));
    if (test.empty() || test[0] == "NONE") return {};
    if (test[0] == "CMD") return {test.begin() + 1, test.end()};
    if (test[0] == "CMD-SHELL" && test.size() >= 2) return {"/bin/sh", "-c", test[1]};
    return {};
}

}  // namespace

void engine::start_health_checks(container_ptr c) {
    auto* hc = c->config.if_contains("Healthcheck");
    if (!hc || !hc->is_object() || probe_command(hc->as_object()).empty()) {
        c->health.reset();
        return;
    }
    c->health = health_state{};
    asio::co_spawn(_loop, health_loop(c, c->exits), asio::detached);
}

awaitable<void> engine::health_loop(container_ptr c, std::uint64_t exits_at_start) {
    std::uint64_t me = ++c->health_loop;
    const json::object hc = c->config.at("Healthcheck").as_object();
    const auto cmd = probe_command(hc);
    const auto interval = duration_field(hc, "Interval", k_default_interval);
    const auto timeout = duration_field(hc, "Timeout", k_default_timeout);
    const auto start_period = duration_field(hc, "StartPeriod", std::chrono::nanoseconds(0));
    auto* r = hc.if_contains("Retries");
    const int retries = r && r->is_int64() && r->as_int64() > 0 ? int(r->as_int64()) : k_default_retries;
    const std::int64_t started = now_ns();
    auto still_mine = [&] { return c->health_loop == me && c->exits == exits_at_start && c->running() && !c->removed; };

    for (;;) {
        asio::steady_timer t(_loop, interval);
        co_await t.async_wait(use_awaitable);
        if (!still_mine()) co_return;
        if (c->paused) continue;  // a frozen container cannot answer; Docker skips too

        std::int64_t begin = now_ns();
        auto [code, output] = co_await health_probe(c, cmd, timeout);
        if (!still_mine() || !c->health) co_return;
        auto& h = *c->health;
        h.log.push_back({{"Start", format_rfc3339_nano(begin)},
                         {"End", format_rfc3339_nano(now_ns())},
                         {"ExitCode", code},
                         {"Output", output}});
        while (h.log.size() > k_max_log) h.log.pop_front();
        std::string before = h.status;
        if (code == 0) {
            h.failing_streak = 0;
            h.status = "healthy";
        } else if (now_ns() - started >= start_period.count() || h.status != "starting") {
            // Failures during the start period do not count (unless it was healthy once).
            if (++h.failing_streak >= retries) h.status = "unhealthy";
        }
        if (h.status != before) emit(*c, "health_status: " + h.status);
    }
}

awaitable<std::pair<int, std::string>> engine::health_probe(container_ptr c, std::vector<std::string> cmd,
                                                            std::chrono::nanoseconds timeout) {
    json::array argv;
    for (auto& a : cmd) argv.emplace_back(a);
    json::object body{{"Cmd", std::move(argv)}, {"AttachStdout", true}, {"AttachStderr", true}};
    auto id = co_await create_exec(c->id, std::move(body));
    if (!id) co_return std::pair<int, std::string>{-1, id.err().message};
    exec_ptr e = _execs.at(*id);
    e->hidden = true;
    auto forget = scope_exit([&] { _execs.erase(e->id); });

    auto st = co_await start_exec(e, 0, 0);
    if (!st) co_return std::pair<int, std::string>{-1, st.err().message};
    auto until_exited = [](exec_ptr x) -> awaitable<void> {
        while (!x->exited) co_await x->changed->wait();
    };
    asio::steady_timer deadline(_loop, timeout);
    auto exited = until_exited(e);
    auto outcome = co_await (std::move(exited) || deadline.async_wait(use_awaitable));
    if (outcome.index() == 1) {
        (void)_monitor->send({monitor::msg::signal, {{"id", e->id}, {"signal", 9}}, {}});
        auto secs = std::chrono::duration_cast<std::chrono::duration<double>>(timeout).count();
        char msg[96];
        std::snprintf(msg, sizeof msg, "Health check exceeded timeout (%gs)", secs);
        co_return std::pair<int, std::string>{-1, std::string(msg)};
    }
    std::string out;
    for (auto& x : e->output) {
        if (out.size() >= k_max_output) break;
        out += x.text.substr(0, k_max_output - out.size());
    }
    co_return std::pair<int, std::string>{e->exit_code, out};
}

}  // namespace berth
