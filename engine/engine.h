// The engine: containers and images of one data root, driven from the
// daemon's loop. Every public operation is a coroutine on the loop thread;
// blocking work goes to the worker pool; metadata is written through the
// SQLite writer thread; container processes live under the monitor.
//
// Vocabulary:
//   container  a record (config, state) plus, while running, a process tree
//              under the monitor. States: created -> running -> exited,
//              and "removing" on the way out.
//   image      a config plus a stack of shared unpacked layers (storage/).
//   entry      one json-file log entry (a line, or a partial line) of a
//              container's stdout or stderr.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "base/sched.h"
#include "engine/batch.h"
#include "engine/command_path.h"
#include "engine/core/async.h"
#include "engine/events.h"
#include "engine/runtime/spec.h"
#include "storage/images.h"

namespace berth::storage { class metadata_db; }
namespace berth::cgroup { class manager; struct container_cgroup; }

namespace berth {

class spare_dirs;

class monitor_client;
class seccomp_cache;
struct rootfs_layout;

// "KILL", "SIGKILL", "9" -> 9; "" -> SIGKILL; unknown -> -1.
int parse_signal(const std::string& s);

struct engine_options {
    std::string data_root = "/var/lib/berth";
    std::string cgroup_parent;  // "" = berth-<hash of data root> under the daemon's cgroup
    std::size_t workers = 4;
    // --userns-remap (engine/userns_remap.h): the maps of every container
    // that does not opt out (HostConfig.UsernsMode "host"); empty: none.
    std::string userns_remap;  // "user:group" as resolved
    std::vector<runtime::id_range> uid_map, gid_map;
    // A user namespace mapping those host ids back to the container's
    // (made at daemon start, held for its life): cp and export see a
    // remapped container's upper/ through it (engine/rootfs_view.h).
    int userns_view_fd = -1;
    bool userns_copy = false;  // no idmapped layers: shifted copies (engine/userns_copy.h)
    // SCHED_FIFO priority of the loop thread, the monitors and their
    // zygotes (base/sched.h); 0: ordinary scheduling.
    int control_priority = k_control_priority;
};

struct log_entry {
    std::uint64_t seq = 0;
    bool is_err = false;
    std::int64_t time_ns = 0;
    std::uint64_t offset = 0;  // log file size after this entry
    std::string text;
};

// State.Health of a container with a healthcheck (engine/health.cc).
struct health_state {
    std::string status = "starting";  // starting | healthy | unhealthy
    int failing_streak = 0;
    std::deque<boost::json::object> log;  // the last 5 probes: Start, End, ExitCode, Output
};

struct container {
    std::string id, name;  // name without the leading '/'
    std::string image_ref, image_id;
    std::int64_t created_ns = 0;
    boost::json::object config;       // Docker's Config, image defaults merged
    boost::json::object host_config;  // Docker's HostConfig as given (normalized)
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> chain_ids;  // image layers, bottom first

    std::string status = "created";  // created | running | exited | removing
    int pid = 0;
    int exit_code = 0;
    std::string error;
    std::int64_t started_ns = 0, finished_ns = 0;
    // When this daemon last sent a start for it (not persisted): an exit
    // record that finished before is not this run's.
    std::int64_t start_sent_ns = 0;
    bool oom_killed = false;  // the kernel OOM-killed a process of its last run
    bool oom_reported = false;  // this run's `oom` event went out already (engine/oom.cc)
    bool paused = false;      // its cgroup is frozen (only while running)
    std::optional<health_state> health;  // set while a healthcheck runs (and after, until the next start)
    std::uint64_t health_loop = 0;       // bumped per health loop started: an older loop stops
    bool removed = false;

