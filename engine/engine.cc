// Engine start-up, persistence and images. Containers are in containers.cc,
// the JSON shapes Docker clients read in render.cc.
#include <dirent.h>

#include "engine/engine.h"
#include "engine/container_dirs.h"
#include "engine/pool.h"
#include "engine/seccomp.h"

#include <sys/stat.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/monitor_client.h"
#include "storage/metadata.h"

namespace berth {

namespace json = boost::json;

bool container::tty() const {
    auto* v = config.if_contains("Tty");
    return v && v->is_bool() && v->as_bool();
}

bool container::auto_remove() const {
    auto* v = host_config.if_contains("AutoRemove");
    return v && v->is_bool() && v->as_bool();
}

engine::engine(asio::io_context& loop, engine_options opts)
    : _loop(loop), _opts(std::move(opts)), _workers(_opts.workers) {}

engine::~engine() = default;

std::string engine::container_dir(const std::string& id) const { return _opts.data_root + "/containers/" + id; }

std::string engine::mount_points_layer() const { return _opts.data_root + "/init/mountpoints"; }

std::string engine::rootfs_mount_point() const { return _opts.data_root + "/init/rootfs"; }

std::string engine::log_path(const container& c) const { return container_dir(c.id) + "/" + c.id + "-json.log"; }

status engine::init() {
    for (auto d : {"", "/containers", "/exits"}) BERTH_TRY(make_dirs(_opts.data_root + d, 0711));
    // Made again at every start, whatever happened to them since: every
    // container's layer stack has them.
    BERTH_TRY(make_dirs(_opts.data_root + "/init", 0711));
    for (auto d : {"", "/dev", "/proc", "/sys"}) BERTH_TRY(make_dirs(mount_points_layer() + d, 0755));
    BERTH_TRY(make_dirs(rootfs_mount_point(), 0755));
    BERTH_ASSIGN(_db, storage::metadata_db::open(_opts.data_root + "/metadata.db"));
    // A transaction's callbacks come back to the loop together: one wake-up.
    _db->set_dispatch([ex = _loop.get_executor()](std::function<void()> fn) { asio::post(ex, std::move(fn)); });
    _store = std::make_unique<storage::image_store>(_opts.data_root);
    _seccomp = std::make_unique<seccomp_cache>(_opts.data_root + "/seccomp");
    BERTH_TRY(_store->init());
    BERTH_ASSIGN(_cgroups, cgroup::manager::detect(_opts.data_root, _opts.cgroup_parent));

    BERTH_ASSIGN(auto image_rows, _db->load_all("image"));
    for (auto& row : image_rows) {
        boost::system::error_code ec;
        auto v = json::parse(row.doc, ec);
        if (ec || !v.is_object()) continue;
        auto& o = v.as_object();
        storage::image_record img;
        img.id = json::value_to<std::string>(o["id"]);
        img.repo_tags = json::value_to<std::vector<std::string>>(o["repo_tags"]);
        img.repo_digests = json::value_to<std::vector<std::string>>(o["repo_digests"]);
        img.config_json = json::value_to<std::string>(o["config"]);
        img.diff_ids = json::value_to<std::vector<std::string>>(o["diff_ids"]);
        img.chain_ids = json::value_to<std::vector<std::string>>(o["chain_ids"]);
        img.created_ns = o["created"].to_number<std::int64_t>();
        img.size = o["size"].to_number<std::uint64_t>();
        _images[img.id] = img;
        for (auto& t : img.repo_tags) _tags[t] = img.id;
    }
    BERTH_ASSIGN(auto rows, _db->load_all("container"));
    std::set<std::string> recorded;  // readable or not: their directories stay
    for (auto& row : rows) {
        recorded.insert(row.key);
        boost::system::error_code ec;
        auto v = json::parse(row.doc, ec);
        if (ec || !v.is_object()) {
            log::warn("skipping unreadable container record {}", row.key);
            continue;
        }
        auto c = from_doc(v.as_object());
        // A batch's create queues its record before it makes the directory
        // (engine::create_container): a crash in between leaves a record of
        // a container that never was.
        if (c->status == "created" && c->started_ns == 0 && !path_exists(container_dir(c->id))) {
            log::warn("dropping the record of container {}: its create did not finish", row.key.substr(0, 12));
            _db->erase("container", row.key);
            continue;
        }
        if (c->status == "removing") c->status = "exited";
        _names[c->name] = c->id;
        _containers[c->id] = c;
    }
    _spare_dirs = std::make_unique<spare_dirs>(_opts.data_root + "/containers");
    _spare_dirs->clear_leftovers();
    // Directories without a record: a warm pool's sandboxes (never a
    // container's until a create commits its record) and creates cut short.
    if (DIR* d = ::opendir((_opts.data_root + "/containers").c_str())) {
        std::vector<std::string> stale;
        while (auto* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name.size() == 64 && !recorded.count(name)) stale.push_back(name);
        }
        ::closedir(d);
        for (const auto& id : stale)
            if (auto r = remove_all(container_dir(id)); !r) log::warn("remove stale {}: {}", id, r.err().message);
    }
    _monitor = std::make_unique<monitor_client>(_loop, *this, _opts.data_root);
    log::info("engine: {} images, {} containers, cgroup v{} ({})", _images.size(), _containers.size(),
              _cgroups->version(), _cgroups->kind() == cgroup::layout::hybrid ? "hybrid" : "single");
    return ok();
}

