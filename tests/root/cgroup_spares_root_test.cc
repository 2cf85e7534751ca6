// Spare cgroups against the real kernel (engine/cgroup/manager.cc): the
// cgroups of a container with Docker's defaults become a spare at removal
// (renamed to a fresh container id), their counters reset, and the next
// such container takes it, by rename or, claimed, under the spare's name;
// anything with a limit, other device rules or a task left is removed as
// before. Needs root and a v1 hierarchy (cgroup2 cannot rename).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/cgroup/manager.h"

namespace berth {
namespace {

class SparesRoot : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        parent = "berth-spares-test-" + std::to_string(::getpid());
        auto m = cgroup::manager::detect("/tmp/berth-spares-test", parent);
        ASSERT_TRUE(m) << m.err().message;
        mgr = std::move(*m);
        if (mgr->kind() == cgroup::layout::unified) GTEST_SKIP() << "no v1 hierarchy: cgroup2 cannot rename";
    }
    void TearDown() override {
        if (!mgr) return;
        mgr->drop_spares();
        for (auto& p : mgr->parent_dirs()) {
            auto names = list_directory(p);
            for (auto& n : names ? *names : std::vector<std::string>{})
                if (n.size() == 64 || starts_with(n, ".spare-")) ::rmdir((p + "/" + n).c_str());
            ::rmdir(p.c_str());
        }
    }
    static std::string id(char c) { return std::string(64, c); }
    // The v1 directory of the hierarchy with `controller`, or "".
    std::string v1_dir(const std::string& cid, const std::string& controller) {
        auto c = mgr->paths(cid);
        std::size_t n = 0;
        for (auto& h : mgr->hierarchies()) {
            if (h.controllers.empty()) continue;
            for (auto& one : split(h.controllers, ','))
                if (one == controller) return c.v1_dirs[n];
            ++n;
        }
        return {};
    }
    std::vector<std::string> spares_in_every_parent() {
        std::vector<std::string> out;
        auto parents = mgr->parent_dirs();
        for (std::size_t i = 0; i < parents.size(); ++i) {
            if (mgr->hierarchies()[i].controllers.empty()) continue;
            auto names = list_directory(parents[i]);
            // A spare's name is a fresh container id; the tests' own ids
            // repeat one character.
            for (auto& n : names ? *names : std::vector<std::string>{})
                if (n.size() == 64 && n.find_first_not_of("0123456789abcdef") == std::string::npos &&
                    n != std::string(64, n[0]))
                    out.push_back(parents[i] + "/" + n);
        }
        return out;
    }
    // Runs a child in every v1 directory of `cid` that spins for ~30 ms of
    // CPU time, and waits for it.
    void burn_in(const std::string& cid) {
        int sync[2];
        ASSERT_EQ(::pipe(sync), 0);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            char b;
            (void)!::read(sync[0], &b, 1);
            auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
            volatile unsigned long x = 0;
            while (std::chrono::steady_clock::now() < until) x = x + 1;
            ::_exit(0);
        }
        for (auto& procs : mgr->paths(cid).v1_procs()) EXPECT_TRUE(write_file(procs, std::to_string(pid))) << procs;
        (void)!::write(sync[1], "x", 1);
        int st = 0;
        ASSERT_EQ(::waitpid(pid, &st, 0), pid);
        ::close(sync[0]);
        ::close(sync[1]);
    }
    std::string parent;
    std::unique_ptr<cgroup::manager> mgr;
};

