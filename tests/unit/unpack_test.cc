// Layer unpacking without root: archives are built here with libarchive's
// writer, unpacked into a temp dir, and the result checked on disk. Owners,
// whiteouts and device nodes need root: tests/root/unpack_root_test.cc.
#include "storage/unpack.h"

#include <archive.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "base/util.h"
#include "tests/support/archive_builder.h"

namespace berth::storage {
namespace {

using namespace berth::test;

unsigned perm_of(const std::string& path) { return lstat_of(path).st_mode & 07777; }

class UnpackTest : public unpack_scratch_test {
protected:
    void SetUp() override { make_scratch("/tmp/berth-unpack-XXXXXX"); }
    void TearDown() override {
        // Without root, read-only directories from a layer would keep their
        // children from being removed.
        ::nftw(
            _base.c_str(),
            [](const char* p, const struct stat* st, int type, FTW*) {
                if (type == FTW_D) ::chmod(p, st->st_mode | S_IRWXU);
                return 0;
            },
            16, FTW_PHYS);
        (void)remove_all(_base);
    }

    std::string write_archive(const std::string& bytes, const std::string& name = "layer.tar") {
        std::string path = _base + "/" + name;
        EXPECT_TRUE(write_file(path, bytes));
        return path;
    }

    result<unpacked_layer> unpack(const std::vector<tar_entry>& entries) {
        return unpack_layer(write_archive(make_tar(entries)), _dest);
    }
};

TEST_F(UnpackTest, WritesFilesDirectoriesAndModes) {
    auto r = unpack({
        dir("etc/", 0755),
        file("etc/hostname", "berth\n", 0644),
        file("a/b/c/deep.txt", "deep", 0600),
        file("bin/tool", "#!/bin/sh\n", 04755),
        file("bin/group-tool", "x", 02755),
        dir("tmp/", 01777),
        dir("ro/", 0555),
        file("ro/inside", "in a read-only directory", 0444),
        file("empty", "", 0640),
    });
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->entries, 9u);
    EXPECT_EQ(r->size, 6u + 4u + 10u + 1u + 24u);

    EXPECT_EQ(*read_file(_dest + "/etc/hostname"), "berth\n");
    EXPECT_EQ(perm_of(_dest + "/etc/hostname"), 0644u);
    EXPECT_EQ(*read_file(_dest + "/a/b/c/deep.txt"), "deep");
    EXPECT_EQ(perm_of(_dest + "/a/b/c/deep.txt"), 0600u);
    // Parents the archive never named are created 0755.
    EXPECT_EQ(perm_of(_dest + "/a"), 0755u);
    EXPECT_EQ(perm_of(_dest + "/a/b/c"), 0755u);
    EXPECT_EQ(perm_of(_dest + "/bin/tool"), 04755u);
    EXPECT_EQ(perm_of(_dest + "/bin/group-tool"), 02755u);
    EXPECT_TRUE(S_ISDIR(lstat_of(_dest + "/tmp").st_mode));
    EXPECT_EQ(perm_of(_dest + "/tmp"), 01777u);
    EXPECT_EQ(perm_of(_dest + "/ro"), 0555u);
    EXPECT_EQ(*read_file(_dest + "/ro/inside"), "in a read-only directory");
    EXPECT_EQ(lstat_of(_dest + "/empty").st_size, 0);
    EXPECT_EQ(perm_of(_dest), 0755u);

    // Times are the archive's, directories' included (set after their children).
    EXPECT_EQ(lstat_of(_dest + "/etc/hostname").st_mtim.tv_sec, k_mtime);
    EXPECT_EQ(lstat_of(_dest + "/etc").st_mtim.tv_sec, k_mtime);
    EXPECT_EQ(lstat_of(_dest + "/ro").st_mtim.tv_sec, k_mtime);
    EXPECT_EQ(lstat_of(_dest + "/tmp").st_mtim.tv_sec, k_mtime);
    EXPECT_TRUE(list_dir(_base + "/layers/sub") == std::vector<std::string>{"layer"});
}

TEST_F(UnpackTest, ModesDoNotDependOnTheUmask) {
    mode_t old = ::umask(077);
    auto r = unpack({file("a/b/file", "x", 0644), dir("d/", 0775), fifo("f", 0666)});
    ::umask(old);
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(perm_of(_dest), 0755u);
    EXPECT_EQ(perm_of(_dest + "/a"), 0755u);
    EXPECT_EQ(perm_of(_dest + "/a/b/file"), 0644u);
    EXPECT_EQ(perm_of(_dest + "/d"), 0775u);
    EXPECT_EQ(perm_of(_dest + "/f"), 0666u);
}

TEST_F(UnpackTest, WritesRootEntryMetadata) {
    auto r = unpack({dir("./", 0750), file("./x", "x")});
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(perm_of(_dest), 0750u);
    EXPECT_EQ(lstat_of(_dest).st_mtim.tv_sec, k_mtime);
    EXPECT_EQ(*read_file(_dest + "/x"), "x");
}

TEST_F(UnpackTest, WritesSymlinksHardlinksAndFifos) {
    auto r = unpack({
        file("etc/hostname", "berth\n"),
        symlink("rel", "etc/hostname"),
        symlink("abs", "/etc/passwd"),
        symlink("dangling", "../nowhere"),
        hardlink("hl", "etc/hostname"),
        hardlink("hl-abs", "/etc/hostname"),
        hardlink("hl-to-link", "rel"),
        fifo("run/fifo", 0640),
    });
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->size, 6u);

