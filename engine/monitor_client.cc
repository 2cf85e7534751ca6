#include "engine/monitor_client.h"

#include <dirent.h>
#include <spawn.h>
#include <sys/resource.h>

#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "base/log.h"
#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/engine.h"
#include "engine/monitor_shard.h"

extern char** environ;

namespace berth {

struct monitor_client::shard {
    int index = 0;
    std::unique_ptr<monitor_shard> conn;
    // Hashed: looked up at every start, claim and exit.
    std::unordered_set<std::string> boxes;     // containers placed here, starting or running
    std::unordered_set<std::string> starting;  // those of boxes sent `start` on this connection, not answered yet
    std::unordered_set<std::string> execs;  // exec ids placed here, not exited
    std::vector<std::pair<std::string, int>> running;  // state parts received so far
    std::vector<std::pair<std::string, int>> answer;   // its running set, until the start-up sync
    bool answered = false;  // has answered a hello since this daemon started
    std::size_t load() const { return boxes.size() + execs.size(); }
};

struct monitor_client::impl {
    explicit impl(asio::io_context& l) : ready(l.get_executor()) {}
    async_event ready;
    std::map<int, std::unique_ptr<shard>> shards;
    std::unordered_map<std::string, int> owner;  // container or exec id -> shard index
    std::set<int> expected;                      // the shards found at start
    bool synced = false;                         // the start-up union went to the engine
    std::deque<std::pair<int, monitor::message>> deferred;  // what came before it
    std::size_t budget = 1;
};

namespace {

// Processes per shard: each costs the monitor about three descriptors at
// most (stdout and stderr pipes, a stdin pipe or a pty for some), with 512
// left for the monitor's own (its sockets, up to 256 open logs, the pipes of
// a start in progress).
std::size_t compute_budget() {
    if (const char* v = std::getenv("BERTH_MONITOR_SHARD_SIZE")) {
        char* end = nullptr;
        unsigned long long n = std::strtoull(v, &end, 10);
        if (end != v && *end == '\0' && n > 0) return std::size_t(n);
        log::warn("ignoring BERTH_MONITOR_SHARD_SIZE={}: not a positive number", v);
    }
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1000;
    rlim_t hard = rl.rlim_max == RLIM_INFINITY ? rlim_t(1) << 20 : rl.rlim_max;
    return hard > 515 ? std::size_t((hard - 512) / 3) : 1;
}

// Shard indices k > 0 whose monitor-<k>.sock or monitor-<k>.pid is in the data root.
std::set<int> find_shards(const std::string& root) {
    std::set<int> found;
    DIR* d = ::opendir(root.c_str());
    if (!d) return found;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (!starts_with(n, "monitor-")) continue;
        n.remove_prefix(8);
        auto dot = n.find('.');
        if (dot == std::string_view::npos || (n.substr(dot) != ".sock" && n.substr(dot) != ".pid")) continue;
        std::string k(n.substr(0, dot));
        if (k.empty() || k.size() > 5 || k[0] == '0' || k.find_first_not_of("0123456789") != std::string::npos) continue;
        found.insert(std::stoi(k));
    }
    ::closedir(d);
    return found;
}

}  // namespace

monitor_client::monitor_client(asio::io_context& loop, engine& eng, std::string data_root)
    : _loop(loop), _engine(eng), _root(std::move(data_root)), _p(std::make_unique<impl>(loop)) {
    _p->budget = compute_budget();
}

monitor_client::~monitor_client() = default;

status monitor_client::spawn_monitor(const std::string& root, const std::string& cgroup_leaf, int shard,
                                     int control_priority) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string logp = monitor::shard_file(root, shard, ".log");
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logp.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t dfl;
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF);
    std::string exe = "/proc/self/exe";
    std::vector<std::string> args = {"berth", "monitor", "--data-root", root};
    if (!cgroup_leaf.empty()) args.insert(args.end(), {"--cgroup", cgroup_leaf});
    if (shard != 0) args.insert(args.end(), {"--shard", std::to_string(shard)});
    args.insert(args.end(), {"--control-priority", std::to_string(control_priority)});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, &at, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) return sys_error("start monitor", rc);
    log::info("started monitor pid {} for {} (shard {})", pid, root, shard);
    // The monitor is not our child to wait for: it outlives us. A reaper
    // thread would be wrong; SIGCHLD is ignored by the daemon (SA_NOCLDWAIT).
    return ok();
}

