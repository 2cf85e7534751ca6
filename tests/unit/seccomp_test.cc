// Seccomp profiles compiled with libseccomp and loaded for real in a forked
// child (with no_new_privs, so no privilege is needed).
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>

#include "engine/runtime/spec.h"
#include "engine/seccomp.h"

using namespace berth;

namespace {

// Runs probe in a child under the program; returns the child's exit code
// (the errno the probe saw, 0 for success), or -1 if it died.
int errno_under(const std::string& program, const std::function<int()>& probe) {
    pid_t pid = ::fork();
    if (pid == 0) {
        sock_fprog prog{};
        prog.len = static_cast<unsigned short>(program.size() / sizeof(sock_filter));
        std::vector<sock_filter> f(prog.len);
        std::memcpy(f.data(), program.data(), program.size());
        prog.filter = f.data();
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(200);
        if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) ::_exit(201);
        ::_exit(probe());
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int result_errno(long rc) { return rc < 0 ? errno : 0; }

// errno_under with several programs stacked, loaded in order.
int errno_under_all(const std::vector<std::string>& programs, const std::function<int()>& probe) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(200);
        for (const auto& program : programs) {
            sock_fprog prog{};
            prog.len = static_cast<unsigned short>(program.size() / sizeof(sock_filter));
            std::vector<sock_filter> f(prog.len);
            std::memcpy(f.data(), program.data(), program.size());
            prog.filter = f.data();
            if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) ::_exit(201);
        }
        ::_exit(probe());
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string default_program(const std::vector<std::string>& caps) {
    auto c = compile_seccomp(default_seccomp_profile(), caps);
    EXPECT_TRUE(c) << (c ? "" : c.err().message);
    return c ? c->program : std::string();
}

}  // namespace

TEST(Seccomp, DefaultProfileCompilesWithinTheKernelLimit) {
    auto c = compile_seccomp(default_seccomp_profile(), runtime::default_capabilities());
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->program.size() % sizeof(sock_filter), 0u);
    EXPECT_GT(c->program.size() / sizeof(sock_filter), 100u);
    EXPECT_LE(c->program.size() / sizeof(sock_filter), 4096u);
#if defined(__x86_64__)
    EXPECT_GE(c->highest_syscall, 435);  // clone3 at least
#endif
}

TEST(Seccomp, DefaultProfileRefusesWhatDockerRefuses) {
    auto program = default_program(runtime::default_capabilities());
    ASSERT_FALSE(program.empty());
    EXPECT_EQ(errno_under(program, [] { return result_errno(::getpid() > 0 ? 0 : -1); }), 0);
    EXPECT_EQ(errno_under(program, [] { return result_errno(::unshare(CLONE_NEWUSER)); }), EPERM);
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_keyctl, 0, 0, 0, 0, 0)); }), EPERM);
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_bpf, 0, nullptr, 0)); }), EPERM);
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_kexec_load, 0, 0, nullptr, 0)); }), EPERM);
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_mount, "none", "/", "tmpfs", 0, nullptr)); }),
              EPERM);
    // clone with a namespace flag is refused; clone3 answers ENOSYS so that
    // libcs fall back to clone.
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0)); }),
              EPERM);
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(435 /* clone3 */, nullptr, 0)); }), ENOSYS);
    // io_uring: out since Docker 25 (a large kernel attack surface).
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_io_uring_setup, 1, nullptr)); }), EPERM);
    // personality: only the listed values.
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_personality, 0xffffffff)); }), 0);
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(SYS_personality, 0x0040000)); }), EPERM);
    // Above every number the profile knows: ENOSYS, not EPERM.
    EXPECT_EQ(errno_under(program, [] { return result_errno(::syscall(1000)); }), ENOSYS);
    // Ordinary work goes on.
    EXPECT_EQ(errno_under(program, [] {
                  char dir[] = "/tmp/berth-seccomp-XXXXXX";
                  if (!::mkdtemp(dir)) return errno;
                  return result_errno(::rmdir(dir));
              }),
              0);
}

TEST(Seccomp, CapabilityRulesFollowTheCapabilities) {
    auto caps = runtime::default_capabilities();
    caps.push_back("CAP_SYS_ADMIN");
    auto program = default_program(caps);
    ASSERT_FALSE(program.empty());
    // With CAP_SYS_ADMIN the filter lets unshare through (the kernel decides).
    EXPECT_NE(errno_under(program, [] { return result_errno(::unshare(CLONE_NEWUSER)); }), EPERM);
    EXPECT_NE(errno_under(program, [] { return result_errno(::syscall(435, nullptr, 0)); }), ENOSYS);
}

