// json-file logs with rotation (engine/monitor/json_log.h): what is kept on
// disk, and snapshots whose offsets match the writer's, also while it rotates.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <thread>

#include "base/util.h"
#include "engine/monitor/json_log.h"
#include "tests/unit/temp_dir.h"

namespace berth::json_log {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct temp_dir : test::temp_dir {
    temp_dir() : test::temp_dir("berth-json-log") {}
};

std::string entry(int n) { return "{\"log\":\"line-" + std::to_string(n) + "\\n\",\"stream\":\"stdout\"}\n"; }

// The line numbers of a snapshot, checking every entry's offset against the
// writer's (entry n ends at expected[n]).
std::vector<int> numbers(const std::vector<chunk>& chunks, const std::vector<std::uint64_t>& expected,
                         std::uint64_t* end = nullptr) {
    std::vector<int> out;
    std::uint64_t off = 0;
    for (auto& c : chunks) {
        off = c.start;
        std::string_view data = c.data;
        while (true) {
            auto nl = data.find('\n');
            if (nl == std::string_view::npos) break;
            auto v = json::parse(data.substr(0, nl));
            off += nl + 1;
            data.remove_prefix(nl + 1);
            std::string text(v.at("log").as_string());
            int n = std::stoi(text.substr(5));
            out.push_back(n);
            if (n < int(expected.size())) {
                EXPECT_EQ(off, expected[std::size_t(n)]) << "line " << n;
            }
        }
    }
    if (end) *end = off;
    return out;
}

std::vector<int> range(int from, int to) {
    std::vector<int> v;
    for (int i = from; i <= to; ++i) v.push_back(i);
    return v;
}

TEST(JsonLog, AFreshLogIsCreatedAtItsFirstLine) {
    temp_dir d;
    // known_new (a container's first start): the same, without looking.
    for (bool known_new : {false, true})
    for (rotation r : {rotation{}, rotation{100, 3}}) {
        std::string p = d.path + "/c" + std::to_string(r.max_size) + (known_new ? "-new" : "") + "-json.log";
        writer w;
        ASSERT_TRUE(w.open(p, r, known_new));
        EXPECT_TRUE(w.is_open());
        EXPECT_FALSE(fs::exists(p)) << "no file before a line";
        EXPECT_TRUE(read_json_log(p)->empty());
        EXPECT_EQ(w.offset(), 0u);
        std::vector<std::uint64_t> offsets;
        for (int i = 0; i < 5; ++i) offsets.push_back(w.append(entry(i)));
        EXPECT_TRUE(fs::exists(p));
        EXPECT_EQ(fs::exists(p + ".base"), r.max_size > 0);  // a rotating log names its current file
        EXPECT_EQ(numbers(*read_json_log(p), offsets), range(0, 4));
        // Opened again (a monitor's log cache, a restart): it goes on where it was.
        writer again;
        ASSERT_TRUE(again.open(p, r));
        EXPECT_EQ(again.offset(), offsets.back());
    }
}

TEST(JsonLog, KeepsMaxFileFilesOfAboutMaxSize) {
    temp_dir d;
    std::string p = d.path + "/c-json.log";
    writer w;
    ASSERT_TRUE(w.open(p, {100, 3}));
    std::vector<std::uint64_t> offsets;
    for (int i = 0; i < 50; ++i) offsets.push_back(w.append(entry(i)));
    EXPECT_EQ(offsets.back(), [&] {
        std::uint64_t sum = 0;
        for (int i = 0; i < 50; ++i) sum += entry(i).size();
        return sum;
    }());
    EXPECT_TRUE(fs::exists(p));
    EXPECT_TRUE(fs::exists(p + ".1"));
    EXPECT_TRUE(fs::exists(p + ".2"));
    EXPECT_FALSE(fs::exists(p + ".3"));
    for (auto f : {p, p + ".1", p + ".2"}) EXPECT_LT(fs::file_size(f), 100 + entry(49).size()) << f;
    EXPECT_GE(fs::file_size(p + ".1"), 100u);

    auto snap = read_json_log(p);
    ASSERT_TRUE(snap);
    ASSERT_EQ(snap->size(), 3u);
    std::uint64_t end = 0;
    auto nums = numbers(*snap, offsets, &end);
    ASSERT_FALSE(nums.empty());
    EXPECT_EQ(nums, range(nums.front(), 49));
    EXPECT_GT(nums.front(), 0);
    EXPECT_EQ(end, w.offset());
}

TEST(JsonLog, NoRotationWithoutMaxSizeAndOneFileWithMaxFileOne) {
    temp_dir d;
    std::string p = d.path + "/a.log", q = d.path + "/b.log";
    writer a, b;
    ASSERT_TRUE(a.open(p, {0, 5}));
    ASSERT_TRUE(b.open(q, {100, 1}));
    std::vector<std::uint64_t> offsets;
    for (int i = 0; i < 40; ++i) {
        offsets.push_back(a.append(entry(i)));
        b.append(entry(i));
    }
    EXPECT_FALSE(fs::exists(p + ".1"));
    EXPECT_FALSE(fs::exists(p + ".base"));  // a log that never rotates needs no base
    EXPECT_EQ(numbers(*read_json_log(p), offsets), range(0, 39));
    EXPECT_FALSE(fs::exists(q + ".1"));
    EXPECT_LT(fs::file_size(q), 100 + entry(39).size());
    auto nums = numbers(*read_json_log(q), offsets);
    EXPECT_EQ(nums, range(nums.front(), 39));
    EXPECT_TRUE(read_json_log(d.path + "/missing.log")->empty());
}

TEST(JsonLog, ReopenGoesOnFromTheSameOffset) {
    temp_dir d;
    std::string p = d.path + "/c-json.log";
    std::vector<std::uint64_t> offsets;
    for (int run = 0; run < 3; ++run) {
        writer w;
        ASSERT_TRUE(w.open(p, {150, 2}));
        if (!offsets.empty()) {
            EXPECT_EQ(w.offset(), offsets.back());
        }
        for (int i = 0; i < 10; ++i) offsets.push_back(w.append(entry(run * 10 + i)));
    }
    auto nums = numbers(*read_json_log(p), offsets);
    EXPECT_EQ(nums, range(nums.front(), 29));
    EXPECT_GT(nums.front(), 0);
}

TEST(JsonLog, RecoversFromARotationCutShort) {
    temp_dir d;
    std::string p = d.path + "/c-json.log";
    std::vector<std::uint64_t> offsets;
    {
        writer w;
        ASSERT_TRUE(w.open(p, {100, 3}));
        for (int i = 0; i < 10; ++i) offsets.push_back(w.append(entry(i)));
    }
    // A crash after "P -> P.1, P.new -> P" but before P.base was rewritten:
    // shift by hand and leave the base naming the old file.
    fs::rename(p + ".1", p + ".2");
    fs::rename(p, p + ".1");
    ASSERT_TRUE(write_file(p, ""));
    writer w;
    ASSERT_TRUE(w.open(p, {100, 3}));
    EXPECT_EQ(w.offset(), offsets.back());
    for (int i = 10; i < 12; ++i) offsets.push_back(w.append(entry(i)));
    auto nums = numbers(*read_json_log(p), offsets);
    EXPECT_EQ(nums, range(nums.front(), 11));
}

TEST(JsonLog, SnapshotsStayConsistentWhileRotating) {
    temp_dir d;
    std::string p = d.path + "/c-json.log";
    constexpr int total = 8000;
    std::vector<std::uint64_t> expected;
    std::uint64_t sum = 0;
    for (int i = 0; i < total; ++i) expected.push_back(sum += entry(i).size());
    writer w;
    ASSERT_TRUE(w.open(p, {300, 3}));
    std::atomic<bool> done{false};
    std::thread t([&] {
        for (int i = 0; i < total; ++i) w.append(entry(i));
        done = true;
    });
    int snapshots = 0, last_seen = -1;
    while (!done || snapshots == 0) {
        auto t0 = std::chrono::steady_clock::now();
        auto snap = read_json_log(p);
        // A consistent snapshot comes after a few retries at most, never
        // after the reader gave up waiting (1000 retries of 1 ms).
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
        ASSERT_TRUE(snap) << snap.err().message;
        std::uint64_t end = 0;
        auto nums = numbers(*snap, expected, &end);
        if (!nums.empty()) {
            ASSERT_EQ(nums, range(nums.front(), nums.back()));
            EXPECT_EQ(end, expected[std::size_t(nums.back())]);
            EXPECT_GE(nums.back(), last_seen);
            last_seen = nums.back();
        }
        ++snapshots;
    }
    t.join();
    auto nums = numbers(*read_json_log(p), expected);
    EXPECT_EQ(nums.back(), total - 1);
    EXPECT_GT(snapshots, 10);
}

TEST(JsonLog, SizesAndFiles) {
    EXPECT_EQ(*parse_max_size("10k"), 10000u);
    EXPECT_EQ(*parse_max_size("1.5m"), 1500000u);
    EXPECT_EQ(*parse_max_size("1g"), 1000000000u);
    EXPECT_EQ(*parse_max_size("10KB"), 10000u);
    EXPECT_EQ(*parse_max_size("2MiB"), 2000000u);
    EXPECT_EQ(*parse_max_size("512"), 512u);
    EXPECT_EQ(*parse_max_size("7 k"), 7000u);
    EXPECT_EQ(parse_max_size("abc").err().message, "invalid size: 'abc'");
    EXPECT_FALSE(parse_max_size("10x"));
    EXPECT_FALSE(parse_max_size("-1k"));
    EXPECT_FALSE(parse_max_size(""));
    EXPECT_EQ(parse_max_size("0").err().message, "max-size must be a positive number");
    EXPECT_EQ(*parse_max_file("3"), 3);
    EXPECT_EQ(parse_max_file("0").err().message, "max-file cannot be less than 1");
    EXPECT_FALSE(parse_max_file("x"));
}

TEST(JsonLog, CheckLogConfig) {
    auto check = [](std::string_view host_config) {
        return check_log_config(json::parse(host_config).as_object());
    };
    EXPECT_EQ(*check("{}"), (json::object{{"Type", "json-file"}, {"Config", json::object{}}}));
    EXPECT_EQ(*check(R"({"LogConfig":{"Type":"","Config":{}}})"),
              (json::object{{"Type", "json-file"}, {"Config", json::object{}}}));
    EXPECT_EQ(*check(R"({"LogConfig":{"Type":"json-file","Config":{"max-size":"1k","max-file":"3"}}})"),
              (json::object{{"Type", "json-file"}, {"Config", {{"max-size", "1k"}, {"max-file", "3"}}}}));
    EXPECT_EQ(check(R"({"LogConfig":{"Type":"none"}})")->at("Type").as_string(), "none");
    EXPECT_EQ(check(R"({"LogConfig":{"Type":"bogus"}})").err().message,
              "logger: no log driver named 'bogus' is registered");
    EXPECT_EQ(check(R"({"LogConfig":{"Type":"syslog"}})").err().message,
              "logging driver syslog is not supported by berth (json-file, none)");
    EXPECT_EQ(check(R"({"LogConfig":{"Config":{"foo":"1"}}})").err().message,
              "unknown log opt 'foo' for json-file log driver");
    EXPECT_FALSE(check(R"({"LogConfig":{"Config":{"compress":"true"}}})"));
    EXPECT_FALSE(check(R"({"LogConfig":{"Config":{"max-size":"1q"}}})"));
    EXPECT_FALSE(check(R"({"LogConfig":{"Config":{"max-file":"0"}}})"));
    EXPECT_TRUE(check(R"({"LogConfig":{"Config":{"mode":"blocking"}}})"));
    EXPECT_FALSE(check(R"({"LogConfig":{"Config":{"mode":"non-blocking"}}})"));

    auto s = settings_of(json::parse(R"({"LogConfig":{"Type":"json-file","Config":{"max-size":"2k","max-file":"4"}}})")
                             .as_object());
    EXPECT_TRUE(s.enabled);
    EXPECT_EQ(s.rot.max_size, 2000u);
    EXPECT_EQ(s.rot.max_file, 4);
    EXPECT_FALSE(settings_of(json::parse(R"({"LogConfig":{"Type":"none"}})").as_object()).enabled);
    EXPECT_EQ(settings_of(json::object{}).rot.max_size, 0u);
}

}  // namespace
}  // namespace berth::json_log