    char buf[256];
    ssize_t n = ::readlink((_dest + "/rel").c_str(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "etc/hostname");
    n = ::readlink((_dest + "/abs").c_str(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "/etc/passwd");
    n = ::readlink((_dest + "/dangling").c_str(), buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "../nowhere");
    EXPECT_EQ(lstat_of(_dest + "/rel").st_mtim.tv_sec, k_mtime);

    auto orig = lstat_of(_dest + "/etc/hostname");
    auto hl = lstat_of(_dest + "/hl");
    EXPECT_EQ(orig.st_ino, hl.st_ino);
    EXPECT_EQ(orig.st_ino, lstat_of(_dest + "/hl-abs").st_ino);
    EXPECT_EQ(orig.st_nlink, 3u);
    // A hardlink to a symlink links the symlink, not what it points to.
    auto link = lstat_of(_dest + "/hl-to-link");
    EXPECT_TRUE(S_ISLNK(link.st_mode));
    EXPECT_EQ(link.st_ino, lstat_of(_dest + "/rel").st_ino);

    auto f = lstat_of(_dest + "/run/fifo");
    EXPECT_TRUE(S_ISFIFO(f.st_mode));
    EXPECT_EQ(f.st_mode & 07777, 0640u);
}

TEST_F(UnpackTest, KeepsLongAndUtf8NamesByteForByte) {
    std::string long_leaf(240, 'l');
    std::string long_path;
    for (int i = 0; i < 6; ++i) long_path += std::string(50, char('a' + i)) + "/";
    long_path += long_leaf;  // 546 bytes
    const std::string nfc = "caf\xc3\xa9";         // café, precomposed
    const std::string nfd = "cafe\xcc\x81";        // café, e + combining acute
    const std::string cjk = "\xe6\x97\xa5\xe6\x9c\xac/\xe8\xaa\x9e";  // 日本/語
    std::string tar = make_tar({file(long_path, "long"), file(nfc, "nfc"), file(nfd, "nfd"), file(cjk, "cjk")});
    // The names travel as UTF-8 pax attributes, not as raw bytes.
    EXPECT_EQ(tar.find("hdrcharset"), std::string::npos);
    EXPECT_NE(tar.find(nfd), std::string::npos);

    auto r = unpack_layer(write_archive(tar), _dest);
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(*read_file(_dest + "/" + long_path), "long");
    // NFC and NFD spellings stay two different files (no normalization).
    EXPECT_EQ(*read_file(_dest + "/" + nfc), "nfc");
    EXPECT_EQ(*read_file(_dest + "/" + nfd), "nfd");
    EXPECT_EQ(*read_file(_dest + "/" + cjk), "cjk");
    auto names = list_dir(_dest);
    EXPECT_EQ(names.size(), 4u);
}

TEST_F(UnpackTest, DiffIdIsTheHashOfTheUncompressedStream) {
    std::vector<tar_entry> entries = {dir("etc/"), file("etc/os-release", "ID=berth\n"), file("big", std::string(300000, 'z'))};
    std::string tar = make_tar(entries);
    ASSERT_EQ(tar.size() % 10240, 0u);  // padding after the end-of-archive blocks is hashed too
    const std::string tar_id = sha256::of(tar);

    struct variant {
        std::string name;
        std::string bytes;
    };
    std::vector<variant> variants = {
        {"plain.tar", tar},
        {"layer.tar.gz", compress(tar, ARCHIVE_FILTER_GZIP)},
        {"layer.tar.zst", compress(tar, ARCHIVE_FILTER_ZSTD)},
    };
    EXPECT_EQ(variants[1].bytes.substr(0, 2), "\x1f\x8b");
    EXPECT_EQ(variants[2].bytes.substr(0, 4), "\x28\xb5\x2f\xfd");
    // Zeros far past the end-of-archive blocks, where the tar reader stops
    // reading: the diff id still covers them.
    const std::string padded = tar + std::string(2 << 20, '\0');
    variants.push_back({"padded.tar", padded});
    variants.push_back({"padded.tar.zst", compress(padded, ARCHIVE_FILTER_ZSTD)});
    for (const auto& v : variants) {
        SCOPED_TRACE(v.name);
        const std::string expected = v.name.starts_with("padded") ? sha256::of(padded) : tar_id;
        std::string path = write_archive(v.bytes, v.name);
        auto id = compute_diff_id(path);
        ASSERT_TRUE(id) << id.err().message;
        EXPECT_EQ(*id, expected);

        std::string dest = _base + "/layers/" + v.name + ".d";
        auto r = unpack_layer(path, dest);
        ASSERT_TRUE(r) << r.err().message;
        EXPECT_EQ(r->diff_id, expected);
        EXPECT_EQ(r->entries, 3u);
        EXPECT_EQ(r->size, 9u + 300000u);
        EXPECT_EQ(*read_file(dest + "/etc/os-release"), "ID=berth\n");
        EXPECT_EQ(read_file(dest + "/big")->size(), 300000u);
    }
}

TEST_F(UnpackTest, ReplacesDuplicateEntries) {
    auto r = unpack({
        file("dup", "one"),
        file("dup", "two", 0600),
        dir("d/", 0755),
        file("d/keep", "kept"),
        dir("d/", 0700),  // a directory again: metadata updated, children kept
        file("x", "file first"),
        dir("x/", 0711),  // a file replaced by a directory
        dir("y/"),
        file("y/child", "gone"),
        dir("y/sub/"),
        file("y", "now a file"),  // a tree replaced by a file
        symlink("s", "dup"),
        file("s", "not a link"),
        file("h", "h"),
        hardlink("h2", "h"),
        hardlink("h2", "h"),  // the same link again
        dir("z/sub/", 0700),
        file("z", "z"),
        dir("z/", 0750),  // recreated: the old z/sub metadata must not apply
        dir("z/sub/", 0705),
    });
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(*read_file(_dest + "/dup"), "two");
    EXPECT_EQ(perm_of(_dest + "/dup"), 0600u);
    EXPECT_EQ(*read_file(_dest + "/d/keep"), "kept");
    EXPECT_EQ(perm_of(_dest + "/d"), 0700u);
    EXPECT_TRUE(S_ISDIR(lstat_of(_dest + "/x").st_mode));
    EXPECT_EQ(perm_of(_dest + "/x"), 0711u);
    EXPECT_TRUE(S_ISREG(lstat_of(_dest + "/y").st_mode));
    EXPECT_EQ(*read_file(_dest + "/y"), "now a file");
    EXPECT_TRUE(S_ISREG(lstat_of(_dest + "/s").st_mode));
    EXPECT_EQ(*read_file(_dest + "/s"), "not a link");
    EXPECT_EQ(lstat_of(_dest + "/h").st_nlink, 2u);
    EXPECT_EQ(perm_of(_dest + "/z"), 0750u);
    EXPECT_EQ(perm_of(_dest + "/z/sub"), 0705u);
}

TEST_F(UnpackTest, KeepsUserXattrsAndSkipsSelinuxLabels) {
    auto f = file("f", "x");
    f.xattrs = {{"user.berth.test", "value"}, {"security.selinux", "system_u:object_r:bin_t:s0"}};
    auto d = dir("d/");
    d.xattrs = {{"user.berth.dir", "dv"}};
    auto r = unpack({f, d});
    ASSERT_TRUE(r) << r.err().message;
    char buf[64];
    ssize_t n = ::lgetxattr((_dest + "/f").c_str(), "user.berth.test", buf, sizeof buf);
    ASSERT_EQ(n, 5) << std::strerror(errno);
    EXPECT_EQ(std::string(buf, 5), "value");
    n = ::lgetxattr((_dest + "/d").c_str(), "user.berth.dir", buf, sizeof buf);
    ASSERT_EQ(n, 2);
    EXPECT_EQ(std::string(buf, 2), "dv");
    n = ::lgetxattr((_dest + "/f").c_str(), "security.selinux", buf, sizeof buf);
    if (n >= 0) {
        EXPECT_EQ(std::string(buf, size_t(n)).find("bin_t"), std::string::npos) << "the image's label was applied";
    }
}

TEST_F(UnpackTest, EmptyLayers) {
    auto r = unpack({});
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->entries, 0u);
    EXPECT_TRUE(list_dir(_dest).empty());
    EXPECT_EQ(r->diff_id, sha256::of(make_tar({})));
}

TEST_F(UnpackTest, AbsoluteNamesLandInsideTheLayer) {
    auto r = unpack({file("/abs/file", "in"), file("//double", "in"), file("./dot/./file", "in")});
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(*read_file(_dest + "/abs/file"), "in");
    EXPECT_EQ(*read_file(_dest + "/double"), "in");
    EXPECT_EQ(*read_file(_dest + "/dot/file"), "in");
    EXPECT_FALSE(path_exists("/abs/file"));
}

TEST_F(UnpackTest, RefusesDotDotNames) {
    for (const char* name : {"../../escape", "a/../../escape", "./../escape", "a/b/.."}) {
        SCOPED_TRACE(name);
        auto r = unpack({file("ok", "fine"), file(name, "evil")});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::invalid_argument);
        EXPECT_EQ(r.err().message, std::string("unpack layer entry ") + name + ": path escapes the layer root");
        expect_no_debris();
        EXPECT_FALSE(path_exists(_base + "/escape"));
        EXPECT_FALSE(path_exists(_base + "/layers/escape"));
    }
}

