// runtime::unshare_time_namespace against the real kernel: the offsets
// written before anything enters the namespace are what a process in it
// reads, the caller's own clocks stay the host's, and the kernel freezes the
// offsets once a process has entered. Needs root and Linux 6.1+.
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <gtest/gtest.h>

#include "engine/runtime/timens.h"

namespace berth::runtime {
namespace {

constexpr std::int64_t s = 1'000'000'000;

std::int64_t read_clock(clockid_t id) {
    timespec ts{};
    ::clock_gettime(id, &ts);
    return ts.tv_sec * s + ts.tv_nsec;
}

// Runs `body` in a forked process; its exit status (0: passed) is returned.
template <class Body>
int in_child(Body body) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

class TimeNamespace : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        if (auto ok = check_time_namespace_support(); !ok) GTEST_SKIP() << ok.err().message;
    }
};

TEST_F(TimeNamespace, ChildrenSeeTheOffsetsTheCallerKeepsItsClocks) {
    int rc = in_child([] {
        const std::int64_t host_boot = read_clock(CLOCK_BOOTTIME);
        if (!unshare_time_namespace({3600 * s, 2 * 86400 * s})) return 1;
        // The caller stays in its own namespace.
        if (read_clock(CLOCK_BOOTTIME) - host_boot > 10 * s) return 2;
        int fds[2];
        if (::pipe(fds) != 0) return 3;
        pid_t pid = ::fork();  // enters time_for_children
        if (pid == 0) {
            std::int64_t v[2] = {read_clock(CLOCK_MONOTONIC), read_clock(CLOCK_BOOTTIME)};
            ::_exit(::write(fds[1], v, sizeof v) == sizeof v ? 0 : 1);
        }
        std::int64_t v[2] = {};
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (::read(fds[0], v, sizeof v) != sizeof v) return 4;
        const std::int64_t mono = read_clock(CLOCK_MONOTONIC), boot = read_clock(CLOCK_BOOTTIME);
        if (v[0] - mono < 3590 * s || v[0] - mono > 3600 * s) return 5;
        if (v[1] - boot < (2 * 86400 - 10) * s || v[1] - boot > 2 * 86400 * s) return 6;
        // Entered: the kernel refuses new offsets.
        int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        const char again[] = "monotonic 1 0\n";
        if (fd < 0 || ::write(fd, again, std::strlen(again)) >= 0 || errno != EACCES) return 7;
        return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST_F(TimeNamespace, OutOfRangeOffsetsAreAClearError) {
    int rc = in_child([] {
        auto r = unshare_time_namespace({0, -(read_clock(CLOCK_BOOTTIME) + 3600 * s)});
        if (r) return 1;
        if (r.err().code != errc::invalid_argument) return 2;
        return r.err().message.find("the kernel refuses them") != std::string::npos ? 0 : 3;
    });
    EXPECT_EQ(rc, 0);
    // And check_time_offset says so before any container is made.
    EXPECT_FALSE(check_time_offset("boottime", -(read_clock(CLOCK_BOOTTIME) + 3600 * s)));
    EXPECT_TRUE(check_time_offset("boottime", 86400 * s));
}

}  // namespace
}  // namespace berth::runtime
