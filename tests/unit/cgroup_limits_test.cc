// Limits against a cgroupfs faked in a temp dir: one knob file per name the
// kernel would offer, so a missing file is a missing feature. Covers the
// cgroup2 path this hybrid machine cannot run.
#include <stdlib.h>

#include <filesystem>
#include <gtest/gtest.h>

#include "base/util.h"
#include "cli/common.h"
#include "engine/cgroup/manager.h"

namespace berth::cgroup {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t MiB = 1024 * 1024;
const std::string blkio_warning =
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";

class fake_cgroupfs : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/berth-cgtest-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root = tmpl;
    }
    void TearDown() override { fs::remove_all(root); }
    std::string dir(const std::string& name, std::initializer_list<const char*> knobs) {
        std::string d = root + "/" + name;
        fs::create_directories(d);
        for (auto k : knobs) EXPECT_TRUE(write_file(d + "/" + k, ""));
        return d;
    }
    static std::string knob(const std::string& d, const char* k) { return trim(read_file(d + "/" + k).value_or("?")); }
    std::string root;
};

TEST_F(fake_cgroupfs, V2WritesEveryKnobInItsUnits) {
    auto d = dir("v2", {"memory.max", "memory.swap.max", "memory.low", "cpu.max", "cpu.weight", "cpuset.cpus",
                        "cpuset.mems", "pids.max", "io.weight"});
    limits l;
    l.memory = 64 * MiB;
    l.memory_swap = 96 * MiB;
    l.memory_reservation = 32 * MiB;
    l.nano_cpus = 500000000;
    l.cpu_shares = 1024;
    l.cpuset_cpus = "0-1";
    l.cpuset_mems = "0";
    l.pids_limit = 20;
    l.blkio_weight = 300;
    auto w = apply_v2(d, l);
    ASSERT_TRUE(w) << w.err().message;
    EXPECT_TRUE(w->empty());
    EXPECT_EQ(knob(d, "memory.max"), std::to_string(64 * MiB));
    EXPECT_EQ(knob(d, "memory.swap.max"), std::to_string(32 * MiB));  // swap alone
    EXPECT_EQ(knob(d, "memory.low"), std::to_string(32 * MiB));
    EXPECT_EQ(knob(d, "cpu.max"), "50000 100000");
    EXPECT_EQ(knob(d, "cpu.weight"), "39");  // Docker's default 1024 shares
    EXPECT_EQ(knob(d, "cpuset.cpus"), "0-1");
    EXPECT_EQ(knob(d, "cpuset.mems"), "0");
    EXPECT_EQ(knob(d, "pids.max"), "20");
    EXPECT_EQ(knob(d, "io.weight"), "2930");  // 1 + (300 - 10) * 9999 / 990
}

TEST_F(fake_cgroupfs, V2SwapEqualToMemoryMeansNoSwapAndMinusOneMeansMax) {
    auto d = dir("v2", {"memory.max", "memory.swap.max"});
    limits l;
    l.memory = 16 * MiB;
    l.memory_swap = 16 * MiB;
    ASSERT_TRUE(apply_v2(d, l));
    EXPECT_EQ(knob(d, "memory.swap.max"), "0");
    l.memory_swap = -1;
    ASSERT_TRUE(apply_v2(d, l));
    EXPECT_EQ(knob(d, "memory.swap.max"), "max");
}

TEST_F(fake_cgroupfs, V2PrefersBfqWeightAndWarnsForMissingKnobs) {
    auto d = dir("v2", {"io.bfq.weight", "memory.max"});
    limits l;
    l.blkio_weight = 300;
    l.pids_limit = 5;
    l.memory = 16 * MiB;
    l.memory_swap = 32 * MiB;
    auto w = apply_v2(d, l);
    ASSERT_TRUE(w) << w.err().message;
    EXPECT_EQ(knob(d, "io.bfq.weight"), "300");
    ASSERT_EQ(w->size(), 2u);
    EXPECT_NE(std::find(w->begin(), w->end(),
                        "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs "
                        "limit discarded."),
              w->end());
    EXPECT_NE(std::find(w->begin(), w->end(),
                        "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory "
                        "limited without swap."),
              w->end());
}