TEST_F(UnpackTest, SymlinkedParentsResolveInsideTheLayer) {
    const std::string outside = _base + "/outside";
    auto r = unpack({
        symlink("evil", outside),
        file("evil/file", "inside"),
        symlink("up", "../../.."),
        file("up/x", "inside too"),
        symlink("rel-up", "../../../outside"),
        file("rel-up/y", "inside as well"),
    });
    ASSERT_TRUE(r) << r.err().message;
    // The absolute target is taken from the layer root, and created there.
    EXPECT_EQ(*read_file(_dest + outside + "/file"), "inside");
    EXPECT_TRUE(S_ISLNK(lstat_of(_dest + "/evil").st_mode));
    // ".." stops at the layer root.
    EXPECT_EQ(*read_file(_dest + "/x"), "inside too");
    EXPECT_EQ(*read_file(_dest + "/outside/y"), "inside as well");
    EXPECT_TRUE(list_dir(outside).empty());
    EXPECT_FALSE(path_exists(_base + "/x"));
    EXPECT_FALSE(path_exists(_base + "/layers/x"));
}

TEST_F(UnpackTest, SymlinkLoopsAreErrors) {
    auto r = unpack({symlink("a", "b"), symlink("b", "a"), file("a/file", "x")});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_EQ(r.err().message, "unpack layer entry a/file: open directory a: too many levels of symbolic links");
    expect_no_debris();
}