TEST(Seccomp, CustomProfileDenyingMkdir) {
    const char* profile = R"({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["no_such_syscall_name"], "action": "SCMP_ACT_ERRNO"}]})";
    auto c = compile_seccomp(profile, {});
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(c->skipped, std::vector<std::string>{"no_such_syscall_name"});
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::mkdir("/tmp/berth-seccomp-denied", 0700)); }),
              EPERM);
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::getppid() > 0 ? 0 : -1); }), 0);
    // A denylist has no ENOSYS stub: what it does not name passes, new or not.
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::syscall(SYS_pidfd_open, ::getpid(), 0)); }), 0);
}

TEST(Seccomp, SmallAllowlistAnswersEnosysAboveItsHighestSyscall) {
    const char* profile = R"({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write", "exit", "exit_group", "getpid", "getppid", "close"],
                      "action": "SCMP_ACT_ALLOW"}]})";
    auto c = compile_seccomp(profile, {});
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::getppid() > 0 ? 0 : -1); }), 0);
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::syscall(SYS_dup, 0)); }), EPERM);
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::syscall(SYS_pidfd_open, 1, 0)); }), ENOSYS);
}

TEST(Seccomp, ErrnoRetAndArgumentConditions) {
    const char* profile = R"({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["dup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                      "args": [{"index": 0, "value": 1000, "op": "SCMP_CMP_EQ"}]}]})";
    auto c = compile_seccomp(profile, {});
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::syscall(SYS_dup, 1000)); }), EINVAL);
    EXPECT_EQ(errno_under(c->program, [] { return result_errno(::syscall(SYS_dup, 0)); }), 0);
}

TEST(Seccomp, ArchMapEntriesOfUnknownArchitecturesAreNotTheNativeOne) {
    // Docker's current default.json lists architectures this libseccomp may
    // not know (loongarch64): only the native entry has to resolve.
    const char* profile = R"({"defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_LOONGARCH64", "subArchitectures": []},
                    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})";
    auto c = compile_seccomp(profile, {});
    EXPECT_TRUE(c) << c.err().message;
}

TEST(Seccomp, BadProfilesAreRefusedWithTheReason) {
    struct {
        const char* profile;
        const char* needle;
    } cases[] = {
        {"not json", "invalid JSON"},
        {R"({"syscalls": []})", "defaultAction is missing"},
        {R"({"defaultAction": "SCMP_ACT_MAYBE"})", "unknown action SCMP_ACT_MAYBE"},
        {R"({"defaultAction": "SCMP_ACT_NOTIFY"})", "SCMP_ACT_NOTIFY"},
        {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]})",
         "unknown operator SCMP_CMP_ALMOST"},
        {R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
            "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})",
         "'architectures' and 'archMap'"},
        {R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]})", "unknown architecture"},
        {R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})", "names no syscall"},
        {R"({"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]})", "flags are not supported"},
    };
    for (const auto& c : cases) {
        auto s = check_seccomp_profile(c.profile);
        ASSERT_FALSE(s) << c.profile;
        EXPECT_EQ(s.err().code, errc::invalid_argument);
        EXPECT_NE(s.err().message.find(c.needle), std::string::npos) << s.err().message;
    }
    EXPECT_TRUE(check_seccomp_profile(default_seccomp_profile()));
}

TEST(Seccomp, CacheKeyedByProfileAndCapabilitySetAndCompiledOnce) {
    auto a = seccomp_cache::key_of(default_seccomp_profile(), {"CAP_CHOWN", "CAP_KILL"});
    EXPECT_EQ(a, seccomp_cache::key_of(default_seccomp_profile(), {"CAP_KILL", "CAP_CHOWN"}));
    EXPECT_NE(a, seccomp_cache::key_of(default_seccomp_profile(), {"CAP_KILL"}));
    EXPECT_NE(a, seccomp_cache::key_of(R"({"defaultAction":"SCMP_ACT_ALLOW"})", {"CAP_CHOWN", "CAP_KILL"}));

    auto dir = std::filesystem::temp_directory_path() / ("berth-seccomp-cache-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    {
        seccomp_cache cache(dir.string());
        EXPECT_EQ(cache.find(a), nullptr);
        auto p1 = cache.load(a, default_seccomp_profile(), {"CAP_CHOWN", "CAP_KILL"});
        ASSERT_TRUE(p1) << p1.err().message;
        auto p2 = cache.load(a, default_seccomp_profile(), {"CAP_CHOWN", "CAP_KILL"});
        EXPECT_EQ(p1->get(), p2->get());
        EXPECT_EQ(cache.find(a).get(), p1->get());
        EXPECT_EQ(cache.compiles(), 1u);
        EXPECT_TRUE(std::filesystem::exists(dir / (a + ".bpf")));
    }
    {
        seccomp_cache again(dir.string());  // a daemon restart: read back, not compiled
        auto p = again.load(a, default_seccomp_profile(), {"CAP_CHOWN", "CAP_KILL"});
        ASSERT_TRUE(p);
        EXPECT_EQ(again.compiles(), 0u);
        EXPECT_FALSE((*p)->empty());
    }
    std::filesystem::remove_all(dir);
}

