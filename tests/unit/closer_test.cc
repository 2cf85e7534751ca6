#include "base/closer.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace berth {
namespace {

// A pipe whose write end the closer gets: its read end sees EOF once the
// closer has closed it.
struct pipe_pair {
    unique_fd read, write;
    pipe_pair() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        read.reset(fds[0]);
        write.reset(fds[1]);
    }
};

TEST(Closer, ClosesQueuedDescriptorsOnItsThread) {
    closer c;
    std::vector<pipe_pair> pipes(64);
    for (auto& p : pipes) c.close(std::move(p.write));
    c.wait_until_pending_at_most(0);
    EXPECT_EQ(c.pending(), 0u);
    for (auto& p : pipes) {
        EXPECT_FALSE(p.write);
        char b;
        EXPECT_EQ(::read(p.read.get(), &b, 1), 0) << "the write end is still open";
    }
}

TEST(Closer, IgnoresAnEmptyDescriptor) {
    closer c;
    c.close(unique_fd());
    EXPECT_EQ(c.pending(), 0u);
}

TEST(Closer, DestructorClosesWhatIsStillQueued) {
    std::vector<pipe_pair> pipes(16);
    {
        closer c;
        for (auto& p : pipes) c.close(std::move(p.write));
    }
    for (auto& p : pipes) {
        char b;
        EXPECT_EQ(::read(p.read.get(), &b, 1), 0);
    }
}

}  // namespace
}  // namespace berth
