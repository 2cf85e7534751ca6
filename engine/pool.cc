// Warm pools (`berth pool`, POST /berth/pools): per image, K sandboxes
// prepared ahead of any request. A sandbox is everything of a container
// start that does not depend on the command: a fresh container id, its
// directories and init layer (default hostname), its cgroup in every
// hierarchy, and a parked child of the monitor that has done the sandbox
// half of the launch spec (namespaces with lo up, the overlay rootfs,
// pivot_root, /proc, /dev, masked paths) and waits on a control socket.
//
// A create whose sandbox half would be exactly the prepared one (compared
// as the launch spec's JSON, so nothing that shapes the sandbox can slip
// through) takes a ready sandbox: the container gets the sandbox's id, and
// its first start sends only the process half (argv, env, user,
// capabilities, rlimits, seccomp program) and its stdio to the parked child,
// which execs. Nothing from the image runs before that. A sandbox serves one
// container once; the pool refills in the background. A later start of the
// same container is a cold one.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include "base/log.h"
#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/command_path.h"
#include "engine/config_util.h"
#include "engine/container_dirs.h"
#include "engine/confinement_config.h"
#include "engine/engine.h"
#include "engine/mount_config.h"
#include "engine/pool.h"
#include "engine/monitor_client.h"
#include "engine/rootfs_view.h"
#include "engine/seccomp.h"
#include "engine/runtime/spawn.h"

namespace berth {

namespace json = boost::json;


namespace {

// Preparations in flight per pool: one can make its directories and
// cgroup on a worker while another is with the monitor.
constexpr int k_fillers = 2;
constexpr int k_max_pool = 20000;
// Commands a pool remembers where they are (engine/command_path.h).
constexpr std::size_t k_max_pool_commands = 64;
constexpr std::size_t k_max_cold_commands = 256;  // over every image

constexpr auto k_busy_refill_gap = std::chrono::milliseconds(10);
constexpr auto k_busy_refill_poll = std::chrono::milliseconds(5);

// After this many failures in a row a pool stops preparing until set again.
constexpr int k_max_failures_in_a_row = 5;

// The pools' worker thread runs at nice 19 behind the daemon's other
// threads. (Niceness does not reach across cgroups: the sandboxes' own
// setup, in their cgroups, is held back by pool_filler's pacing instead.)
void lower_this_thread() {
    static thread_local bool lowered = false;
    if (!lowered) lowered = ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19) == 0;
}

}  // namespace

namespace {

std::uint64_t g_pool_serial = 0;

// A sandbox's cgroup (whose processes are gone) and, with remove_dir, its
// directory. Blocks: on a worker.
status remove_sandbox_files(cgroup::manager& cgroups, const std::string& dir, const std::string& id,
                            bool remove_dir) {
    (void)cgroups.remove(id);
    return remove_dir ? remove_all(dir) : ok();
}

// The HostConfig a pool's sandboxes are made for: a create body's defaults.
json::object pool_host_config() {
    json::object hc{{"NetworkMode", "none"}};
    set_confinement_defaults(hc);
    return hc;
}

}  // namespace

pool_info engine::info_of(const pool& p) const {
    pool_info i;
    i.image_ref = p.image_ref;
    i.image_id = p.image_id;
    i.size = p.size;
    i.ready = static_cast<int>(p.ready.size());
    i.preparing = p.preparing;
    i.taken = p.taken;
    i.failed = p.failed;
    i.last_error = p.last_error;
    i.commands = static_cast<int>(std::count_if(p.commands.known.begin(), p.commands.known.end(),
                                                [](const auto& kv) { return !kv.second.empty(); }));
    return i;
}

std::vector<pool_info> engine::pools() const {
    std::vector<pool_info> out;
    for (const auto& [id, p] : _pools) out.push_back(info_of(*p));
    return out;
}