TEST_F(fake_cgroupfs, V1WritesEachControllersDirectoryAndWarnsWithoutBlkioWeight) {
    auto mem = dir("memory", {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"});
    ASSERT_TRUE(write_file(mem + "/memory.limit_in_bytes", "9223372036854771712"));
    auto cpu = dir("cpu", {"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"});
    auto cpuset = dir("cpuset", {"cpuset.cpus", "cpuset.mems"});
    auto pids = dir("pids", {"pids.max"});
    auto blkio = dir("blkio", {"blkio.throttle.read_bps_device"});
    limits l;
    l.memory = 16 * MiB;
    l.memory_swap = 16 * MiB;
    l.memory_reservation = 8 * MiB;
    l.nano_cpus = 1500000000;
    l.cpu_shares = 512;
    l.cpuset_cpus = "1";
    l.pids_limit = 20;
    l.blkio_weight = 300;
    auto w = apply_v1({{"memory", mem}, {"cpu", cpu}, {"cpuacct", root}, {"cpuset", cpuset}, {"pids", pids},
                       {"blkio", blkio}},
                      l);
    ASSERT_TRUE(w) << w.err().message;
    EXPECT_EQ(*w, std::vector<std::string>{blkio_warning});
    EXPECT_EQ(knob(mem, "memory.limit_in_bytes"), std::to_string(16 * MiB));
    EXPECT_EQ(knob(mem, "memory.memsw.limit_in_bytes"), std::to_string(16 * MiB));
    EXPECT_EQ(knob(mem, "memory.soft_limit_in_bytes"), std::to_string(8 * MiB));
    EXPECT_EQ(knob(cpu, "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(knob(cpu, "cpu.cfs_quota_us"), "150000");
    EXPECT_EQ(knob(cpu, "cpu.shares"), "512");
    EXPECT_EQ(knob(cpuset, "cpuset.cpus"), "1");
    EXPECT_EQ(knob(pids, "pids.max"), "20");
    EXPECT_FALSE(path_exists(blkio + "/blkio.weight"));
}

TEST_F(fake_cgroupfs, V1WithoutAController) {
    limits l;
    l.pids_limit = 20;
    auto w = apply_v1({}, l);
    ASSERT_TRUE(w);
    ASSERT_EQ(w->size(), 1u);
    EXPECT_NE(w->front().find("PIDs limit discarded"), std::string::npos);
}

TEST_F(fake_cgroupfs, OomKillCounter) {
    auto d = dir("memory", {});
    ASSERT_TRUE(write_file(d + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"));
    ASSERT_TRUE(write_file(d + "/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\noom_group_kill 0\n"));
    EXPECT_EQ(read_oom_kills(d + "/memory.oom_control"), 2u);
    EXPECT_EQ(read_oom_kills(d + "/memory.events"), 0u);
    EXPECT_EQ(read_oom_kills(d + "/missing"), 0u);
}

features all() {
    features f;
    f.memory = f.memory_swap = f.memory_reservation = f.cpu_quota = f.cpu_shares = f.cpuset = f.pids =
        f.blkio_weight = true;
    return f;
}

result<std::vector<std::string>> verify(limits& l, features f = all()) { return verify_limits(l, f, "0-1", "0", 2); }

TEST(VerifyLimits, DockerRefusals) {
    auto refused = [](limits l, const std::string& msg) {
        auto r = verify(l);
        ASSERT_FALSE(r) << msg;
        EXPECT_EQ(r.err().message, msg);
        EXPECT_EQ(r.err().code, errc::invalid_argument);
    };
    refused({.memory = 1024}, "Minimum memory limit allowed is 6MB");
    refused({.memory = 64 * MiB, .memory_swap = 32 * MiB},
            "Minimum memoryswap limit should be larger than memory limit, see usage");
    refused({.memory_swap = 32 * MiB}, "You should always set the Memory limit when using Memoryswap limit, see usage");
    refused({.memory = 16 * MiB, .memory_reservation = 32 * MiB},
            "Minimum memory limit can not be less than memory reservation limit, see usage");
    refused({.nano_cpus = 99000000000}, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
    refused({.nano_cpus = 1000}, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available");
    refused({.cpuset_cpus = "0-"}, "Invalid value 0- for cpuset cpus: invalid format: 0-");
    refused({.cpuset_cpus = "3"}, "Requested CPUs are not available - requested 3, available: 0-1");
    refused({.cpuset_mems = "1"}, "Requested memory nodes are not available - requested 1, available: 0");
    refused({.blkio_weight = 5}, "Range of blkio weight is from 10 to 1000");
}

TEST(VerifyLimits, DockerAdjustments) {
    limits l{.memory = 64 * MiB, .cpu_shares = 1, .cpuset_cpus = "1,0"};
    auto w = verify(l);
    ASSERT_TRUE(w) << w.err().message;
    EXPECT_TRUE(w->empty());
    EXPECT_EQ(l.memory_swap, 128 * MiB);  // twice Memory
    EXPECT_EQ(l.cpu_shares, 2);
    limits big{.cpu_shares = 1 << 20};
    ASSERT_TRUE(verify(big));
    EXPECT_EQ(big.cpu_shares, 262144);
}

TEST(VerifyLimits, UnsupportedLimitsWarnAndAreDropped) {
    features f = all();
    f.blkio_weight = false;
    f.memory_swap = false;
    limits l{.memory = 64 * MiB, .blkio_weight = 5};  // Docker checks the range only of a weight it keeps
    auto w = verify(l, f);
    ASSERT_TRUE(w) << w.err().message;
    ASSERT_EQ(w->size(), 2u);
    EXPECT_EQ((*w)[1], blkio_warning);
    EXPECT_NE((*w)[0].find("Memory limited without swap"), std::string::npos);
    EXPECT_EQ(l.blkio_weight, 0);
    EXPECT_EQ(l.memory_swap, -1);
}

TEST(Cgroup2Conversions, AsRunc) {
    EXPECT_EQ(cpu_weight_from_shares(2), 1u);
    EXPECT_EQ(cpu_weight_from_shares(1024), 39u);
    EXPECT_EQ(cpu_weight_from_shares(262144), 10000u);
    EXPECT_EQ(io_weight_from_blkio(10), 1u);
    EXPECT_EQ(io_weight_from_blkio(1000), 10000u);
}

TEST(CpuList, KernelListFormat) {
    EXPECT_EQ(*parse_cpu_list("0-2,4"), (std::vector<int>{0, 1, 2, 4}));
    EXPECT_EQ(*parse_cpu_list(""), std::vector<int>{});
    for (auto bad : {"a", "1-", "3-1", ",", "1,,2", "-1"}) EXPECT_FALSE(parse_cpu_list(bad)) << bad;
}

TEST(CliCpus, DecimalToNanoCpus) {
    EXPECT_EQ(*cli::parse_nano_cpus("0.5"), 500000000);
    EXPECT_EQ(*cli::parse_nano_cpus("2"), 2000000000);
    EXPECT_EQ(*cli::parse_nano_cpus(".25"), 250000000);
    EXPECT_EQ(*cli::parse_nano_cpus("1.000000001"), 1000000001);
    EXPECT_FALSE(cli::parse_nano_cpus("1.0000000001"));
    EXPECT_FALSE(cli::parse_nano_cpus("abc"));
    EXPECT_FALSE(cli::parse_nano_cpus(""));
}

}  // namespace
}  // namespace berth::cgroup
