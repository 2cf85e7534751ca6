#include "storage/metadata.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/log.h"

namespace berth::storage {

namespace {
struct op {
    bool erase = false;
    std::string kind, key, doc;
    metadata_db::done_fn done;
};
}  // namespace

struct metadata_db::impl {
    sqlite3* db = nullptr;
    std::mutex mu;
    std::condition_variable cv, idle_cv;
    std::deque<op> queue;
    bool stop = false, busy = false;
    std::atomic<std::uint64_t> commits{0};
    std::function<void(std::function<void()>)> dispatch;  // set_dispatch
    std::thread writer;
    // Checkpoints are the writer's, in its quiet time: SQLite's own, every
    // 1,000 pages of WAL at the commit that reached them, stopped every
    // commit queued behind it for their fsyncs (the WAL's, then the
    // database's: 20-35 ms here), which a pool's open loop at 1,000/s met
    // every 0.3 s as waves of latency. So a checkpoint waits until nothing
    // has been queued for checkpoint_quiet (open(): 100 ms), and is forced only past
    // k_max_wal_pages (the checkpoint copies each page once, however many
    // frames the WAL holds of it). Pages in the WAL, from the WAL hook.
    static constexpr int k_checkpoint_pages = 1000;
    static constexpr int k_max_wal_pages = 16384;
    std::chrono::milliseconds checkpoint_quiet{100};
    int wal_pages = 0;
    // The writer thread's statements, prepared at their first use and kept
    // (each container's create, start, exit and removal is one or more
    // writes: parsing their SQL every time showed in profiles).
    sqlite3_stmt *begin_st = nullptr, *commit_st = nullptr, *rollback_st = nullptr, *upsert_st = nullptr,
                 *erase_st = nullptr;

    ~impl() {
        {
            std::lock_guard lk(mu);
            stop = true;
        }
        cv.notify_all();
        if (writer.joinable()) writer.join();
        for (auto* st : {begin_st, commit_st, rollback_st, upsert_st, erase_st}) sqlite3_finalize(st);
        if (db) sqlite3_close(db);
    }

    status exec(const char* sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string m = msg ? msg : "unknown";
            sqlite3_free(msg);
            return make_error(errc::internal, std::string("metadata: ") + sql + ": " + m);
        }
        return ok();
    }

    // The kept statement for `sql`, prepared on first use (writer thread only).
    result<sqlite3_stmt*> statement(sqlite3_stmt*& st, const char* sql) {
        if (!st && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) {
            st = nullptr;
            return make_error(errc::internal, std::string("metadata prepare: ") + sqlite3_errmsg(db));
        }
        return st;
    }

    // Runs a kept statement without parameters (BEGIN, COMMIT, ROLLBACK).
    status step(sqlite3_stmt*& kept, const char* sql) {
        BERTH_ASSIGN(sqlite3_stmt * st, statement(kept, sql));
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return make_error(errc::internal, std::string("metadata: ") + sql + ": " + sqlite3_errmsg(db));
        return ok();
    }

    status apply(const op& o) {
        BERTH_ASSIGN(sqlite3_stmt * st, o.erase ? statement(erase_st, "DELETE FROM objects WHERE kind=?1 AND key=?2")
                                                : statement(upsert_st,
                                                            "INSERT INTO objects(kind,key,doc) VALUES(?1,?2,?3) "
                                                            "ON CONFLICT(kind,key) DO UPDATE SET doc=excluded.doc"));
        sqlite3_bind_text(st, 1, o.kind.data(), int(o.kind.size()), SQLITE_STATIC);
        sqlite3_bind_text(st, 2, o.key.data(), int(o.key.size()), SQLITE_STATIC);
        if (!o.erase) sqlite3_bind_text(st, 3, o.doc.data(), int(o.doc.size()), SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
            return make_error(errc::internal, "metadata write " + o.kind + " " + o.key + ": " + sqlite3_errmsg(db));
        return ok();
    }

    // For each write of `batch`: an upsert of a row a later write in the
    // batch writes again (or deletes).
    static std::vector<bool> superseded(const std::deque<op>& batch) {
        std::vector<bool> out(batch.size(), false);
        if (batch.size() < 2) return out;
        std::unordered_set<std::string> later;  // rows written after the one at hand
        for (size_t i = batch.size(); i-- > 0;) {
            const bool fresh = later.insert(batch[i].kind + '\0' + batch[i].key).second;
            out[i] = !fresh && !batch[i].erase;
        }
        return out;
    }

    void checkpoint() {
        int frames = 0, copied = 0;
        if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied) != SQLITE_OK)
            log::warn("metadata checkpoint: {}", sqlite3_errmsg(db));
        wal_pages = 0;  // the next commit starts the WAL over, or reports its size
    }

    void run() {
        for (;;) {
            std::deque<op> batch;
            {
                std::unique_lock lk(mu);
                busy = false;
                idle_cv.notify_all();
                auto ready = [&] { return stop || !queue.empty(); };
                if (wal_pages >= k_checkpoint_pages && !cv.wait_for(lk, checkpoint_quiet, ready)) {
                    lk.unlock();
                    checkpoint();
                    continue;
                }
                cv.wait(lk, ready);
                if (queue.empty() && stop) return;
                batch.swap(queue);
                busy = true;
            }
            // Group commit: everything queued while the previous transaction
            // was committing goes into this one. An upsert that a later write
            // of the same row in it replaces is not written (a container's
            // "running" and its exit, then its removal, often come in one):
            // it is committed as that write is.
            std::vector<bool> replaced = superseded(batch);
            status s = step(begin_st, "BEGIN IMMEDIATE");
            std::vector<status> results;
            for (size_t i = 0; i < batch.size(); ++i) results.push_back(!s || replaced[i] ? s : apply(batch[i]));
            if (s) {
                s = step(commit_st, "COMMIT");
                if (!s) (void)step(rollback_st, "ROLLBACK");
            }
            commits++;
            if (!s) log::error("{}", s.err().message);
            std::vector<std::pair<done_fn, status>> done;
            for (size_t i = 0; i < batch.size(); ++i)
                if (batch[i].done) done.emplace_back(std::move(batch[i].done), s ? results[i] : s);
            if (!done.empty()) {
                auto run_done = [done = std::move(done)]() mutable {
                    for (auto& [fn, st] : done) fn(std::move(st));
                };
                if (dispatch) dispatch(std::move(run_done));
                else run_done();
            }
            if (wal_pages >= k_max_wal_pages) checkpoint();  // after this batch's callbacks
        }
    }
};