awaitable<result<pool_info>> engine::set_pool(std::string image_ref, int size, bool wait) {
    if (size < 0 || size > k_max_pool)
        co_return make_error(errc::invalid_argument,
                             "invalid pool size " + std::to_string(size) + ": from 0 to " + std::to_string(k_max_pool));
    auto img = find_image(image_ref);
    if (!img) co_return img.err();
    if (!_opts.uid_map.empty())
        co_return make_error(errc::invalid_argument, "warm pools are not available with --userns-remap yet");
    {
        // Its containers would each get anonymous volumes, made at create:
        // no prepared sandbox could ever match.
        boost::system::error_code ec;
        auto v = json::parse(img->config_json, ec);
        const json::value* cfg = !ec && v.is_object() ? v.as_object().if_contains("config") : nullptr;
        const json::value* vols = cfg && cfg->is_object() ? cfg->as_object().if_contains("Volumes") : nullptr;
        if (size > 0 && vols && vols->is_object() && !vols->as_object().empty())
            co_return make_error(errc::invalid_argument,
                                 "image " + image_ref +
                                     " declares VOLUMEs: its containers get anonymous volumes, which a prepared "
                                     "sandbox cannot hold; warm pools serve images without them");
    }
    auto it = _pools.find(img->id);
    if (size == 0) {
        if (it == _pools.end()) co_return make_error(errc::not_found, "no warm pool for image " + image_ref);
        pool_info gone = info_of(*it->second);
        for (auto& sb : it->second->ready) discard_sandbox(sb.id, true);
        it->second->ready.clear();
        it->second->size = 0;
        it->second->changed->notify();
        _pools.erase(it);
        gone.size = gone.ready = 0;
        co_return gone;
    }
    if (it == _pools.end()) {
        auto p = std::make_unique<pool>();
        p->image_id = img->id;
        p->chain_ids = img->chain_ids;
        p->changed = std::make_unique<async_signal>(_loop.get_executor());
        p->serial = ++g_pool_serial;
        it = _pools.emplace(img->id, std::move(p)).first;
    }
    pool& p = *it->second;
    p.image_ref = image_ref;
    p.size = size;
    p.failures_in_a_row = 0;
    while (static_cast<int>(p.ready.size()) > size) {
        discard_sandbox(p.ready.back().id, true);
        p.ready.pop_back();
    }
    fill_pool(img->id);
    const std::string image_id = img->id;
    while (wait) {
        auto now = _pools.find(image_id);
        if (now == _pools.end()) co_return make_error(errc::conflict, "the warm pool was removed meanwhile");
        pool& q = *now->second;
        if (static_cast<int>(q.ready.size()) >= q.size) break;
        if (q.failures_in_a_row >= k_max_failures_in_a_row)
            co_return make_error(errc::internal, "preparing a sandbox for " + image_ref + " failed: " + q.last_error);
        co_await q.changed->wait();
    }
    auto now = _pools.find(image_id);
    if (now == _pools.end()) co_return make_error(errc::conflict, "the warm pool was removed meanwhile");
    co_return info_of(*now->second);
}

void engine::fill_pool(const std::string& image_id) {
    auto it = _pools.find(image_id);
    if (it == _pools.end()) return;
    pool& p = *it->second;
    while (p.fillers < k_fillers && static_cast<int>(p.ready.size()) + p.preparing + p.fillers < p.size &&
           p.failures_in_a_row < k_max_failures_in_a_row) {
        p.fillers++;
        asio::co_spawn(_loop, pool_filler(image_id, p.serial), asio::detached);
    }
}