void engine::start() { _monitor->start(); }

std::vector<std::string> engine::spare_directories() { return _spare_dirs ? _spare_dirs->names() : std::vector<std::string>{}; }

// Persistence --------------------------------------------------------------

std::string engine::doc_of(const container& c) const {
    json::array args;
    for (auto& a : c.args) args.emplace_back(a);
    json::array chain;
    for (auto& a : c.chain_ids) chain.emplace_back(a);
    json::object o{{"id", c.id},         {"name", c.name},          {"image_ref", c.image_ref},
                   {"image_id", c.image_id}, {"created", c.created_ns}, {"path", c.path},
                   {"args", std::move(args)}, {"chain_ids", std::move(chain)}, {"status", c.status},
                   {"pid", c.pid},       {"exit_code", c.exit_code}, {"error", c.error},
                   {"started", c.started_ns}, {"restart_count", c.restart_count},
                   {"finished", c.finished_ns}, {"oom_killed", c.oom_killed},
                   {"paused", c.paused}, {"manual_stop", c.manual_stop}};
    // The two big objects are written where they are, not copied into the
    // document first: a container is persisted at create, start and exit.
    std::string out = json::serialize(o);
    out.pop_back();
    out += ",\"config\":";
    out += json::serialize(c.config);
    out += ",\"host_config\":";
    out += json::serialize(c.host_config);
    out += '}';
    return out;
}

container_ptr engine::from_doc(const json::object& o) {
    auto c = std::make_shared<container>();
    auto s = [&](const char* k) { return json::value_to<std::string>(o.at(k)); };
    c->id = s("id");
    c->name = s("name");
    c->image_ref = s("image_ref");
    c->image_id = s("image_id");
    c->created_ns = o.at("created").to_number<std::int64_t>();
    c->config = o.at("config").as_object();
    c->host_config = o.at("host_config").as_object();
    c->path = s("path");
    c->args = json::value_to<std::vector<std::string>>(o.at("args"));
    c->chain_ids = json::value_to<std::vector<std::string>>(o.at("chain_ids"));
    c->status = s("status");
    c->pid = int(o.at("pid").to_number<std::int64_t>());
    c->exit_code = int(o.at("exit_code").to_number<std::int64_t>());
    c->error = s("error");
    c->started_ns = o.at("started").to_number<std::int64_t>();
    c->finished_ns = o.at("finished").to_number<std::int64_t>();
    if (auto* rc = o.if_contains("restart_count"); rc && rc->is_number()) c->restart_count = rc->to_number<int>();
    // Records written before OOM reporting have no such field.
    if (auto* v = o.if_contains("oom_killed"); v && v->is_bool()) c->oom_killed = v->as_bool();
    if (auto* v = o.if_contains("paused"); v && v->is_bool()) c->paused = v->as_bool();
    if (auto* v = o.if_contains("manual_stop"); v && v->is_bool()) c->manual_stop = v->as_bool();
    c->changed = std::make_unique<async_signal>(_loop.get_executor());
    c->output = std::make_unique<async_signal>(_loop.get_executor());
    return c;
}

