// Devices against the real kernel: gathering host nodes as moby does
// (DevicesFromPath, HostDevices), the v1 devices controller's allowlist,
// and cached device programs with rules beyond Docker's defaults. Needs
// root; the v1 and cgroup2 parts need those hierarchies mounted.
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/cgroup/device_filter.h"
#include "engine/cgroup/devices.h"
#include "engine/device_config.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
constexpr unsigned R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;

class DevicesRoot : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        char tmpl[] = "/tmp/berth-devices-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override {
        if (!dir.empty()) fs::remove_all(dir);
        for (auto it = cgroups.rbegin(); it != cgroups.rend(); ++it) ::rmdir(it->c_str());
    }
    void node(const std::string& rel, mode_t kind, unsigned maj, unsigned min, mode_t perm = 0640) {
        fs::create_directories(fs::path(dir + "/" + rel).parent_path());
        ASSERT_EQ(::mknod((dir + "/" + rel).c_str(), kind | perm, makedev(maj, min)), 0) << rel;
        ASSERT_EQ(::chmod((dir + "/" + rel).c_str(), perm), 0);
    }
    std::string dir;
    std::vector<std::string> cgroups;
};

std::vector<std::string> paths_of(const std::vector<runtime::device_node>& nodes) {
    std::vector<std::string> out;
    for (const auto& n : nodes) out.push_back(n.path);
    std::sort(out.begin(), out.end());
    return out;
}

TEST_F(DevicesRoot, MappingOfOneNodeKeepsItsNumbersModeAndOwner) {
    node("tty9", S_IFCHR, 4, 9, 0620);
    ASSERT_EQ(::chown((dir + "/tty9").c_str(), 0, 5), 0);
    ASSERT_EQ(::symlink((dir + "/tty9").c_str(), (dir + "/link").c_str()), 0);
    device_config c;
    c.devices = {{dir + "/link", "/dev/mytty", "rw"}};  // a symlink is followed
    auto g = gather_devices(c);
    ASSERT_TRUE(g) << g.err().message;
    ASSERT_EQ(g->nodes.size(), 1u);
    const auto& n = g->nodes[0];
    EXPECT_EQ(n.path, "/dev/mytty");
    EXPECT_EQ(n.type, 'c');
    EXPECT_EQ(n.major, 4u);
    EXPECT_EQ(n.minor, 9u);
    EXPECT_EQ(n.mode, 0620u);
    EXPECT_EQ(n.gid, 5u);
    ASSERT_EQ(g->access.allow.size(), 1u);
    EXPECT_EQ(cgroup::device_rule_text(g->access.allow[0]), "c 4:9 rw");
    EXPECT_FALSE(g->access.allow_all);
}

TEST_F(DevicesRoot, DirectoryMappingTakesEveryNodeBelow) {
    node("snd/pcm", S_IFCHR, 116, 2);
    node("snd/sub/ctl", S_IFCHR, 116, 3);
    node("disk", S_IFBLK, 7, 4);
    ASSERT_EQ(::mkfifo((dir + "/snd/fifo").c_str(), 0600), 0);
    ASSERT_TRUE(write_file(dir + "/snd/plain", "x"));
    device_config c;
    c.devices = {{dir, "/dev/all", "r"}};
    c.cgroup_rules = {{'c', 10, 200, R | W}};
    auto g = gather_devices(c);
    ASSERT_TRUE(g) << g.err().message;
    EXPECT_EQ(paths_of(g->nodes),
              (std::vector<std::string>{"/dev/all/disk", "/dev/all/snd/fifo", "/dev/all/snd/pcm", "/dev/all/snd/sub/ctl"}));
    std::vector<std::string> rules;
    for (const auto& r : g->access.allow) rules.push_back(cgroup::device_rule_text(r));
    // No rule for the fifo; the cgroup rules after the devices'.
    EXPECT_EQ(rules, (std::vector<std::string>{"b 7:4 r", "c 116:2 r", "c 116:3 r", "c 10:200 rw"}));
}

TEST_F(DevicesRoot, MobyErrors) {
    ASSERT_TRUE(write_file(dir + "/plain", "x"));
    fs::create_directories(dir + "/empty");
    auto msg = [](const std::string& host) {
        device_config c;
        c.devices = {{host, "/dev/x", "rwm"}};
        auto g = gather_devices(c);
        return g ? std::string("accepted") : g.err().message;
    };
    EXPECT_EQ(msg(dir + "/plain"),
              "error gathering device information while adding custom device \"" + dir + "/plain\": not a device node");
    EXPECT_EQ(msg(dir + "/empty"),
              "error gathering device information while adding custom device \"" + dir + "/empty\": not a device node");
    EXPECT_EQ(msg(dir + "/missing"), "error gathering device information while adding custom device \"" + dir +
                                         "/missing\": no such file or directory");
}

TEST_F(DevicesRoot, PrivilegedTakesTheHostDevicesContainerdKeeps) {
    node("null", S_IFCHR, 1, 3, 0666);
    node("console", S_IFCHR, 5, 1);
    node("pts/0", S_IFCHR, 136, 0);
    node("shm/x", S_IFCHR, 1, 5);
    node(".udev/x", S_IFCHR, 1, 5);
    node("net/tun", S_IFCHR, 10, 200);
    node("loop0", S_IFBLK, 7, 0);
    ASSERT_EQ(::mkfifo((dir + "/initctl").c_str(), 0600), 0);
    ASSERT_EQ(::symlink("null", (dir + "/stdnull").c_str()), 0);
    node("extra", S_IFCHR, 1, 7);
    device_config c;
    c.privileged = true;
    // Mapped to another path: added; to the same path: already there.
    c.devices = {{dir + "/extra", "/dev/full2", "r"}, {dir + "/extra", dir + "/extra", "rwm"}};
    auto g = gather_devices(c, dir);
    ASSERT_TRUE(g) << g.err().message;
    EXPECT_EQ(paths_of(g->nodes), (std::vector<std::string>{"/dev/extra", "/dev/full2", "/dev/loop0", "/dev/net/tun",
                                                             "/dev/null"}));
    EXPECT_TRUE(g->access.allow_all);
    EXPECT_TRUE(g->access.allow.empty());
}