awaitable<void> engine::pool_filler(std::string image_id, std::uint64_t serial) {
    for (;;) {
        auto it = _pools.find(image_id);
        // Removed (and maybe set again: a later pool has fillers of its own).
        if (it == _pools.end() || it->second->serial != serial) co_return;
        pool& p = *it->second;
        if (static_cast<int>(p.ready.size()) + p.preparing >= p.size ||
            p.failures_in_a_row >= k_max_failures_in_a_row) {
            p.fillers--;
            p.changed->notify();
            co_return;
        }
        // A pool is a stock for bursts: it is made up in the daemon's quiet
        // time (no create or start for k_refill_quiet), so that refilling
        // never competes with the starts it exists for. Only a stock below a
        // quarter of its size (or empty) is refilled under load, one
        // preparation at a time with k_busy_refill_gap between them (a cold
        // start costs more than a preparation).
        const auto now = std::chrono::steady_clock::now();
        const bool is_quiet = quiet(now, k_refill_quiet);
        const bool low = static_cast<int>(p.ready.size()) < std::max(1, p.size / 4);
        if (!is_quiet && !(low && p.preparing == 0 && now - p.last_prepared >= k_busy_refill_gap)) {
            co_await sleep_for(k_busy_refill_poll);
            continue;
        }
        p.preparing++;
        status made = co_await prepare_sandbox(image_id);
        auto again = _pools.find(image_id);
        // Removed meanwhile (prepare_sandbox discarded its sandbox).
        if (again == _pools.end() || again->second->serial != serial) co_return;
        pool& q = *again->second;
        q.preparing--;
        q.last_prepared = std::chrono::steady_clock::now();
        if (made) {
            q.failures_in_a_row = 0;
        } else {
            q.failed++;
            q.last_error = made.err().message;
            log::warn("warm pool {}: {}", q.image_ref, made.err().message);
            // No monitor (it is being restarted): wait for it, without
            // giving up on the pool.
            if (made.err().code != errc::unavailable) q.failures_in_a_row++;
        }
        q.changed->notify();
        if (!made && made.err().code == errc::unavailable) {
            co_await sleep_for(std::chrono::milliseconds(200));
        }
    }
}