    // Loop-only runtime state.
    std::uint64_t exits = 0;  // bumped at every exit and every failed start
    std::unique_ptr<async_signal> changed;
    std::unique_ptr<async_signal> output;
    std::deque<log_entry> recent;
    std::size_t recent_bytes = 0;
    std::uint64_t next_seq = 1;
    bool starting = false;
    // `cp` into the stopped container is writing through its own overlay of
    // upper/ and work/: a start waits (two live overlays on one upper
    // directory are undefined behaviour). Notified on `changed`.
    int rootfs_writes = 0;
    // The exited process's cgroup is being removed, after the exit was made
    // visible: a start waits (its cgroup has the same path). Notified on `changed`.
    int cgroup_removals = 0;
    // That removal still waits in engine::_exited_cgroups: a start (or the
    // container's removal) takes it over.
    bool cgroup_deferred = false;
    // Restart policy state: restart_count is persisted; the rest is runtime.
    int restart_count = 0;
    bool restarting = false;    // waiting out the back-off before a policy restart
    bool manual_stop = false;   // stopped or removed by the user: no policy restart
    int restart_delay_ms = 0;   // Docker's back-off: 100 ms doubling to 1 min, reset after 10 s up
    // Created from a warm pool's sandbox (engine/pool.cc) whose parked
    // child waits for this container's first start (not persisted: a
    // restarted daemon's containers start cold).
    bool parked = false;
    // Its parked sandbox died (or was lost) unclaimed: the sandbox's cgroup
    // may still be there, and the next cold start removes it first.
    bool stale_cgroup = false;
    // A batch with remove (engine/batch.cc) removes it once it has exited.
    bool batch_removes = false;
    // Made by this daemon, never started, nothing written into its rootfs:
    // its command is where the search along PATH finds it in the image
    // (engine::told_command), unless a mount covers part of it.
    bool pristine = false;
    // Its cgroup, made with its directories (create_container's
    // starts_next) and not yet taken by a start (not persisted: after a
    // restart the start makes it again, replacing the one left).
    std::shared_ptr<const cgroup::container_cgroup> prepared_cgroup;
    // A batch's create does not wait for its record's commit: the start
    // does, before its process runs (the commit goes on meanwhile with the
    // start's preparation). Set once committed, with the outcome.
    struct pending_commit {
        explicit pending_commit(asio::any_io_executor ex) : done(ex) {}
        async_event done;
        result<void> outcome;  // (container::status is the state)
    };
    std::shared_ptr<pending_commit> create_commit;
    // Its claim asked the monitor to hold its namespaces after the exit
    // (engine::drain_teardown): its cgroup and a batch's removal of it
    // wait for quiet time too. A cold start's teardown is not deferred (in
    // a steady stream of starts it would only pile up).
    bool namespaces_held = false;
    bool stdin_direct = false;  // the monitor has this run's box: send stdin straight
    std::string stdin_held;
    bool stdin_close_held = false;

    bool running() const { return status == "running"; }
    bool tty() const;
    bool auto_remove() const;
};
using container_ptr = std::shared_ptr<container>;

// One `docker exec`: created, started once, then exited. Kept until its
// container is removed (as Docker keeps them for inspection).
struct exec_instance {
    std::string id, container_id;
    boost::json::object config;  // Docker's ExecConfig, normalized
    bool started = false, running = false, exited = false;
    bool hidden = false;  // a healthcheck probe: not in the API, not in ExecIDs
    int exit_code = 0;
    int pid = 0;
    std::string error;  // why it could not start
    // Output, in order; live readers follow `changed`.
    std::deque<log_entry> output;
    std::size_t output_bytes = 0;
    std::uint64_t next_seq = 1;
    std::unique_ptr<async_signal> changed;
    std::unique_ptr<async_event> start_done;

    bool tty() const;
};
using exec_ptr = std::shared_ptr<exec_instance>;

// A warm pool (engine/pool.cc): prepared sandboxes of one image.
struct pool_info {
    std::string image_ref, image_id;
    int size = 0;       // sandboxes kept prepared
    int ready = 0;      // parked now, waiting for a container
    int preparing = 0;  // being made
    std::uint64_t taken = 0, failed = 0;
    std::string last_error;
    int commands = 0;   // commands whose place along PATH its claims are told
};

struct create_result {
    std::string id;
    std::vector<std::string> warnings;
};

struct logs_options {
    bool out = true, err = true, follow = false, timestamps = false;
    std::optional<std::size_t> tail;
    std::int64_t since_ns = 0, until_ns = 0;
};

class engine {
public:
    engine(asio::io_context& loop, engine_options opts);
    ~engine();

    // Opens storage and metadata, detects cgroups, loads state, connects to
    // (or starts) the monitor. Blocks; called before the loop runs.
    status init();
    // Starts the loop-side tasks (monitor connection).
    void start();
    // After the loop has stopped: removes the exited containers' cgroups
    // still deferred and the spare cgroups (blocks).
    void finish_deferred();

