#include "base/detach_keys.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(DetachKeys, ParsesDockerSyntax) {
    EXPECT_EQ(*parse_detach_keys(""), std::string("\x10\x11"));
    EXPECT_EQ(*parse_detach_keys("ctrl-a,x"), std::string("\x01x"));
    EXPECT_EQ(*parse_detach_keys("ctrl-@,ctrl-_"), std::string("\x00\x1f", 2));
    EXPECT_FALSE(parse_detach_keys("ctrl-"));
    EXPECT_FALSE(parse_detach_keys("shift-a"));
    EXPECT_FALSE(parse_detach_keys("ab"));
}

TEST(DetachKeys, MatchesAcrossReads) {
    escape_matcher m("\x10\x11");
    bool detached = false;
    EXPECT_EQ(m.feed("ab\x10", detached), "ab");
    EXPECT_FALSE(detached);
    EXPECT_EQ(m.feed("\x11zz", detached), "");
    EXPECT_TRUE(detached);
}

TEST(DetachKeys, FailedPartialMatchIsForwarded) {
    escape_matcher m("\x10\x11");
    bool detached = false;
    EXPECT_EQ(m.feed("\x10x", detached), "\x10x");
    EXPECT_EQ(m.feed("\x10\x10", detached), "\x10");
    EXPECT_FALSE(detached);
    EXPECT_EQ(m.feed("\x11", detached), "");
    EXPECT_TRUE(detached);
}

}  // namespace
}  // namespace berth
