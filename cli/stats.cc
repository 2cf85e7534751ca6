// berth stats [-a] [--no-stream] [--no-trunc] [--format F] [CONTAINER...]
//
// As the docker CLI: one GET /containers/{c}/stats per container, in
// parallel (a thread and a connection each, like docker's goroutines);
// --no-stream asks stream=0 (the daemon takes two readings a second apart)
// and prints one table; otherwise each thread follows its stream and the
// table is redrawn every second until interrupted. CPU % and MEM USAGE are
// computed the way the docker CLI computes them.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "base/util.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

struct options {
    bool all = false;
    bool no_stream = false;
    bool no_trunc = false;
    std::string format;
    std::vector<std::string> containers;
};

// One row of the table, from one stats object.
struct entry {
    std::string container;  // as typed, or the short id when listing
    std::string id, name;
    double cpu_percent = 0, memory = 0, memory_limit = 0, memory_percent = 0;
    double net_rx = 0, net_tx = 0, block_read = 0, block_write = 0;
    std::uint64_t pids = 0;
};

std::uint64_t u64(const json::value* v) {
    if (!v) return 0;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64()) return v->as_int64() < 0 ? 0 : std::uint64_t(v->as_int64());
    if (v->is_double()) return std::uint64_t(v->as_double());
    return 0;
}

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
    const json::value* cur = &v;
    for (auto k : path) {
        const auto* o = cur->if_object();
        cur = o ? o->if_contains(k) : nullptr;
        if (!cur) return nullptr;
    }
    return cur;
}

// The docker CLI's stats_helpers.go: calculateCPUPercentUnix,
// calculateMemUsageUnixNoCache, calculateBlockIO, calculateNetwork.
entry compute(const std::string& container, const json::value& v) {
    entry e;
    e.container = container;
    e.id = json_string(v, "id");
    e.name = json_string(v, "name");
    if (!e.name.empty() && e.name[0] == '/') e.name.erase(0, 1);

    double cpu_delta = double(u64(at(v, {"cpu_stats", "cpu_usage", "total_usage"}))) -
                       double(u64(at(v, {"precpu_stats", "cpu_usage", "total_usage"})));
    double system_delta = double(u64(at(v, {"cpu_stats", "system_cpu_usage"}))) -
                          double(u64(at(v, {"precpu_stats", "system_cpu_usage"})));
    double online = double(u64(at(v, {"cpu_stats", "online_cpus"})));
    if (online == 0)
        if (const auto* per = at(v, {"cpu_stats", "cpu_usage", "percpu_usage"}); per && per->is_array())
            online = double(per->as_array().size());
    if (system_delta > 0 && cpu_delta > 0) e.cpu_percent = cpu_delta / system_delta * online * 100.0;

    std::uint64_t usage = u64(at(v, {"memory_stats", "usage"}));
    const json::value* stats = at(v, {"memory_stats", "stats"});
    // cgroup v1 reports total_inactive_file, cgroup2 inactive_file: cache
    // the kernel can drop is not counted, as docker does.
    const json::value* v1 = stats ? at(*stats, {"total_inactive_file"}) : nullptr;
    const json::value* v2 = stats ? at(*stats, {"inactive_file"}) : nullptr;
    if (v1 && u64(v1) < usage) e.memory = double(usage - u64(v1));
    else if (u64(v2) < usage) e.memory = double(usage - u64(v2));
    else e.memory = double(usage);
    e.memory_limit = double(u64(at(v, {"memory_stats", "limit"})));
    if (e.memory_limit != 0) e.memory_percent = e.memory / e.memory_limit * 100.0;

    if (const auto* blk = at(v, {"blkio_stats", "io_service_bytes_recursive"}); blk && blk->is_array())
        for (const auto& b : blk->as_array()) {
            std::string op = json_string(b, "op");
            if (op.empty()) continue;
            if (op[0] == 'r' || op[0] == 'R') e.block_read += double(u64(at(b, {"value"})));
            if (op[0] == 'w' || op[0] == 'W') e.block_write += double(u64(at(b, {"value"})));
        }
    if (const auto* nets = at(v, {"networks"}); nets && nets->is_object())
        for (const auto& [name, n] : nets->as_object()) {
            e.net_rx += double(u64(at(n, {"rx_bytes"})));
            e.net_tx += double(u64(at(n, {"tx_bytes"})));
        }
    e.pids = u64(at(v, {"pids_stats", "current"}));
    return e;
}