void monitor_client::start() {
    // Shard 0 always; every other shard that left its files in the data root
    // (restarted if its monitor is gone: it may hold exit records).
    _p->expected = find_shards(_root);
    _p->expected.insert(0);
    if (_p->expected.size() > 1) log::info("monitor shards found in {}: {}", _root, _p->expected.size());
    for (int k : _p->expected) add_shard(k, false);
    asio::co_spawn(_loop, sync_deadline(), asio::detached);
}

awaitable<void> monitor_client::ready() { co_await _p->ready.wait(); }

std::size_t monitor_client::shard_budget() const { return _p->budget; }

monitor_client::shard& monitor_client::add_shard(int index, bool hold) {
    auto s = std::make_unique<shard>();
    s->index = index;
    monitor_shard::hooks h;
    h.on_message = [this](monitor_shard& c, monitor::message& m) { on_shard_message(c.index(), m); };
    h.on_lost = [this](monitor_shard& c) { on_shard_lost(c.index()); };
    h.on_unreachable = [this](monitor_shard& c) { on_shard_unreachable(c.index()); };
    h.cgroup_leaf = [this] { return _engine.cgroups().monitor_leaf(); };
    h.control_priority = _engine.options().control_priority;
    s->conn = std::make_unique<monitor_shard>(_loop, _root, index, std::move(h));
    if (hold) s->conn->hold_until_connected();
    shard& ref = *s;
    _p->shards[index] = std::move(s);
    ref.conn->start();
    return ref;
}

int monitor_client::owner_of(const std::string& id) const {
    auto it = _p->owner.find(id);
    return it == _p->owner.end() ? 0 : it->second;
}

result<int> monitor_client::place_start(const std::string& id) {
    // The shard that last ran the container (its exit record may still wait
    // for the ack there), if it has room.
    if (auto it = _p->owner.find(id); it != _p->owner.end()) {
        auto& s = *_p->shards.at(it->second);
        if (s.conn->usable() && s.load() < _p->budget) return it->second;
    }
    int best = -1;
    bool all_usable = true;
    for (auto& [k, s] : _p->shards) {
        if (!s->conn->usable()) {
            all_usable = false;
            continue;
        }
        if (s->load() < _p->budget && (best < 0 || s->load() < _p->shards.at(best)->load())) best = k;
    }
    if (best >= 0) return best;
    // Every shard is full. A shard that is down may come back: only when
    // all are up is another one started.
    if (!all_usable) return make_error(errc::unavailable, "the berth monitor is not connected");
    int k = _p->shards.rbegin()->first + 1;
    log::info("every monitor shard holds {} processes: starting shard {}", _p->budget, k);
    add_shard(k, true);
    return k;
}

