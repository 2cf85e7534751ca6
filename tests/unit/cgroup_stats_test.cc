// Usage readings (Docker's stats) against a cgroupfs faked in a temp dir,
// for both layouts, and the process table of top from this test's own
// /proc entry.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/top.h"

namespace berth::cgroup {
namespace {

namespace fs = std::filesystem;

class fake_stats : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/berth-cgstats-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root = tmpl;
    }
    void TearDown() override { fs::remove_all(root); }
    std::string dir(const std::string& name, std::initializer_list<std::pair<const char*, const char*>> files) {
        std::string d = root + "/" + name;
        fs::create_directories(d);
        for (auto [file, text] : files) EXPECT_TRUE(write_file(d + "/" + file, text));
        return d;
    }
    std::string root;
};

TEST_F(fake_stats, V2ReadsMicrosecondsAsNanosecondsAndIoStatAsReadWrite) {
    auto d = dir("c", {{"cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\n"
                                    "nr_throttled 2\nthrottled_usec 30\n"},
                       {"memory.current", "4096000\n"},
                       {"memory.max", "max\n"},
                       {"memory.stat", "anon 1024\nfile 2048\ninactive_file 512\n"},
                       {"memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"},
                       {"pids.current", "3\n"},
                       {"pids.max", "20\n"},
                       {"io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
                                   "253:1 rbytes=5 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"}});
    usage u = read_usage_v2(d);
    ASSERT_TRUE(u.have_cpu && u.have_memory && u.have_pids && u.have_blkio);
    EXPECT_EQ(u.cpu_total_ns, 1500000u);
    EXPECT_EQ(u.cpu_user_ns, 1000000u);
    EXPECT_EQ(u.cpu_kernel_ns, 500000u);
    EXPECT_TRUE(u.cpu_percpu_ns.empty());
    EXPECT_EQ(u.throttle_periods, 7u);
    EXPECT_EQ(u.throttled_periods, 2u);
    EXPECT_EQ(u.throttled_ns, 30000u);
    EXPECT_EQ(u.memory_usage, 4096000u);
    EXPECT_EQ(u.memory_limit, 0u);  // "max"
    EXPECT_EQ(u.memory_failcnt, 1u);
    ASSERT_EQ(u.memory_stat.size(), 3u);
    EXPECT_EQ(u.memory_stat[2], (std::pair<std::string, std::uint64_t>{"inactive_file", 512}));
    EXPECT_EQ(u.pids_current, 3u);
    EXPECT_EQ(u.pids_limit, 20u);
    ASSERT_EQ(u.io_service_bytes.size(), 4u);
    EXPECT_EQ(u.io_service_bytes[0].op, "read");
    EXPECT_EQ(u.io_service_bytes[0].value, 100u);
    EXPECT_EQ(u.io_service_bytes[1].op, "write");
    EXPECT_EQ(u.io_service_bytes[1].value, 200u);
    EXPECT_EQ(u.io_service_bytes[2].major, 253u);
    EXPECT_EQ(u.io_service_bytes[2].minor, 1u);
}

TEST_F(fake_stats, V1ReadsEachControllerFromItsHierarchy) {
    std::uint64_t hz = std::uint64_t(::sysconf(_SC_CLK_TCK));
    auto cpu = dir("cpu", {{"cpu.stat", "nr_periods 4\nnr_throttled 1\nthrottled_time 999\n"}});
    auto acct = dir("cpuacct", {{"cpuacct.usage", "3000\n"},
                                {"cpuacct.usage_percpu", "1000 2000 \n"},
                                {"cpuacct.stat", "user 5\nsystem 2\n"}});
    auto mem = dir("memory", {{"memory.usage_in_bytes", "8192\n"},
                              {"memory.max_usage_in_bytes", "16384\n"},
                              {"memory.limit_in_bytes", "9223372036854771712\n"},
                              {"memory.failcnt", "0\n"},
                              {"memory.stat", "cache 0\nrss 4096\ntotal_inactive_file 1024\n"}});
    auto pids = dir("pids", {{"pids.current", "2\n"}, {"pids.max", "max\n"}});
    // CFQ's counters are empty (only "Total"): the throttle layer's count.
    auto blkio = dir("blkio", {{"blkio.io_service_bytes_recursive", "Total 0\n"},
                               {"blkio.throttle.io_service_bytes_recursive",
                                "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\nTotal 12288\n"},
                               {"blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\nTotal 3\n"}});
    usage u = read_usage_v1({{"cpu", cpu}, {"cpuacct", acct}, {"memory", mem}, {"pids", pids}, {"blkio", blkio}});
    ASSERT_TRUE(u.have_cpu && u.have_memory && u.have_pids && u.have_blkio);
    EXPECT_EQ(u.cpu_total_ns, 3000u);
    EXPECT_EQ(u.cpu_percpu_ns, (std::vector<std::uint64_t>{1000, 2000}));
    EXPECT_EQ(u.cpu_user_ns, std::uint64_t(5) * 1000000000 / hz);
    EXPECT_EQ(u.cpu_kernel_ns, std::uint64_t(2) * 1000000000 / hz);
    EXPECT_EQ(u.throttle_periods, 4u);
    EXPECT_EQ(u.throttled_ns, 999u);
    EXPECT_EQ(u.memory_usage, 8192u);
    EXPECT_EQ(u.memory_max_usage, 16384u);
    EXPECT_EQ(u.memory_limit, 0u);  // the kernel's "unlimited"
    EXPECT_EQ(u.memory_stat.size(), 3u);
    EXPECT_EQ(u.pids_current, 2u);
    EXPECT_EQ(u.pids_limit, 0u);
    ASSERT_EQ(u.io_service_bytes.size(), 5u);  // per-device lines; the bare "Total" left out
    EXPECT_EQ(u.io_service_bytes[0].op, "Read");
    EXPECT_EQ(u.io_service_bytes[0].value, 4096u);
    EXPECT_EQ(u.io_service_bytes[1].op, "Write");
    EXPECT_EQ(u.io_serviced.size(), 2u);
}