awaitable<status> engine::prepare_sandbox(std::string image_id) {
    std::shared_ptr<container> proto = std::make_shared<container>();
    {
        auto it = _pools.find(image_id);
        if (it == _pools.end()) co_return ok();
        proto->id = random_id();
        proto->image_id = image_id;
        proto->chain_ids = it->second->chain_ids;
        proto->host_config = pool_host_config();
    }
    // The default process's seccomp program, loaded before the sandbox parks.
    std::optional<std::string> profile;
    auto process = process_half(*proto, &profile);
    if (!process) co_return process.err();
    if (auto sc = co_await add_seccomp(profile, *process); !sc) co_return sc.err();
    // The filters of a sandbox that waits outside its network namespace:
    // one that lets its claim's setns through, loaded before it parks, and
    // one that refuses setns again, loaded right after (engine/seccomp.h).
    // Compiled once per pool and profile.
    std::optional<pool::netns_filters> outside;
    if (profile) {
        const std::string key = seccomp_cache::key_of(*profile, process->capabilities);
        auto it = _pools.find(image_id);
        if (it == _pools.end()) co_return ok();
        if (auto known = it->second->netns_entry.find(key); known != it->second->netns_entry.end()) {
            outside = known->second;
        } else {
            auto job = [p = *profile, caps = process->capabilities] { return netns_entry_profiles_of(p, caps); };
            auto split = co_await _workers.run(offload_reason::seccomp, std::move(job));
            if (!split) co_return split.err();
            if (*split) {
                runtime::launch_spec parked, refusal;
                parked.capabilities = refusal.capabilities = process->capabilities;
                if (auto sc = co_await add_seccomp((*split)->parked, parked); !sc) co_return sc.err();
                if (!(*split)->refusal.empty())
                    if (auto sc = co_await add_seccomp((*split)->refusal, refusal); !sc) co_return sc.err();
                outside = pool::netns_filters{std::move(parked.seccomp_program), std::move(refusal.seccomp_program),
                                              std::move(parked.seccomp_file)};
            }
            if (auto again = _pools.find(image_id); again != _pools.end()) again->second->netns_entry[key] = outside;
        }
    }
    const std::string id = proto->id;
    const std::string dir = container_dir(id);
    // Undoes a preparation that failed (the child, if any, is gone).
    auto undo = [this, id, dir]() { return remove_sandbox_files(*_cgroups, dir, id, true); };
    auto job = [this, id, dir, spares = _spare_dirs.get()]() -> result<cgroup::container_cgroup> {
        lower_this_thread();
        BERTH_TRY(make_container_dirs(dir, id.substr(0, 12), false, true, spares));
        auto cg = _cgroups->create(id);
        if (!cg) (void)remove_all(dir);
        return cg;
    };
    auto cg = co_await _pool_workers.run(offload_reason::cgroup, std::move(job));
    if (!cg) co_return cg.err().wrap("prepare a sandbox");
    auto spec = sandbox_half(*proto, *cg, {}, {}, {}, "");
    status outcome = spec ? status(ok()) : status(spec.err());
    std::string sandbox_json;
    if (outcome) {
        spec->hostname = id.substr(0, 12);
        spec->seccomp_preloaded = true;
        sandbox_json = runtime::to_json(*spec);  // compared without the programs (see take_sandbox)
        spec->parks_outside_netns = outside && spec->new_network;
        spec->seccomp_program = spec->parks_outside_netns ? outside->parked_program : process->seccomp_program;
        spec->seccomp_file = spec->parks_outside_netns ? outside->parked_file : process->seccomp_file;
        if (spec->parks_outside_netns) spec->seccomp_after_netns = outside->refusal_program;
        spec->capabilities = process->capabilities;  // its bounding set, dropped before it parks
        auto& wait = _parks[id];
        wait.done = std::make_unique<async_event>(_loop.get_executor());
        wait.outcome = ok();
        outcome = _monitor->send({monitor::msg::park, {{"id", id}, {"spec", runtime::to_json(*spec)}}, {}});
        if (outcome) {
            co_await _parks[id].done->wait();
            outcome = _parks[id].outcome;
        }
        _parks.erase(id);
    }
    if (!outcome) {
        // No child is left (start_failed was its last word): undo the rest.
        co_await _pool_workers.run(offload_reason::cgroup, undo);
        co_return outcome.err().wrap("prepare a sandbox");
    }
    auto it = _pools.find(image_id);
    if (it == _pools.end() || static_cast<int>(it->second->ready.size()) >= it->second->size) {
        discard_sandbox(id, true);  // the pool went or shrank meanwhile
        co_return ok();
    }
    it->second->seccomp_profile = std::move(profile);
    it->second->capabilities = std::move(process->capabilities);
    it->second->ready.push_back({id, std::move(sandbox_json)});
    co_return ok();
}

void engine::on_monitor_parked(const std::string& id, int) {
    if (auto it = _parks.find(id); it != _parks.end()) {
        it->second.outcome = ok();
        it->second.done->set();
        return;
    }
    // Not ours (a daemon before us asked for it): let it go.
    discard_sandbox(id, !_containers.count(id));
}

