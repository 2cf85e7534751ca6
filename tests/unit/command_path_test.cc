// The daemon's search along PATH for a warm pool's claims
// (engine/command_path.h), in a one-layer view of a directory tree.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/command_path.h"
#include "engine/rootfs_view.h"
#include "tests/unit/temp_dir.h"

namespace berth {
namespace {

class CommandPath : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_FALSE(_dir.path.empty()); }

    void file(const std::string& path, mode_t mode) {
        ASSERT_TRUE(make_dirs(_root + path.substr(0, path.rfind('/')), 0755));
        std::ofstream(_root + path) << "#!/bin/sh\n";
        ASSERT_EQ(::chmod((_root + path).c_str(), mode), 0);
    }
    void link(const std::string& target, const std::string& path) {
        ASSERT_TRUE(make_dirs(_root + path.substr(0, path.rfind('/')), 0755));
        ASSERT_EQ(::symlink(target.c_str(), (_root + path).c_str()), 0);
    }
    rootfs_view view() {
        rootfs_layout l;
        l.lower_dirs = {_root};
        auto v = open_lower_layers(l);
        EXPECT_TRUE(v) << v.err().message;
        return std::move(*v);
    }

    test::temp_dir _dir{"berth-command-path"};
    const std::string& _root = _dir.path;
};

const std::string k_path = "/usr/local/bin:/usr/bin:/bin";

TEST_F(CommandPath, TheFirstExecutableRegularFileAlongPath) {
    file("/usr/local/bin/a", 0755);
    file("/bin/a", 0755);
    file("/usr/bin/b", 0644);  // no execute bit: passed over
    file("/bin/b", 0700);
    ASSERT_TRUE(make_dirs(_root + "/usr/bin/c", 0755));  // a directory: passed over
    file("/bin/c", 0755);
    auto v = view();
    EXPECT_EQ(resolve_command(v, "a", k_path).value_or("?"), "/usr/local/bin/a");
    EXPECT_EQ(resolve_command(v, "a", "/bin:/usr/local/bin").value_or("?"), "/bin/a");
    EXPECT_EQ(resolve_command(v, "b", k_path).value_or("?"), "/bin/b");
    EXPECT_EQ(resolve_command(v, "c", k_path).value_or("?"), "/bin/c");
}

TEST_F(CommandPath, SymlinksResolveInsideTheView) {
    file("/bin/busybox", 0755);
    link("busybox", "/bin/true");
    link("/bin/busybox", "/usr/bin/echo");
    link("bin", "/sbin");  // a linked directory
    auto v = view();
    EXPECT_EQ(resolve_command(v, "true", k_path).value_or("?"), "/bin/true");
    EXPECT_EQ(resolve_command(v, "echo", k_path).value_or("?"), "/usr/bin/echo");
    EXPECT_EQ(resolve_command(v, "busybox", "/sbin").value_or("?"), "/sbin/busybox");
}

TEST_F(CommandPath, NothingWhereTheContainerCouldDiffer) {
    file("/bin/a", 0755);
    file("/etc/a", 0755);
    file("/dev/x/a", 0755);
    link("/proc/self/exe", "/usr/bin/a");
    link("/sys", "/usr/local/bin");
    auto v = view();
    // Not found, or a name with a slash: the child's own search says so.
    EXPECT_FALSE(resolve_command(v, "missing", k_path));
    EXPECT_FALSE(resolve_command(v, "bin/a", k_path));
    EXPECT_FALSE(resolve_command(v, "", k_path));
    // A relative or empty entry depends on the working directory.
    EXPECT_FALSE(resolve_command(v, "a", "bin:/bin"));
    EXPECT_FALSE(resolve_command(v, "a", ":/bin"));
    // The init layer's /etc and the container's own mounts: not the view's.
    EXPECT_FALSE(resolve_command(v, "a", "/etc:/bin"));
    EXPECT_FALSE(resolve_command(v, "a", "/dev/x:/bin"));
    EXPECT_FALSE(resolve_command(v, "a", "/usr/local/bin:/bin"));  // a link to /sys
    EXPECT_FALSE(resolve_command(v, "a", "/usr/bin:/bin"));        // the file links into /proc
    // Past such a directory is fine only where it comes after the answer.
    EXPECT_EQ(resolve_command(v, "a", "/bin:/etc").value_or("?"), "/bin/a");
}

TEST_F(CommandPath, NoWalkThroughWhatOnlyTheContainerHas) {
    file("/opt/b", 0755);
    file("/bin/b", 0755);
    link("/sys/../opt/b", "/usr/local/bin/b");  // /sys is missing here, a mount point there
    file("/bin/c", 0755);
    auto v = view();
    EXPECT_FALSE(resolve_command(v, "b", "/usr/local/bin:/bin"));
    EXPECT_FALSE(resolve_command(v, "c", "/proc/self/../../bin"));
    // ".." after a missing directory: the kernel stops there, and the
    // container may have it (its working directory, made at the claim).
    EXPECT_FALSE(resolve_command(v, "c", "/usr/nowhere/../../bin"));
    // ".." after directories that exist is an ordinary walk.
    EXPECT_EQ(resolve_command(v, "c", "/opt/../bin").value_or("?"), "/opt/../bin/c");
}

}  // namespace
}  // namespace berth
