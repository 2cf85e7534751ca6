#include "engine/batch.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "base/fd.h"
#include "base/log.h"
#include "engine/core/async.h"
#include "engine/engine.h"

namespace json = boost::json;

namespace berth {

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

json::object batch_summary(const batch_outcome& o, bool removed) {
    std::vector<double> lat = o.start_latency_ms;
    std::sort(lat.begin(), lat.end());
    std::map<int, std::int64_t> codes;
    for (int c : o.exit_codes)
        if (c >= 0) codes[c]++;
    json::object exit_codes;
    for (auto& [code, n] : codes) exit_codes[std::to_string(code)] = n;
    json::array errors, ids, latencies;
    for (std::size_t i = 0; i < o.errors.size() && i < 10; ++i) errors.emplace_back(o.errors[i]);
    if (!removed)
        for (const auto& id : o.ids)
            if (!id.empty()) ids.emplace_back(id);
    for (double l : o.start_latency_ms) latencies.emplace_back(l);
    const auto count = static_cast<std::int64_t>(o.ids.size());
    const auto started = static_cast<std::int64_t>(o.start_latency_ms.size());
    json::object out{
        {"Count", count},
        {"Started", started},
        {"Failed", static_cast<std::int64_t>(o.errors.size())},
        {"Errors", std::move(errors)},
        {"ExitCodes", std::move(exit_codes)},
        {"Seconds", o.seconds},
        {"ContainersPerSecond", o.seconds > 0 ? static_cast<double>(started) / o.seconds : 0.0},
        {"StartLatencyMs",
         json::object{{"P50", percentile(lat, 50)}, {"P99", percentile(lat, 99)}, {"Max", lat.empty() ? 0 : lat.back()}}},
        {"LatenciesMs", std::move(latencies)},
        {"FromPool", o.from_pool},
        {"RunningSeconds", o.running_seconds},
        {"RunningPerSecond", o.running_seconds > 0 ? static_cast<double>(started) / o.running_seconds : 0.0},
    };
    if (!removed) out["Ids"] = std::move(ids);
    return out;
}

namespace {

// Containers of one batch between their create and their running. Without
// a bound, a batch with `parallel` in the hundreds (a burst from a warm
// pool) creates every container before it starts any: the daemon's loop
// thread makes records for hundreds of milliseconds while the other core,
// which would run the monitor and the containers, idles. Bounded, creates
// and starts overlap from the first; 32 keeps every stage (a worker hop,
// the database's group commit, the monitor) supplied.
constexpr std::size_t k_batch_starting = 32;

struct batch_state {
    batch_options opts;
    json::object body;
    std::size_t next = 0;  // the next index to create
    int running = 0;       // workers not finished
    int removing = 0;      // removals in flight
    batch_outcome out;
    std::unique_ptr<async_event> done;
    std::unique_ptr<async_semaphore> starting;  // containers between create and running
    std::chrono::steady_clock::time_point t0;  // the first create
    std::chrono::steady_clock::time_point schedule_t0;  // open loop: when container 1 is due
};

// A container the batch made: counted if it took a pool's sandbox, and
// marked as removed at its exit when the batch removes.
void note_created(batch_state& st, const result<container_ptr>& c) {
    if (!c) return;
    if ((*c)->parked) st.out.from_pool++;
    (*c)->batch_removes = st.opts.remove;
}

}  // namespace

// One of the batch's workers: first waits for (and removes) first_id, the
// container run_batch started itself, if any; then creates, starts, waits
// for and removes containers until every index is taken.
awaitable<void> engine::batch_worker(std::shared_ptr<void> opaque, std::string first_id) {
    auto st = std::static_pointer_cast<batch_state>(opaque);
    const auto count = static_cast<std::size_t>(st->opts.count);
    std::size_t i = 0;
    std::string id = std::move(first_id);
    // The removal of the worker's last container waits until its next one
    // runs (or failed, or there is none): started at once, its worker job
    // (the cgroup kept as a spare, the directory checked and renamed) ran
    // beside the next create's and the loop thread, three threads on this
    // machine's two cores, and the next start waited for a core. Held, it
    // runs while the next container's child builds its sandbox, when the
    // daemon has nothing else to do.
    std::shared_ptr<async_event> removal_gate;
    auto open_gate = [&] {
        if (removal_gate) removal_gate->set();
        removal_gate.reset();
    };
    try {
        for (;;) {
            if (!id.empty()) {
                // Running: wait for it, then remove it (with remove).
                if (auto c = find_container(id); c) {
                    auto code = co_await wait_container(*c, "not-running");
                    st->out.exit_codes[i] = code ? *code : -1;
                }
                // Teardown off the start path: the worker goes on with the
                // next container while this one is removed; the batch ends
                // when the last removal has.
                if (st->opts.remove) {
                    st->removing++;
                    removal_gate = std::make_shared<async_event>(_loop.get_executor());
                    asio::co_spawn(_loop, batch_remove(st, id, removal_gate), asio::detached);
                }
            }
            if (st->next >= count) break;
            i = st->next++;
            id = co_await batch_start_one(st, i, std::chrono::steady_clock::now());
            open_gate();
        }
    } catch (const std::exception& e) {
        st->out.errors.push_back(std::string("batch worker: ") + e.what());
    }
    open_gate();
    if (--st->running == 0 && st->removing == 0) st->done->set();
}

// Creates and starts container `index` of the batch and records it (id,
// whether it took a pool's sandbox, the latency since `since`); returns its
// id once running, "" when it failed (removed again with remove).
awaitable<std::string> engine::batch_start_one(std::shared_ptr<void> opaque, std::size_t index,
                                               std::chrono::steady_clock::time_point since) {
    auto st = std::static_pointer_cast<batch_state>(opaque);
    // Waits here, in order, counted in its latency, while the batch has
    // k_batch_starting containers between create and running.
    if (!co_await st->starting->acquire()) co_return std::string();
    auto slot = scope_exit([&] { st->starting->release(); });
    auto made = co_await create_container(st->body, "", true);
    if (!made) {
        st->out.errors.push_back(made.err().message);
        co_return std::string();
    }
    st->out.ids[index] = made->id;
    note_created(*st, find_container(made->id));
    auto started = co_await start_container(made->id);
    if (!started) {
        st->out.errors.push_back(started.err().message);
        if (st->opts.remove) (void)co_await remove_container(made->id, true, true);
        co_return std::string();
    }
    const auto now = std::chrono::steady_clock::now();
    st->out.start_latency_ms.push_back(std::chrono::duration<double, std::milli>(now - since).count());
    st->out.running_seconds = std::chrono::duration<double>(now - st->t0).count();
    co_return made->id;
}

// Open loop: container `index` of a batch with a rate, submitted at its
// time after the first container ran; its latency counts from that time.
awaitable<void> engine::batch_scheduled(std::shared_ptr<void> opaque, std::size_t index) {
    auto st = std::static_pointer_cast<batch_state>(opaque);
    const auto at = st->schedule_t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(
                                          1e9 * static_cast<double>(index - 1) / st->opts.rate));
    co_await sleep_until(at);
    try {
        std::string id = co_await batch_start_one(st, index, at);
        if (!id.empty()) {
            if (auto c = find_container(id); c) {
                auto code = co_await wait_container(*c, "not-running");
                st->out.exit_codes[index] = code ? *code : -1;
            }
            // As a worker's: the removal yields to the starts still due.
            if (st->opts.remove) {
                st->removing++;
                asio::co_spawn(_loop, batch_remove(st, id, nullptr), asio::detached);
            }
        }
    } catch (const std::exception& e) {
        st->out.errors.push_back(std::string("batch: ") + e.what());
    }
    if (--st->running == 0 && st->removing == 0) st->done->set();
}