TEST_F(UnpackTest, AFileUsedAsADirectoryIsAnError) {
    auto r = unpack({file("a", "x"), file("a/b", "y")});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_EQ(r.err().message, "unpack layer entry a/b: open directory a: not a directory");
    expect_no_debris();
}

TEST_F(UnpackTest, HardlinksResolveInsideTheLayer) {
    {
        auto r = unpack({hardlink("passwd", "../../etc/passwd")});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::invalid_argument);
        EXPECT_EQ(r.err().message, "unpack layer entry passwd: hardlink target ../../etc/passwd escapes the layer root");
        expect_no_debris();
    }
    {
        // Absolute: /etc/passwd of the layer, which this layer does not have.
        auto r = unpack({hardlink("passwd", "/etc/passwd")});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::not_found) << r.err().message;
        EXPECT_EQ(r.err().message.rfind("unpack layer entry passwd: hardlink target /etc/passwd", 0), 0u) << r.err().message;
        expect_no_debris();
    }
    {
        // Through a symlink pointing at the host's /etc: still the layer's.
        auto r = unpack({symlink("hostetc", "/etc"), hardlink("passwd", "hostetc/passwd")});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::not_found) << r.err().message;
        expect_no_debris();
    }
    {
        auto r = unpack({file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), hardlink("passwd", "/etc/passwd")});
        ASSERT_TRUE(r) << r.err().message;
        EXPECT_EQ(lstat_of(_dest + "/passwd").st_ino, lstat_of(_dest + "/etc/passwd").st_ino);
        EXPECT_NE(lstat_of(_dest + "/passwd").st_ino, lstat_of("/etc/passwd").st_ino);
    }
}

TEST_F(UnpackTest, HardlinkToADirectoryIsRefused) {
    auto r = unpack({dir("d/"), hardlink("l", "d")});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    expect_no_debris();
}

