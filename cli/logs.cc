// berth logs [-f] [-t] [--tail N] [--since T] [--until T] CONTAINER
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>
#include <optional>

#include "base/util.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    bool follow = false;
    bool timestamps = false;
    std::string tail = "all";
    std::string since;
    std::string until;
    std::string container;
};

// Go's time.ParseDuration: "1h30m", "10s", "1.5m"; seconds.
std::optional<double> parse_go_duration(std::string_view s) {
    if (s.empty()) return std::nullopt;
    double total = 0;
    while (!s.empty()) {
        std::size_t i = 0;
        while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
        if (i == 0) return std::nullopt;
        double n = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
        s.remove_prefix(i);
        double unit = 0;
        for (auto [name, mult] : {std::pair<std::string_view, double>{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3},
                                  {"s", 1}, {"m", 60}, {"h", 3600}}) {
            if (s.starts_with(name) && !(name == "m" && s.starts_with("ms"))) {
                unit = mult;
                s.remove_prefix(name.size());
                break;
            }
        }
        if (unit == 0) return std::nullopt;
        total += n * unit;
    }
    return total;
}

// docker's GetTimestamp: a duration counts back from now, an RFC 3339 time
// is converted, a unix timestamp passes as is.
result<std::string> api_timestamp(std::string_view v, std::string_view flag) {
    if (v != "0") {
        if (auto d = parse_go_duration(v)) return std::to_string(now_unix() - static_cast<std::int64_t>(*d));
    }
    if (v.find('-') != std::string_view::npos) {
        auto ns = parse_rfc3339(v);
        if (!ns) return make_error(errc::invalid_argument, "invalid value for \"" + std::string(flag) + "\": " + std::string(v));
        char buf[64];
        std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(*ns / 1'000'000'000),
                      static_cast<long long>(*ns % 1'000'000'000));
        return std::string(buf);
    }
    bool numeric = !v.empty() && v.find_first_not_of("0123456789.") == std::string_view::npos;
    if (!numeric)
        return make_error(errc::invalid_argument,
                          "failed to parse value as time or duration: \"" + std::string(v) + "\"");
    return std::string(v);
}

int logs(context& ctx, const options& o) {
    auto info = call_json(ctx, "GET", "/containers/" + escape_path(o.container) + "/json");
    if (!info) return fail(info.err(), 1);
    std::string id = json_string(*info, "Id");
    const auto* config = info->is_object() ? info->as_object().if_contains("Config") : nullptr;
    bool tty = config && json_bool(*config, "Tty");

    // Parameters in the order Go's url.Values.Encode writes them: sorted.
    std::string q;
    if (o.follow) q += "follow=1&";
    if (!o.since.empty()) {
        auto t = api_timestamp(o.since, "since");
        if (!t) return fail(t.err(), 1);
        q += "since=" + escape_query(*t) + "&";
    }
    q += "stderr=1&stdout=1&tail=" + escape_query(o.tail.empty() ? "all" : o.tail);
    if (o.timestamps) q += "&timestamps=1";
    if (!o.until.empty()) {
        auto t = api_timestamp(o.until, "until");
        if (!t) return fail(t.err(), 1);
        q += "&until=" + escape_query(*t);
    }

    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    auto s = (*api)->stream("GET", "/containers/" + id + "/logs?" + q);
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    net::stdcopy_demuxer demux([](net::std_stream st, std::string_view d) {
        return write_fd(st == net::std_stream::err || st == net::std_stream::system_err ? 2 : 1, d);
    });
    char buf[32768];
    for (;;) {
        auto n = s->read_some(buf, sizeof buf);
        if (!n) return fail(n.err(), 1);
        if (*n == 0) return 0;
        std::string_view data(buf, *n);
        auto st = tty ? write_fd(1, data) : demux.feed(data);
        if (!st) return fail(st.err(), 1);
    }
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-f,--follow", o->follow, "Follow log output");
    sub.add_flag("-t,--timestamps", o->timestamps, "Show timestamps");
    sub.add_option("-n,--tail", o->tail, "Number of lines to show from the end of the logs (default \"all\")");
    sub.add_option("--since", o->since, "Show logs since timestamp or relative (e.g. 42m)");
    sub.add_option("--until", o->until, "Show logs before a timestamp or relative (e.g. 42m)");
    sub.add_option("CONTAINER", o->container, "Container")->required();
    return [o](context& ctx) { return logs(ctx, *o); };
}

}  // namespace

command logs_command() { return {"logs", "Fetch the logs of a container", 1, setup}; }

}  // namespace berth::cli