std::string percent(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", v);
    return buf;
}

// The fields docker's stats formatter offers, keyed as in --format.
json::object fields_of(const entry& e, bool no_trunc) {
    return json::object{{"BlockIO", human_size(e.block_read) + " / " + human_size(e.block_write)},
                        {"CPUPerc", percent(e.cpu_percent)},
                        {"Container", e.container},
                        {"ID", no_trunc ? e.id : short_id(e.id)},
                        {"MemPerc", percent(e.memory_percent)},
                        {"MemUsage", human_size_binary(e.memory) + " / " + human_size_binary(e.memory_limit)},
                        {"Name", e.name},
                        {"NetIO", human_size(e.net_rx) + " / " + human_size(e.net_tx)},
                        {"PIDs", std::to_string(e.pids)}};
}

const json::object& header_fields() {
    static const json::object h{{"BlockIO", "BLOCK I/O"}, {"CPUPerc", "CPU %"},      {"Container", "CONTAINER"},
                                {"ID", "CONTAINER ID"},   {"MemPerc", "MEM %"},      {"MemUsage", "MEM USAGE / LIMIT"},
                                {"Name", "NAME"},         {"NetIO", "NET I/O"},      {"PIDs", "PIDS"}};
    return h;
}

constexpr std::string_view default_format =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

// docker's formatter: "table" prefix for a header and tab-aligned columns,
// the literal escapes \t and \n made real.
result<std::string> render(std::string format, const std::vector<entry>& rows, bool no_trunc) {
    if (format.empty() || format == "table") format = std::string(default_format);
    bool table = starts_with(format, "table");
    if (table) format = format.substr(5);
    format = trim(format);
    for (auto [from, to] : {std::pair<std::string_view, char>{"\\t", '\t'}, {"\\n", '\n'}})
        for (std::size_t p = format.find(from); p != std::string::npos; p = format.find(from, p + 1))
            format.replace(p, from.size(), 1, to);
    std::string out;
    if (!table) {
        for (const auto& e : rows) {
            BERTH_ASSIGN(std::string line, render_template(format, fields_of(e, no_trunc)));
            out += line + "\n";
        }
        return out;
    }
    std::vector<std::vector<std::string>> cells;
    BERTH_ASSIGN(std::string head, render_template(format, header_fields()));
    cells.push_back(split(head, '\t'));
    for (const auto& e : rows) {
        BERTH_ASSIGN(std::string line, render_template(format, fields_of(e, no_trunc)));
        cells.push_back(split(line, '\t'));
    }
    return format_table(cells);
}

// What the threads share with the main one.
struct board {
    std::mutex mu;
    std::map<std::string, entry> latest;        // by container as typed
    std::map<std::string, std::string> errors;  // by container as typed
};

// One stats request on its own connection; each object read goes to the board.
void follow(std::string socket, std::string container, bool stream, std::shared_ptr<board> b) {
    net::client api(socket);
    auto report = [&](const error& e) {
        std::lock_guard lk(b->mu);
        b->errors[container] = e.message;
    };
    auto s = api.stream("GET", "/containers/" + escape_path(container) + "/stats?stream=" + (stream ? "1" : "0"));
    if (!s) return report(s.err());
    if (!s->ok()) {
        auto body = s->read_all();
        return report(daemon_error(s->status(), body ? *body : std::string()));
    }
    std::string pending;
    char buf[16384];
    for (;;) {
        auto n = s->read_some(buf, sizeof buf);
        if (!n) return report(n.err());
        pending.append(buf, *n);
        // Objects come one a line when streamed; stream=0 sends one object.
        std::size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos || (*n == 0 && !trim(pending).empty())) {
            std::string line = nl == std::string::npos ? pending : pending.substr(0, nl);
            pending.erase(0, nl == std::string::npos ? pending.size() : nl + 1);
            if (trim(line).empty()) continue;
            auto v = parse_json(line, "stats of " + container);
            if (!v) return report(v.err());
            entry e = compute(container, *v);
            std::lock_guard lk(b->mu);
            b->latest[container] = std::move(e);
            b->errors.erase(container);
        }
        if (*n == 0) return;
    }
}