std::string engine::take_sandbox(const container& c, const json::object& body) {
    auto it = _pools.find(c.image_id);
    if (it == _pools.end() || it->second->ready.empty()) return {};
    pool& p = *it->second;
    // The init layer holds the default hostname; a Hostname asked for is not
    // the prepared one. Devices, binds and --init are gathered or looked up
    // at start: such a container starts cold.
    if (!str_field(body, "Hostname").empty()) return {};
    for (const char* k : {"Binds", "Mounts", "Devices", "DeviceCgroupRules", "VolumesFrom"}) {
        auto* v = c.host_config.if_contains(k);
        if (v && v->is_array() && !v->as_array().empty()) return {};
    }
    if (bool_field(c.host_config, "Init") || bool_field(c.host_config, "Privileged")) return {};
    // The sandbox this container would get, with the prepared sandbox's id,
    // must be the prepared one byte for byte. Every sandbox of the pool is
    // prepared from the same config (only the id differs, in both), so a
    // HostConfig that matched once matches again: a batch compares in full
    // once.
    if (p.fitting_host_config && *p.fitting_host_config == c.host_config) return take_ready(p, c.image_id);
    container candidate;
    candidate.id = p.ready.front().id;
    candidate.image_id = c.image_id;
    candidate.chain_ids = c.chain_ids;
    candidate.host_config = c.host_config;
    auto tmpfs = tmpfs_mounts_of(c.host_config);
    if (!tmpfs) return {};
    auto spec = sandbox_half(candidate, _cgroups->paths(candidate.id), {}, {}, std::move(*tmpfs), "");
    if (!spec) return {};
    spec->hostname = candidate.id.substr(0, 12);
    spec->seccomp_preloaded = true;
    if (runtime::to_json(*spec) != p.ready.front().sandbox_json) return {};
    // The preloaded program: the same profile for the same capabilities.
    std::optional<std::string> profile;
    auto process = process_half(c, &profile);
    if (!process || profile != p.seccomp_profile || process->capabilities != p.capabilities) return {};
    p.fitting_host_config = c.host_config;
    return take_ready(p, c.image_id);
}

std::string engine::take_ready(pool& p, const std::string& image_id) {
    std::string id = std::move(p.ready.front().id);
    p.ready.pop_front();
    p.taken++;
    p.changed->notify();
    fill_pool(image_id);
    return id;
}

std::string engine::told_command(const container& c, const runtime::launch_spec& process, bool claim) {
    // As the image's root only, who may search every directory.
    if (!process.user.empty() || process.args.empty()) return {};
    const std::string& name = process.args[0];
    if (name.empty() || name.find('/') != std::string::npos) return {};
    std::uint64_t serial = 0;
    command_places* places = &_cold_commands;
    std::size_t most = k_max_cold_commands;
    std::string key = name + '\0' + runtime::search_path_of(process.env);
    if (claim) {
        auto it = _pools.find(c.image_id);
        if (it == _pools.end()) return {};
        places = &it->second->commands;
        serial = it->second->serial;
        most = k_max_pool_commands;
    } else {
        key = c.image_id + '\0' + key;
    }
    if (auto found = places->known.find(key); found != places->known.end()) return found->second;
    if (places->known.size() >= most || !places->looking_up.insert(key).second) return {};
    // This start's child searches itself; the next ones are told.
    asio::co_spawn(_loop, look_up_command(c.image_id, serial, std::move(key), container_layout(*this, c)),
                   asio::detached);
    return {};
}

std::shared_ptr<const account_files> engine::told_accounts(const container& c) {
    if (auto it = _cold_accounts.find(c.image_id); it != _cold_accounts.end()) return it->second;
    if (_cold_accounts.size() < k_max_cold_commands && _accounts_reading.insert(c.image_id).second)
        asio::co_spawn(_loop, read_accounts(c.image_id, container_layout(*this, c)), asio::detached);
    return nullptr;  // this start's child reads them itself
}

awaitable<void> engine::read_accounts(std::string image_id, rootfs_layout layout) {
    auto job = [layout = std::move(layout)]() -> result<std::optional<account_files>> {
        BERTH_ASSIGN(auto view, open_lower_layers(layout));
        return read_account_files(view);
    };
    auto files = co_await _pool_workers.run(offload_reason::filesystem, std::move(job));
    _accounts_reading.erase(image_id);
    // Not for telling: remembered too (null). No view: next time.
    if (files) _cold_accounts[image_id] = *files ? std::make_shared<const account_files>(std::move(**files)) : nullptr;
}

