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