void engine::persist(const container& c, std::function<void(status)> done, bool prompt) {
    _db->put("container", c.id, doc_of(c), std::move(done), false);
    if (prompt) wake_db_soon();
    else wake_db_later();
}

void engine::wake_db_later() {
    // A burst's records went one or two to a transaction, three or four
    // transactions per container: a start's "running" and an exit now wait
    // for the next create's commit (or k_lazy_commit).
    static constexpr auto k_lazy_commit = std::chrono::milliseconds(5);
    if (std::exchange(_db_lazy_wake, true)) return;
    if (!_db_lazy_timer) _db_lazy_timer = std::make_unique<asio::steady_timer>(_loop);
    _db_lazy_timer->expires_after(k_lazy_commit);
    _db_lazy_timer->async_wait([this](boost::system::error_code ec) {
        if (ec) return;  // lazy_commit_taken
        _db_lazy_wake = false;
        _db->wake();
    });
}

void engine::lazy_commit_taken() {
    // A wait already completed (its handler queued) cannot be cancelled:
    // it then wakes the writer, which finds nothing queued or the next
    // records (metadata_db::wake).
    if (std::exchange(_db_lazy_wake, false)) _db_lazy_timer->cancel();
}

void engine::wake_db_soon() {
    // After the handlers ready now: in a burst of starts and exits many
    // records share one wake-up of the writer and one transaction.
    if (std::exchange(_db_wake_posted, true)) return;
    asio::post(_loop, [this] {
        _db_wake_posted = false;
        lazy_commit_taken();
        _db->wake();
    });
}

void engine::persist_image(const storage::image_record& img) {
    json::object o{{"id", img.id},
                   {"repo_tags", json::value_from(img.repo_tags)},
                   {"repo_digests", json::value_from(img.repo_digests)},
                   {"config", img.config_json},
                   {"diff_ids", json::value_from(img.diff_ids)},
                   {"chain_ids", json::value_from(img.chain_ids)},
                   {"created", img.created_ns},
                   {"size", img.size}};
    _db->put("image", img.id, json::serialize(o));
}

// Images -------------------------------------------------------------------

void engine::register_image(const storage::image_record& incoming) {
    storage::image_record img = incoming;
    auto existing = _images.find(img.id);
    if (existing != _images.end()) {
        for (auto& t : existing->second.repo_tags)
            if (std::find(img.repo_tags.begin(), img.repo_tags.end(), t) == img.repo_tags.end())
                img.repo_tags.push_back(t);
    }
    // A tag moves to the new image; the old image keeps its other tags (or
    // becomes dangling, "<none>", as in Docker).
    for (auto& t : img.repo_tags) {
        auto it = _tags.find(t);
        if (it != _tags.end() && it->second != img.id) {
            auto& old = _images[it->second];
            old.repo_tags.erase(std::remove(old.repo_tags.begin(), old.repo_tags.end(), t), old.repo_tags.end());
            persist_image(old);
        }
        _tags[t] = img.id;
    }
    _images[img.id] = img;
    persist_image(img);
}

awaitable<result<storage::image_record>> engine::import_image(std::string tar_path, std::string reference,
                                                              std::vector<std::string> changes) {
    if (!reference.empty()) {
        auto norm = storage::normalize_reference(reference);
        if (!norm) co_return norm.err();
        reference = *norm;
    }
    auto job0 = [this, tar_path, reference, changes] {
        return _store->import_tarball(tar_path, reference, changes);
    };
    co_await begin_image_write();
    auto r = co_await _workers.run(offload_reason::unpack, std::move(job0));
    if (r) register_image(*r);
    co_await end_image_write();
    if (!r) co_return r.err();
    co_return _images[r->id];
}

awaitable<result<std::vector<storage::image_record>>> engine::load_images(std::string archive_path) {
    auto job = [this, archive_path] { return _store->load_archive(archive_path); };
    co_await begin_image_write();
    auto r = co_await _workers.run(offload_reason::unpack, std::move(job));
    std::vector<storage::image_record> out;
    if (r)
        for (auto& img : *r) {
            register_image(img);
            out.push_back(_images[img.id]);
        }
    co_await end_image_write();
    if (!r) co_return r.err();
    co_return out;
}

