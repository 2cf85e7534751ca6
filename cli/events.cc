// berth events [--since T] [--until T] [-f KEY=VALUE]...
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "base/util.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"
#include "cli/format.h"

namespace berth::cli {

namespace {

struct options {
    std::string since, until, format;
    std::vector<std::string> filters;
};

// One event as the docker CLI prints it without --format:
// "<time> container die <id> (exitCode=0, image=busybox, name=x)"
void print_event(const boost::json::object& e) {
    auto str = [](const boost::json::value* v) { return v && v->is_string() ? std::string(v->as_string()) : std::string(); };
    std::int64_t t = 0;
    if (auto* n = e.if_contains("timeNano"); n && n->is_number()) t = n->to_number<std::int64_t>();
    std::string line = format_rfc3339_nano(t) + " " + str(e.if_contains("Type")) + " " + str(e.if_contains("Action"));
    if (auto* actor = e.if_contains("Actor"); actor && actor->is_object()) {
        line += " " + str(actor->as_object().if_contains("ID"));
        if (auto* attrs = actor->as_object().if_contains("Attributes"); attrs && attrs->is_object() && !attrs->as_object().empty()) {
            std::map<std::string, std::string> sorted;
            for (auto& [k, v] : attrs->as_object()) sorted[std::string(k)] = str(&v);
            std::string inner;
            for (auto& [k, v] : sorted) inner += (inner.empty() ? "" : ", ") + k + "=" + v;
            line += " (" + inner + ")";
        }
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
}

int events(context& ctx, const options& o) {
    std::string q;
    boost::json::object filters;
    for (auto& f : o.filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos || eq == 0)
            return fail(make_error(errc::invalid_argument, "bad format of filter (expected name=value): " + f), 1);
        auto& set = filters[f.substr(0, eq)];
        if (!set.is_object()) set = boost::json::object{};
        set.as_object()[f.substr(eq + 1)] = true;
    }
    if (!filters.empty()) q += "&filters=" + escape_query(boost::json::serialize(filters));
    for (auto [flag, value] : {std::pair{"since", &o.since}, std::pair{"until", &o.until}}) {
        if (value->empty()) continue;
        auto t = api_timestamp(*value, flag);
        if (!t) return fail(t.err(), 1);
        q += std::string("&") + flag + "=" + escape_query(*t);
    }
    if (!q.empty()) q[0] = '?';
    std::optional<go_template> tmpl;
    if (!o.format.empty()) {
        auto parsed = go_template::parse(parse_docker_format(o.format).text);
        if (!parsed) return fail(parsed.err(), 1);
        tmpl.emplace(std::move(*parsed));
    }
    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    auto s = (*api)->stream("GET", "/events" + q);
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    std::string pending;
    char buf[16384];
    for (;;) {
        auto n = s->read_some(buf, sizeof buf);
        if (!n) return fail(n.err(), 1);
        if (*n == 0) return 0;
        pending.append(buf, *n);
        for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
            std::string line = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            boost::system::error_code ec;
            auto v = boost::json::parse(line, ec);
            if (ec || !v.is_object()) continue;
            if (!tmpl) {
                print_event(v.as_object());
                continue;
            }
            // docker events --format: the template runs on the event message
            // itself ({{json .}}, {{.Action}}, {{.Actor.Attributes.name}}).
            template_data data;
            data.dot = std::move(v);
            std::string out;
            if (auto st = tmpl->execute(data, out); !st) return fail(st.err(), 1);
            std::printf("%s\n", out.c_str());
            std::fflush(stdout);
        }
    }
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("--since", o->since, "Show all events created since timestamp");
    sub.add_option("--until", o->until, "Stream events until this timestamp");
    sub.add_option("-f,--filter", o->filters, "Filter output based on conditions provided")->allow_extra_args(false);
    sub.add_option("--format", o->format, "Format the output using the given Go template");
    return [o](context& ctx) { return events(ctx, *o); };
}

}  // namespace

command events_command() { return {"events", "Get real time events from the server", 1, setup}; }

}  // namespace berth::cli
