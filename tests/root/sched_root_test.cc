// The control path's scheduling class (base/sched.h): SCHED_FIFO with
// reset-on-fork, and the governor that takes a busy thread back to
// SCHED_OTHER. Needs CAP_SYS_NICE (root).
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <gtest/gtest.h>
#include <thread>

#include "base/sched.h"

namespace berth {
namespace {

using namespace std::chrono_literals;

void spin_for(std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    volatile unsigned long x = 0;
    while (std::chrono::steady_clock::now() < until) x = x + 1;
}

TEST(ControlPriority, ThreadIsFifoAndWhatItForksIsNot) {
    std::thread t([] {
        ASSERT_TRUE(set_control_priority(0, 1));
        EXPECT_EQ(::sched_getscheduler(0), SCHED_FIFO | SCHED_RESET_ON_FORK);
        pid_t pid = ::fork();
        if (pid == 0) ::_exit(::sched_getscheduler(0) == SCHED_OTHER ? 0 : 1);
        int st = 0;
        ASSERT_EQ(::waitpid(pid, &st, 0), pid);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        std::thread inner([] { EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER); });
        inner.join();
        ASSERT_TRUE(set_control_priority(0, 0));
        EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
    });
    t.join();
}

TEST(ControlPriority, ABusyThreadGoesBackToSchedOtherAndReturnsOnceQuiet) {
    std::thread t([] {
        control_priority_governor g(1, 50);
        ASSERT_TRUE(g.realtime());
        EXPECT_EQ(::sched_getscheduler(0) & ~SCHED_RESET_ON_FORK, SCHED_FIFO);
        g.tick();  // within its first window: nothing read
        EXPECT_TRUE(g.realtime());
        spin_for(80ms);  // all of a CPU for a window
        g.tick();
        EXPECT_FALSE(g.realtime());
        EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
        std::this_thread::sleep_for(80ms);  // idle for a window
        g.tick();
        EXPECT_TRUE(g.realtime());
        EXPECT_EQ(::sched_getscheduler(0), SCHED_FIFO | SCHED_RESET_ON_FORK);
        ASSERT_TRUE(set_control_priority(0, 0));
    });
    t.join();
}

TEST(ControlPriority, PriorityZeroNeverTouchesTheThread) {
    std::thread t([] {
        control_priority_governor g(0, 10);
        EXPECT_FALSE(g.realtime());
        spin_for(20ms);
        std::this_thread::sleep_for(20ms);
        g.tick();
        EXPECT_FALSE(g.realtime());
        EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
    });
    t.join();
}

TEST(ControlPriority, BadValuesAreRefused) {
    for (auto v : {"100", "-1", "x", "", "1x", " 1"}) EXPECT_FALSE(parse_control_priority(v)) << v;
    EXPECT_EQ(*parse_control_priority("0"), 0);
    EXPECT_EQ(*parse_control_priority("99"), 99);
}

}  // namespace
}  // namespace berth
