// Layer unpacking with root: owners, whiteouts, device nodes, trusted and
// security xattrs, and an overlay mount that honours the whiteouts. Skipped
// without root.
#include "storage/unpack.h"

#include <archive_entry.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/util.h"
#include "tests/support/archive_builder.h"

namespace berth::storage {
namespace {

using namespace berth::test;

std::string xattr_of(const std::string& path, const char* name) {
    char buf[256];
    ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof buf);
    return n < 0 ? std::string("<") + std::strerror(errno) + ">" : std::string(buf, size_t(n));
}

void expect_whiteout(const std::string& path) {
    struct stat st = lstat_of(path);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << path;
    EXPECT_EQ(st.st_rdev, ::makedev(0, 0)) << path;
}

class UnpackRootTest : public unpack_scratch_test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (owners, whiteouts, device nodes)";
        make_scratch("/tmp/berth-unpack-root-XXXXXX");
    }
    void TearDown() override {
        if (!_base.empty()) (void)remove_all(_base);
    }

    result<unpacked_layer> unpack(const std::vector<tar_entry>& entries, const std::string& dest) {
        std::string path = _base + "/layer-" + std::to_string(_archives++) + ".tar";
        EXPECT_TRUE(write_file(path, make_tar(entries)));
        return unpack_layer(path, dest);
    }
    result<unpacked_layer> unpack(const std::vector<tar_entry>& entries) { return unpack(entries, _dest); }

    int _archives = 0;
};

TEST_F(UnpackRootTest, WhiteoutsBecomeOverlayWhiteouts) {
    auto r = unpack({
        file("etc/keep", "kept"),
        file("etc/.wh.gone", ""),
        file(".wh.top", ""),
        file("was", "replaced by a whiteout"),
        file(".wh.was", ""),
        dir("tree/"),
        file("tree/x", "x"),
        file(".wh.tree", ""),
        dir("opaque/"),
        file("opaque/new", "new"),
        file("opaque/.wh..wh..opq", ""),
        file("made/by/opq/.wh..wh..opq", ""),
        dir(".wh..wh.plnk/"),
        file(".wh..wh.plnk/1234.5678", "aufs hardlink store"),
        file("other/.wh..wh.aufs", ""),
    });
    ASSERT_TRUE(r) << r.err().message;
    expect_whiteout(_dest + "/etc/gone");
    EXPECT_EQ(lstat_of(_dest + "/etc/gone").st_mode & 07777, 0u);
    expect_whiteout(_dest + "/top");
    expect_whiteout(_dest + "/was");
    expect_whiteout(_dest + "/tree");
    EXPECT_EQ(*read_file(_dest + "/etc/keep"), "kept");

    EXPECT_EQ(xattr_of(_dest + "/opaque", "trusted.overlay.opaque"), "y");
    EXPECT_EQ(*read_file(_dest + "/opaque/new"), "new");
    EXPECT_EQ(xattr_of(_dest + "/made/by/opq", "trusted.overlay.opaque"), "y");
    EXPECT_EQ(lstat_of(_dest + "/made/by").st_mode & 07777, 0755u);
    EXPECT_NE(xattr_of(_dest + "/etc", "trusted.overlay.opaque"), "y");

    // No ".wh." name is ever written as such.
    for (const auto& d : {std::string(""), std::string("/etc"), std::string("/opaque"), std::string("/other")}) {
        for (const auto& n : list_dir(_dest + d)) EXPECT_FALSE(starts_with(n, ".wh.")) << d << "/" << n;
    }
    EXPECT_TRUE(list_dir(_dest + "/other").empty());
}

TEST_F(UnpackRootTest, OwnersModesAndXattrsSurviveChown) {
    auto setuid = owned(file("bin/su", "#!/bin/true\n", 04755), 1000, 4242);
    auto setgid = owned(file("bin/wall", "w", 02750), 0, 4242);
    // struct vfs_cap_data, revision 2: effective, permitted = CAP_NET_RAW.
    const char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00};
    auto capped = owned(file("bin/ping", "p", 0755), 1000, 4242);
    capped.xattrs = {{"security.capability", std::string(cap, sizeof cap)},
                     {"trusted.berth.test", "t"},
                     {"trusted.overlay.redirect", "/etc"}};
    auto r = unpack({
        owned(dir("home/user/", 0750), 1000, 4242),
        owned(file("home/user/file", "mine", 0640), 1000, 4242),
        owned(symlink("home/user/link", "file"), 1000, 4242),
        owned(device("home/user/fifo", AE_IFIFO, 0, 0, 0600), 1000, 4242),
        setuid,
        setgid,
        capped,
    });
    ASSERT_TRUE(r) << r.err().message;
    for (const char* p : {"/home/user", "/home/user/file", "/home/user/link", "/home/user/fifo", "/bin/su", "/bin/ping"}) {
        auto st = lstat_of(_dest + p);
        EXPECT_EQ(st.st_uid, 1000u) << p;
        EXPECT_EQ(st.st_gid, 4242u) << p;
    }
    EXPECT_EQ(lstat_of(_dest + "/home/user").st_mode & 07777, 0750u);
    EXPECT_EQ(lstat_of(_dest + "/home/user/file").st_mode & 07777, 0640u);
    // Implicit parents belong to root.
    EXPECT_EQ(lstat_of(_dest + "/home").st_uid, 0u);
    // chown clears setuid/setgid and file capabilities: both set afterwards.
    EXPECT_EQ(lstat_of(_dest + "/bin/su").st_mode & 07777, 04755u);
    EXPECT_EQ(lstat_of(_dest + "/bin/wall").st_mode & 07777, 02750u);
    EXPECT_EQ(lstat_of(_dest + "/bin/wall").st_gid, 4242u);
    EXPECT_EQ(xattr_of(_dest + "/bin/ping", "security.capability"), std::string(cap, sizeof cap));
    EXPECT_EQ(xattr_of(_dest + "/bin/ping", "trusted.berth.test"), "t");
    EXPECT_EQ(xattr_of(_dest + "/bin/ping", "trusted.overlay.redirect"), "<No data available>");  // never from an image
}