// The containers to show: those named, else the running (or all) ones.
result<std::vector<std::string>> targets(context& ctx, const options& o) {
    if (!o.containers.empty()) return o.containers;
    BERTH_ASSIGN(json::value list, get_list(ctx, "/containers/json", o.all ? "&all=1" : ""));
    std::vector<std::string> out;
    for (const auto& c : list.as_array()) out.push_back(short_id(json_string(c, "Id")));
    return out;
}

int stats(context& ctx, const options& o) {
    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    std::string socket = (*api)->socket_path();
    if (auto probe = render(o.format, {}, o.no_trunc); !probe) return fail(probe.err(), 1);

    auto b = std::make_shared<board>();
    if (o.no_stream) {
        auto names = targets(ctx, o);
        if (!names) return fail(names.err(), 1);
        std::vector<std::thread> threads;
        for (const auto& n : *names) threads.emplace_back(follow, socket, n, false, b);
        for (auto& t : threads) t.join();
        std::vector<entry> rows;
        for (const auto& n : *names)
            if (auto it = b->latest.find(n); it != b->latest.end()) rows.push_back(it->second);
        auto text = render(o.format, rows, o.no_trunc);
        if (!text) return fail(text.err(), 1);
        std::fputs(text->c_str(), stdout);
        std::fflush(stdout);
        int code = 0;
        for (const auto& n : *names)
            if (auto it = b->errors.find(n); it != b->errors.end()) {
                std::fprintf(stderr, "%s\n", it->second.c_str());
                code = 1;
            }
        return code;
    }

    // Streaming: one follower per container; without names the list is
    // refreshed at every redraw, so containers that start or stop come and go.
    std::map<std::string, bool> followed;
    for (;;) {
        auto names = targets(ctx, o);
        if (!names) return fail(names.err(), 1);
        for (const auto& n : *names)
            if (!followed.count(n)) {
                followed[n] = true;
                std::thread(follow, socket, n, true, b).detach();
            }
        std::this_thread::sleep_for(std::chrono::seconds(1));
        std::vector<entry> rows;
        std::vector<std::string> errors;
        {
            std::lock_guard lk(b->mu);
            for (const auto& n : *names) {
                if (auto it = b->latest.find(n); it != b->latest.end()) rows.push_back(it->second);
                if (auto it = b->errors.find(n); it != b->errors.end()) errors.push_back(it->second);
            }
        }
        // Named containers that all failed (no such container): stop, as docker does.
        if (!o.containers.empty() && errors.size() == names->size()) {
            for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
            return 1;
        }
        auto text = render(o.format, rows, o.no_trunc);
        if (!text) return fail(text.err(), 1);
        std::string screen = "\033[2J\033[H" + *text;
        if (auto st = write_fd(1, screen); !st) return fail(st.err(), 1);
    }
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
    sub.add_flag("--no-stream", o->no_stream, "Disable streaming stats and only pull the first result");
    sub.add_flag("--no-trunc", o->no_trunc, "Do not truncate output");
    sub.add_option("--format", o->format, "Format output using a custom template");
    sub.add_option("CONTAINER", o->containers, "Containers (default: all running)");
    return [o](context& ctx) { return stats(ctx, *o); };
}

}  // namespace

command stats_command() {
    return {"stats", "Display a live stream of container(s) resource usage statistics", 1, setup};
}

}  // namespace berth::cli
