// A container's filesystem seen from the daemon without a container:
// detached overlay views over a hand-made layout (image layer, init layer,
// an upper directory with a whiteout and an opaque directory), the archives
// written from them, extraction into them, and Docker's change list.
// Skipped without root (whiteouts, trusted xattrs, overlay mounts).
#include "engine/rootfs_view.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/rootfs_archive.h"
#include "storage/unpack.h"
#include "tests/support/archive_builder.h"

namespace berth {
namespace {

using namespace berth::test;

class RootfsViewRootTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (whiteouts, trusted xattrs, overlay mounts)";
        char tmpl[] = "/tmp/berth-rootfs-view-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        _base = tmpl;
        // The image: one layer.
        put("layer/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        put("layer/bin/ls", "ls");
        put("layer/bin/cat", "cat");
        put("layer/home/app/profile", "profile");
        put("layer/home/app/rc", "rc");
        put("layer/home/motd", "old motd");
        ASSERT_EQ(::symlink("/etc", (_base + "/layer/etc-link").c_str()), 0);
        // The init layer.
        put("init/etc/hostname", "box\n");
        // What the container did: wrote a file, changed /etc/passwd, deleted
        // /bin/ls, replaced /home by a new directory.
        put("upper/tmp/new", "new");
        put("upper/etc/passwd", "root:x:0:0::/root:/bin/sh\nextra:x:5:5::/:/bin/sh\n");
        ASSERT_TRUE(make_dirs(_base + "/upper/bin", 0755));
        ASSERT_EQ(::mknod((_base + "/upper/bin/ls").c_str(), S_IFCHR, ::makedev(0, 0)), 0);
        put("upper/home/rc", "new rc");
        put("upper/home/motd", "new motd");
        ASSERT_EQ(::lsetxattr((_base + "/upper/home").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
        // Directories the container only passed through keep the times of
        // the topmost lower one (overlayfs restores them after a copy-up).
        copy_times("init/etc", "upper/etc");
        copy_times("layer/bin", "upper/bin");
        ASSERT_TRUE(make_dirs(_base + "/work", 0755));
        _layout.upper_dir = _base + "/upper";
        _layout.work_dir = _base + "/work";
        _layout.lower_dirs = {_base + "/init", _base + "/layer"};
    }
    void TearDown() override {
        if (!_base.empty()) (void)remove_all(_base);
    }

    void put(const std::string& rel, const std::string& data) {
        std::string path = _base + "/" + rel;
        ASSERT_TRUE(make_dirs(path.substr(0, path.rfind('/')), 0755));
        ASSERT_TRUE(write_file(path, data));
    }
    void copy_times(const std::string& from, const std::string& to) {
        struct stat st = lstat_of(_base + "/" + from);
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        ASSERT_EQ(::utimensat(AT_FDCWD, (_base + "/" + to).c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
    }
    static bool exists(const rootfs_view& v, const std::string& path) {
        unique_fd fd(v.in_root(path, O_PATH | O_NOFOLLOW));
        return fd.valid();
    }
    static std::string read_in(const rootfs_view& v, const std::string& path) {
        unique_fd fd(v.in_root(path, O_RDONLY));
        if (!fd) return "<" + std::string(std::strerror(errno)) + ">";
        std::string out(4096, '\0');
        ssize_t n = ::read(fd.get(), out.data(), out.size());
        out.resize(n < 0 ? 0 : size_t(n));
        return out;
    }
    // The names in a tar file.
    static std::vector<std::string> tar_names(const std::string& path) {
        std::vector<std::string> out;
        archive* a = archive_read_new();
        archive_read_support_format_tar(a);
        EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 10240), ARCHIVE_OK);
        archive_entry* e = nullptr;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) out.emplace_back(archive_entry_pathname(e));
        archive_read_free(a);
        return out;
    }

    std::string _base;
    rootfs_layout _layout;
};

TEST_F(RootfsViewRootTest, SnapshotIsTheMergedTreeReadOnly) {
    auto v = open_snapshot(_layout);
    ASSERT_TRUE(v) << v.err().message;
    EXPECT_EQ(read_in(*v, "/etc/hostname"), "box\n");
    EXPECT_EQ(read_in(*v, "/etc/passwd"), "root:x:0:0::/root:/bin/sh\nextra:x:5:5::/:/bin/sh\n");
    EXPECT_EQ(read_in(*v, "/tmp/new"), "new");
    EXPECT_TRUE(exists(*v, "/bin/cat"));
    EXPECT_FALSE(exists(*v, "/bin/ls"));            // the whiteout
    EXPECT_FALSE(exists(*v, "/home/app"));          // hidden by the opaque /home
    EXPECT_EQ(read_in(*v, "/home/rc"), "new rc");
    // Symlinks resolve inside the view: /etc-link/hostname is the view's.
    EXPECT_EQ(read_in(*v, "/etc-link/hostname"), "box\n");
    EXPECT_EQ(read_in(*v, "/../../etc-link/../etc/hostname"), "box\n");
    unique_fd w(v->in_root("/tmp/created", O_WRONLY | O_CREAT | O_EXCL));
    EXPECT_FALSE(w.valid());
    EXPECT_EQ(errno, EROFS);
    auto resolved = resolve_in_scope(*v, "/etc-link/../etc-link/missing/x");
    ASSERT_TRUE(resolved);
    EXPECT_EQ(*resolved, "/etc/missing/x");
}

TEST_F(RootfsViewRootTest, ChangesFollowDockersRules) {
    auto changes = rootfs_changes(_layout);
    ASSERT_TRUE(changes) << changes.err().message;
    std::vector<std::string> got;
    for (auto& c : *changes) got.push_back("CAD"[c.kind] + std::string(" ") + c.path);
    // /home is opaque: what the image had there is deleted, a name it had is
    // modified, a new one added.
    std::vector<std::string> want = {"C /bin",      "D /bin/ls",    "C /etc/passwd", "C /home", "D /home/app",
                                     "C /home/motd", "A /home/rc", "A /tmp",        "A /tmp/new"};
    EXPECT_EQ(got, want);
}

TEST_F(RootfsViewRootTest, ArchivesOfTheViewAndOfOnePath) {
    auto v = open_snapshot(_layout);
    ASSERT_TRUE(v) << v.err().message;
    std::string out = _base + "/export.tar";
    {
        unique_fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        ASSERT_TRUE(write_rootfs_archive(*v, fd.get()));
    }
    std::vector<std::string> want = {"bin/",      "bin/cat", "etc/", "etc/hostname", "etc/passwd", "etc-link",
                                     "home/",     "home/motd", "home/rc", "tmp/", "tmp/new"};
    EXPECT_EQ(tar_names(out), want);

    auto src = stat_container_path(*v, "/etc-link/");  // a trailing "/" follows the link
    ASSERT_TRUE(src) << src.err().message;
    EXPECT_EQ(src->top_name, "etc-link");
    EXPECT_EQ(src->stat.mode & (1u << 31), 1u << 31);
    {
        unique_fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        ASSERT_TRUE(write_path_archive(*v, *src, fd.get()));
    }
    EXPECT_EQ(tar_names(out), (std::vector<std::string>{"etc-link/", "etc-link/hostname", "etc-link/passwd"}));

    auto link = stat_container_path(*v, "/etc-link");
    ASSERT_TRUE(link);
    EXPECT_EQ(link->stat.link_target, "/etc");
    EXPECT_EQ(link->stat.mode & (1u << 27), 1u << 27);
    auto missing = stat_container_path(*v, "/bin/ls");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.err().code, errc::not_found);
}

TEST_F(RootfsViewRootTest, ExtractionStaysInTheView) {
    // A host directory the archive would reach if anything resolved on the host.
    std::string host_target = _base + "/host-only";
    ASSERT_TRUE(make_dirs(host_target, 0755));
    std::string archive_path = _base + "/in.tar";
    ASSERT_TRUE(write_file(archive_path, make_tar({
                                             file("plain", "plain"),
                                             symlink("out", host_target),
                                             file("out/through-link", "x"),
                                             file(host_target + "/absolute", "x"),
                                             file(".wh.literal", "kept as a file"),
                                         })));
    {
        auto v = open_writable(_layout);
        ASSERT_TRUE(v) << v.err().message;
        extract_request r;
        r.path = "/etc-link";  // a symlink to /etc in the view
        ASSERT_TRUE(extract_into_container(*v, r, archive_path));
        r.path = "/etc/passwd";
        auto refused = extract_into_container(*v, r, archive_path);
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.err().message, "extraction point is not a directory");
        r.path = "/nope";
        refused = extract_into_container(*v, r, archive_path);
        ASSERT_FALSE(refused);
        EXPECT_EQ(refused.err().code, errc::not_found);
    }
    // Everything went into the upper directory, under /etc.
    EXPECT_EQ(read_file(_base + "/upper/etc/plain").value_or(""), "plain");
    EXPECT_EQ(read_file(_base + "/upper/etc/.wh.literal").value_or(""), "kept as a file");
    EXPECT_TRUE(S_ISLNK(lstat_of(_base + "/upper/etc/out").st_mode));
    EXPECT_EQ(read_file(_base + "/upper" + host_target + "/through-link").value_or(""), "x");
    EXPECT_EQ(read_file(_base + "/upper/etc" + host_target + "/absolute").value_or(""), "x");
    unique_fd host_dir(::open(host_target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto names = list_directory(host_dir.get(), host_target);
    ASSERT_TRUE(names);
    EXPECT_TRUE(names->empty());
    EXPECT_FALSE(path_exists(_base + "/upper/etc-link"));  // the link was followed, not replaced
}

}  // namespace
}  // namespace berth
