// The metadata database: writes through the writer thread, read back at
// open, and the writer's own checkpoints (in its quiet time, never at the
// commit that fills 1,000 pages of WAL).
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>
#include <gtest/gtest.h>
#include <thread>

#include "storage/metadata.h"
#include "tests/unit/temp_dir.h"

namespace berth::storage {
namespace {

using namespace std::chrono_literals;

off_t size_of(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// n documents of about 3 KiB, a page each: n pages of WAL.
void write_pages(metadata_db& db, int n) {
    for (int i = 0; i < n; ++i) db.put("container", "id-" + std::to_string(i), std::string(3000, 'a' + i % 26));
    db.flush();
}

// A database at `path` with 1,500 pages written, whose writer checkpoints
// after `quiet`.
std::unique_ptr<metadata_db> filled(const std::string& path, std::chrono::milliseconds quiet) {
    auto db = metadata_db::open(path, quiet);
    if (!db) {
        ADD_FAILURE() << db.err().message;
        return nullptr;
    }
    write_pages(**db, 1500);
    return std::move(*db);
}

TEST(Metadata, WritesAreReadBackByTheNextOpen) {
    test::temp_dir dir;
    std::string path = dir.path + "/metadata.db";
    {
        auto db = metadata_db::open(path);
        ASSERT_TRUE(db) << db.err().message;
        int done = 0;
        (*db)->put("container", "a", R"({"n":1})", [&](status s) { done += s.has_value(); }, false);
        (*db)->put("container", "b", R"({"n":2})", [&](status s) { done += s.has_value(); }, false);
        (*db)->put("image", "x", R"({})");
        (*db)->put("container", "a", R"({"n":3})");
        (*db)->erase("container", "b");
        (*db)->flush();
        EXPECT_EQ(done, 2);
    }
    auto db = metadata_db::open(path);
    ASSERT_TRUE(db) << db.err().message;
    auto rows = (*db)->load_all("container");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].key, "a");
    EXPECT_EQ((*rows)[0].doc, R"({"n":3})");
    EXPECT_EQ((*db)->load_all("image")->size(), 1u);
}

TEST(Metadata, AWriteReplacedInTheSameTransactionLeavesTheLastOne) {
    // Queued without a wake-up, then committed together: the upserts a
    // later write of the same row replaces are not written, and still
    // reported committed.
    test::temp_dir dir;
    std::string path = dir.path + "/metadata.db";
    {
        auto db = metadata_db::open(path);
        ASSERT_TRUE(db) << db.err().message;
        (*db)->put("container", "gone", R"({"n":0})");
        (*db)->flush();
        int done = 0;
        auto count = [&](status s) { done += s.has_value(); };
        (*db)->put("container", "gone", R"({"n":1})", count, false);
        (*db)->put("container", "gone", R"({"n":2})", count, false);
        (*db)->erase("container", "gone", count, false);
        (*db)->put("container", "back", R"({"n":1})", count, false);
        (*db)->erase("container", "back", count, false);
        (*db)->put("container", "back", R"({"n":2})", count, false);
        (*db)->put("image", "back", R"({"image":1})", count, false);  // another kind: its own row
        (*db)->put("container", "last", R"({"n":1})", count, false);
        (*db)->put("container", "last", R"({"n":2})", count, false);
        (*db)->flush();
        EXPECT_EQ(done, 9);
    }
    auto db = metadata_db::open(path);
    ASSERT_TRUE(db) << db.err().message;
    auto rows = (*db)->load_all("container");
    ASSERT_TRUE(rows);
    std::map<std::string, std::string> got;
    for (auto& r : *rows) got[r.key] = r.doc;
    EXPECT_EQ(got, (std::map<std::string, std::string>{{"back", R"({"n":2})"}, {"last", R"({"n":2})"}}));
    auto images = (*db)->load_all("image");
    ASSERT_TRUE(images);
    ASSERT_EQ(images->size(), 1u);
    EXPECT_EQ((*images)[0].doc, R"({"image":1})");
}

TEST(Metadata, ATransactionsCallbacksRunInOneDispatchInOrder) {
    test::temp_dir dir;
    auto db = metadata_db::open(dir.path + "/metadata.db");
    ASSERT_TRUE(db) << db.err().message;
    std::mutex mu;
    std::vector<std::function<void()>> posted;
    (*db)->set_dispatch([&](std::function<void()> fn) {
        std::lock_guard lk(mu);
        posted.push_back(std::move(fn));
    });
    std::vector<std::string> ran;  // touched only where the dispatched functions run: here
    auto note = [&](std::string name) { return [&ran, name](status s) { ran.push_back(name + (s ? "" : "!")); }; };
    (*db)->put("container", "a", R"({"n":1})", note("a"), false);
    (*db)->put("container", "b", R"({"n":2})", note("b"), false);
    (*db)->put("image", "x", R"({})", {}, false);
    (*db)->erase("container", "a", note("erase a"), false);
    (*db)->flush();  // one transaction: everything was queued before the writer woke
    EXPECT_TRUE(ran.empty());  // nothing ran on the writer thread
    {
        std::lock_guard lk(mu);
        ASSERT_EQ(posted.size(), 1u);
    }
    posted[0]();
    EXPECT_EQ(ran, (std::vector<std::string>{"a", "b", "erase a"}));
    // A transaction without callbacks dispatches nothing.
    (*db)->put("image", "y", R"({})", {}, false);
    (*db)->flush();
    std::lock_guard lk(mu);
    EXPECT_EQ(posted.size(), 1u);
}

TEST(Metadata, NoCheckpointWhileWritesKeepComing) {
    test::temp_dir dir;
    std::string path = dir.path + "/metadata.db";
    auto db = filled(path, 60s);
    ASSERT_TRUE(db);
    // SQLite's own checkpoint at 1,000 pages would have copied them into
    // the database file (and started the WAL over).
    EXPECT_LT(size_of(path), 1 << 20);
    EXPECT_GT(size_of(path + "-wal"), 1500 * 4096);
}

TEST(Metadata, QuietTimeCheckpoints) {
    test::temp_dir dir;
    std::string path = dir.path + "/metadata.db";
    auto db = filled(path, 20ms);
    ASSERT_TRUE(db);
    auto until = std::chrono::steady_clock::now() + 10s;
    while (size_of(path) < 1500 * 3000 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    EXPECT_GE(size_of(path), 1500 * 3000);
    // The WAL starts over: more writes do not grow it past what it was.
    off_t wal = size_of(path + "-wal");
    write_pages(*db, 500);
    EXPECT_LE(size_of(path + "-wal"), wal);
}

}  // namespace
}  // namespace berth::storage
