#include <sys/mount.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include "engine/runtime/confinement.h"
#include "engine/runtime/spec.h"
#include "engine/runtime/user.h"

namespace berth::runtime {
namespace {

TEST(TmpfsOptions, DockerDefaultsAndData) {
    auto o = parse_tmpfs_options("");
    ASSERT_TRUE(o) << o.err().message;
    EXPECT_EQ(o->flags, static_cast<unsigned long>(MS_NOEXEC | MS_NOSUID | MS_NODEV));
    EXPECT_EQ(o->data, "");
    o = parse_tmpfs_options("size=64m,mode=1777");
    ASSERT_TRUE(o);
    EXPECT_EQ(o->data, "size=64m,mode=1777");
}

TEST(TmpfsOptions, LastWordAndLastValueWin) {
    auto o = parse_tmpfs_options("exec,size=1m,ro,size=2m,rw,suid");
    ASSERT_TRUE(o) << o.err().message;
    EXPECT_EQ(o->flags, static_cast<unsigned long>(MS_NODEV));
    EXPECT_EQ(o->data, "size=2m");
}

TEST(TmpfsOptions, UnknownOptionsAreRefused) {
    for (const char* bad : {"bogus", "color=blue", "size=", "uid=1 2"}) {
        auto o = parse_tmpfs_options(bad);
        ASSERT_FALSE(o) << bad;
        EXPECT_EQ(o.err().code, errc::invalid_argument);
    }
}

TEST(TmpfsTarget, MustBeAbsoluteNotRootNoDotDot) {
    EXPECT_TRUE(check_tmpfs_target("/run"));
    EXPECT_TRUE(check_tmpfs_target("/a/b/c"));
    auto rel = check_tmpfs_target("run");
    ASSERT_FALSE(rel);
    EXPECT_NE(rel.err().message.find("mount path must be absolute"), std::string::npos);
    EXPECT_FALSE(check_tmpfs_target("/"));
    EXPECT_FALSE(check_tmpfs_target("//"));
    EXPECT_FALSE(check_tmpfs_target("/a/../etc"));
    EXPECT_FALSE(check_tmpfs_target(""));
}

TEST(Ulimits, DockerNames) {
    EXPECT_EQ(ulimit_resource("nofile"), RLIMIT_NOFILE);
    EXPECT_EQ(ulimit_resource("nproc"), RLIMIT_NPROC);
    EXPECT_EQ(ulimit_resource("core"), RLIMIT_CORE);
    EXPECT_EQ(ulimit_resource("memlock"), RLIMIT_MEMLOCK);
    EXPECT_EQ(ulimit_resource("stack"), RLIMIT_STACK);
    EXPECT_EQ(ulimit_resource("rttime"), RLIMIT_RTTIME);
    EXPECT_FALSE(ulimit_resource("NOFILE"));
    EXPECT_FALSE(ulimit_resource("files"));
}

TEST(Sysctls, OnlyNamespacedOnes) {
    EXPECT_TRUE(check_sysctl("kernel.shmmax", "1", true));
    EXPECT_TRUE(check_sysctl("kernel.sem", "250 32000 32 128", false));
    EXPECT_TRUE(check_sysctl("fs.mqueue.msg_max", "20", false));
    EXPECT_TRUE(check_sysctl("net.ipv4.ip_forward", "1", true));
    auto host = check_sysctl("net.ipv4.ip_forward", "1", false);
    ASSERT_FALSE(host);
    EXPECT_EQ(host.err().message, "sysctl 'net.ipv4.ip_forward=1' is not allowed in the hosts network namespace");
    auto other = check_sysctl("kernel.panic", "1", true);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.err().message, "sysctl 'kernel.panic=1' is not allowed");
    for (const char* bad : {"net/../../kernel/panic", "net..x", "net.", ".net.x", "", "kernel.shmmaxx"})
        EXPECT_FALSE(check_sysctl(bad, "1", true)) << bad;
    EXPECT_EQ(sysctl_path("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
}

TEST(SecurityOpts, NoNewPrivilegesSpellings) {
    auto nnp = [](std::vector<std::string> o) { return parse_security_opts(o)->no_new_privs; };
    EXPECT_EQ(nnp({}), false);
    EXPECT_EQ(nnp({"no-new-privileges"}), true);
    EXPECT_EQ(nnp({"no-new-privileges=true"}), true);
    EXPECT_EQ(nnp({"no-new-privileges:1"}), true);
    EXPECT_EQ(nnp({"no-new-privileges", "no-new-privileges=false"}), false);
    auto bad = parse_security_opts({"no-new-privileges=maybe"});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.err().message, "invalid --security-opt 2: \"no-new-privileges=maybe\"");
    EXPECT_FALSE(parse_security_opts({"bogus"}));
    EXPECT_FALSE(parse_security_opts({"color=blue"}));
    EXPECT_FALSE(parse_security_opts({"seccomp="}));
    EXPECT_TRUE(parse_security_opts({"apparmor=unconfined", "label=disable", "label:disable"}));
    for (const char* later : {"apparmor=docker-default", "label=type:svirt_apache_t"}) {
        auto r = parse_security_opts({later});
        ASSERT_FALSE(r) << later;
        EXPECT_NE(r.err().message.find("is not supported yet"), std::string::npos) << later;
    }
}

TEST(SecurityOpts, SeccompValueKeptAsSent) {
    EXPECT_FALSE(parse_security_opts({})->seccomp);
    EXPECT_EQ(*parse_security_opts({"seccomp=unconfined"})->seccomp, "unconfined");
    EXPECT_EQ(*parse_security_opts({"seccomp:builtin"})->seccomp, "builtin");
    EXPECT_EQ(*parse_security_opts({"seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"})->seccomp,
              "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}");
}

TEST(AdditionalGroups, NamesFromTheFileNumbersAsGiven) {
    std::optional<std::string> group = std::string("root:x:0:\nstaff:x:50:app\nwheel:x:10:\n");
    auto g = resolve_additional_groups({"staff", "10", "4242"}, group);
    ASSERT_TRUE(g) << g.err().message;
    EXPECT_EQ(*g, (std::vector<gid_t>{50, 10, 4242}));
    auto missing = resolve_additional_groups({"nosuch"}, group);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.err().message, "Unable to find group nosuch: no matching entries in group file");
    auto no_file = resolve_additional_groups({"7"}, std::nullopt);
    ASSERT_TRUE(no_file);
    EXPECT_EQ(*no_file, (std::vector<gid_t>{7}));
}

TEST(LaunchSpec, ConfinementRoundTrips) {
    launch_spec s;
    s.readonly_rootfs = true;
    s.tmpfs = {{"/run", MS_NOSUID | MS_NODEV, "size=1m"}};
    s.shm_size = 16u << 20;
    s.sysctls = {{"kernel.shmmax", "1234"}};
    s.group_add = {"staff", "4242"};
    s.no_new_privs = true;
    auto back = launch_spec_from_json(to_json(s));
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_TRUE(back->readonly_rootfs);
    ASSERT_EQ(back->tmpfs.size(), 1u);
    EXPECT_EQ(back->tmpfs[0].target, "/run");
    EXPECT_EQ(back->tmpfs[0].flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV));
    EXPECT_EQ(back->tmpfs[0].data, "size=1m");
    EXPECT_EQ(back->shm_size, 16u << 20);
    EXPECT_EQ(back->sysctls, s.sysctls);
    EXPECT_EQ(back->group_add, s.group_add);
    EXPECT_TRUE(back->no_new_privs);
    // A spec without the fields (an older daemon's) keeps the defaults.
    auto old = launch_spec_from_json("{}");
    ASSERT_TRUE(old);
    EXPECT_EQ(old->shm_size, 64u << 20);
    EXPECT_FALSE(old->readonly_rootfs);
}

}  // namespace
}  // namespace berth::runtime
