// User namespaces against the real kernel: the shifted layer copy
// (engine/userns_copy.h) and the zygote's idmapped rootfs
// (engine/runtime/userns.h). Needs root.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <gtest/gtest.h>

#include "base/fd.h"
#include "base/util.h"
#include "engine/runtime/userns.h"
#include "engine/userns_copy.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using runtime::id_range;

const std::vector<id_range> k_uids{{0, 400000, 65536}}, k_gids{{0, 500000, 65536}};

class UsernsRoot : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root";
        char tmpl[] = "/tmp/berth-userns-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
        src = dir + "/src";
        ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
    }
    void TearDown() override {
        if (!dir.empty()) fs::remove_all(dir);
    }
    void file(const std::string& rel, mode_t mode, uid_t uid, gid_t gid, const std::string& data = "x") {
        ASSERT_TRUE(write_file(src + "/" + rel, data));
        ASSERT_EQ(::chown((src + "/" + rel).c_str(), uid, gid), 0);
        ASSERT_EQ(::chmod((src + "/" + rel).c_str(), mode), 0);
    }
    struct stat st(const std::string& path) {
        struct stat s {};
        EXPECT_EQ(::lstat(path.c_str(), &s), 0) << path;
        return s;
    }
    std::string dir, src;
};

TEST_F(UsernsRoot, copy_shifts_owners_and_keeps_the_rest) {
    ASSERT_EQ(::mkdir((src + "/d").c_str(), 0750), 0);
    ASSERT_EQ(::chown((src + "/d").c_str(), 1000, 1000), 0);
    file("d/user", 0640, 1000, 1001, "hello");
    file("suid", 04755, 0, 0);
    file("sgid", 02755, 1000, 50);
    ASSERT_EQ(::link((src + "/d/user").c_str(), (src + "/hard").c_str()), 0);
    ASSERT_EQ(::symlink("d/user", (src + "/sym").c_str()), 0);
    ASSERT_EQ(::lchown((src + "/sym").c_str(), 7, 8), 0);
    ASSERT_EQ(::mknod((src + "/wh").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
    ASSERT_EQ(::mkfifo((src + "/fifo").c_str(), 0600), 0);
    ASSERT_EQ(::setxattr((src + "/d").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    struct timespec old[2] = {{1000000, 0}, {1700000000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (src + "/d").c_str(), old, 0), 0);

    const std::string dest = dir + "/copies/400000.500000/layer";
    auto done = copy_layer_remapped(src, dest, k_uids, k_gids);
    ASSERT_TRUE(done) << done.err().message;

    auto d = st(dest + "/d");
    EXPECT_EQ(d.st_uid, 401000u);
    EXPECT_EQ(d.st_gid, 501000u);
    EXPECT_EQ(d.st_mode & 07777, 0750u);
    EXPECT_EQ(d.st_mtim.tv_sec, 1700000000);  // set after its children
    auto user = st(dest + "/d/user");
    EXPECT_EQ(user.st_uid, 401000u);
    EXPECT_EQ(user.st_gid, 501001u);
    EXPECT_EQ(*read_file(dest + "/d/user"), "hello");
    auto hard = st(dest + "/hard");
    EXPECT_EQ(hard.st_ino, user.st_ino);
    EXPECT_EQ(hard.st_nlink, 2u);
    auto suid = st(dest + "/suid");
    EXPECT_EQ(suid.st_uid, 400000u);
    EXPECT_EQ(suid.st_mode & 07777, 04755u);  // re-applied after chown
    EXPECT_EQ(st(dest + "/sgid").st_mode & 07777, 02755u);
    auto sym = st(dest + "/sym");
    EXPECT_TRUE(S_ISLNK(sym.st_mode));
    EXPECT_EQ(sym.st_uid, 400007u);
    EXPECT_EQ(fs::read_symlink(dest + "/sym"), "d/user");
    auto wh = st(dest + "/wh");
    EXPECT_TRUE(S_ISCHR(wh.st_mode));
    EXPECT_EQ(wh.st_rdev, makedev(0, 0));
    EXPECT_TRUE(S_ISFIFO(st(dest + "/fifo").st_mode));
    char v[4] = {};
    EXPECT_EQ(::getxattr((dest + "/d").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
    EXPECT_EQ(v[0], 'y');
    auto root = st(dest);
    EXPECT_EQ(root.st_uid, 400000u);
    EXPECT_EQ(root.st_mode & 07777, 0755u);
    // No staging directory left, and a second copy keeps the first.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir + "/copies/400000.500000"), fs::directory_iterator()), 1);
    auto ino = root.st_ino;
    ASSERT_TRUE(ensure_remapped_copies({{src, dest}}, k_uids, k_gids));
    EXPECT_EQ(st(dest).st_ino, ino);
}

TEST_F(UsernsRoot, copy_refuses_ids_without_a_host_id) {
    file("far", 0644, 70000, 0);
    auto done = copy_layer_remapped(src, dir + "/copy", k_uids, k_gids);
    ASSERT_FALSE(done);
    EXPECT_NE(done.err().message.find("container ID 70000 cannot be mapped to a host ID"), std::string::npos)
        << done.err().message;
    EXPECT_FALSE(fs::exists(dir + "/copy"));
    EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // src only, no stage
}

TEST_F(UsernsRoot, shift_tree_owners_of_an_init_layer) {
    ASSERT_EQ(::mkdir((src + "/etc").c_str(), 0755), 0);
    file("etc/hosts", 0644, 0, 0);
    auto done = shift_tree_owners(src, k_uids, k_gids);
    ASSERT_TRUE(done) << done.err().message;
    EXPECT_EQ(st(src).st_uid, 400000u);
    EXPECT_EQ(st(src + "/etc").st_gid, 500000u);
    EXPECT_EQ(st(src + "/etc/hosts").st_uid, 400000u);
}

TEST_F(UsernsRoot, user_namespace_and_remapped_rootfs) {
    auto ns = runtime::make_user_namespace(k_uids, k_gids);
    ASSERT_TRUE(ns) << ns.err().message;
    auto probe = runtime::probe_remapped_overlay(dir + "/probe", k_uids, k_gids);
    if (!probe) {
        // An older kernel: the daemon falls back to copies; the probe says why.
        EXPECT_NE(probe.err().message.find("userns-remap needs"), std::string::npos) << probe.err().message;
        return;
    }
    EXPECT_FALSE(fs::exists(dir + "/probe"));

    // A layer with an opaque directory, an init layer, upper and work.
    for (auto d : {"/layer", "/layer/opq", "/init", "/upper", "/work", "/merged"})
        ASSERT_EQ(::mkdir((dir + d).c_str(), 0755), 0);
    ASSERT_TRUE(write_file(dir + "/layer/opq/f", "f"));
    ASSERT_EQ(::chown((dir + "/layer/opq/f").c_str(), 1000, 1000), 0);
    runtime::launch_spec spec;
    spec.uid_map = k_uids;
    spec.gid_map = k_gids;
    spec.lower_dirs = {dir + "/init", dir + "/layer"};
    spec.upper_dir = dir + "/upper";
    spec.work_dir = dir + "/work";
    spec.rootfs_dir = dir + "/merged";
    auto mnt = runtime::open_remapped_rootfs(spec);
    ASSERT_TRUE(mnt) << mnt.err().message;
    // Seen from the host: the layer's ids shifted onto the remapping.
    unique_fd f(::openat(mnt->get(), "opq/f", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(f);
    struct stat s {};
    ASSERT_EQ(::fstat(f.get(), &s), 0);
    EXPECT_EQ(s.st_uid, 401000u);
    EXPECT_EQ(s.st_gid, 501000u);
    // The layer on disk is untouched.
    EXPECT_EQ(st(dir + "/layer/opq/f").st_uid, 1000u);
}

}  // namespace
}  // namespace berth