    const engine_options& options() const { return _opts; }
    worker_pool& workers() { return _workers; }
    asio::io_context& loop() { return _loop; }
    cgroup::manager& cgroups() { return *_cgroups; }
    // The names of the spare directories in <data-root>/containers (GET /berth/spares).
    std::vector<std::string> spare_directories();
    storage::image_store& store() { return *_store; }
    // <data-root>/containers/<id>: upper/, work/, init/, the log.
    std::string container_dir(const std::string& id) const;
    // <data-root>/init/mountpoints: dev/, proc/ and sys/, the runtime's
    // mount points, one lower layer shared by every container (below its
    // own init layer), so that no container makes them (engine.cc).
    std::string mount_points_layer() const;
    // <data-root>/init/rootfs: the empty directory every container mounts its
    // root on, inside its own (private) mount namespace, before pivot_root.
    std::string rootfs_mount_point() const;

    // Containers.
    // starts_next: the caller starts it right away (a batch): a container
    // with Docker's default limits and devices gets its cgroup in the job
    // that makes its directories (one hand-off to a worker less), which
    // its first start then takes (container::prepared_cgroup).
    awaitable<result<create_result>> create_container(boost::json::object body, std::string name,
                                                      bool starts_next = false);
    // by_policy: a restart policy's restart (keeps RestartCount and back-off).
    awaitable<status> start_container(std::string ref, bool by_policy = false);
    // condition: "not-running" (default), "next-exit", "removed". Returns the exit code.
    awaitable<result<int>> wait_container(container_ptr c, std::string condition);
    awaitable<status> kill_container(std::string ref, int signal);
    // Docker's stop: the stop signal (signal, else Config.StopSignal, else
    // SIGTERM), then SIGKILL after timeout_s (else Config.StopTimeout, else
    // 10 s). Returns false when the container was not running (HTTP 304).
    awaitable<result<bool>> stop_container(std::string ref, std::optional<int> timeout_s, int signal);
    awaitable<status> restart_container(std::string ref, std::optional<int> timeout_s, int signal);
    // remove_volumes (rm -v): its anonymous volumes go too (never named ones).
    awaitable<status> remove_container(std::string ref, bool force, bool remove_volumes = false);
    // POST /containers/prune: removes every container that is not running
    // (exited or created). Returns the removed ids.
    awaitable<std::vector<std::string>> prune_containers();
    // Docker's pause/unpause: freezes/thaws the container's cgroup.
    awaitable<status> pause_container(std::string ref);
    awaitable<status> unpause_container(std::string ref);
    // Docker's rename: the name checked as create checks it; event "rename".
    awaitable<status> rename_container(std::string ref, std::string new_name);
    // Docker's update (engine/update.cc): the resources and RestartPolicy of
    // `body` (zero or empty = unchanged) checked as create checks them,
    // merged into HostConfig as moby's UpdateContainer does, written into
    // the running container's cgroup (on a worker), then persisted; a
    // stopped container gets them at its next start. Event "update".
    // Returns Docker's warnings.
    awaitable<result<std::vector<std::string>>> update_container(std::string ref, boost::json::object body);
    result<container_ptr> find_container(std::string_view ref) const;
    std::vector<container_ptr> containers() const;
    // Writes `data` to the container's stdin (when OpenStdin); empty + close=true closes it.
    // Before the start message has gone to the monitor, stdin is held here
    // (the docker CLI streams stdin right after attaching, before start).
    void write_stdin(container& c, std::string data, bool close);
    std::size_t monitor_backlog() const;

    // berth run --count (engine/batch.cc): creates and starts N containers
    // from one body, `parallel` at a time, waits for all (and removes them
    // with opts.remove). Fails as a whole only when the first one fails.
    awaitable<result<batch_outcome>> run_batch(boost::json::object body, batch_options opts);

