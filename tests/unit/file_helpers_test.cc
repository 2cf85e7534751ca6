// base/util.h's whole-file helpers.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "base/util.h"

namespace berth {
namespace {

struct scratch_dir {
    std::string path;
    scratch_dir() {
        char tmpl[] = "/tmp/berth-file-helpers-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~scratch_dir() { (void)remove_all(path); }
};

ino_t inode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_ino;
}

TEST(OverwriteFile, CreatesAMissingFileWithItsMode) {
    scratch_dir d;
    const std::string f = d.path + "/hosts";
    ASSERT_TRUE(overwrite_file(f, "127.0.0.1\tlocalhost\n", 0600));
    EXPECT_EQ(read_file(f).value(), "127.0.0.1\tlocalhost\n");
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(OverwriteFile, RewritesInPlaceAndCutsOnlyWhatWasLonger) {
    scratch_dir d;
    const std::string f = d.path + "/hostname";
    ASSERT_TRUE(write_file(f, "a-much-longer-old-hostname\n"));
    const ino_t ino = inode_of(f);
    ASSERT_TRUE(overwrite_file(f, "short\n"));
    EXPECT_EQ(read_file(f).value(), "short\n");  // no tail of the old content
    ASSERT_TRUE(overwrite_file(f, "now-longer-than-before\n"));
    EXPECT_EQ(read_file(f).value(), "now-longer-than-before\n");
    ASSERT_TRUE(overwrite_file(f, "now-longer-than-before\n"));  // the same length
    EXPECT_EQ(read_file(f).value(), "now-longer-than-before\n");
    ASSERT_TRUE(overwrite_file(f, ""));
    EXPECT_EQ(read_file(f).value(), "");
    EXPECT_EQ(inode_of(f), ino);
}

TEST(OverwriteFile, FailsWithThePathInADirectoryThatIsMissing) {
    scratch_dir d;
    auto s = overwrite_file(d.path + "/missing/hosts", "x");
    ASSERT_FALSE(s);
    EXPECT_NE(s.err().message.find(d.path + "/missing/hosts"), std::string::npos);
}

}  // namespace
}  // namespace berth