// The first mount of a v1 hierarchy with this controller, or "".
std::string v1_mount(const std::string& controller) {
    auto mounts = read_file("/proc/self/mounts");
    if (!mounts) return {};
    for (const auto& line : split(*mounts, '\n')) {
        auto f = split(line, ' ');
        if (f.size() < 4 || f[2] != "cgroup") continue;
        for (const auto& o : split(f[3], ','))
            if (o == controller) return f[1];
    }
    return {};
}

std::string cgroup2_mount() {
    auto mounts = read_file("/proc/self/mounts");
    if (!mounts) return {};
    for (const auto& line : split(*mounts, '\n')) {
        auto f = split(line, ' ');
        if (f.size() >= 3 && f[2] == "cgroup2") return f[1];
    }
    return {};
}

// Runs in a child moved into `procs`: the errno of open(path, flags), 0 when it opened.
int open_in_cgroup(const std::string& procs, const std::string& path, int flags) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(procs.c_str(), O_WRONLY);
        if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(200);
        ::close(fd);
        int dev = ::open(path.c_str(), flags | O_CLOEXEC);
        ::_exit(dev >= 0 ? 0 : errno);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

TEST_F(DevicesRoot, V1DevicesControllerTakesTheAllowlist) {
    std::string mnt = v1_mount("devices");
    if (mnt.empty()) GTEST_SKIP() << "no v1 devices controller on this host";
    std::string cg = mnt + "/berth-devtest-" + std::to_string(::getpid());
    ASSERT_EQ(::mkdir(cg.c_str(), 0755), 0);
    cgroups.push_back(cg);
    cgroup::device_access access;
    access.allow = {{'c', 10, 237, R}};
    ASSERT_TRUE(cgroup::write_v1_device_rules(cg, access));
    auto list = read_file(cg + "/devices.list");
    ASSERT_TRUE(list);
    for (const char* want : {"c *:* m", "b *:* m", "c 1:3 rwm", "c 136:* rwm", "c 10:200 rwm", "c 10:237 r"})
        EXPECT_NE(list->find(std::string(want) + "\n"), std::string::npos) << want << " in\n" << *list;
    EXPECT_EQ(list->find("a *:* rwm"), std::string::npos);

    node("null", S_IFCHR, 1, 3, 0666);
    node("lc", S_IFCHR, 10, 237, 0600);
    node("blk", S_IFBLK, 8, 0, 0600);
    EXPECT_EQ(open_in_cgroup(cg + "/cgroup.procs", dir + "/null", O_RDWR), 0);
    EXPECT_EQ(open_in_cgroup(cg + "/cgroup.procs", dir + "/blk", O_RDONLY), EPERM);
    EXPECT_EQ(open_in_cgroup(cg + "/cgroup.procs", dir + "/lc", O_WRONLY), EPERM);
    EXPECT_NE(open_in_cgroup(cg + "/cgroup.procs", dir + "/lc", O_RDONLY), EPERM);

    // Allow-all (--privileged) in a fresh cgroup.
    std::string all = cg + "-all";
    ASSERT_EQ(::mkdir(all.c_str(), 0755), 0);
    cgroups.push_back(all);
    ASSERT_TRUE(cgroup::write_v1_device_rules(all, {true, {}}));
    EXPECT_EQ(trim(*read_file(all + "/devices.list")), "a *:* rwm");
    EXPECT_NE(open_in_cgroup(all + "/cgroup.procs", dir + "/blk", O_RDONLY), EPERM);
}

TEST_F(DevicesRoot, ProgramWithExtraRules) {
    std::string mnt = cgroup2_mount();
    if (mnt.empty()) GTEST_SKIP() << "no cgroup2 on this host";
    std::string cg = mnt + "/berth-devtest-" + std::to_string(::getpid());
    std::string plain = cg + "-defaults";
    for (const auto& d : {cg, plain}) {
        ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
        cgroups.push_back(d);
    }
    auto with_rule = cgroup::load_device_program(cgroup::rules_with_defaults({{'c', 10, 237, R}}));
    ASSERT_TRUE(with_rule) << with_rule.err().message;
    auto defaults = cgroup::load_device_program(cgroup::default_device_rules());
    ASSERT_TRUE(defaults) << defaults.err().message;
    for (auto [d, prog] : {std::pair{cg, with_rule->get()}, std::pair{plain, defaults->get()}}) {
        unique_fd dfd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(dfd);
        ASSERT_TRUE(cgroup::attach_device_program(prog, dfd.get()));
    }
    node("null", S_IFCHR, 1, 3, 0666);
    node("lc", S_IFCHR, 10, 237, 0600);
    EXPECT_EQ(open_in_cgroup(cg + "/cgroup.procs", dir + "/null", O_RDWR), 0);
    EXPECT_NE(open_in_cgroup(cg + "/cgroup.procs", dir + "/lc", O_RDONLY), EPERM);
    EXPECT_EQ(open_in_cgroup(cg + "/cgroup.procs", dir + "/lc", O_WRONLY), EPERM);
    EXPECT_EQ(open_in_cgroup(plain + "/cgroup.procs", dir + "/lc", O_RDONLY), EPERM);
    EXPECT_EQ(open_in_cgroup(plain + "/cgroup.procs", dir + "/null", O_RDWR), 0);
}

}  // namespace
}  // namespace berth