TEST_F(UnpackTest, BrokenArchivesAreErrorsWithoutDebris) {
    std::string tar = make_tar({file("a", std::string(100000, 'a')), file("b", "b")});
    {
        auto r = unpack_layer(write_archive(tar.substr(0, 30000)), _dest);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::invalid_argument);
        EXPECT_EQ(r.err().message.rfind("unpack layer entry a: ", 0), 0u) << r.err().message;
        expect_no_debris();
    }
    {
        std::string gz = compress(tar, ARCHIVE_FILTER_GZIP);
        auto r = unpack_layer(write_archive(gz.substr(0, gz.size() / 2), "cut.tar.gz"), _dest);
        ASSERT_FALSE(r);
        expect_no_debris();
        EXPECT_FALSE(compute_diff_id(_base + "/cut.tar.gz"));
        // Cut inside the gzip trailer (crc and length): all data is there.
        r = unpack_layer(write_archive(gz.substr(0, gz.size() - 4), "notrailer.tar.gz"), _dest);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::invalid_argument);
        expect_no_debris();
    }
    {
        auto r = unpack_layer(write_archive("this is not a tar archive, not even close\n"), _dest);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::invalid_argument);
        EXPECT_EQ(r.err().message.rfind("read layer ", 0), 0u) << r.err().message;
        expect_no_debris();
    }
    {
        auto r = unpack_layer(_base + "/missing.tar", _dest);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.err().code, errc::not_found);
        EXPECT_EQ(r.err().message, "open layer " + _base + "/missing.tar: no such file or directory");
        expect_no_debris();
    }
}

TEST_F(UnpackTest, ExistingDestinationIsRefused) {
    ASSERT_TRUE(make_dirs(_dest));
    auto r = unpack({file("a", "a")});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::already_exists);
    EXPECT_TRUE(list_dir(_dest).empty());
}

TEST_F(UnpackTest, UnpacksConcurrentlyAndRacesForTheSameLayer) {
    std::vector<std::string> archives;
    for (int i = 0; i < 4; ++i) {
        std::vector<tar_entry> entries;
        for (int j = 0; j < 50; ++j)
            entries.push_back(file("d" + std::to_string(j % 5) + "/f" + std::to_string(j), std::string(1000 + i, char('a' + i))));
        entries.push_back(symlink("link", "../../.."));
        entries.push_back(file("link/through", std::to_string(i)));
        archives.push_back(write_archive(make_tar(entries), "l" + std::to_string(i) + ".tar"));
    }
    // Four different layers, and three unpacks of layer 0 into one place.
    std::vector<std::string> dests;
    for (int i = 0; i < 4; ++i) dests.push_back(_base + "/layers/l" + std::to_string(i));
    std::vector<std::pair<std::string, std::string>> jobs;
    for (int i = 0; i < 4; ++i) jobs.emplace_back(archives[i], dests[i]);
    jobs.emplace_back(archives[0], _base + "/layers/same");
    jobs.emplace_back(archives[0], _base + "/layers/same");
    jobs.emplace_back(archives[0], _base + "/layers/same");

    std::vector<std::optional<result<unpacked_layer>>> results(jobs.size());
    std::vector<std::thread> threads;
    for (size_t k = 0; k < jobs.size(); ++k)
        threads.emplace_back([&, k] { results[k].emplace(unpack_layer(jobs[k].first, jobs[k].second)); });
    for (auto& t : threads) t.join();

    for (size_t k = 0; k < 4; ++k) {
        ASSERT_TRUE(*results[k]) << results[k]->err().message;
        EXPECT_EQ((*results[k])->entries, 52u);
        EXPECT_EQ(*read_file(dests[k] + "/through"), std::to_string(k));
        EXPECT_EQ(read_file(dests[k] + "/d3/f13")->size(), 1000u + k);
    }
    // Whoever loses the race to the same destination still succeeds (or sees
    // it already there, if it started after the winner finished).
    int won = 0;
    for (size_t k = 4; k < jobs.size(); ++k) {
        if (*results[k]) {
            ++won;
            EXPECT_EQ((*results[k])->diff_id, (*results[0])->diff_id);
        } else {
            EXPECT_EQ(results[k]->err().code, errc::already_exists) << results[k]->err().message;
        }
    }
    EXPECT_GE(won, 1);
    EXPECT_EQ(*read_file(_base + "/layers/same/through"), "0");
    auto names = list_dir(_base + "/layers");
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"l0", "l1", "l2", "l3", "same", "sub"}));
}

}  // namespace
}  // namespace berth::storage