awaitable<void> engine::look_up_command(std::string image_id, std::uint64_t serial, std::string key,
                                        rootfs_layout layout) {
    // In the claimed container's image layers and init layer: what its
    // pristine rootfs shows, without its mounts. (Removed meanwhile: not
    // this time.)
    // The cold starts' keys begin with the image id.
    std::string_view lookup = key;
    if (serial == 0) lookup.remove_prefix(image_id.size() + 1);
    auto job = [lookup = std::string(lookup), layout = std::move(layout)]() -> result<std::optional<std::string>> {
        BERTH_ASSIGN(auto view, open_lower_layers(layout));
        const auto nul = lookup.find('\0');
        return resolve_command(view, lookup.substr(0, nul), std::string_view(lookup).substr(nul + 1));
    };
    auto found = co_await _pool_workers.run(offload_reason::filesystem, std::move(job));
    command_places* places = &_cold_commands;
    if (serial != 0) {
        auto it = _pools.find(image_id);
        if (it == _pools.end() || it->second->serial != serial) co_return;
        places = &it->second->commands;
    }
    places->looking_up.erase(key);
    // Not found, or not for telling (""): remembered too, so that every
    // start of it does not mount the layers again. (No view: next time.)
    if (found) places->known[key] = found->value_or("");
}

awaitable<void> engine::unpark(container_ptr c) {
    if (!c->parked) co_return;
    c->parked = false;
    c->stale_cgroup = true;
    discard_sandbox(c->id, false);
    // Its death report erases the entry (pool_start_failed).
    for (int i = 0; i < 500 && _dying_sandboxes.count(c->id); ++i) {
        co_await sleep_for(std::chrono::milliseconds(10));
    }
}

void engine::discard_sandbox(const std::string& id, bool remove_dir) {
    _dying_sandboxes[id] = remove_dir;
    // SIGKILL to the parked child; its death comes back as start_failed.
    (void)_monitor->send({monitor::msg::signal, {{"id", id}, {"signal", 9}}, {}});
}

bool engine::pool_start_failed(const std::string& id, const error& e, bool unclaimed) {
    if (auto it = _parks.find(id); it != _parks.end()) {
        // The sandbox itself failed (its setup, or it died): a failure that
        // counts, unlike a missing monitor (unavailable).
        error failed = e;
        if (failed.code == errc::unavailable) failed.code = errc::internal;
        it->second.outcome = failed;
        it->second.done->set();
        return true;
    }
    bool remove_dir = false;
    if (auto it = _dying_sandboxes.find(id); it != _dying_sandboxes.end()) {
        remove_dir = it->second;
        _dying_sandboxes.erase(it);
    } else {
        bool pooled = false;
        for (auto& [image_id, p] : _pools) {
            auto r = std::find_if(p->ready.begin(), p->ready.end(), [&](auto& sb) { return sb.id == id; });
            if (r == p->ready.end()) continue;
            // A ready sandbox died: drop it and prepare another.
            p->ready.erase(r);
            p->changed->notify();
            fill_pool(image_id);
            pooled = true;
            break;
        }
        auto c = _containers.find(id);
        if (pooled) {
            remove_dir = true;
        } else if (_starts.count(id) && !unclaimed) {
            return false;  // a container's own start (or its claim) failed
        } else if (c != _containers.end()) {
            // (A claim in flight gets its own answer: unavailable, then a cold start.)
            if (!unclaimed && (c->second->running() || c->second->starting)) return false;
            // The sandbox of a created container died before its start (or
            // belonged to a daemon before us, whose pool is gone): the start
            // will be a cold one, which removes the sandbox's cgroup first.
            c->second->parked = false;
            c->second->stale_cgroup = true;
            return true;
        } else if (id.size() != 64) {
            return false;
        } else {
            // A sandbox of a daemon before us (the monitor's hello killed it).
            remove_dir = true;
        }
    }
    // A container's id that will start later: its cgroup goes at that
    // start. One being removed (or gone) has it removed now.
    if (auto c = _containers.find(id); c != _containers.end() && !c->second->removed &&
                                       c->second->status != "removing") {
        c->second->stale_cgroup = true;
        return true;
    }
    auto job = [this, id, dir = container_dir(id), remove_dir] {
        return remove_sandbox_files(*_cgroups, dir, id, remove_dir);
    };
    asio::co_spawn(
        _loop,
        [this, job = std::move(job)]() mutable -> awaitable<void> {
            auto s = co_await _workers.run(offload_reason::cgroup, std::move(job));
            if (!s) log::warn("warm pool: {}", s.err().message);
        },
        asio::detached);
    return true;
}

