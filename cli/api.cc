#include "cli/api.h"

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

#include <boost/json.hpp>
#include <cstdio>

#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

error daemon_error(int status, std::string_view body) {
    error e = net::api_error(status, body);
    e.message = "Error response from daemon: " + e.message;
    return e;
}

result<std::string> call(context& ctx, std::string_view method, std::string_view target,
                         std::string_view json_body) {
    BERTH_ASSIGN(const net::client* api, ctx.api());
    BERTH_ASSIGN(net::response r, api->request(method, target, json_body));
    // 304 Not Modified (start of a running or stop of a stopped container)
    // is success for the docker CLI too.
    if (!r.ok() && r.status != 304) return daemon_error(r.status, r.body);
    return std::move(r.body);
}

result<json::value> call_json(context& ctx, std::string_view method, std::string_view target,
                              std::string_view json_body) {
    BERTH_ASSIGN(std::string body, call(ctx, method, target, json_body));
    if (body.find_first_not_of(" \r\n\t") == std::string::npos) return json::value(nullptr);
    return parse_json(body, std::string(method) + " " + std::string(target));
}

namespace {

status print_message(const json::value& m) {
    if (const auto* o = m.if_object()) {
        if (const auto* e = o->if_contains("errorDetail"); e && e->is_object()) {
            std::string msg = json_string(*e, "message");
            if (!msg.empty()) return make_error(errc::internal, msg);
        }
        if (const auto* e = o->if_contains("error"); e && e->is_string())
            return make_error(errc::internal, std::string(e->get_string()));
        std::string stream = json_string(m, "stream");
        if (!stream.empty()) {
            std::fputs(stream.c_str(), stdout);
            return ok();
        }
        std::string st = json_string(m, "status");
        std::string id = json_string(m, "id");
        std::string progress = json_string(m, "progress");
        if (st.empty()) return ok();
        // Without a terminal docker prints neither progress bars nor the
        // repeated Downloading/Extracting lines.
        if (!progress.empty() || st == "Downloading" || st == "Extracting") return ok();
        if (!id.empty()) std::printf("%s: ", id.c_str());
        std::printf("%s\n", st.c_str());
    }
    return ok();
}

}  // namespace

status print_json_messages(net::response_stream& s) {
    std::string pending;
    char buf[16384];
    json::stream_parser parser;
    for (;;) {
        BERTH_ASSIGN(std::size_t n, s.read_some(buf, sizeof buf));
        pending.append(buf, n);
        // Messages are JSON values one after another, usually one per line;
        // parse every complete one in what has arrived.
        std::size_t used = 0;
        while (used < pending.size()) {
            std::size_t start = pending.find_first_not_of(" \r\n\t", used);
            if (start == std::string::npos) {
                used = pending.size();
                break;
            }
            parser.reset();
            boost::system::error_code ec;
            std::size_t took = parser.write_some(pending.data() + start, pending.size() - start, ec);
            if (ec) return make_error(errc::internal, "parse daemon message: " + ec.message());
            if (!parser.done()) {
                // Incomplete, unless it is a number at the very end of the body.
                if (n == 0) {
                    parser.finish(ec);
                    if (ec) return make_error(errc::internal, "parse daemon message: truncated stream");
                } else {
                    used = start;
                    break;
                }
            }
            BERTH_TRY(print_message(parser.release()));
            std::fflush(stdout);
            used = start + took;
        }
        pending.erase(0, used);
        if (n == 0) return ok();
    }
}

int call_each_container(context& ctx, std::string_view method, const std::vector<std::string>& names,
                        std::string_view suffix, std::string_view query) {
    if (auto api = ctx.api(); !api) return fail(api.err(), 1);
    auto failed = for_each_name_concurrently(names, [&](const std::string& c) -> status {
        std::string target = "/containers/" + escape_path(c) + std::string(suffix) + std::string(query);
        auto r = call(ctx, method, target);
        if (!r) return r.err();
        return ok();
    });
    return failed.empty() ? 0 : 1;
}

action stop_like_setup(CLI::App& sub, std::string suffix) {
    struct options {
        std::optional<int> timeout;
        std::string signal;
        std::vector<std::string> containers;
    };
    auto o = std::make_shared<options>();
    sub.add_option("-t,--time", o->timeout, "Seconds to wait before killing the container");
    sub.add_option("-s,--signal", o->signal, "Signal to send to the container");
    sub.add_option("CONTAINER", o->containers, "Containers")->required();
    return [o, suffix](context& ctx) {
        std::string query;
        if (o->timeout) query += "&t=" + std::to_string(*o->timeout);
        if (!o->signal.empty()) query += "&signal=" + escape_query(o->signal);
        if (!query.empty()) query[0] = '?';
        return call_each_container(ctx, "POST", o->containers, suffix, query);
    };
}

}  // namespace berth::cli