awaitable<void> engine::batch_remove(std::shared_ptr<void> opaque, std::string id,
                                     std::shared_ptr<async_event> after) {
    auto st = std::static_pointer_cast<batch_state>(opaque);
    try {
        if (after) co_await after->wait();
        auto c = find_container(id);
        if (c && (*c)->namespaces_held && !(*c)->running() && !(*c)->starting && (*c)->status != "removing") {
            // Marked first: nothing starts it or writes into it meanwhile
            // (its upper directory may still be mounted in the namespaces
            // the monitor holds).
            container_ptr held = *c;
            held->status = "removing";
            co_await yield_to_starts(std::chrono::steady_clock::now());
            if (auto r = co_await destroy_with_volumes(held, true); !r)
                log::warn("batch: remove {}: {}", id.substr(0, 12), r.err().message);
        } else if (auto r = co_await remove_container(id, false, true); !r) {
            log::warn("batch: remove {}: {}", id.substr(0, 12), r.err().message);
        }
    } catch (const std::exception& e) {
        log::warn("batch: remove {}: {}", id.substr(0, 12), e.what());
    }
    if (--st->removing == 0 && st->running == 0) st->done->set();
}

awaitable<result<batch_outcome>> engine::run_batch(json::object body, batch_options opts) {
    if (opts.count < 1) co_return make_error(errc::invalid_argument, "count must be at least 1");
    if (opts.parallel < 1) co_return make_error(errc::invalid_argument, "parallel must be at least 1");
    if (opts.rate < 0 || opts.rate > 1e6) co_return make_error(errc::invalid_argument, "rate must be from 0 to 1000000");
    auto st = std::make_shared<batch_state>();
    st->opts = opts;
    st->body = std::move(body);
    st->out.ids.resize(static_cast<std::size_t>(opts.count));
    st->out.exit_codes.assign(static_cast<std::size_t>(opts.count), -1);
    st->done = std::make_unique<async_event>(_loop.get_executor());
    st->starting = std::make_unique<async_semaphore>(_loop.get_executor(), k_batch_starting);
    // The HostConfig.AutoRemove of --rm would race the wait; the workers
    // remove each container themselves once it has exited.
    if (auto* hc = st->body.if_contains("HostConfig"); hc && hc->is_object()) hc->as_object().erase("AutoRemove");

    const auto t0 = std::chrono::steady_clock::now();
    st->t0 = t0;
    // The first container is created and started alone: a bad image or
    // config fails the request once, with its own error (404 for a missing
    // image), rather than N times.
    auto made = co_await create_container(st->body, "", true);
    if (!made) co_return made.err();
    st->out.ids[0] = made->id;
    note_created(*st, find_container(made->id));
    st->next = 1;
    if (auto started = co_await start_container(made->id); !started) {
        if (opts.remove) (void)co_await remove_container(made->id, true, true);
        co_return started.err();
    }
    st->out.start_latency_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    st->out.running_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    if (opts.rate > 0) {
        // Open loop: the first one's waiter and remover, then one coroutine
        // per container, each at its time.
        st->schedule_t0 = std::chrono::steady_clock::now();
        st->next = static_cast<std::size_t>(opts.count);  // the worker below takes only the first
        st->running = opts.count;
        asio::co_spawn(_loop, batch_worker(st, made->id), asio::detached);
        for (int i = 1; i < opts.count; ++i)
            asio::co_spawn(_loop, batch_scheduled(st, static_cast<std::size_t>(i)), asio::detached);
        co_await st->done->wait();
        st->out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        co_return std::move(st->out);
    }
    const int workers = std::clamp(opts.parallel, 1, std::min(opts.count, 1024));
    st->running = workers;
    for (int w = 0; w < workers; ++w)
        asio::co_spawn(_loop, batch_worker(st, w == 0 ? made->id : std::string()), asio::detached);
    co_await st->done->wait();
    st->out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    co_return std::move(st->out);
}

}  // namespace berth
