// Test support, header-only: tar archives built in memory with libarchive's
// writer (entries described as tar_entry values, compressed when a test needs
// it); lstat and directory listings to check what an unpack or an import left
// on disk; the scratch tree of the layer unpack tests. Shared by the unit and
// the root tests.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "base/util.h"

namespace berth::test {

// The mtime of every entry that does not set its own.
inline constexpr std::int64_t k_mtime = 1'600'000'000;

struct tar_entry {
    std::string name;
    unsigned type = AE_IFREG;
    unsigned perm = 0644;
    std::string data;      // a regular file's content
    std::string symlink;   // the target of an AE_IFLNK entry
    std::string hardlink;  // when set, the entry is a hard link to this name
    std::int64_t uid = 0;
    std::int64_t gid = 0;
    unsigned major = 0;  // device numbers of AE_IFCHR and AE_IFBLK entries
    unsigned minor = 0;
    std::int64_t mtime = k_mtime;
    std::vector<std::pair<std::string, std::string>> xattrs;
};

inline tar_entry file(std::string name, std::string data, unsigned perm = 0644) {
    tar_entry e;
    e.name = std::move(name);
    e.data = std::move(data);
    e.perm = perm;
    return e;
}

inline tar_entry dir(std::string name, unsigned perm = 0755) {
    tar_entry e;
    e.name = std::move(name);
    e.type = AE_IFDIR;
    e.perm = perm;
    return e;
}

inline tar_entry symlink(std::string name, std::string target) {
    tar_entry e;
    e.name = std::move(name);
    e.type = AE_IFLNK;
    e.perm = 0777;
    e.symlink = std::move(target);
    return e;
}

inline tar_entry hardlink(std::string name, std::string target) {
    tar_entry e;
    e.name = std::move(name);
    e.hardlink = std::move(target);
    return e;
}

// A device node or a fifo: type is AE_IFCHR, AE_IFBLK or AE_IFIFO.
inline tar_entry device(std::string name, unsigned type, unsigned major, unsigned minor, unsigned perm) {
    tar_entry e;
    e.name = std::move(name);
    e.type = type;
    e.major = major;
    e.minor = minor;
    e.perm = perm;
    return e;
}

inline tar_entry fifo(std::string name, unsigned perm) { return device(std::move(name), AE_IFIFO, 0, 0, perm); }

inline tar_entry owned(tar_entry e, std::int64_t uid, std::int64_t gid) {
    e.uid = uid;
    e.gid = gid;
    return e;
}

// libarchive write callback: appends to the std::string passed as client data.
inline la_ssize_t append_to_string(archive*, void* out, const void* buf, size_t n) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
}

// The libarchive writer encodes pax names as UTF-8 only from a UTF-8 locale
// (under "C" it marks non-ASCII names hdrcharset=BINARY).
class utf8_locale_scope {
public:
    utf8_locale_scope() : _loc(::newlocale(LC_ALL_MASK, "C.UTF-8", locale_t(0))) {
        if (_loc) _old = ::uselocale(_loc);
    }
    ~utf8_locale_scope() {
        if (_loc) {
            ::uselocale(_old);
            ::freelocale(_loc);
        }
    }
    utf8_locale_scope(const utf8_locale_scope&) = delete;
    utf8_locale_scope& operator=(const utf8_locale_scope&) = delete;

private:
    locale_t _loc;
    locale_t _old = LC_GLOBAL_LOCALE;
};

// An uncompressed pax archive, padded to 10240-byte blocks like GNU tar's.
inline std::string make_tar(const std::vector<tar_entry>& entries) {
    utf8_locale_scope locale;
    std::string out;
    archive* a = archive_write_new();
    EXPECT_EQ(archive_write_set_format_pax(a), ARCHIVE_OK);
    EXPECT_EQ(archive_write_open(a, &out, nullptr, append_to_string, nullptr), ARCHIVE_OK);
    for (const auto& t : entries) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, t.name.c_str());
        archive_entry_set_perm(e, t.perm);
        archive_entry_set_uid(e, t.uid);
        archive_entry_set_gid(e, t.gid);
        archive_entry_set_mtime(e, t.mtime, 0);
        archive_entry_set_rdevmajor(e, t.major);
        archive_entry_set_rdevminor(e, t.minor);
        if (!t.hardlink.empty()) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, t.hardlink.c_str());
            archive_entry_set_size(e, 0);
        } else {
            archive_entry_set_filetype(e, t.type);
            if (t.type == AE_IFLNK) archive_entry_set_symlink(e, t.symlink.c_str());
            archive_entry_set_size(e, t.type == AE_IFREG ? static_cast<la_int64_t>(t.data.size()) : 0);
        }
        for (const auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
        EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << t.name << ": " << archive_error_string(a);
        if (t.type == AE_IFREG && !t.data.empty() && t.hardlink.empty()) {
            EXPECT_EQ(archive_write_data(a, t.data.data(), t.data.size()), static_cast<la_ssize_t>(t.data.size()));
        }
        archive_entry_free(e);
    }
    EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

// Exactly `raw` through a libarchive compression filter (ARCHIVE_FILTER_GZIP,
// ARCHIVE_FILTER_ZSTD, ...), with nothing appended after it: the decompressed
// stream is `raw` byte for byte, so it hashes to the same diff id.
inline std::string compress(const std::string& raw, int filter) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    EXPECT_EQ(archive_write_add_filter(a, filter), ARCHIVE_OK);
    archive_write_set_bytes_in_last_block(a, 1);
    EXPECT_EQ(archive_write_open(a, &out, nullptr, append_to_string, nullptr), ARCHIVE_OK);
    archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_pathname(e, "layer.tar");
    archive_entry_set_size(e, static_cast<la_int64_t>(raw.size()));
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    EXPECT_EQ(archive_write_data(a, raw.data(), raw.size()), static_cast<la_ssize_t>(raw.size()));
    archive_entry_free(e);
    EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

// The names in a directory, without "." and ".."; `if_missing` when the
// directory cannot be opened.
inline std::vector<std::string> list_dir(const std::string& path, std::vector<std::string> if_missing = {}) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return if_missing;
    std::vector<std::string> out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(std::move(n));
    }
    ::closedir(d);
    return out;
}

// lstat(2) of path; a failure fails the test and returns a zeroed stat.
inline struct stat lstat_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
    return st;
}

// The fixture of the layer unpack tests: the layer goes to
// <base>/layers/sub/layer, deep enough that "../.." from it stays inside
// base; <base>/outside is where an escape through an absolute symlink would
// land. Each test's SetUp calls make_scratch; TearDown is each test's own.
class unpack_scratch_test : public ::testing::Test {
protected:
    // Creates base from tmpl, a mkdtemp(3) template ("/tmp/name-XXXXXX").
    void make_scratch(std::string tmpl) {
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        _base = tmpl;
        ASSERT_TRUE(make_dirs(_base + "/layers/sub"));
        ASSERT_TRUE(make_dirs(_base + "/outside"));
        _dest = _base + "/layers/sub/layer";
    }

    // A refused layer leaves neither the layer nor its staging directory.
    void expect_no_debris() {
        EXPECT_FALSE(path_exists(_dest));
        EXPECT_TRUE(list_dir(_base + "/layers/sub").empty());
        EXPECT_TRUE(list_dir(_base + "/outside").empty());
    }

    std::string _base;
    std::string _dest;
};

}  // namespace berth::test