TEST_F(fake_stats, V1CombinedCpuHierarchyAndMissingControllers) {
    auto cpu = dir("cpu,cpuacct", {{"cpuacct.usage", "42\n"}, {"cpu.stat", "nr_periods 1\n"}});
    usage u = read_usage_v1({{"cpu,cpuacct", cpu}, {"memory", root + "/gone"}});
    EXPECT_TRUE(u.have_cpu);
    EXPECT_EQ(u.cpu_total_ns, 42u);
    EXPECT_EQ(u.throttle_periods, 1u);
    EXPECT_FALSE(u.have_memory);
    EXPECT_FALSE(u.have_pids);
    EXPECT_FALSE(u.have_blkio);
    usage none = read_usage_v2(root + "/gone");
    EXPECT_FALSE(none.have_cpu || none.have_memory || none.have_pids || none.have_blkio);
}

TEST(host_stats, ProcStatAndNetDev) {
    auto h = read_host_cpu();
    ASSERT_TRUE(h) << h.err().message;
    EXPECT_GT(h->online, 0);
    EXPECT_GT(h->system_ns, 0u);
    EXPECT_GT(host_memory_bytes(), 0u);
    auto nets = read_net_dev(::getpid());
    ASSERT_TRUE(nets) << nets.err().message;
    for (auto& n : *nets) EXPECT_NE(n.name, "lo");
    EXPECT_FALSE(read_net_dev(0x7ffffff0));
}

}  // namespace
}  // namespace berth::cgroup

namespace berth {
namespace {

TEST(top, ProcessTableFromProc) {
    auto t = list_processes({::getpid(), 0x7ffffff0});  // the second pid does not exist
    EXPECT_EQ(t.titles, (std::vector<std::string>{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}));
    ASSERT_EQ(t.processes.size(), 1u);
    auto& row = t.processes[0];
    ASSERT_EQ(row.size(), 8u);
    EXPECT_EQ(row[1], std::to_string(::getpid()));
    EXPECT_EQ(row[2], std::to_string(::getppid()));
    EXPECT_NE(row[7].find("berth_unit_tests"), std::string::npos) << row[7];
    EXPECT_EQ(row[6].size(), 8u) << row[6];  // HH:MM:SS
}

TEST(top, PsArgsChecksAsMoby) {
    EXPECT_TRUE(validate_ps_args(""));
    EXPECT_TRUE(validate_ps_args("aux"));
    EXPECT_TRUE(validate_ps_args("-o pid=PID,comm"));
    auto bad = validate_ps_args("-o user=PID");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.err().message, "specifying \"user=PID\" is not allowed");
    EXPECT_FALSE(validate_ps_args("-o pid,user= PIDX"));
}

TEST(top, RunPsKeepsTheRowsOfTheGivenPids) {
    if (::access("/bin/ps", X_OK) != 0 && ::access("/usr/bin/ps", X_OK) != 0) GTEST_SKIP() << "no ps on this host";
    auto t = run_ps("-o pid,args", {::getpid()});
    ASSERT_TRUE(t) << t.err().message;
    EXPECT_EQ(t->titles, (std::vector<std::string>{"PID", "COMMAND"}));
    ASSERT_EQ(t->processes.size(), 1u);
    EXPECT_EQ(t->processes[0][0], std::to_string(::getpid()));
    auto bad = run_ps("--no-such-option", {::getpid()});
    ASSERT_FALSE(bad);
    EXPECT_TRUE(starts_with(bad.err().message, "ps: ")) << bad.err().message;
}

}  // namespace
}  // namespace berth