TEST_F(UnpackRootTest, KeepsDeviceNodes) {
    auto r = unpack({
        device("dev/null", AE_IFCHR, 1, 3, 0666),
        owned(device("dev/loop-test", AE_IFBLK, 7, 200, 0660), 0, 6),
    });
    ASSERT_TRUE(r) << r.err().message;
    auto null = lstat_of(_dest + "/dev/null");
    EXPECT_TRUE(S_ISCHR(null.st_mode));
    EXPECT_EQ(null.st_rdev, ::makedev(1, 3));
    EXPECT_EQ(null.st_mode & 07777, 0666u);
    EXPECT_EQ(null.st_mtim.tv_sec, k_mtime);
    auto loop = lstat_of(_dest + "/dev/loop-test");
    EXPECT_TRUE(S_ISBLK(loop.st_mode));
    EXPECT_EQ(loop.st_rdev, ::makedev(7, 200));
    EXPECT_EQ(loop.st_mode & 07777, 0660u);
    EXPECT_EQ(loop.st_gid, 6u);
}

TEST_F(UnpackRootTest, HostileEntriesStayInsideTheLayer) {
    const std::string outside = _base + "/outside";
    {
        auto r = unpack({file("ok", "ok"), file("../../escape", "evil")});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().message, "unpack layer entry ../../escape: path escapes the layer root");
        expect_no_debris();
        EXPECT_FALSE(path_exists(_base + "/escape"));
        EXPECT_FALSE(path_exists(_base + "/layers/escape"));
    }
    for (const char* name : {".wh..", ".wh...", "d/.wh.."}) {
        auto r = unpack({file(name, "")});
        ASSERT_FALSE(r) << name;
        EXPECT_EQ(r.err().code, errc::invalid_argument) << r.err().message;
        expect_no_debris();
    }
    {
        // Whiteouts, devices and owners written through symlinked parents.
        auto r = unpack({
            symlink("evil", outside),
            file("evil/.wh.victim", ""),
            device("evil/null", AE_IFCHR, 1, 3, 0666),
            symlink("up", "../../.."),
            owned(file("up/owned", "x", 04755), 1000, 1000),
            file("up/.wh..wh..opq", ""),
        });
        ASSERT_TRUE(r) << r.err().message;
        expect_whiteout(_dest + outside + "/victim");
        EXPECT_TRUE(S_ISCHR(lstat_of(_dest + outside + "/null").st_mode));
        EXPECT_EQ(lstat_of(_dest + "/owned").st_uid, 1000u);
        EXPECT_EQ(xattr_of(_dest, "trusted.overlay.opaque"), "y");
        EXPECT_TRUE(list_dir(outside).empty());
        EXPECT_FALSE(path_exists(_base + "/owned"));
        EXPECT_NE(xattr_of(_base, "trusted.overlay.opaque"), "y");
    }
}

// Mounts lower and upper with overlayfs in a private mount namespace (in a
// child, so the test process keeps its own) and checks what a container
// would see. Exit 0 when everything holds, 77 when overlay is unavailable.
int overlay_view_ok(const std::string& lower, const std::string& upper, const std::string& mnt) {
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
        std::string opts = "lowerdir=" + upper + ":" + lower;
        if (::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, opts.c_str()) != 0) ::_exit(77);
        struct stat st;
        if (::stat((mnt + "/etc/keep").c_str(), &st) != 0) ::_exit(1);
        if (::lstat((mnt + "/etc/gone").c_str(), &st) == 0 || errno != ENOENT) ::_exit(2);
        if (::lstat((mnt + "/opaque/old").c_str(), &st) == 0 || errno != ENOENT) ::_exit(3);
        if (::stat((mnt + "/opaque/new").c_str(), &st) != 0) ::_exit(4);
        if (::stat((mnt + "/plain/old").c_str(), &st) != 0) ::_exit(5);
        ::_exit(0);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

TEST_F(UnpackRootTest, OverlayHonoursTheWhiteouts) {
    std::string lower = _base + "/layers/lower";
    std::string upper = _base + "/layers/upper";
    std::string mnt = _base + "/mnt";
    ASSERT_TRUE(make_dirs(mnt));
    auto l = unpack({file("etc/keep", "k"), file("etc/gone", "g"), file("opaque/old", "o"), file("plain/old", "p")}, lower);
    ASSERT_TRUE(l) << l.err().message;
    auto u = unpack({file("etc/.wh.gone", ""), file("opaque/.wh..wh..opq", ""), file("opaque/new", "n"), dir("plain/")}, upper);
    ASSERT_TRUE(u) << u.err().message;
    int rc = overlay_view_ok(lower, upper, mnt);
    if (rc == 77) GTEST_SKIP() << "cannot mount overlayfs here";
    EXPECT_EQ(rc, 0) << "1: lower file hidden, 2: whiteout ignored, 3: opaque ignored, 4: upper file missing, 5: plain dir opaque";
}

}  // namespace
}  // namespace berth::storage