    // Warm pools (engine/pool.cc). size 0 removes the image's pool; with
    // wait, resolves once the pool holds `size` ready sandboxes (or
    // preparing one failed).
    awaitable<result<pool_info>> set_pool(std::string image_ref, int size, bool wait);
    std::vector<pool_info> pools() const;
    void on_monitor_parked(const std::string& id, int pid);
    // Exec (engine/exec.cc). create_exec answers Docker's errors: 409 when
    // the container is not running or is paused.
    awaitable<result<std::string>> create_exec(std::string container_ref, boost::json::object body);
    result<exec_ptr> find_exec(std::string_view id) const;
    // Starts the process and resolves once it has exec'd or failed (the
    // failure is also recorded in the instance: exit code 126/127, error).
    awaitable<status> start_exec(exec_ptr e, unsigned short rows, unsigned short cols);
    void write_exec_stdin(exec_instance& e, std::string data, bool close);
    boost::json::object exec_json(const exec_instance& e) const;
    // Window size of a container's or an exec's terminal.
    status resize_container(const container& c, int rows, int cols);
    // An exec not started yet is waited for (up to 10 s, as Docker): clients
    // resize right after the start request, before the process runs.
    awaitable<status> resize_exec(exec_ptr e, int rows, int cols);
    std::vector<std::string> exec_ids(const container& c) const;

    // Log entries with seq > after, from memory (live streams).
    std::vector<log_entry> entries_after(const container& c, std::uint64_t after) const;
    // Entries from the json-file log (blocks: run on the worker pool).
    static result<std::vector<log_entry>> read_log_file(const std::string& path, std::uint64_t* end_offset);
    std::string log_path(const container& c) const;

    // Images.
    awaitable<result<storage::image_record>> import_image(std::string tar_path, std::string reference,
                                                          std::vector<std::string> changes);
    awaitable<result<std::vector<storage::image_record>>> load_images(std::string archive_path);
    result<storage::image_record> find_image(std::string_view ref) const;
    std::vector<storage::image_record> images() const;
    // Docker's DELETE /images/{name}: [{"Untagged":..}, {"Deleted":..}]
    awaitable<result<boost::json::array>> remove_image(std::string ref, bool force);

    event_log& events() { return _events; }

    // Rendering (Docker's JSON shapes).
    boost::json::object inspect_json(const container& c) const;
    boost::json::object list_json(const container& c) const;
    boost::json::object image_json(const storage::image_record& img, bool inspect) const;
    boost::json::object info_json() const;
    static boost::json::object version_json();