ino_t inode_of(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST_F(SparesRoot, ADefaultContainersCgroupsBecomeTheNextOnesWithCountersReset) {
    auto a = mgr->create(id('a'));
    ASSERT_TRUE(a) << a.err().message;
    std::string acct = v1_dir(id('a'), "cpuacct"), memory = v1_dir(id('a'), "memory");
    ino_t before = inode_of(a->v1_dirs.front());
    ASSERT_NE(before, 0u);
    burn_in(id('a'));
    if (!acct.empty()) {
        EXPECT_GT(std::stoull(trim(*read_file(acct + "/cpuacct.usage"))), 0u);
    }

    ASSERT_TRUE(mgr->remove(id('a')));
    for (auto& d : a->v1_dirs) EXPECT_FALSE(path_exists(d)) << d;
    if (!a->v2_dir.empty()) {  // cgroup2: removed, not kept
        EXPECT_FALSE(path_exists(a->v2_dir));
    }
    EXPECT_EQ(mgr->spare_count(), 1u);
    std::size_t v1 = a->v1_dirs.size();
    EXPECT_EQ(spares_in_every_parent().size(), v1);

    auto b = mgr->create(id('b'));
    ASSERT_TRUE(b) << b.err().message;
    EXPECT_EQ(mgr->spare_count(), 0u);
    EXPECT_TRUE(spares_in_every_parent().empty());
    EXPECT_EQ(inode_of(b->v1_dirs.front()), before) << "the spare, renamed into place";
    for (auto& d : b->v1_dirs) EXPECT_TRUE(path_exists(d + "/cgroup.procs")) << d;
    if (!b->v2_dir.empty()) {
        EXPECT_TRUE(path_exists(b->v2_dir + "/cgroup.procs"));
    }
    std::string b_acct = v1_dir(id('b'), "cpuacct"), b_memory = v1_dir(id('b'), "memory");
    if (!b_acct.empty()) {
        EXPECT_EQ(trim(*read_file(b_acct + "/cpuacct.usage")), "0");
    }
    if (!b_memory.empty()) {
        EXPECT_EQ(trim(*read_file(b_memory + "/memory.failcnt")), "0");
        EXPECT_EQ(cgroup::read_oom_kills(b_memory + "/memory.oom_control"), 0u);
        // The maximum restarts from the usage at the reset, which the child's
        // exit brought down to what it left in the page cache.
        EXPECT_LE(std::stoull(trim(*read_file(b_memory + "/memory.max_usage_in_bytes"))), 16ull << 20);
    }
    burn_in(id('b'));  // it works as any cgroup
    ASSERT_TRUE(mgr->remove(id('b')));
    EXPECT_EQ(mgr->spare_count(), 1u);
    mgr->drop_spares();
    EXPECT_EQ(mgr->spare_count(), 0u);
    EXPECT_TRUE(spares_in_every_parent().empty());
    // None after that (the daemon's exit).
    ASSERT_TRUE(mgr->create(id('k')));
    ASSERT_TRUE(mgr->remove(id('k')));
    EXPECT_EQ(mgr->spare_count(), 0u);
    EXPECT_TRUE(spares_in_every_parent().empty());
}

TEST_F(SparesRoot, LimitsDeviceRulesAndTasksLeftAreNeverKept) {
    cgroup::limits mem;
    mem.memory = 64 << 20;
    ASSERT_TRUE(mgr->create(id('c'), mem));
    ASSERT_TRUE(mgr->remove(id('c')));
    EXPECT_EQ(mgr->spare_count(), 0u);
    EXPECT_FALSE(path_exists(mgr->paths(id('c')).v1_dirs.front()));

    // Defaults at create, a limit since (docker update).
    ASSERT_TRUE(mgr->create(id('d')));
    cgroup::limits pids;
    pids.pids_limit = 50;
    ASSERT_TRUE(mgr->apply(id('d'), pids));
    ASSERT_TRUE(mgr->remove(id('d')));
    EXPECT_EQ(mgr->spare_count(), 0u);

    cgroup::device_access dev;
    dev.allow.push_back({'c', 1, 3, 7});
    ASSERT_TRUE(mgr->create(id('e'), {}, dev));
    ASSERT_TRUE(mgr->remove(id('e')));
    EXPECT_EQ(mgr->spare_count(), 0u);

    // One that could change its cgroups from inside (CAP_SYS_ADMIN).
    ASSERT_TRUE(mgr->create(id('j'), {}, {}, false));
    ASSERT_TRUE(mgr->remove(id('j')));
    EXPECT_EQ(mgr->spare_count(), 0u);

    // A task still in it: not kept (removed once the task has gone).
    ASSERT_TRUE(mgr->create(id('f')));
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    for (auto& procs : mgr->paths(id('f')).v1_procs()) EXPECT_TRUE(write_file(procs, std::to_string(pid)));
    EXPECT_FALSE(mgr->remove(id('f')));  // EBUSY, as before
    ::kill(pid, SIGKILL);
    ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
    ASSERT_TRUE(mgr->remove(id('f')));
    EXPECT_EQ(mgr->spare_count(), 0u);

    // A spare is only for a container with the defaults.
    ASSERT_TRUE(mgr->create(id('g')));
    ASSERT_TRUE(mgr->remove(id('g')));
    ASSERT_EQ(mgr->spare_count(), 1u);
    ASSERT_TRUE(mgr->create(id('h'), mem));
    EXPECT_EQ(mgr->spare_count(), 1u);
    ASSERT_TRUE(mgr->remove(id('h')));
}

TEST_F(SparesRoot, AClaimedSpareIsTheNextContainersCgroupUnderItsOwnName) {
    ASSERT_TRUE(mgr->create(id('l')));
    ino_t before = inode_of(mgr->paths(id('l')).v1_dirs.front());
    ASSERT_TRUE(mgr->remove(id('l')));
    ASSERT_EQ(mgr->spare_count(), 1u);
    // Named by a fresh container id, in every v1 hierarchy.
    auto spares = spares_in_every_parent();
    ASSERT_EQ(spares.size(), mgr->paths(id('l')).v1_dirs.size());
    std::string name = spares.front().substr(spares.front().rfind('/') + 1);
    EXPECT_EQ(name.size(), 64u);
    EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), std::string::npos) << name;

    // Claimed and given back unused (a create that failed before its cgroup).
    EXPECT_EQ(mgr->claim_spare(), name);
    EXPECT_EQ(mgr->spare_count(), 0u);
    EXPECT_TRUE(mgr->is_spare(name)) << "a claimed spare is no stale cgroup";
    EXPECT_EQ(mgr->claim_spare(), "");
    ASSERT_TRUE(mgr->remove(name));
    EXPECT_EQ(mgr->spare_count(), 1u);
    for (auto& d : mgr->paths(name).v1_dirs) EXPECT_TRUE(path_exists(d)) << d;

    // Claimed and created: the directories stand where they were, and the
    // cgroup works as any.
    ASSERT_EQ(mgr->claim_spare(), name);
    auto m = mgr->create(name);
    ASSERT_TRUE(m) << m.err().message;
    EXPECT_FALSE(mgr->is_spare(name));
    EXPECT_EQ(inode_of(m->v1_dirs.front()), before) << "the removed container's cgroup";
    if (!m->v2_dir.empty()) {
        EXPECT_TRUE(path_exists(m->v2_dir + "/cgroup.procs"));
    }
    burn_in(name);
    ASSERT_TRUE(mgr->remove(name));
    EXPECT_EQ(mgr->spare_count(), 1u);
    EXPECT_FALSE(path_exists(m->v1_dirs.front())) << "renamed to the next spare's name";
}

