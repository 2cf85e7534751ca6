#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "engine/runtime/spawn.h"
#include "engine/runtime/spec.h"
#include "engine/runtime/user.h"

namespace berth::runtime {
namespace {

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(EffectiveCapabilities, NoChangesGiveDockerDefaults) {
    auto caps = effective_capabilities({}, {});
    ASSERT_TRUE(caps) << caps.err().message;
    EXPECT_EQ(*caps, default_capabilities());
    EXPECT_EQ(caps->size(), 14u);
}

TEST(EffectiveCapabilities, AddAndDropAcceptAnySpelling) {
    auto caps = effective_capabilities({"net_admin", "CAP_SYS_ADMIN", "Sys_Ptrace"}, {"chown", "cap_kill"});
    ASSERT_TRUE(caps) << caps.err().message;
    EXPECT_TRUE(has(*caps, "CAP_NET_ADMIN"));
    EXPECT_TRUE(has(*caps, "CAP_SYS_ADMIN"));
    EXPECT_TRUE(has(*caps, "CAP_SYS_PTRACE"));
    EXPECT_FALSE(has(*caps, "CAP_CHOWN"));
    EXPECT_FALSE(has(*caps, "CAP_KILL"));
    EXPECT_TRUE(has(*caps, "CAP_MKNOD"));
    EXPECT_EQ(caps->size(), 14u + 3 - 2);
}

TEST(EffectiveCapabilities, AddingADefaultDoesNotDuplicateIt) {
    auto caps = effective_capabilities({"CHOWN"}, {});
    ASSERT_TRUE(caps);
    EXPECT_EQ(std::count(caps->begin(), caps->end(), "CAP_CHOWN"), 1);
    EXPECT_EQ(caps->size(), 14u);
}

TEST(EffectiveCapabilities, AddAllThenDrop) {
    // "ALL" is this process's bounding set (root may lack some capabilities).
    auto held = privileged_capabilities();
    if (!has(held, "CAP_KILL")) GTEST_SKIP() << "CAP_KILL is not in this process's bounding set";
    auto caps = effective_capabilities({"all"}, {"kill"});
    ASSERT_TRUE(caps) << caps.err().message;
    EXPECT_EQ(caps->size(), held.size() - 1);
    EXPECT_FALSE(has(*caps, "CAP_KILL"));
    for (const auto& c : *caps) EXPECT_TRUE(has(held, c)) << c;
}

TEST(EffectiveCapabilities, DropAllKeepsOnlyTheAdded) {
    auto caps = effective_capabilities({"chown", "CAP_NET_BIND_SERVICE"}, {"ALL"});
    ASSERT_TRUE(caps) << caps.err().message;
    EXPECT_EQ(*caps, (std::vector<std::string>{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"}));
    auto none = effective_capabilities({}, {"all"});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST(EffectiveCapabilities, UnknownNameIsInvalidArgument) {
    auto caps = effective_capabilities({"foo"}, {});
    ASSERT_FALSE(caps);
    EXPECT_EQ(caps.err().code, errc::invalid_argument);
    EXPECT_EQ(caps.err().message, "unknown capability: \"CAP_FOO\"");
    auto dropped = effective_capabilities({}, {"CAP_ALL"});
    ASSERT_FALSE(dropped);
    EXPECT_EQ(dropped.err().message, "unknown capability: \"CAP_ALL\"");
}

TEST(AllCapabilities, FollowsTheKernel) {
    std::ifstream f("/proc/sys/kernel/cap_last_cap");
    int last = -1;
    if (!(f >> last)) GTEST_SKIP() << "no /proc/sys/kernel/cap_last_cap";
    auto all = all_capabilities();
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.front(), "CAP_CHOWN");
    EXPECT_LE(all.size(), static_cast<size_t>(last + 1));
    if (last <= 40) {
        EXPECT_EQ(all.size(), static_cast<size_t>(last + 1));
    }
    EXPECT_TRUE(has(all, "CAP_SYS_ADMIN"));
}

TEST(Defaults, MatchDocker) {
    EXPECT_EQ(default_masked_paths().size(), 11u);
    EXPECT_TRUE(has(default_masked_paths(), "/proc/kcore"));
    EXPECT_TRUE(has(default_masked_paths(), "/sys/firmware"));
    EXPECT_EQ(default_readonly_paths(),
              (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
}

launch_spec full_spec() {
    launch_spec s;
    s.id = std::string(64, 'a');
    s.lower_dirs = {"/var/lib/berth/layers/init", "/var/lib/berth/layers/sha256:ab\"cd"};
    s.upper_dir = "/u";
    s.work_dir = "/w";
    s.rootfs_dir = "/r";
    s.new_network = false;
    s.masked_paths = default_masked_paths();
    s.readonly_paths = default_readonly_paths();
    s.cgroup2_dir = "/sys/fs/cgroup/berth/x";
    s.cgroup_v1_procs = {"/sys/fs/cgroup/memory/berth/x/cgroup.procs"};
    s.cgroup_v1_memory_procs = "/sys/fs/cgroup/memory/berth/x/cgroup.procs";
    s.hostname = "host";
    s.args = {"sh", "-c", "echo \"hi\\n\" \u00e9"};
    s.env = {"A=1", "PATH=/bin"};
    s.cwd = "/srv";
    s.user = "app:staff";
    s.capabilities = {"CAP_CHOWN"};
    s.no_new_privs = true;
    s.rlimits = {{RLIMIT_NOFILE, 1024, 4096}, {RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY}};
    return s;
}

TEST(LaunchSpecJson, RoundTrip) {
    auto s = full_spec();
    auto back = launch_spec_from_json(to_json(s));
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(back->id, s.id);
    EXPECT_EQ(back->lower_dirs, s.lower_dirs);
    EXPECT_EQ(back->upper_dir, s.upper_dir);
    EXPECT_EQ(back->work_dir, s.work_dir);
    EXPECT_EQ(back->rootfs_dir, s.rootfs_dir);
    EXPECT_EQ(back->new_network, s.new_network);
    EXPECT_EQ(back->masked_paths, s.masked_paths);
    EXPECT_EQ(back->readonly_paths, s.readonly_paths);
    EXPECT_EQ(back->cgroup2_dir, s.cgroup2_dir);
    EXPECT_EQ(back->cgroup_v1_procs, s.cgroup_v1_procs);
    EXPECT_EQ(back->cgroup_v1_memory_procs, s.cgroup_v1_memory_procs);
    EXPECT_EQ(back->hostname, s.hostname);
    EXPECT_EQ(back->args, s.args);
    EXPECT_EQ(back->env, s.env);
    EXPECT_EQ(back->cwd, s.cwd);
    EXPECT_EQ(back->user, s.user);
    EXPECT_EQ(back->capabilities, s.capabilities);
    EXPECT_EQ(back->no_new_privs, s.no_new_privs);
    ASSERT_EQ(back->rlimits.size(), 2u);
    EXPECT_EQ(back->rlimits[0].resource, RLIMIT_NOFILE);
    EXPECT_EQ(back->rlimits[0].soft, 1024u);
    EXPECT_EQ(back->rlimits[0].hard, 4096u);
    EXPECT_EQ(back->rlimits[1].soft, RLIM_INFINITY);
    EXPECT_EQ(back->rlimits[1].hard, RLIM_INFINITY);
    EXPECT_EQ(to_json(*back), to_json(s));
}

TEST(LaunchSpecJson, ASavedSeccompProgramTravelsAsItsFileName) {
    char dir[] = "/tmp/berth-spec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string file = std::string(dir) + "/k.bpf", bad = std::string(dir) + "/bad.bpf";
    std::string program(16, '\0');  // two sock_filter instructions
    program[8] = 6;                   // BPF_RET
    std::ofstream(file) << program;
    std::ofstream(bad) << "odd";
    launch_spec s;
    s.seccomp_program = bpf_program(program);
    s.seccomp_file = file;
    std::string text = to_json(s);
    // {"file": path} where an older zygote wants a base64 string: it refuses
    // the start rather than running the container unconfined.
    auto v = boost::json::parse(text);
    ASSERT_TRUE(v.at("seccomp").is_object());
    EXPECT_EQ(v.at("seccomp").at("file").as_string(), file);
    auto back = launch_spec_from_json(text);
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(back->seccomp_program.bytes(), program);
    EXPECT_EQ(back->seccomp_file, file);
    // Read once and shared by every spec that names the file, never copied
    // (a copy in the zygote is pages written after each clone3).
    auto again = launch_spec_from_json(text);
    ASSERT_TRUE(again);
    EXPECT_EQ(&again->seccomp_program.bytes(), &back->seccomp_program.bytes());
    // Without a file the program goes inline, as before.
    s.seccomp_file.clear();
    back = launch_spec_from_json(to_json(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->seccomp_program.bytes(), program);
    // A file that is not a program is an error, not an unconfined start.
    s.seccomp_file = bad;
    EXPECT_FALSE(launch_spec_from_json(to_json(s)));
    s.seccomp_file = std::string(dir) + "/missing.bpf";
    EXPECT_FALSE(launch_spec_from_json(to_json(s)));
    std::remove(file.c_str());
    std::remove(bad.c_str());
    ::rmdir(dir);
}

TEST(LaunchSpecJson, MissingFieldsKeepDefaults) {
    auto s = launch_spec_from_json(R"({"id":"x","args":["true"]})");
    ASSERT_TRUE(s) << s.err().message;
    EXPECT_EQ(s->cwd, "/");
    EXPECT_TRUE(s->new_network);
    EXPECT_EQ(s->args, std::vector<std::string>{"true"});
}

TEST(LaunchSpecJson, BadInputIsInvalidArgument) {
    auto garbage = launch_spec_from_json("{");
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.err().code, errc::invalid_argument);
    auto not_object = launch_spec_from_json("[1]");
    ASSERT_FALSE(not_object);
    EXPECT_EQ(not_object.err().code, errc::invalid_argument);
    auto wrong_type = launch_spec_from_json(R"({"args":"sh"})");
    ASSERT_FALSE(wrong_type);
    EXPECT_EQ(wrong_type.err().message, "parse launch spec: field \"args\": expected an array of strings");
    auto bad_rlimit = launch_spec_from_json(R"({"rlimits":[{"resource":7,"soft":-1,"hard":1}]})");
    ASSERT_FALSE(bad_rlimit);
    EXPECT_EQ(bad_rlimit.err().code, errc::invalid_argument);
}

const std::string k_passwd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# comment\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "nohome:x:1001:1001::\n";
const std::string k_group =
    "root:x:0:\n"
    "audio:x:29:app,other\n"
    "video:x:44: app \n"
    "app:x:1000:\n"
    "staff:x:50:\n";

TEST(ResolveUser, EmptyIsRoot) {
    auto u = resolve_user("", k_passwd, k_group);
    ASSERT_TRUE(u) << u.err().message;
    EXPECT_EQ(u->uid, 0u);
    EXPECT_EQ(u->gid, 0u);
    EXPECT_EQ(u->home, "/root");
    EXPECT_TRUE(u->groups.empty());
}

TEST(ResolveUser, NameGivesSupplementaryGroups) {
    auto u = resolve_user("app", k_passwd, k_group);
    ASSERT_TRUE(u) << u.err().message;
    EXPECT_EQ(u->uid, 1000u);
    EXPECT_EQ(u->gid, 1000u);
    EXPECT_EQ(u->home, "/home/app");
    EXPECT_EQ(u->groups, (std::vector<gid_t>{29, 44}));
}

TEST(ResolveUser, NumericUidMatchesEntryOrStandsAlone) {
    auto known = resolve_user("1000", k_passwd, k_group);
    ASSERT_TRUE(known);
    EXPECT_EQ(known->home, "/home/app");
    EXPECT_EQ(known->gid, 1000u);
    auto unknown = resolve_user("4242", k_passwd, k_group);
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->uid, 4242u);
    EXPECT_EQ(unknown->gid, 0u);
    EXPECT_EQ(unknown->home, "/");
    auto nofile = resolve_user("4242:4343", std::nullopt, std::nullopt);
    ASSERT_TRUE(nofile);
    EXPECT_EQ(nofile->gid, 4343u);
}

TEST(ResolveUser, ExplicitGroupReplacesSupplementaryGroups) {
    auto u = resolve_user("app:staff", k_passwd, k_group);
    ASSERT_TRUE(u) << u.err().message;
    EXPECT_EQ(u->gid, 50u);
    EXPECT_TRUE(u->groups.empty());
    auto n = resolve_user("app:77", k_passwd, k_group);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->gid, 77u);
}

TEST(ResolveUser, UnknownNamesAreErrors) {
    auto u = resolve_user("nosuch", k_passwd, k_group);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.err().message, "unable to find user nosuch: no matching entries in passwd file");
    auto nofile = resolve_user("app", std::nullopt, std::nullopt);
    ASSERT_FALSE(nofile);
    EXPECT_EQ(nofile.err().message, "unable to find user app: no matching entries in passwd file");
    auto g = resolve_user("app:nogroup", k_passwd, k_group);
    ASSERT_FALSE(g);
    EXPECT_EQ(g.err().message, "unable to find group nogroup: no matching entries in group file");
    EXPECT_FALSE(resolve_user("99999999999", k_passwd, k_group));
}

TEST(ResolveUser, EmptyHomeFallsBackToRoot) {
    auto u = resolve_user("nohome", k_passwd, k_group);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->home, "/");
}

}  // namespace
TEST(WarmPoolClaim, ProcessHalfReplacesOnlyProcessFields) {
    launch_spec sandbox;
    sandbox.id = "sandbox";
    sandbox.lower_dirs = {"/l"};
    sandbox.upper_dir = "/u";
    sandbox.masked_paths = {"/proc/kcore"};
    sandbox.seccomp_preloaded = true;
    sandbox.hostname = "abc";
    launch_spec process;
    process.args = {"sh", "-c", "true"};
    process.env = {"A=1"};
    process.cwd = "/tmp";
    process.user = "nobody";
    process.capabilities = {"CAP_CHOWN"};
    process.no_new_privs = true;
    process.rlimits = {{RLIMIT_NOFILE, 10, 20}};
    process.group_add = {"5"};
    process.lower_dirs = {"/ignored"};
    take_process_half(sandbox, std::move(process));
    EXPECT_EQ(sandbox.args, (std::vector<std::string>{"sh", "-c", "true"}));
    EXPECT_EQ(sandbox.env, std::vector<std::string>{"A=1"});
    EXPECT_EQ(sandbox.cwd, "/tmp");
    EXPECT_EQ(sandbox.user, "nobody");
    EXPECT_EQ(sandbox.capabilities, std::vector<std::string>{"CAP_CHOWN"});
    EXPECT_TRUE(sandbox.no_new_privs);
    ASSERT_EQ(sandbox.rlimits.size(), 1u);
    EXPECT_EQ(sandbox.rlimits[0].hard, 20u);
    EXPECT_EQ(sandbox.group_add, std::vector<std::string>{"5"});
    EXPECT_EQ(sandbox.hostname, "");  // a claim of a preloaded sandbox carries none
    EXPECT_EQ(sandbox.lower_dirs, std::vector<std::string>{"/l"});
    EXPECT_EQ(sandbox.upper_dir, "/u");
    EXPECT_EQ(sandbox.masked_paths, std::vector<std::string>{"/proc/kcore"});
    EXPECT_TRUE(sandbox.seccomp_preloaded);
}

TEST(WarmPoolClaim, SeccompPreloadedSurvivesJson) {
    launch_spec s;
    s.seccomp_preloaded = true;
    auto back = launch_spec_from_json(to_json(s));
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_TRUE(back->seccomp_preloaded);
    auto plain = launch_spec_from_json(to_json(launch_spec{}));
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->seccomp_preloaded);
}

TEST(WarmPoolClaim, OutsideNetnsAndItsRefusalSurviveJson) {
    launch_spec s;
    s.parks_outside_netns = true;
    s.seccomp_after_netns = bpf_program(std::string("\x06\x00\x00\x00\x00\x00\xff\x7f", 8));
    auto back = launch_spec_from_json(to_json(s));
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_TRUE(back->parks_outside_netns);
    EXPECT_EQ(back->seccomp_after_netns, s.seccomp_after_netns);
    auto plain = launch_spec_from_json(to_json(launch_spec{}));
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->parks_outside_netns);
    EXPECT_TRUE(plain->seccomp_after_netns.empty());
    // The parked program under a key an older zygote refuses (it would
    // load it and never the refusal), and only with parks_outside_netns.
    s.seccomp_program = bpf_program(std::string(8, '\x06'));
    auto text = to_json(s);
    EXPECT_EQ(text.find("\"seccomp\":\""), std::string::npos) << text;
    auto parked = launch_spec_from_json(text);
    ASSERT_TRUE(parked) << parked.err().message;
    EXPECT_EQ(parked->seccomp_program, s.seccomp_program);
    auto doc = boost::json::parse(text).as_object();
    doc.erase("parks_outside_netns");
    EXPECT_FALSE(launch_spec_from_json(boost::json::serialize(doc)));
}

TEST(WarmPoolClaim, StdioLayoutMatchesTheZygotes) {
    auto piped = stdio_from_fds({7, 8, 9}, true, false, 0, 0);
    EXPECT_EQ(piped.in, 7);
    EXPECT_EQ(piped.out, 8);
    EXPECT_EQ(piped.err, 9);
    EXPECT_EQ(piped.tty_socket, -1);
    auto no_stdin = stdio_from_fds({8, 9}, false, false, 0, 0);
    EXPECT_EQ(no_stdin.in, -1);
    EXPECT_EQ(no_stdin.out, 8);
    EXPECT_EQ(no_stdin.err, 9);
    // With a terminal, stdin flows through the pty: one socket only.
    auto tty = stdio_from_fds({5}, true, true, 24, 80);
    EXPECT_EQ(tty.tty_socket, 5);
    EXPECT_EQ(tty.in, -1);
    EXPECT_EQ(tty.rows, 24);
    EXPECT_EQ(tty.cols, 80);
}

}  // namespace berth::runtime