void engine::pool_monitor_lost(const std::set<std::string>* ids) {
    for (auto& [id, w] : _parks) {
        if (ids && !ids->count(id)) continue;
        // Its child may live on (the same monitor kills it at its hello and
        // reports it) or die unreported (a dead monitor): either way its
        // cgroup and directory go once it is gone.
        _dying_sandboxes[id] = true;
        w.outcome = make_error(errc::unavailable, "the berth monitor went away while preparing a sandbox");
        w.done->set();
    }
    for (auto& [image_id, p] : _pools) {
        bool dropped = false;
        for (auto it = p->ready.begin(); it != p->ready.end();) {
            if (ids && !ids->count(it->id)) {
                ++it;
                continue;
            }
            // Its monitor kills it at the next hello and reports it then.
            _dying_sandboxes[it->id] = true;
            it = p->ready.erase(it);
            dropped = true;
        }
        if (dropped) {
            p->changed->notify();
            fill_pool(image_id);
        }
    }
    std::vector<std::string> lost;
    for (auto& [id, c] : _containers)
        if (c->parked && (!ids || ids->count(id))) {
            c->parked = false;
            c->stale_cgroup = true;
        }
    for (auto& [id, remove_dir] : _dying_sandboxes)
        if (!ids || ids->count(id)) lost.push_back(id);
    if (!lost.empty()) asio::co_spawn(_loop, reap_lost_sandboxes(std::move(lost)), asio::detached);
}

awaitable<void> engine::reap_lost_sandboxes(std::vector<std::string> ids) {
    // The same monitor, reconnected, kills them at its hello and reports
    // them (pool_start_failed). A dead one's children die of their control
    // sockets' EOF and nobody reports them: wait until their cgroups empty.
    // One still there after 10 s (a child stuck before it reads its socket)
    // is killed through its cgroup, which holds only that sandbox's
    // processes, and again every 10 s; after a minute it is left to the next
    // daemon's start-up sweep. Never an id a container has taken since (a
    // cold start after its sandbox was discarded uses the same cgroup).
    for (int round = 1; round <= 60 && !ids.empty(); ++round) {
        co_await sleep_for(std::chrono::seconds(1));
        std::erase_if(ids, [this](const std::string& id) {
            return !_dying_sandboxes.count(id) || _containers.count(id);
        });
        if (round % 10 == 0 && !ids.empty()) {
            auto kill = [this, ids]() -> status {
                for (const auto& id : ids)
                    if (auto k = _cgroups->kill(id); !k) log::warn("pool: kill lost sandbox {}: {}", id.substr(0, 12), k.err().message);
                return ok();
            };
            co_await _workers.run(offload_reason::cgroup, std::move(kill));
        }
        std::vector<std::pair<std::string, bool>> empty;
        std::vector<std::string> waiting;
        for (auto& id : ids) {
            auto it = _dying_sandboxes.find(id);
            if (it == _dying_sandboxes.end()) continue;  // reported meanwhile
            auto pids = _cgroups->pids(id);
            if (pids && !pids->empty()) {
                waiting.push_back(id);
                continue;
            }
            empty.emplace_back(id, it->second);
            _dying_sandboxes.erase(it);
        }
        ids = std::move(waiting);
        if (empty.empty()) continue;
        auto job = [this, empty]() -> status {
            for (auto& [id, remove_dir] : empty) (void)remove_sandbox_files(*_cgroups, container_dir(id), id, remove_dir);
            return ok();
        };
        co_await _workers.run(offload_reason::cgroup, std::move(job));
    }
}

}  // namespace berth