TEST_F(SparesRoot, ASpareKeptForItsDirectoryIsClaimedOnlyOncePublishedAndAdoptedWhole) {
    ASSERT_TRUE(mgr->create(id('m')));
    std::string kept;
    ASSERT_TRUE(mgr->remove(id('m'), &kept));
    ASSERT_EQ(kept.size(), 64u);
    EXPECT_TRUE(mgr->is_spare(kept)) << "the stale sweep leaves it";
    EXPECT_EQ(mgr->spare_count(), 0u);
    EXPECT_EQ(mgr->claim_spare(), "") << "not claimable before it is published";
    auto paths = mgr->paths(kept);
    for (auto& d : paths.v1_dirs) EXPECT_TRUE(path_exists(d)) << d;
    // cgroup2's directory is made when the spare is kept (hybrid hosts).
    if (!paths.v2_dir.empty()) {
        EXPECT_TRUE(path_exists(paths.v2_dir + "/cgroup.procs"));
        EXPECT_FALSE(path_exists(mgr->paths(id('m')).v2_dir));
    }
    mgr->publish_spare(kept);
    EXPECT_EQ(mgr->spare_count(), 1u);
    ASSERT_EQ(mgr->claim_spare(), kept);
    auto adopted = mgr->adopt(kept);
    ASSERT_TRUE(adopted);
    EXPECT_EQ(adopted->v1_dirs, paths.v1_dirs);
    EXPECT_FALSE(mgr->is_spare(kept));
    EXPECT_FALSE(mgr->adopt(kept)) << "adopted once";
    burn_in(kept);  // it works as any cgroup
    // Adopted, it is a container's with the defaults: kept again at removal.
    std::string again;
    ASSERT_TRUE(mgr->remove(kept, &again));
    mgr->publish_spare(again);
    EXPECT_EQ(mgr->spare_count(), 1u);
    for (auto& d : paths.v1_dirs) EXPECT_FALSE(path_exists(d)) << d;
    if (!paths.v2_dir.empty()) {
        EXPECT_FALSE(path_exists(paths.v2_dir));
    }
    // A spare renamed into place for a container's own id leaves no
    // cgroup2 directory of its name behind.
    auto spare = spares_in_every_parent();
    ASSERT_FALSE(spare.empty());
    std::string name = spare.front().substr(spare.front().rfind('/') + 1);
    if (!mgr->paths(name).v2_dir.empty()) {
        EXPECT_TRUE(path_exists(mgr->paths(name).v2_dir));
    }
    ASSERT_TRUE(mgr->create(id('n')));
    EXPECT_EQ(mgr->spare_count(), 0u);
    if (!mgr->paths(name).v2_dir.empty()) {
        EXPECT_FALSE(path_exists(mgr->paths(name).v2_dir));
    }
    ASSERT_TRUE(mgr->remove(id('n')));
    mgr->drop_spares();
    for (auto& p : mgr->parent_dirs()) {
        auto names = list_directory(p);
        for (auto& n : names ? *names : std::vector<std::string>{}) EXPECT_NE(n.size(), 64u) << p << "/" << n;
    }
}

TEST_F(SparesRoot, ANewManagerLeavesWhatMayBeAContainersCgroup) {
    // A crashed daemon's spares look like its containers' cgroups (which
    // live on: live-restore). The engine's sweep of stale cgroups, which
    // knows the containers, removes them (engine::sweep_stale_cgroups).
    ASSERT_TRUE(mgr->create(id('i')));
    ASSERT_TRUE(mgr->remove(id('i')));
    ASSERT_EQ(mgr->spare_count(), 1u);
    auto spares = spares_in_every_parent();
    ASSERT_FALSE(spares.empty());
    auto again = cgroup::manager::detect("/tmp/berth-spares-test", parent);
    ASSERT_TRUE(again) << again.err().message;
    EXPECT_EQ((*again)->spare_count(), 0u);
    std::string name = spares.front().substr(spares.front().rfind('/') + 1);
    EXPECT_FALSE((*again)->is_spare(name));
    for (auto& d : spares) EXPECT_TRUE(path_exists(d)) << d;
}

}  // namespace
}  // namespace berth