status monitor_client::send(const monitor::message& m) {
    auto field = [&](const char* k) {
        auto* v = m.header.if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    std::string id = field("id");
    auto claim = m.header.if_contains("claim");
    const bool is_claim = claim && claim->is_bool() && claim->as_bool();
    switch (m.type) {
    case monitor::msg::start:
    case monitor::msg::park: {
        if (is_claim) {
            // A pool's sandbox: its shard holds the parked child.
            int k = owner_of(id);
            auto& s = *_p->shards.at(k);
            if (auto sent = s.conn->send(m); !sent) return sent;
            s.starting.insert(id);
            return ok();
        }
        auto k = place_start(id);
        if (!k) return k.err();
        auto& s = *_p->shards.at(*k);
        if (auto sent = s.conn->send(m); !sent) return sent;
        s.boxes.insert(id);
        s.starting.insert(id);
        _p->owner[id] = *k;
        return ok();
    }
    case monitor::msg::exec: {
        int k = owner_of(field("container"));
        auto& s = *_p->shards.at(k);
        if (auto sent = s.conn->send(m); !sent) return sent;
        s.execs.insert(id);
        _p->owner[id] = k;
        return ok();
    }
    case monitor::msg::ack_exit: {
        auto sent = _p->shards.at(owner_of(id))->conn->send(m);
        // Acknowledged: the id needs no route any more, unless it runs again.
        if (auto it = _p->owner.find(id); it != _p->owner.end() && !_p->shards.at(it->second)->boxes.count(id))
            _p->owner.erase(it);
        return sent;
    }
    case monitor::msg::release:
        // Every shard's held namespaces (engine::drain_teardown).
        for (auto& [k, s] : _p->shards) (void)s->conn->send(m);
        return ok();
    default: return _p->shards.at(owner_of(id))->conn->send(m);
    }
}

std::size_t monitor_client::backlog() const {
    std::size_t n = 0;
    for (auto& [k, s] : _p->shards) n += s->conn->backlog();
    return n;
}

void monitor_client::on_shard_message(int index, monitor::message& m) {
    auto& s = *_p->shards.at(index);
    if (m.type == monitor::msg::state) {
        for (auto& v : m.header["running"].as_array())
            s.running.emplace_back(std::string(v.at("id").as_string()), int(v.at("pid").to_number<int64_t>()));
        auto* last = m.header.if_contains("last");
        if (last && last->is_bool() && !last->as_bool()) return;  // more parts follow
        on_shard_state(s);
        return;
    }
    // Until the start-up sync, the engine has not been told what runs:
    // keep the rest, in order, for after it.
    if (!_p->synced) {
        _p->deferred.emplace_back(index, std::move(m));
        return;
    }
    handle(index, m);
}

void monitor_client::on_shard_state(shard& s) {
    auto running = std::move(s.running);
    s.running.clear();
    if (!_p->synced) {
        for (auto& [id, pid] : running) {
            s.boxes.insert(id);
            _p->owner[id] = s.index;
        }
        s.answer = std::move(running);
        s.answered = true;
        for (int k : _p->expected)
            if (!_p->shards.at(k)->answered) return;
        finish_sync();
        return;
    }
    // One shard (re)connected: it answers for the containers it held only
    // (not for starts sent after its hello, which it has yet to handle).
    std::set<std::string> judged;
    for (auto& id : s.boxes)
        if (!s.starting.count(id)) judged.insert(id);
    s.boxes = s.starting;
    for (auto& [id, pid] : running) {
        s.boxes.insert(id);
        _p->owner[id] = s.index;
    }
    for (auto& id : judged)
        if (!s.boxes.count(id))
            if (auto it = _p->owner.find(id); it != _p->owner.end() && it->second == s.index) _p->owner.erase(it);
    _engine.on_monitor_state(running, &judged);
}

void monitor_client::finish_sync() {
    if (_p->synced) return;
    _p->synced = true;
    std::vector<std::pair<std::string, int>> all;
    for (auto& [k, s] : _p->shards) {
        all.insert(all.end(), s->answer.begin(), s->answer.end());
        s->answer.clear();
    }
    _engine.on_monitor_state(all);
    _p->ready.set();
    // What the shards sent after their state (exit records first), in order.
    while (!_p->deferred.empty()) {
        auto item = std::move(_p->deferred.front());
        _p->deferred.pop_front();
        try {
            handle(item.first, item.second);
        } catch (const std::exception& e) {
            log::error("monitor message type {}: {}", int(item.second.type), e.what());
        }
    }
}

awaitable<void> monitor_client::sync_deadline() {
    asio::steady_timer t(_loop, std::chrono::seconds(10));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    if (_p->synced) co_return;
    std::string missing;
    for (int k : _p->expected)
        if (!_p->shards.at(k)->answered) missing += (missing.empty() ? "" : ", ") + monitor::shard_file(_root, k, ".sock");
    // Their containers are judged lost for now; a shard that answers later
    // sets those it runs back to running (on_shard_state).
    log::error("no answer from the monitor shards {}; going on without them", missing);
    finish_sync();
}

void monitor_client::on_shard_lost(int index) {
    auto& s = *_p->shards.at(index);
    s.running.clear();
    s.starting.clear();  // failed by on_monitor_lost below
    std::set<std::string> ids(s.boxes.begin(), s.boxes.end());
    for (auto& e : s.execs) {
        ids.insert(e);
        if (auto it = _p->owner.find(e); it != _p->owner.end() && it->second == index) _p->owner.erase(it);
    }
    s.execs.clear();
    _engine.on_monitor_lost(&ids);
}

void monitor_client::on_shard_unreachable(int index) {
    // A new shard that never came up: what was placed on it never started.
    on_shard_lost(index);
    auto& s = *_p->shards.at(index);
    for (auto& id : s.boxes)
        if (auto it = _p->owner.find(id); it != _p->owner.end() && it->second == index) _p->owner.erase(it);
    s.boxes.clear();
}

void monitor_client::handle(int index, monitor::message& m) {
    auto& s = *_p->shards.at(index);
    auto* idv = m.header.if_contains("id");
    std::string id = idv && idv->is_string() ? std::string(idv->as_string()) : std::string();
    auto* exec_flag = m.header.if_contains("exec");
    bool is_exec = exec_flag && exec_flag->is_bool() && exec_flag->as_bool();
    auto forget = [&] {
        if (auto it = _p->owner.find(id); it != _p->owner.end() && it->second == index) _p->owner.erase(it);
    };
    switch (m.type) {
    case monitor::msg::started:
        if (!is_exec) {
            s.starting.erase(id);
            s.boxes.insert(id);
            _p->owner[id] = index;
        }
        break;
    case monitor::msg::start_failed:
        if (!is_exec) s.starting.erase(id);
        (is_exec ? s.execs : s.boxes).erase(id);
        forget();
        break;
    case monitor::msg::exited:
        if (is_exec) {
            s.execs.erase(id);
            forget();
            break;
        }
        s.starting.erase(id);
        s.boxes.erase(id);
        // The ack goes to the shard that holds the record, unless the
        // container already runs again elsewhere (any shard may drop it).
        if (auto it = _p->owner.find(id); it == _p->owner.end() || !_p->shards.at(it->second)->boxes.count(id))
            _p->owner[id] = index;
        break;
    default: break;
    }
    dispatch(m);
}

void monitor_client::dispatch(monitor::message& m) {
    auto str = [&](const char* k) { return std::string(m.header[k].as_string()); };
    auto* exec_flag = m.header.if_contains("exec");
    bool is_exec = exec_flag && exec_flag->is_bool() && exec_flag->as_bool();
    switch (m.type) {
    case monitor::msg::started:
        if (is_exec) _engine.on_monitor_exec_started(str("id"), int(m.header["pid"].to_number<int64_t>()));
        else _engine.on_monitor_started(str("id"), int(m.header["pid"].to_number<int64_t>()));
        break;
    case monitor::msg::start_failed: {
        auto e = make_error(monitor::errc_from_name(str("code")), str("message"));
        auto* unclaimed = m.header.if_contains("unclaimed");
        if (is_exec) _engine.on_monitor_exec_failed(str("id"), std::move(e));
        else _engine.on_monitor_start_failed(str("id"), std::move(e), unclaimed && unclaimed->is_bool() && unclaimed->as_bool());
        break;
    }
    case monitor::msg::output:
        if (is_exec) {
            _engine.on_monitor_exec_output(str("id"), str("stream") == "stderr", m.header["time"].to_number<int64_t>(),
                                           std::move(m.payload));
            break;
        }
        _engine.on_monitor_output(str("id"), str("stream") == "stderr", m.header["time"].to_number<int64_t>(),
                                  m.header["offset"].to_number<std::uint64_t>(), std::move(m.payload));
        break;
    case monitor::msg::parked:
        _engine.on_monitor_parked(str("id"), int(m.header["pid"].to_number<int64_t>()));
        break;
    case monitor::msg::exited: {
        std::string id = str("id");
        if (is_exec) {
            _engine.on_monitor_exec_exited(id, int(m.header["exit_code"].to_number<int64_t>()));
            break;
        }
        // The monitor's reading of the oom_kill counter, if it made one.
        std::optional<std::uint64_t> oom_kills;
        if (auto* v = m.header.if_contains("oom_kills"); v && v->is_number()) oom_kills = v->to_number<std::uint64_t>();
        _engine.on_monitor_exited(id, int(m.header["exit_code"].to_number<int64_t>()),
                                  m.header["finished"].to_number<int64_t>(), oom_kills);
        break;
    }
    default: break;
    }
}

}  // namespace berth