result<storage::image_record> engine::find_image(std::string_view ref) const {
    std::string r(ref);
    if (r.empty()) return make_error(errc::invalid_argument, "image reference is empty");
    std::string hexpart = starts_with(r, "sha256:") ? r.substr(7) : r;
    bool is_hex = hexpart.size() >= 4 && hexpart.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (is_hex) {
        const storage::image_record* found = nullptr;
        for (auto& [id, img] : _images)
            if (starts_with(id.substr(7), hexpart)) {
                if (found) return make_error(errc::not_found, "No such image: " + r);
                found = &img;
            }
        if (found) return *found;
    }
    auto norm = storage::normalize_reference(r);
    if (norm) {
        auto it = _tags.find(*norm);
        if (it != _tags.end()) return _images.at(it->second);
    }
    std::string shown = norm ? *norm : r;
    return make_error(errc::not_found, "No such image: " + shown);
}

std::vector<storage::image_record> engine::images() const {
    std::vector<storage::image_record> out;
    for (auto& [id, img] : _images) out.push_back(img);
    return out;
}

awaitable<result<json::array>> engine::remove_image(std::string ref, bool force) {
    auto found = find_image(ref);
    if (!found) co_return found.err();
    storage::image_record img = *found;
    json::array out;
    auto norm = storage::normalize_reference(ref);
    bool by_tag = norm && std::find(img.repo_tags.begin(), img.repo_tags.end(), *norm) != img.repo_tags.end();
    std::vector<std::string> users;
    for (auto& [id, c] : _containers)
        if (c->image_id == img.id) users.push_back(id);
    // Removing one of several tags only untags, as Docker does.
    if (by_tag && img.repo_tags.size() > 1) {
        auto& rec = _images[img.id];
        rec.repo_tags.erase(std::remove(rec.repo_tags.begin(), rec.repo_tags.end(), *norm), rec.repo_tags.end());
        _tags.erase(*norm);
        persist_image(rec);
        out.push_back(json::object{{"Untagged", *norm}});
        co_return out;
    }
    if (_pools.count(img.id))
        co_return make_error(errc::conflict, "conflict: unable to remove " + img.id.substr(7, 12) +
                                                 ": a warm pool keeps sandboxes of it (berth pool rm " + ref + ")");
    if (!users.empty() && !force) {
        std::string what = by_tag ? "repository reference \"" + *norm + "\"" : img.id.substr(7, 12);
        co_return make_error(errc::conflict, "conflict: unable to remove " + what +
                                                 " (must force) - container " + users[0].substr(0, 12) +
                                                 " is using its referenced image " + img.id.substr(7, 12));
    }
    for (auto& t : img.repo_tags) {
        _tags.erase(t);
        out.push_back(json::object{{"Untagged", t}});
    }
    if (!users.empty()) {
        // Forced while containers use it: untag only; the layers stay for them.
        _images[img.id].repo_tags.clear();
        persist_image(_images[img.id]);
        co_return out;
    }
    _images.erase(img.id);
    _db->erase("image", img.id);
    out.push_back(json::object{{"Deleted", img.id}});
    co_await collect_garbage();
    co_return out;
}

awaitable<void> engine::begin_image_write() {
    while (_gc_running) co_await _gc_finished.wait();
    _image_writes++;
}

awaitable<void> engine::end_image_write() {
    _image_writes--;
    if (_gc_pending && _image_writes == 0) co_await collect_garbage();
}

awaitable<void> engine::collect_garbage() {
    if (_image_writes > 0 || _gc_running) {
        _gc_pending = true;
        co_return;
    }
    _gc_pending = false;
    _gc_running = true;
    // Keep every image's layers and every container's (a forced rmi leaves
    // its containers' layers in place).
    std::vector<storage::image_record> keep = images();
    for (auto& [id, c] : _containers) {
        storage::image_record pin;
        pin.chain_ids = c->chain_ids;
        keep.push_back(pin);
    }
    auto job = [this, keep] { return _store->garbage_collect(keep); };
    auto gc = co_await _workers.run(offload_reason::filesystem, std::move(job));
    _gc_running = false;
    _gc_finished.notify();
    if (!gc) log::warn("image gc: {}", gc.err().message);
    if (_gc_pending && _image_writes == 0) co_await collect_garbage();
}

}  // namespace berth