    // Monitor events (called by monitor_client on the loop).
    void on_monitor_output(const std::string& id, bool is_err, std::int64_t time_ns, std::uint64_t offset,
                           std::string text);
    void on_monitor_started(const std::string& id, int pid);
    // `unclaimed`: the report of a parked sandbox that died before any
    // claim reached it (never the answer to a start).
    void on_monitor_start_failed(const std::string& id, error e, bool unclaimed = false);
    void on_monitor_exited(const std::string& id, int exit_code, std::int64_t finished_ns,
                           std::optional<std::uint64_t> oom_kills = std::nullopt);
    // running: the containers one monitor shard runs (id, pid). judged: the
    // containers that shard is responsible for, whose records may be marked
    // exited when not in running; nullptr: every container (the start-up
    // union of every shard's list).
    void on_monitor_state(const std::vector<std::pair<std::string, int>>& running,
                          const std::set<std::string>* judged = nullptr);
    // Starts the healthcheck of a container that just started (or that a
    // restarted daemon found running), if its config has one.
    void start_health_checks(container_ptr c);
    void on_monitor_exec_started(const std::string& id, int pid);
    void on_monitor_exec_failed(const std::string& id, error e);
    void on_monitor_exec_output(const std::string& id, bool is_err, std::int64_t time_ns, std::string text);
    void on_monitor_exec_exited(const std::string& id, int exit_code);
    // A shard's connection dropped: its starts and execs in flight can no
    // longer be answered. ids: the container and exec ids that shard held
    // (nullptr: all).
    void on_monitor_lost(const std::set<std::string>* ids = nullptr);

private:
    // The sandbox half of c's launch spec (what a warm pool prepares ahead):
    // layers, namespaces, mounts, masked paths, devices, cgroups.
    result<runtime::launch_spec> sandbox_half(const container& c, const cgroup::container_cgroup& cg,
                                              std::vector<runtime::device_node> devices,
                                              std::vector<runtime::bind_mount> binds,
                                              std::vector<runtime::tmpfs_mount> tmpfs_mounts,
                                              const std::string& init_binary);
    // Warm pools (engine/pool.cc).
    struct pool;
    struct pool_sandbox;
    std::map<std::string, std::unique_ptr<pool>> _pools;  // by image id
    // Cold starts' commands along PATH (image id, a NUL, then a pool's key).
    command_places _cold_commands;
    // Cold starts' account files by image id (null: not for telling), and
    // the images whose files are being read.
    std::map<std::string, std::shared_ptr<const account_files>> _cold_accounts;
    std::set<std::string> _accounts_reading;
    struct park_wait {
        std::unique_ptr<async_event> done;
        result<void> outcome;  // (container::status is the state)
    };
    std::map<std::string, park_wait> _parks;  // sandboxes the monitor is preparing
    // Sandboxes whose parked child was killed (or lost): once its death is
    // reported, the cgroup goes, and the directory too when true.
    std::map<std::string, bool> _dying_sandboxes;
    // Creates and starts in flight, and when the last one ended: the pools'
    // refills yield to them (engine/pool.cc).
    int _busy = 0;
    std::chrono::steady_clock::time_point _last_busy;
    // The daemon's quiet time: no create or start for k_quiet. Deferred
    // work (pool refills, exited cgroups) runs then.
    static constexpr auto k_quiet = std::chrono::milliseconds(5);
    bool quiet(std::chrono::steady_clock::time_point now, std::chrono::milliseconds spell = k_quiet) const {
        return _busy == 0 && now - _last_busy >= spell;
    }
    // A warm pool's refill waits for a longer spell: a preparation is about
    // as much CPU as a cold start, and an open loop of claims at 100/s left
    // a 5 ms spell between every two of them, so the pool refilled all along
    // and doubled the claims' median latency (engine/pool.cc).
    static constexpr auto k_refill_quiet = std::chrono::milliseconds(100);
    // The cgroups of exited containers whose namespaces the monitor held
    // wait for quiet time (or for a start of their container, or
    // k_max_cgroup_defer, or a backlog of k_max_cgroup_backlog): a burst of
    // starts from a pool does not share the CPU and the cgroup mutex with
    // the removals of the containers it finished, and the kernel's memcg
    // offline, which walks every superblock's lists, runs after the
    // namespaces are released.
    static constexpr auto k_max_cgroup_defer = std::chrono::seconds(10);
    static constexpr std::size_t k_max_cgroup_backlog = 4096;
    std::deque<std::pair<std::chrono::steady_clock::time_point, container_ptr>> _exited_cgroups;
    // The last claim sent with hold_namespaces, or exit of such a claim:
    // until k_max_cgroup_defer after it, the monitors may hold namespaces,
    // released when told (`release`, at every quiet spell) or after that time.
    std::chrono::steady_clock::time_point _last_hold{};
    bool _teardown_draining = false;
    // Other teardown waiting its turn (yield_to_starts), woken by drain_teardown.
    int _teardown_waiters = 0;
    std::unique_ptr<async_signal> _teardown_turn;
    // Returns in quiet time, or once `since` is k_max_cgroup_defer old, or
    // when k_max_cgroup_backlog others wait: a batch's removals run after
    // its burst of starts, not during it.
    awaitable<void> yield_to_starts(std::chrono::steady_clock::time_point since);
    // Runs while there is deferred teardown: in quiet time, `release` to
    // the monitors first (fewer superblocks for the memcg offlines), then
    // the cgroups.
    void drain_teardown_soon();
    awaitable<void> drain_teardown();
    // The id of a ready sandbox of c's image that c's sandbox half matches
    // exactly (taken out of its pool), or "".
    std::string take_sandbox(const container& c, const boost::json::object& body);
    // Kills a sandbox's parked child; its cgroup (and directory) go once it is reported dead.
    void discard_sandbox(const std::string& id, bool remove_dir);
public:
    // A created container's parked sandbox is given up (its child killed,
    // waited for up to 5 s): for writes into its upper directory from
    // outside (cp), which must not meet a live overlay. Its start is then
    // a cold one.
    awaitable<void> unpark(container_ptr c);
private:
    awaitable<void> pool_filler(std::string image_id, std::uint64_t serial);
    awaitable<status> prepare_sandbox(std::string image_id);
    void fill_pool(const std::string& image_id);
    // A start_failed the pools own (a sandbox's preparation or its parked
    // child's death); false when it is a container's.
    bool pool_start_failed(const std::string& id, const error& e, bool unclaimed);
    void pool_monitor_lost(const std::set<std::string>* ids);
    // Sandboxes whose monitor went away: if that monitor died, nothing will
    // report their children's deaths; once their cgroups are empty, their
    // cgroups (and directories) go.
    awaitable<void> reap_lost_sandboxes(std::vector<std::string> ids);
    pool_info info_of(const pool& p) const;
    // The oldest ready sandbox of p, taken (p refills).
    std::string take_ready(pool& p, const std::string& image_id);
    // A pristine container's command as the search along PATH finds it in
    // its image (engine/command_path.h): for a claim, as its pool's
    // sandboxes know it; for a cold start (`claim` false), as the engine's
    // cache of every image knows it. "" when not known yet (looked up in
    // the background for the next starts) or not for a cache.
    std::string told_command(const container& c, const runtime::launch_spec& process, bool claim);
    // serial: the pool's whose cache it goes to; 0: the cold starts' cache.
    awaitable<void> look_up_command(std::string image_id, std::uint64_t serial, std::string key, rootfs_layout layout);
    // A pristine container's account files as its image has them
    // (engine/command_path.h), or null: not read yet (read in the
    // background for the next cold starts) or not for telling.
    std::shared_ptr<const account_files> told_accounts(const container& c);
    awaitable<void> read_accounts(std::string image_id, rootfs_layout layout);
    // The process half of a container's launch spec (command, env, cwd,
    // user, capabilities, rlimits): what start and exec share.
    // seccomp_profile (if given): the profile its process gets (nullopt:
    // unconfined), for add_seccomp once the capabilities are final.
    result<runtime::launch_spec> process_half(const container& c,
                                              std::optional<std::string>* seccomp_profile = nullptr) const;
    // --userns-remap without idmapped layers: (layer directory, its shifted
    // copy) for each image layer of c (engine/userns_copy.h).
    std::vector<std::pair<std::string, std::string>> remapped_layer_copies(const container& c) const;
    // Puts the compiled program of this profile, for spec's capabilities,
    // into spec: from the cache, or compiled once on a worker.
    awaitable<void> batch_worker(std::shared_ptr<void> state, std::string first_id);
    // after: set once the removal may begin (null: at once).
    awaitable<void> batch_remove(std::shared_ptr<void> state, std::string id, std::shared_ptr<async_event> after);
    awaitable<void> batch_scheduled(std::shared_ptr<void> state, std::size_t index);
    awaitable<std::string> batch_start_one(std::shared_ptr<void> state, std::size_t index,
                                           std::chrono::steady_clock::time_point since);
    awaitable<status> add_seccomp(const std::optional<std::string>& profile, runtime::launch_spec& spec);
    std::unique_ptr<seccomp_cache> _seccomp;
    // prompt false: nobody waits for this record (a start's "running", an
    // exit the monitor keeps until it is acknowledged): it rides with the
    // next prompt one, or at most k_lazy_commit later.
    void persist(const container& c, std::function<void(status)> done = {}, bool prompt = true);
    // Wakes the database's writer once the loop's ready handlers have run.
    void wake_db_soon();
    void wake_db_later();
    // A prompt wake-up commits the lazy records too: their timer goes, so
    // that it does not wake the loop (and the writer) for nothing.
    void lazy_commit_taken();
    bool _db_wake_posted = false, _db_lazy_wake = false;
    std::unique_ptr<asio::steady_timer> _db_lazy_timer;
    // persist() and wait for the commit (on the loop).
    awaitable<status> persist_durably(const container& c);
    // Its record's text (from_doc reads it back).
    std::string doc_of(const container& c) const;
    container_ptr from_doc(const boost::json::object& doc);
    void persist_image(const storage::image_record& img);
    void register_image(const storage::image_record& img);
    awaitable<void> finish_removal(container_ptr c);
    bool should_restart(const container& c) const;
    // At the daemon's start (the monitor's first state): Docker's restore
    // starts what the restart policies say should run — always, unless-stopped
    // not stopped by the user, on-failure after a failure within its count.
    // Containers that were running when the daemon went away (`lost`) are
    // left to their exit records and the usual policy path.
    void restart_at_boot(const std::set<std::string>& lost);
    // At the daemon's start: removes the cgroups no container runs in (a
    // crash's leftovers, a previous daemon's pool sandboxes).
    void sweep_stale_cgroups();
    bool _booted = false;
    void emit_prune(std::size_t count);
    awaitable<void> restart_after_backoff(container_ptr c);
    awaitable<void> health_loop(container_ptr c, std::uint64_t exits_at_start);
    // OOM events (engine/oom.cc). watch_oom: efd is the v1 eventfd armed
    // with the cgroup (empty: arm one now, or use inotify on cgroup2).
    void watch_oom(container_ptr c, unique_fd efd);
    awaitable<void> oom_eventfd_loop(container_ptr c, std::uint64_t run, unique_fd efd);
    awaitable<void> oom_inotify_loop();
    // Re-reads the oom_kill counter; above `seen`: OOMKilled and an `oom` event.
    awaitable<std::uint64_t> check_oom(container_ptr c, std::uint64_t run, std::uint64_t seen);
    struct oom_watch {
        container_ptr c;
        std::uint64_t run = 0, seen = 0;
    };
    unique_fd _oom_inotify;
    std::map<int, oom_watch> _oom_watches;  // inotify wd -> container run
    // One probe: exit code (-1 on timeout) and output.
    awaitable<std::pair<int, std::string>> health_probe(container_ptr c, std::vector<std::string> cmd,
                                                        std::chrono::nanoseconds timeout);
    // An exit the monitor reported: the OOM check and cgroup removal on a
    // worker, then the state, persisted, waiters woken.
    awaitable<void> record_exit(container_ptr c, int exit_code, std::int64_t finished_ns,
                                std::optional<std::uint64_t> oom_kills);
    awaitable<void> remove_exited_cgroup(container_ptr c);
    awaitable<status> destroy(container_ptr c);
    // destroy(), then the container's anonymous volumes with remove_volumes
    // or AutoRemove: the end of a removal of a container that is not running.
    awaitable<status> destroy_with_volumes(container_ptr c, bool remove_volumes);
    // Removes these anonymous volumes of a removed container unless another
    // container names one (failures logged).
    awaitable<void> remove_anonymous_volumes(std::vector<std::string> names);
    std::string generate_name() const;
    // Thaws a paused container after a signal was sent to it (stop, kill,
    // rm -f), so that the signal is delivered.
    awaitable<void> thaw_after_signal(container_ptr c);
    void emit(const container& c, std::string action, std::map<std::string, std::string> extra = {});
    // Waits until c has exited `target` times in all; false on timeout.
    awaitable<bool> wait_exits(container_ptr c, std::uint64_t target, std::chrono::milliseconds timeout);

