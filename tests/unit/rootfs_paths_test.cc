// Pure helpers of the container filesystem endpoints: Docker's path
// cleaning, Go's FileMode bits, the path stat header, base64.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/rootfs_archive.h"
#include "engine/rootfs_view.h"

namespace berth {
namespace {

TEST(RootfsPaths, CleanKeepsTrailingDotAndSlash) {
    EXPECT_EQ(clean_container_path("tmp/x"), "/tmp/x");
    EXPECT_EQ(clean_container_path("/tmp//x/"), "/tmp/x/");
    EXPECT_EQ(clean_container_path("/tmp/x/."), "/tmp/x/.");
    EXPECT_EQ(clean_container_path("/tmp/./x/./"), "/tmp/x/./");  // as Docker's PreserveTrailingDotOrSeparator
    EXPECT_EQ(clean_container_path("../../etc"), "/etc");
    EXPECT_EQ(clean_container_path("/"), "/");
    EXPECT_EQ(clean_container_path("."), "/.");
    EXPECT_EQ(clean_container_path(""), "/");
}

TEST(RootfsPaths, DirAndBaseAsGo) {
    EXPECT_EQ(path_base("/etc/"), "etc");
    EXPECT_EQ(path_base("/etc/."), ".");
    EXPECT_EQ(path_base("/"), "/");
    EXPECT_EQ(path_dir("/etc/passwd"), "/etc");
    EXPECT_EQ(path_dir("/etc"), "/");
}

TEST(RootfsPaths, GoFileModeBits) {
    EXPECT_EQ(go_file_mode(S_IFREG | 0644), 0644u);
    EXPECT_EQ(go_file_mode(S_IFDIR | 0755), (1u << 31) | 0755u);
    EXPECT_EQ(go_file_mode(S_IFLNK | 0777), (1u << 27) | 0777u);
    EXPECT_EQ(go_file_mode(S_IFCHR | 0666), (1u << 26) | (1u << 21) | 0666u);
    EXPECT_EQ(go_file_mode(S_IFDIR | S_ISVTX | 0777), (1u << 31) | (1u << 20) | 0777u);
    EXPECT_EQ(go_file_mode(S_IFREG | S_ISUID | 0755), (1u << 23) | 0755u);
}

TEST(RootfsPaths, PathStatJsonIsDockers) {
    path_stat st;
    st.name = "x";
    st.size = 3;
    st.mode = 0644;
    st.mtime_ns = 1'600'000'000'000'000'000;
    EXPECT_EQ(path_stat_json(st),
              R"({"name":"x","size":3,"mode":420,"mtime":"2020-09-13T12:26:40.000000000Z","linkTarget":""})");
}

TEST(Base64, RoundTrips) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
    EXPECT_EQ(base64_decode("Zm9vYg==").value_or("?"), "foob");
    EXPECT_EQ(base64_decode("Zm9vYg").value_or("?"), "foob");
    EXPECT_EQ(base64_decode("/wAQ").value_or("?"), std::string("\xff\x00\x10", 3));
    EXPECT_FALSE(base64_decode("Zm9v!"));
    EXPECT_FALSE(base64_decode("Z"));
}

}  // namespace
}  // namespace berth
