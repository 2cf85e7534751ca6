// The stock of spare container directories (engine/container_dirs.h): only
// an untouched directory goes back, a create takes it with its init files
// rewritten in place, and the stock is bounded. Needs root (the directories
// are root's, and overlayfs' attributes are in the trusted namespace).
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/container_dirs.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

class SpareDirs : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        ::umask(022);
        char tmpl[] = "/tmp/berth-spares-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root = tmpl;
    }
    void TearDown() override {
        if (!root.empty()) fs::remove_all(root);
    }
    std::string dir(const std::string& id) const { return root + "/" + id; }
    // A container's directory as create makes it, after a run that wrote
    // nothing (the overlay's uuid on upper/, the kernel's work/work).
    std::string ran(const std::string& id) {
        EXPECT_TRUE(make_container_dirs(dir(id), id, false, true));
        EXPECT_EQ(::lsetxattr((dir(id) + "/upper").c_str(), "trusted.overlay.uuid", "0123456789abcdef", 16, 0), 0)
            << std::strerror(errno);
        EXPECT_EQ(::mkdir((dir(id) + "/work/work").c_str(), 0), 0);
        return dir(id);
    }
    static ino_t inode(const std::string& path) {
        struct stat st {};
        return ::lstat(path.c_str(), &st) == 0 ? st.st_ino : 0;
    }
    std::size_t spares_on_disk() const {
        std::size_t n = 0;
        for (auto& e : fs::directory_iterator(root)) n += spare_dirs::is_spare_name(e.path().filename().string());
        return n;
    }
    std::string root;
};

TEST_F(SpareDirs, AnUntouchedDirectoryIsTakenByTheNextCreate) {
    spare_dirs spares(root);
    std::string a = ran("aaaa");
    ASSERT_TRUE(write_file(a + "/aaaa-json.log", "{\"log\":\"hi\\n\"}\n"));
    const ino_t upper = inode(a + "/upper");
    ASSERT_TRUE(spares.give(a));
    EXPECT_FALSE(fs::exists(a));
    EXPECT_EQ(spares_on_disk(), 1u);

    ASSERT_TRUE(make_container_dirs(dir("bbbb"), "bbbb", false, true, &spares));
    std::string b = dir("bbbb");
    EXPECT_EQ(inode(b + "/upper"), upper);  // the same directory
    EXPECT_EQ(spares_on_disk(), 0u);
    EXPECT_EQ(read_file(b + "/init/etc/hostname").value_or(""), "bbbb\n");
    EXPECT_NE(read_file(b + "/init/etc/hosts").value_or("").find("127.0.1.1\tbbbb\n"), std::string::npos);
    EXPECT_TRUE(fs::exists(b + "/init/etc/resolv.conf"));
    // work/work went at the removal: the next mount only makes it.
    EXPECT_TRUE(fs::is_directory(b + "/work"));
    EXPECT_FALSE(fs::exists(b + "/work/work"));
    EXPECT_FALSE(fs::exists(b + "/aaaa-json.log"));  // the last container's log went
    EXPECT_TRUE(fs::is_empty(b + "/upper"));
    // Its overlay gets a uuid of its own.
    EXPECT_EQ(::llistxattr((b + "/upper").c_str(), nullptr, 0), 0);

    // None left: the next create makes a new one.
    ASSERT_TRUE(make_container_dirs(dir("cccc"), "cccc", false, true, &spares));
    EXPECT_NE(inode(dir("cccc") + "/upper"), upper);
}

