// engine/core/async.h: async_semaphore serves its waiters in order, one
// wake per unit.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/core/async.h"

namespace berth {
namespace {

TEST(AsyncSemaphore, WaitersGetUnitsInTheOrderTheyCame) {
    asio::io_context io;
    async_semaphore sem(io.get_executor(), 2);
    std::vector<std::string> log;
    int holding = 0, most = 0;
    auto user = [&](std::string name) -> awaitable<void> {
        bool got = co_await sem.acquire();
        EXPECT_TRUE(got);
        log.push_back(name);
        most = std::max(most, ++holding);
        co_await sleep_for(std::chrono::milliseconds(5));
        --holding;
        sem.release();
    };
    for (const char* n : {"a", "b", "c", "d", "e"}) asio::co_spawn(io, user(n), asio::detached);
    io.run();
    EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
    EXPECT_EQ(most, 2);
}

TEST(AsyncSemaphore, AReleaseWithoutWaitersIsKeptForTheNext) {
    asio::io_context io;
    async_semaphore sem(io.get_executor(), 0);
    bool entered = false;
    sem.release();
    asio::co_spawn(io, [&]() -> awaitable<void> { entered = co_await sem.acquire(); }, asio::detached);
    io.run();
    EXPECT_TRUE(entered);
}

}  // namespace
}  // namespace berth
