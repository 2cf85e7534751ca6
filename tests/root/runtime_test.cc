// The runtime against the real kernel: a bare busybox rootfs, real overlay,
// namespaces, cgroups (v2 and v1) and a device program; a static probe
// reports from inside what the container got. Needs root.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <gtest/gtest.h>
#include <map>
#include <set>

#include "base/sys.h"
#include "base/util.h"
#include "engine/cgroup/device_filter.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/spec.h"

#ifndef BERTH_PROBE
#error "BERTH_PROBE must name the static probe binary"
#endif

namespace berth::runtime {
namespace {

constexpr const char* k_docker_default_caps = "00000000a80425fb";
constexpr int k_timeout_ms = 30000;

using facts = std::map<std::string, std::string>;

facts parse_facts(const std::string& out) {
    facts f;
    for (const auto& line : split(out, '\n')) {
        auto eq = line.find('=');
        if (eq != std::string::npos) f[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return f;
}

std::string own_ns(const std::string& name) {
    char buf[256];
    ssize_t n = ::readlink(("/proc/self/ns/" + name).c_str(), buf, sizeof buf - 1);
    if (n < 0) return {};
    return std::string(buf, static_cast<size_t>(n));
}

struct cgroup_mount {
    std::string point, root;
    std::set<std::string> options;  // controllers and name=… for v1
};

std::vector<cgroup_mount> cgroup_mounts(const std::string& fstype) {
    std::vector<cgroup_mount> out;
    auto text = read_file("/proc/self/mountinfo");
    if (!text) return out;
    for (const auto& line : split(*text, '\n')) {
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto left = split(line.substr(0, dash), ' ');
        auto right = split(line.substr(dash + 3), ' ');
        if (left.size() < 5 || right.size() < 3 || right[0] != fstype) continue;
        cgroup_mount m{left[4], left[3], {}};
        for (auto& o : split(right[2], ',')) m.options.insert(o);
        out.push_back(std::move(m));
    }
    return out;
}

// Per-test cgroups under the test's own: one in the unified hierarchy (if
// mounted) and one in every v1 hierarchy, removed at the end.
class test_cgroups {
public:
    status create(const std::string& name) {
        auto self = read_file("/proc/self/cgroup");
        if (!self) return self.err();
        auto v2_mounts = cgroup_mounts("cgroup2");
        auto v1_mounts = cgroup_mounts("cgroup");
        for (const auto& line : split(*self, '\n')) {
            auto f = split(line, ':');
            if (f.size() < 3) continue;
            std::string path = f[2];
            for (size_t i = 3; i < f.size(); ++i) path += ":" + f[i];
            const cgroup_mount* m = nullptr;
            if (f[0] == "0" && f[1].empty()) {
                if (!v2_mounts.empty()) m = &v2_mounts.front();
            } else {
                for (const auto& c : v1_mounts) {
                    bool all = !f[1].empty();
                    for (const auto& ctl : split(f[1], ',')) all = all && c.options.count(ctl);
                    if (all) m = &c;
                }
            }
            if (!m) continue;
            if (m->root != "/" && starts_with(path, m->root)) path = path.substr(m->root.size());
            if (path == "/") path.clear();
            std::string parent = m->point + path;
            std::string dir = parent + "/" + name;
            if (::mkdir(dir.c_str(), 0755) != 0) return sys_error("mkdir " + dir);
            _dirs.push_back(dir);
            if (f[0] == "0") {
                v2 = dir;
                continue;
            }
            if (m->options.count("cpuset")) {
                for (const char* knob : {"/cpuset.cpus", "/cpuset.mems"}) {
                    auto v = read_file(parent + knob);
                    if (!v) return v.err();
                    BERTH_TRY(write_file(dir + knob, *v));
                }
            }
            v1_procs.push_back(dir + "/cgroup.procs");
        }
        return ok();
    }

    ~test_cgroups() {
        for (auto it = _dirs.rbegin(); it != _dirs.rend(); ++it) {
            for (int i = 0; i < 100 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10000);
        }
    }

    std::string v2;
    std::vector<std::string> v1_procs;

private:
    std::vector<std::string> _dirs;
};

struct run_result {
    status exec;
    std::string out;
    int wait_status = -1;
    bool timed_out = false;
};

status copy_file(const std::string& from, const std::string& to, int mode) {
    auto data = read_file(from);
    if (!data) return data.err();
    BERTH_TRY(write_file(to, *data, mode));
    if (::chmod(to.c_str(), static_cast<mode_t>(mode)) != 0) return sys_error("chmod " + to);
    return ok();
}

class RuntimeTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        if (!path_exists("/bin/busybox")) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
        char tmpl[] = "/tmp/berth-runtime-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        _dir = tmpl;
        _base = _dir + "/base";
        _init = _dir + "/init";
        _upper = _dir + "/upper";
        ASSERT_TRUE(make_dirs(_base + "/bin"));
        ASSERT_TRUE(make_dirs(_init + "/etc"));
        for (auto d : {_upper, _dir + "/work", _dir + "/rootfs"}) ASSERT_TRUE(make_dirs(d));
        ASSERT_TRUE(copy_file("/bin/busybox", _base + "/bin/busybox", 0755));
        for (auto tool : {"sh", "echo", "cat", "true", "sleep", "ls"})
            ASSERT_EQ(::symlink("busybox", (_base + "/bin/" + tool).c_str()), 0);
        ASSERT_TRUE(copy_file(BERTH_PROBE, _base + "/probe", 0755));
        ASSERT_TRUE(write_file(_base + "/notexec", "#!/bin/sh\n", 0644));
        ASSERT_TRUE(write_file(_init + "/etc/passwd",
                               "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"));
        ASSERT_TRUE(write_file(_init + "/etc/group", "root:x:0:\naudio:x:29:app\napp:x:1000:\n"));

        static std::atomic<int> counter{0};
        auto name = "berth-runtime-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        auto s = _cgroups.create(name);
        ASSERT_TRUE(s) << s.err().message;
        if (!_cgroups.v2.empty()) {
            auto prog = cgroup::load_device_program(cgroup::default_device_rules());
            ASSERT_TRUE(prog) << prog.err().message;
            unique_fd dir(::open(_cgroups.v2.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            ASSERT_TRUE(dir);
            auto a = cgroup::attach_device_program(prog->get(), dir.get());
            ASSERT_TRUE(a) << a.err().message;
        }
    }

    void TearDown() override {
        if (!_dir.empty()) (void)remove_all(_dir);
    }

    launch_spec spec(std::vector<std::string> args) {
        launch_spec s;
        s.id = random_id();
        s.lower_dirs = {_init, _base};
        s.upper_dir = _upper;
        s.work_dir = _dir + "/work";
        s.rootfs_dir = _dir + "/rootfs";
        s.masked_paths = default_masked_paths();
        s.readonly_paths = default_readonly_paths();
        s.cgroup2_dir = _cgroups.v2;
        s.cgroup_v1_procs = _cgroups.v1_procs;
        s.hostname = "berth-test";
        s.args = std::move(args);
        s.capabilities = default_capabilities();
        return s;
    }

    // Starts the container with stdout and stderr on one pipe, reads it to
    // EOF and reaps the container.
    static run_result run(const launch_spec& s, unsigned long long extra_flags = 0) {
        run_result r;
        int p[2];
        if (::pipe2(p, O_CLOEXEC) != 0) {
            r.exec = sys_error("pipe");
            return r;
        }
        unique_fd rd(p[0]), wr(p[1]);
        child_stdio io;
        io.out = wr.get();
        io.err = wr.get();
        auto sp = spawn_container(s, io, extra_flags);
        wr.reset();
        if (!sp) {
            r.exec = sp.err();
            return r;
        }
        r.exec = read_exec_status(sp->exec_status.get());
        r.out = read_until_eof(rd.get(), r.timed_out);
        struct pollfd pfd {sp->pidfd.get(), POLLIN, 0};
        if (r.timed_out || ::poll(&pfd, 1, k_timeout_ms) != 1) {
            r.timed_out = true;
            (void)sys::pidfd_send_signal(sp->pidfd.get(), SIGKILL);
        }
        ::waitpid(sp->pid, &r.wait_status, 0);
        return r;
    }

    static std::string read_until_eof(int fd, bool& timed_out) {
        std::string out;
        char buf[4096];
        for (;;) {
            struct pollfd pfd {fd, POLLIN, 0};
            int n = ::poll(&pfd, 1, k_timeout_ms);
            if (n == 0) {
                timed_out = true;
                return out;
            }
            if (n < 0 && errno == EINTR) continue;
            ssize_t got = ::read(fd, buf, sizeof buf);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return out;
            out.append(buf, static_cast<size_t>(got));
        }
    }

    static void expect_exit(const run_result& r, int code) {
        EXPECT_FALSE(r.timed_out);
        ASSERT_TRUE(WIFEXITED(r.wait_status)) << "wait status " << r.wait_status << ", output:\n" << r.out;
        EXPECT_EQ(WEXITSTATUS(r.wait_status), code) << r.out;
    }

    facts run_probe(launch_spec s) {
        auto r = run(s);
        EXPECT_TRUE(r.exec) << r.exec.err().message;
        expect_exit(r, 0);
        return parse_facts(r.out);
    }

    std::string _dir, _base, _init, _upper;
    test_cgroups _cgroups;
};

TEST_F(RuntimeTest, ProbeSeesTheSandbox) {
    auto f = run_probe(spec({"/probe"}));
    EXPECT_EQ(f["pid"], "1");
    EXPECT_EQ(f["hostname"], "berth-test");
    EXPECT_EQ(f["uid"], "0");
    EXPECT_EQ(f["gid"], "0");
    EXPECT_EQ(f["groups"], "");
    EXPECT_EQ(f["CapBnd"], k_docker_default_caps);
    EXPECT_EQ(f["CapPrm"], k_docker_default_caps);
    EXPECT_EQ(f["CapEff"], k_docker_default_caps);
    EXPECT_EQ(f["CapInh"], "0000000000000000");
    EXPECT_EQ(f["CapAmb"], "0000000000000000");
    EXPECT_EQ(f["NoNewPrivs"], "0");
    EXPECT_EQ(f["cwd"], "/");
    for (const char* ns : {"cgroup", "ipc", "mnt", "net", "pid", "uts"}) {
        ASSERT_FALSE(f["ns_" + std::string(ns)].empty()) << ns;
        EXPECT_NE(f["ns_" + std::string(ns)], own_ns(ns)) << ns;
    }
    EXPECT_EQ(f["ns_user"], own_ns("user"));
    ASSERT_FALSE(f["cgroup"].empty());
    for (const auto& line : split(f["cgroup"], ';')) {
        EXPECT_TRUE(line.size() >= 2 && line.substr(line.size() - 2) == ":/") << line;
    }
}

TEST_F(RuntimeTest, NoNewPrivsAndNoCapabilities) {
    auto s = spec({"/probe"});
    s.no_new_privs = true;
    s.capabilities.clear();
    auto f = run_probe(s);
    EXPECT_EQ(f["NoNewPrivs"], "1");
    EXPECT_EQ(f["CapBnd"], "0000000000000000");
    EXPECT_EQ(f["CapEff"], "0000000000000000");
}

TEST_F(RuntimeTest, MaskedPathsReadNothing) {
    for (const char* p : {"/proc/kcore", "/proc/timer_list", "/proc/keys"}) {
        if (!path_exists(p)) continue;
        auto f = run_probe(spec({"/probe", "read", p}));
        EXPECT_EQ(f["read"], "ok") << p;
        EXPECT_EQ(f["bytes"], "0") << p;
    }
    if (path_exists("/sys/firmware")) {
        auto r = run(spec({"ls", "-A", "/sys/firmware"}));
        ASSERT_TRUE(r.exec) << r.exec.err().message;
        expect_exit(r, 0);
        EXPECT_EQ(r.out, "");
    }
}

TEST_F(RuntimeTest, MaskedDirectoriesShareOneReadOnlyTmpfs) {
    std::vector<std::string> dirs;
    for (const auto& p : default_masked_paths()) {
        struct stat st;
        if (::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) dirs.push_back(p);
    }
    if (dirs.size() < 2) GTEST_SKIP() << "this host has fewer than two of the masked directories";
    // Per directory: its device, whether a write is refused, its mount options.
    std::string script;
    for (const auto& d : dirs)
        script += "stat -c %d " + d + "; touch " + d + "/x 2>/dev/null && echo writable || echo refused; " +
                  "grep -c ' " + d + " ro,nosuid,nodev,noexec' /proc/self/mountinfo; ";
    auto r = run(spec({"sh", "-c", script}));
    ASSERT_TRUE(r.exec) << r.exec.err().message;
    expect_exit(r, 0);
    auto lines = split(r.out, '\n');
    ASSERT_GE(lines.size(), 3 * dirs.size()) << r.out;
    for (std::size_t i = 0; i < dirs.size(); ++i) {
        EXPECT_EQ(lines[3 * i], lines[0]) << dirs[i] << " is on another superblock than " << dirs[0];
        EXPECT_EQ(lines[3 * i + 1], "refused") << dirs[i];
        EXPECT_EQ(lines[3 * i + 2], "1") << dirs[i] << " is not mounted ro,nosuid,nodev,noexec:\n" << r.out;
    }
}

TEST_F(RuntimeTest, UnmaskedPathsAreVisible) {
    auto s = spec({"/probe", "read", "/proc/timer_list"});
    s.masked_paths.clear();
    auto f = run_probe(s);
    EXPECT_EQ(f["read"], "ok");
    EXPECT_NE(f["bytes"], "0");
}

TEST_F(RuntimeTest, ReadonlyPathsRefuseWrites) {
    auto f = run_probe(spec({"/probe", "write", "/proc/sys/kernel/hostname"}));
    EXPECT_EQ(f["write"], "EROFS");
    auto s = spec({"/probe", "write", "/proc/sys/kernel/hostname"});
    s.readonly_paths.clear();
    auto g = run_probe(s);
    EXPECT_EQ(g["write"], "ok") << "the write must fail only because of the read-only bind";
}

TEST_F(RuntimeTest, DeviceProgramAllowsMknodButNotOpen) {
    if (_cgroups.v2.empty()) GTEST_SKIP() << "no cgroup2 hierarchy";
    auto f = run_probe(spec({"/probe", "mknod-block", "/blk"}));
    EXPECT_EQ(f["mknod"], "ok");
    EXPECT_EQ(f["open"], "EPERM");
    auto n = run_probe(spec({"/probe", "read", "/dev/null"}));
    EXPECT_EQ(n["read"], "ok");
}

TEST_F(RuntimeTest, WritesLandInTheUpperDir) {
    auto r = run(spec({"sh", "-c", "echo x > /newfile"}));
    ASSERT_TRUE(r.exec) << r.exec.err().message;
    expect_exit(r, 0);
    auto data = read_file(_upper + "/newfile");
    ASSERT_TRUE(data) << data.err().message;
    EXPECT_EQ(*data, "x\n");
    EXPECT_FALSE(path_exists(_base + "/newfile"));
    EXPECT_FALSE(path_exists(_init + "/newfile"));
}

TEST_F(RuntimeTest, DevAndLoopback) {
    auto r = run(spec({"sh", "-c",
                       "ls /dev; cat /sys/class/net/lo/flags; echo hi > /dev/shm/x && cat /dev/shm/x; "
                       "ls -l /dev/ptmx /dev/fd"}));
    ASSERT_TRUE(r.exec) << r.exec.err().message;
    expect_exit(r, 0);
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "stdin"})
        EXPECT_NE(r.out.find(std::string(node) + "\n"), std::string::npos) << node << " in:\n" << r.out;
    EXPECT_NE(r.out.find("0x9\n"), std::string::npos) << "lo is not up:\n" << r.out;
    EXPECT_NE(r.out.find("hi\n"), std::string::npos);
    EXPECT_NE(r.out.find("/dev/ptmx -> pts/ptmx"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/dev/fd -> /proc/self/fd"), std::string::npos) << r.out;
}

TEST_F(RuntimeTest, NonRootUserHasNoCapabilities) {
    auto s = spec({"/probe"});
    s.user = "app";
    auto f = run_probe(s);
    EXPECT_EQ(f["uid"], "1000");
    EXPECT_EQ(f["gid"], "1000");
    EXPECT_EQ(f["groups"], "29");
    EXPECT_EQ(f["CapEff"], "0000000000000000");
    EXPECT_EQ(f["CapPrm"], "0000000000000000");
    EXPECT_EQ(f["CapBnd"], k_docker_default_caps);
}

TEST_F(RuntimeTest, EnvironmentDefaults) {
    auto s = spec({"sh", "-c", "echo \"$HOME|$PATH|$FOO\""});
    s.user = "app";
    s.env = {"FOO=bar"};
    auto r = run(s);
    ASSERT_TRUE(r.exec) << r.exec.err().message;
    expect_exit(r, 0);
    EXPECT_EQ(r.out, "/home/app|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|bar\n");
}

TEST_F(RuntimeTest, WorkingDirectoryIsCreated) {
    auto s = spec({"/probe"});
    s.cwd = "/srv/app/data";
    auto f = run_probe(s);
    EXPECT_EQ(f["cwd"], "/srv/app/data");
    EXPECT_TRUE(path_exists(_upper + "/srv/app/data"));
}

TEST_F(RuntimeTest, RlimitsApply) {
    auto s = spec({"sh", "-c", "ulimit -n"});
    s.rlimits = {{RLIMIT_NOFILE, 321, 654}};
    auto r = run(s);
    ASSERT_TRUE(r.exec) << r.exec.err().message;
    expect_exit(r, 0);
    EXPECT_EQ(r.out, "321\n");
}

TEST_F(RuntimeTest, UnknownUserIsReported) {
    auto s = spec({"/probe"});
    s.user = "nosuch";
    auto r = run(s);
    ASSERT_FALSE(r.exec);
    EXPECT_EQ(r.exec.err().message, "unable to find user nosuch: no matching entries in passwd file");
    EXPECT_FALSE(r.timed_out);
}

TEST_F(RuntimeTest, MissingCommandIsCommandNotFound) {
    auto r = run(spec({"nosuch"}));
    ASSERT_FALSE(r.exec);
    EXPECT_EQ(r.exec.err().code, errc::command_not_found);
    EXPECT_EQ(r.exec.err().message, "exec: \"nosuch\": executable file not found in $PATH");
    expect_exit(r, 127);

    auto abs = run(spec({"/nosuch"}));
    ASSERT_FALSE(abs.exec);
    EXPECT_EQ(abs.exec.err().code, errc::command_not_found);
}

TEST_F(RuntimeTest, NonExecutableIsCannotExecute) {
    auto r = run(spec({"/notexec"}));
    ASSERT_FALSE(r.exec);
    EXPECT_EQ(r.exec.err().code, errc::cannot_execute);
    EXPECT_EQ(r.exec.err().message, "exec: \"/notexec\": permission denied");
    expect_exit(r, 126);
}

TEST_F(RuntimeTest, ExitStatusIsReported) {
    auto r = run(spec({"sh", "-c", "exit 7"}));
    ASSERT_TRUE(r.exec) << r.exec.err().message;
    expect_exit(r, 7);
}

TEST_F(RuntimeTest, SignalDeathIsReported) {
    // PID 1 of a pid namespace ignores a SIGKILL from inside it (no handler,
    // not from an ancestor namespace): `sh -c 'kill -9 $$'` survives, as in
    // Docker without --init.
    auto own = run(spec({"sh", "-c", "kill -9 $$; echo survived"}));
    ASSERT_TRUE(own.exec) << own.exec.err().message;
    expect_exit(own, 0);
    EXPECT_EQ(own.out, "survived\n");

    // A process that is not PID 1 dies of its own SIGKILL.
    auto child = run(spec({"sh", "-c", "/probe kill-self 9; echo status=$?"}));
    ASSERT_TRUE(child.exec);
    expect_exit(child, 0);
    EXPECT_NE(child.out.find("status=137\n"), std::string::npos) << child.out;

    // From outside, PID 1 dies by SIGKILL.
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    unique_fd rd(p[0]), wr(p[1]);
    child_stdio io;
    io.out = wr.get();
    auto sp = spawn_container(spec({"sh", "-c", "echo up; exec sleep 1000"}), io, 0);
    wr.reset();
    ASSERT_TRUE(sp) << sp.err().message;
    auto st = read_exec_status(sp->exec_status.get());
    ASSERT_TRUE(st) << st.err().message;
    char buf[8];
    ASSERT_EQ(::read(rd.get(), buf, 3), 3);
    ASSERT_EQ(sys::pidfd_send_signal(sp->pidfd.get(), SIGKILL), 0);
    int ws = 0;
    ASSERT_EQ(::waitpid(sp->pid, &ws, 0), sp->pid);
    ASSERT_TRUE(WIFSIGNALED(ws)) << ws;
    EXPECT_EQ(WTERMSIG(ws), SIGKILL);
}

TEST_F(RuntimeTest, HostNetwork) {
    auto s = spec({"/probe"});
    s.new_network = false;
    auto f = run_probe(s);
    EXPECT_EQ(f["ns_net"], own_ns("net"));
    EXPECT_NE(f["ns_mnt"], own_ns("mnt"));
    auto r = run([&] {
        auto t = spec({"ls", "/sys/class/net"});
        t.new_network = false;
        return t;
    }());
    ASSERT_TRUE(r.exec) << r.exec.err().message;
    expect_exit(r, 0);
    EXPECT_NE(r.out.find("lo\n"), std::string::npos);
}

TEST_F(RuntimeTest, MissingLayerIsNamed) {
    auto s = spec({"/probe"});
    s.lower_dirs.push_back(_dir + "/no-such-layer");
    auto r = run(s);
    ASSERT_FALSE(r.exec);
    EXPECT_EQ(r.exec.err().code, errc::internal);
    EXPECT_NE(r.exec.err().message.find("mount overlay on " + s.rootfs_dir), std::string::npos) << r.exec.err().message;
    EXPECT_NE(r.exec.err().message.find("no-such-layer"), std::string::npos) << r.exec.err().message;
}

// fsconfig() takes at most 255 bytes a string; longer layer paths go
// through mount(2).
TEST_F(RuntimeTest, LongLayerPaths) {
    std::string deep = _dir + "/" + std::string(150, 'a') + "/" + std::string(150, 'b');
    ASSERT_TRUE(make_dirs(deep));
    ASSERT_EQ(::rename(_base.c_str(), (deep + "/base").c_str()), 0);
    _base = deep + "/base";
    auto f = run_probe(spec({"/probe"}));
    EXPECT_EQ(f["pid"], "1");
}

// With a v1 memory cgroup, the child makes its overlay before it joins
// that cgroup itself (the overlay's new work directory block stays charged
// to its maker: runtime/spawn.cc); its cgroup namespace, entered after,
// is rooted there too.
TEST_F(RuntimeTest, ChildJoinsItsMemoryCgroupOnceItsOverlayIsMade) {
    auto s = spec({"/probe"});
    for (const auto& p : s.cgroup_v1_procs)
        if (path_exists(p.substr(0, p.rfind('/')) + "/memory.stat")) s.cgroup_v1_memory_procs = p;
    if (s.cgroup_v1_memory_procs.empty()) GTEST_SKIP() << "no v1 memory hierarchy";
    ASSERT_TRUE(joins_memory_cgroup_itself(s));
    const std::string dir = s.cgroup_v1_memory_procs.substr(0, s.cgroup_v1_memory_procs.rfind('/'));
    auto f = run_probe(s);
    ASSERT_FALSE(f["cgroup"].empty());
    bool memory = false;
    for (const auto& line : split(f["cgroup"], ';')) {
        EXPECT_TRUE(line.size() >= 2 && line.substr(line.size() - 2) == ":/") << line;
        memory = memory || line.find("memory") != std::string::npos;
    }
    EXPECT_TRUE(memory) << f["cgroup"];
    // It ran there: the probe's pages were charged to the cgroup.
    auto peak = read_file(dir + "/memory.max_usage_in_bytes");
    ASSERT_TRUE(peak) << peak.err().message;
    EXPECT_GT(std::stoll(*peak), 0);
}

TEST_F(RuntimeTest, FailedCgroupPlacementLeavesNoChild) {
    auto s = spec({"/probe"});
    s.cgroup_v1_procs.push_back(_dir + "/no-such-cgroup/cgroup.procs");
    auto r = spawn_container(s, {}, 0);
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find(_dir + "/no-such-cgroup/cgroup.procs"), std::string::npos) << r.err().message;
    int ws;
    EXPECT_EQ(::waitpid(-1, &ws, WNOHANG), -1) << "a child was left behind";
    EXPECT_EQ(errno, ECHILD);
}

TEST_F(RuntimeTest, RefusesNewCgroupFlag) {
    auto r = spawn_container(spec({"/probe"}), {}, CLONE_NEWCGROUP);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
}

// Hosts where systemd made "/" shared: the child must make its tree private,
// or pivot_root fails and the overlay mount leaks into the caller's namespace.
TEST_F(RuntimeTest, WorksUnderASharedRoot) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        auto fail = [](const std::string& why) {
            std::fprintf(stderr, "shared-root child: %s\n", why.c_str());
            ::_exit(1);
        };
        if (::unshare(CLONE_NEWNS) != 0) fail("unshare");
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) != 0) fail("make / rshared");
        auto r = run(spec({"/probe"}));
        if (!r.exec) fail(r.exec.err().message);
        auto f = parse_facts(r.out);
        if (!WIFEXITED(r.wait_status) || WEXITSTATUS(r.wait_status) != 0) fail("probe failed: " + r.out);
        if (f["pid"] != "1") fail("pid is " + f["pid"]);
        auto info = read_file("/proc/self/mountinfo");
        if (!info) fail(info.err().message);
        if (info->find(_dir + "/rootfs") != std::string::npos) fail("the rootfs mount leaked:\n" + *info);
        ::_exit(0);
    }
    int ws = 0;
    ASSERT_EQ(::waitpid(pid, &ws, 0), pid);
    ASSERT_TRUE(WIFEXITED(ws));
    EXPECT_EQ(WEXITSTATUS(ws), 0);
}

}  // namespace
}  // namespace berth::runtime
