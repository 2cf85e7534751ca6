// The monitor's exit records: written at once, acknowledged, read back by
// the next monitor, compacted; older monitors' per-exit files taken in.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <set>

#include "engine/monitor/exit_journal.h"
#include "tests/unit/temp_dir.h"

using namespace berth;
using berth::monitor::exit_journal;
namespace json = boost::json;

namespace {

struct temp_dir : test::temp_dir {
    temp_dir() : test::temp_dir("berth-journal") {}
};

json::object rec(const std::string& id, std::int64_t finished, int code = 0, int shard = 0) {
    return {{"id", id}, {"exit_code", code}, {"finished", finished}, {"shard", shard}};
}

std::set<std::string> ids(const std::vector<json::object>& v) {
    std::set<std::string> out;
    for (auto& r : v) out.insert(std::string(r.at("id").as_string()));
    return out;
}

}  // namespace

TEST(ExitJournal, RecordsAreWrittenAtOnceAndSurviveUntilAcknowledged) {
    temp_dir d;
    {
        auto j = exit_journal::open(d.path, 0);
        ASSERT_TRUE(j) << j.err().message;
        (*j)->append(rec("a", 10, 1));
        (*j)->append(rec("b", 11, 2));
        (*j)->append(rec("c", 12, 3));
        EXPECT_EQ(ids((*j)->unacknowledged()), (std::set<std::string>{"a", "b", "c"}));
        // In the file already (a monitor killed now loses none of them).
        std::ifstream in(d.path + "/shard-0.journal");
        std::set<std::string> written;
        for (std::string line; std::getline(in, line);) written.insert(std::string(json::parse(line).at("id").as_string()));
        EXPECT_EQ(written, (std::set<std::string>{"a", "b", "c"}));
        (*j)->ack("a", 10);
        (*j)->ack("b", 999);  // another run's finish time: kept
        EXPECT_EQ(ids((*j)->unacknowledged()), (std::set<std::string>{"b", "c"}));
    }
    // The next monitor reads the file: what was not acknowledged.
    auto j = exit_journal::open(d.path, 0);
    ASSERT_TRUE(j) << j.err().message;
    auto left = (*j)->unacknowledged();
    EXPECT_EQ(ids(left), (std::set<std::string>{"b", "c"}));
    for (auto& r : left)
        if (r.at("id").as_string() == "c") {
            EXPECT_EQ(r.at("exit_code").as_int64(), 3);
        }
}

TEST(ExitJournal, ANewerRunReplacesItsRecordAndShardsKeepTheirOwn) {
    temp_dir d;
    {
        auto j = exit_journal::open(d.path, 1);
        ASSERT_TRUE(j);
        (*j)->append(rec("a", 10, 1, 1));
        (*j)->append(rec("a", 20, 7, 1));
        auto left = (*j)->unacknowledged();
        ASSERT_EQ(left.size(), 1u);
        EXPECT_EQ(left[0].at("finished").as_int64(), 20);
    }
    auto other = exit_journal::open(d.path, 0);
    ASSERT_TRUE(other);
    EXPECT_TRUE((*other)->unacknowledged().empty());
}

TEST(ExitJournal, OlderMonitorsFilesAreTakenIn) {
    temp_dir d;
    std::ofstream(d.path + "/old.json") << json::serialize(rec("old", 5, 4));
    std::ofstream(d.path + "/other-shard.json") << json::serialize(rec("x", 6, 0, 2));
    auto j = exit_journal::open(d.path, 0);
    ASSERT_TRUE(j) << j.err().message;
    EXPECT_EQ(ids((*j)->unacknowledged()), (std::set<std::string>{"old"}));
    EXPECT_FALSE(std::filesystem::exists(d.path + "/old.json"));
    EXPECT_TRUE(std::filesystem::exists(d.path + "/other-shard.json"));  // shard 2's
}

TEST(ExitJournal, CompactedOncePastItsSize) {
    temp_dir d;
    auto j = exit_journal::open(d.path, 0);
    ASSERT_TRUE(j);
    (*j)->set_compact_bytes(2048);
    for (int i = 0; i < 200; ++i) {
        std::string id = "c" + std::to_string(i);
        (*j)->append(rec(id, 100 + i));
        if (i != 150) (*j)->ack(id, 100 + i);
    }
    (*j)->append(rec("last", 1000));
    auto size = std::filesystem::file_size(d.path + "/shard-0.journal");
    EXPECT_LT(size, 4096u);
    EXPECT_EQ(ids((*j)->unacknowledged()), (std::set<std::string>{"c150", "last"}));
    j->reset();
    auto again = exit_journal::open(d.path, 0);
    ASSERT_TRUE(again);
    EXPECT_EQ(ids((*again)->unacknowledged()), (std::set<std::string>{"c150", "last"}));
}