    asio::io_context& _loop;
    engine_options _opts;
    worker_pool _workers;
    std::unique_ptr<storage::metadata_db> _db;
    std::unique_ptr<storage::image_store> _store;
    // Layer GC must not run while an import or load is unpacking: its new
    // layers are in no image record yet. GC waits for the count to drop.
    // Imports and loads wait while a GC runs (they could reuse a layer it is
    // deleting); a GC asked for meanwhile runs when the last of them ends.
    int _image_writes = 0;
    bool _gc_pending = false;
    bool _gc_running = false;
    async_signal _gc_finished{_loop.get_executor()};
    awaitable<void> collect_garbage();
    awaitable<void> begin_image_write();
    awaitable<void> end_image_write();
    std::unique_ptr<cgroup::manager> _cgroups;
    // Removed containers' untouched directories, for later creates (engine/container_dirs.h).
    std::unique_ptr<spare_dirs> _spare_dirs;
    std::unique_ptr<monitor_client> _monitor;
    // One thread, at the lowest CPU priority, for the warm pools' refills:
    // preparing sandboxes takes only the CPU that starts leave (engine/pool.cc).
    worker_pool _pool_workers{1};
    event_log _events{_loop.get_executor()};
    std::map<std::string, container_ptr> _containers;           // by id
    std::map<std::string, exec_ptr> _execs;                     // by exec id
    std::map<std::string, std::string> _names;                  // name -> id
    std::map<std::string, storage::image_record> _images;       // by id
    std::map<std::string, std::string> _tags;                   // "name:tag" -> id
    // Pending starts: id -> (done, outcome).
    struct pending_start {
        std::unique_ptr<async_event> done;
        result<void> outcome;  // (container::status is the state)
    };
    std::map<std::string, pending_start> _starts;
};

}  // namespace berth