result<std::unique_ptr<metadata_db>> metadata_db::open(const std::string& path,
                                                       std::chrono::milliseconds checkpoint_quiet) {
    std::unique_ptr<metadata_db> m(new metadata_db);
    m->_p = std::make_unique<impl>();
    m->_p->checkpoint_quiet = checkpoint_quiet;
    if (sqlite3_open_v2(path.c_str(), &m->_p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK)
        return make_error(errc::internal, "open metadata " + path + ": " + sqlite3_errmsg(m->_p->db));
    // Only this daemon opens its data root's database (its pid file's
    // lock): the first write takes the file lock for good, so that no
    // transaction locks and unlocks it again (two fcntl calls each), and the
    // WAL index lives in this process's memory, not in a shared -shm file.
    // Set before the first access in WAL mode, as SQLite requires for that.
    BERTH_TRY(m->_p->exec("PRAGMA locking_mode=EXCLUSIVE"));
    BERTH_TRY(m->_p->exec("PRAGMA journal_mode=WAL"));
    BERTH_TRY(m->_p->exec("PRAGMA synchronous=NORMAL"));
    BERTH_TRY(m->_p->exec("PRAGMA busy_timeout=5000"));
    // Replaces SQLite's automatic checkpoints (impl::checkpoint_quiet).
    sqlite3_wal_hook(
        m->_p->db,
        [](void* p, sqlite3*, const char*, int pages) {
            static_cast<impl*>(p)->wal_pages = pages;
            return SQLITE_OK;
        },
        m->_p.get());
    BERTH_TRY(m->_p->exec(
        "CREATE TABLE IF NOT EXISTS objects(kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, "
        "PRIMARY KEY(kind,key))"));
    m->_p->writer = std::thread([p = m->_p.get()] { p->run(); });
    return m;
}

metadata_db::~metadata_db() = default;

result<std::vector<metadata_row>> metadata_db::load_all(const std::string& kind) {
    std::vector<metadata_row> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(_p->db, "SELECT key, doc FROM objects WHERE kind=?1", -1, &st, nullptr) != SQLITE_OK)
        return make_error(errc::internal, std::string("metadata read: ") + sqlite3_errmsg(_p->db));
    sqlite3_bind_text(st, 1, kind.data(), int(kind.size()), SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        out.push_back({kind, reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                       reinterpret_cast<const char*>(sqlite3_column_text(st, 1))});
    }
    sqlite3_finalize(st);
    return out;
}

void metadata_db::put(std::string kind, std::string key, std::string doc, done_fn done, bool wake) {
    {
        std::lock_guard lk(_p->mu);
        _p->queue.push_back({false, std::move(kind), std::move(key), std::move(doc), std::move(done)});
    }
    if (wake) _p->cv.notify_one();
}

void metadata_db::erase(std::string kind, std::string key, done_fn done, bool wake) {
    {
        std::lock_guard lk(_p->mu);
        _p->queue.push_back({true, std::move(kind), std::move(key), {}, std::move(done)});
    }
    if (wake) _p->cv.notify_one();
}

void metadata_db::set_dispatch(std::function<void(std::function<void()>)> post) { _p->dispatch = std::move(post); }

void metadata_db::wake() {
    // A wake-up with nothing queued (a lazy commit's timer that a prompt
    // one beat) would only put the writer back to sleep.
    {
        std::lock_guard lk(_p->mu);
        if (_p->queue.empty()) return;
    }
    _p->cv.notify_one();
}

void metadata_db::flush() {
    _p->cv.notify_one();  // writes queued without a wake-up
    std::unique_lock lk(_p->mu);
    _p->idle_cv.wait(lk, [&] { return _p->queue.empty() && !_p->busy; });
}

std::uint64_t metadata_db::commits() const { return _p->commits.load(); }

}  // namespace berth::storage