TEST_F(SpareDirs, ASpareKeptUnderAnIdIsThatContainersDirectoryReadyMade) {
    spare_dirs spares(root);
    std::string a = ran("aaaa");
    const ino_t upper = inode(a + "/upper");
    const std::string id = "0123456789abcdef" + std::string(48, 'e');
    ASSERT_TRUE(spares.give(a, id));
    EXPECT_FALSE(fs::exists(a));
    EXPECT_EQ(spares.names(), std::vector<std::string>{id});
    // Its init files are the id's own: hostname, hosts.
    EXPECT_EQ(read_file(dir(id) + "/init/etc/hostname").value_or(""), "0123456789ab\n");
    EXPECT_NE(read_file(dir(id) + "/init/etc/hosts").value_or("").find("127.0.1.1\t0123456789ab\n"),
              std::string::npos);
    EXPECT_EQ(inode(dir(id) + "/upper"), upper);
    // Taken where it stands: no rename, no write.
    EXPECT_FALSE(spares.take_named(dir("other")));
    ASSERT_TRUE(spares.take_named(dir(id)));
    EXPECT_TRUE(spares.names().empty());
    EXPECT_FALSE(spares.take_named(dir(id)));
    EXPECT_EQ(inode(dir(id) + "/upper"), upper);

    // Given back under another id and taken by a create of some other
    // container (make_container_dirs renames it, and writes its files).
    const std::string id2 = std::string(64, 'f');
    ASSERT_TRUE(spares.give(dir(id), id2));
    ASSERT_TRUE(make_container_dirs(dir("bbbb"), "bbbb", false, true, &spares));
    EXPECT_FALSE(fs::exists(dir(id2)));
    EXPECT_EQ(inode(dir("bbbb") + "/upper"), upper);
    EXPECT_EQ(read_file(dir("bbbb") + "/init/etc/hostname").value_or(""), "bbbb\n");
    // And a create whose own id a spare stands under takes that one.
    ASSERT_TRUE(spares.give(dir("bbbb"), id2));
    std::string c = ran("cccc");
    ASSERT_TRUE(spares.give(c));  // a .spare-N, taken last-in first otherwise
    ASSERT_TRUE(make_container_dirs(dir(id2), "myhost", false, true, &spares));
    EXPECT_EQ(inode(dir(id2) + "/upper"), upper);
    EXPECT_EQ(read_file(dir(id2) + "/init/etc/hostname").value_or(""), "myhost\n");
    EXPECT_EQ(spares_on_disk(), 1u);  // cccc's, still a spare
}

TEST_F(SpareDirs, ATouchedDirectoryIsNotKept) {
    spare_dirs spares(root);
    // A file the container wrote.
    std::string a = ran("a1");
    ASSERT_TRUE(write_file(a + "/upper/written", "x"));
    EXPECT_FALSE(spares.give(a));
    // A layer overlayfs marked (a directory it made opaque).
    std::string b = ran("b1");
    ASSERT_EQ(::lsetxattr((b + "/upper").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    EXPECT_FALSE(spares.give(b));
    // The root's mode changed inside (chmod of /).
    std::string c = ran("c1");
    ASSERT_EQ(::chmod((c + "/upper").c_str(), 0700), 0);
    EXPECT_FALSE(spares.give(c));
    // Something else in work/ (an index) or in work/work.
    std::string d = ran("d1");
    ASSERT_EQ(::mkdir((d + "/work/index").c_str(), 0700), 0);
    EXPECT_FALSE(spares.give(d));
    std::string e = ran("e1");
    ASSERT_EQ(::mkdir((e + "/work/work/#1").c_str(), 0700), 0);
    EXPECT_FALSE(spares.give(e));
    // An init layer with its own mount points (shifted owners).
    std::string f = ran("f1");
    ASSERT_EQ(::mkdir((f + "/init/dev").c_str(), 0755), 0);
    EXPECT_FALSE(spares.give(f));
    // Another file of the container's than its logs.
    std::string g = ran("g1");
    ASSERT_TRUE(write_file(g + "/hostconfig", "{}"));
    EXPECT_FALSE(spares.give(g));
    // Refused ones are left for the caller to remove, untouched.
    for (const auto& p : {a, b, c, d, e, f, g}) EXPECT_TRUE(fs::exists(p + "/upper")) << p;
    EXPECT_TRUE(fs::exists(a + "/upper/written"));
    EXPECT_EQ(spares_on_disk(), 0u);
}

TEST_F(SpareDirs, TheStockIsBoundedAndLeftoversAreRemoved) {
    spare_dirs spares(root, 2);
    EXPECT_TRUE(spares.give(ran("x1")));
    EXPECT_TRUE(spares.give(ran("x2")));
    std::string third = ran("x3");
    EXPECT_FALSE(spares.give(third));
    EXPECT_TRUE(fs::exists(third));
    EXPECT_EQ(spares_on_disk(), 2u);
    // A new daemon starts without them.
    spare_dirs next(root);
    next.clear_leftovers();
    EXPECT_EQ(spares_on_disk(), 0u);
    EXPECT_TRUE(fs::exists(third));
}

}  // namespace
}  // namespace berth