TEST(Seccomp, PooledSandboxMaySetnsOnlyUntilItsRefusalIsLoaded) {
    const auto caps = runtime::default_capabilities();
    auto split = netns_entry_profiles_of(default_seccomp_profile(), caps);
    ASSERT_TRUE(split) << split.err().message;
    ASSERT_TRUE(split->has_value());
    ASSERT_FALSE((*split)->refusal.empty());
    auto parked = compile_seccomp((*split)->parked, caps);
    ASSERT_TRUE(parked) << parked.err().message;
    auto refusal = compile_seccomp((*split)->refusal, caps);
    ASSERT_TRUE(refusal) << refusal.err().message;
    EXPECT_LT(refusal->program.size() / sizeof(sock_filter), 64u);  // cheap to load at a claim
    auto bad_setns = [] { return result_errno(::setns(-1, CLONE_NEWNET)); };
    // Parked: setns reaches the kernel (a bad descriptor), the rest as before.
    EXPECT_EQ(errno_under(parked->program, bad_setns), EBADF);
    EXPECT_EQ(errno_under(parked->program, [] { return result_errno(::unshare(CLONE_NEWUSER)); }), EPERM);
    // Claimed: the profile's answer again, everything else unchanged.
    const std::vector<std::string> both{parked->program, refusal->program};
    EXPECT_EQ(errno_under_all(both, bad_setns), EPERM);
    EXPECT_EQ(errno_under_all({default_program(caps)}, bad_setns), EPERM);  // as a cold container
    EXPECT_EQ(errno_under_all(both, [] { return result_errno(::getpid() > 0 ? 0 : -1); }), 0);
    EXPECT_EQ(errno_under_all(both, [] { return result_errno(::unshare(CLONE_NEWUSER)); }), EPERM);
    EXPECT_EQ(errno_under_all(both, [] { return result_errno(::syscall(435 /* clone3 */, nullptr, 0)); }), ENOSYS);
}

TEST(Seccomp, NetnsEntryWhereTheProfileDecidesSetnsItself) {
    // With CAP_SYS_ADMIN the default profile has a rule of its own for setns.
    auto caps = runtime::default_capabilities();
    caps.push_back("CAP_SYS_ADMIN");
    auto admin = netns_entry_profiles_of(default_seccomp_profile(), caps);
    ASSERT_TRUE(admin) << admin.err().message;
    EXPECT_FALSE(admin->has_value());
    // A profile that lets everything through needs no refusal.
    auto open = netns_entry_profiles_of(R"({"defaultAction": "SCMP_ACT_ALLOW"})", runtime::default_capabilities());
    ASSERT_TRUE(open) << open.err().message;
    ASSERT_TRUE(open->has_value());
    EXPECT_TRUE((*open)->refusal.empty());
    EXPECT_FALSE(netns_entry_profiles_of("not json", caps));
    // An allowlist without seccomp or sendmsg, or one whose syscalls are all
    // below setns (its ENOSYS threshold would move): the sandbox waits inside.
    auto small = netns_entry_profiles_of(
        R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]})",
        runtime::default_capabilities());
    ASSERT_TRUE(small) << small.err().message;
    EXPECT_FALSE(small->has_value());
    auto no_seccomp = netns_entry_profiles_of(
        R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["sendmsg", "clone3"], "action": "SCMP_ACT_ALLOW"}]})",
        runtime::default_capabilities());
    ASSERT_TRUE(no_seccomp) << no_seccomp.err().message;
    EXPECT_FALSE(no_seccomp->has_value());
}
