// --userns-remap resolution against passwd/group/subuid/subgid files in a
// temp dir, and the launch spec's id maps.
#include <stdlib.h>

#include <filesystem>
#include <gtest/gtest.h>

#include "base/util.h"
#include "engine/runtime/spec.h"
#include "engine/runtime/userns.h"
#include "engine/userns_copy.h"
#include "engine/userns_remap.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using runtime::id_range;

class fake_etc : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/berth-etctest-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        etc = tmpl;
        put("passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/sh\n"
                      "berth:x:998:998::/nonexistent:/bin/false\n");
        put("group", "root:x:0:\nalice:x:1001:\nstaff:x:50:\nberth:x:998:\n");
    }
    void TearDown() override { fs::remove_all(etc); }
    void put(const std::string& name, const std::string& text) { ASSERT_TRUE(write_file(etc + "/" + name, text)); }
    std::string etc;
};

TEST(subordinate_ranges, in_file_order_from_zero) {
    const std::string file = "# comment\nbob:100000:65536\nalice:200000:1000\nalice:500000:64536\n1001:9:1\nbad:x:1\n";
    auto r = subordinate_ranges(file, "alice", "");
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0], (id_range{0, 200000, 1000}));
    EXPECT_EQ(r[1], (id_range{1000, 500000, 64536}));
    // Matched by the numeric id too (shadow's subuid allows it).
    EXPECT_EQ(subordinate_ranges(file, "alice", "1001").size(), 3u);
    EXPECT_TRUE(subordinate_ranges(file, "carol", "").empty());
    EXPECT_TRUE(subordinate_ranges(file, "bad", "").empty());
}

TEST(subordinate_ranges, next_free_after_every_range) {
    EXPECT_EQ(next_free_subordinate(""), 100000u);
    EXPECT_EQ(next_free_subordinate("a:100000:65536\nb:300000:65536\nc:165536:10\n"), 365536u);
}

TEST_F(fake_etc, user_with_its_own_group) {
    put("subuid", "alice:100000:65536\n");
    put("subgid", "alice:200000:65536\n");
    auto r = resolve_userns_remap("alice", etc);
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->user, "alice");
    EXPECT_EQ(r->group, "alice");
    EXPECT_EQ(r->uid_map, (std::vector<id_range>{{0, 100000, 65536}}));
    EXPECT_EQ(r->gid_map, (std::vector<id_range>{{0, 200000, 65536}}));
    EXPECT_EQ(runtime::map_to_host(r->uid_map, 0), 100000);
    EXPECT_EQ(runtime::map_to_host(r->uid_map, 1000), 101000);
    EXPECT_EQ(runtime::map_to_host(r->uid_map, 65536), -1);
}

TEST_F(fake_etc, ids_and_explicit_group) {
    put("subuid", "alice:100000:65536\n");
    put("subgid", "staff:300000:65536\n");
    auto r = resolve_userns_remap("1001:50", etc);
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->user, "alice");
    EXPECT_EQ(r->group, "staff");
    EXPECT_EQ(r->gid_map[0].outside, 300000u);
}

TEST_F(fake_etc, refusals) {
    put("subuid", "alice:100000:65536\n");
    put("subgid", "");
    auto r = resolve_userns_remap("alice", etc);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "No subgid ranges found for group \"alice\"");
    r = resolve_userns_remap("nobodyhere", etc);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "userns-remap: no such user: nobodyhere");
    for (const char* bad : {"", ":", "a:b:c", "alice:", "default:staff"}) {
        r = resolve_userns_remap(bad, etc);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.err().code, errc::invalid_argument) << bad;
    }
}

TEST_F(fake_etc, default_adds_ranges_when_missing) {
    put("subuid", "alice:100000:65536\n");
    put("subgid", "alice:100000:65536");  // no final newline
    auto r = resolve_userns_remap("default", etc);
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(r->user, "berth");
    EXPECT_EQ(r->uid_map, (std::vector<id_range>{{0, 165536, 65536}}));
    EXPECT_EQ(*read_file(etc + "/subgid"), "alice:100000:65536\nberth:165536:65536\n");
    // Once there, kept.
    auto again = resolve_userns_remap("default", etc);
    ASSERT_TRUE(again);
    EXPECT_EQ(*read_file(etc + "/subuid"), "alice:100000:65536\nberth:165536:65536\n");
}

TEST(launch_spec_json, id_maps_round_trip) {
    runtime::launch_spec s;
    s.id = "x";
    s.uid_map = {{0, 100000, 65536}, {65536, 300000, 10}};
    s.gid_map = {{0, 200000, 65536}};
    s.rootfs_mount_fd = 7;
    auto back = runtime::launch_spec_from_json(runtime::to_json(s));
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_EQ(back->uid_map, s.uid_map);
    EXPECT_EQ(back->gid_map, s.gid_map);
    EXPECT_EQ(back->rootfs_mount_fd, -1);  // never serialized
    EXPECT_EQ(runtime::id_map_text(s.uid_map), "0 100000 65536\n65536 300000 10\n");
    runtime::launch_spec plain;
    auto p = runtime::launch_spec_from_json(runtime::to_json(plain));
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->uid_map.empty());
}

std::string le32(std::uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string le16(std::uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); }

TEST(remap_xattr, acl_ids_shifted) {
    const std::vector<id_range> uids{{0, 100000, 65536}}, gids{{0, 200000, 65536}};
    std::string acl = le32(2) + le16(1) + le16(6) + le32(0xffffffff) + le16(2) + le16(4) + le32(1000) +
                      le16(8) + le16(4) + le32(50) + le16(0x20) + le16(0) + le32(0xffffffff);
    auto r = remap_xattr("system.posix_acl_access", acl, uids, gids);
    ASSERT_TRUE(r) << r.err().message;
    std::string want = le32(2) + le16(1) + le16(6) + le32(0xffffffff) + le16(2) + le16(4) + le32(101000) +
                       le16(8) + le16(4) + le32(200050) + le16(0x20) + le16(0) + le32(0xffffffff);
    EXPECT_EQ(*r, want);
    EXPECT_FALSE(remap_xattr("system.posix_acl_default", acl.substr(0, 9), uids, gids));
    // An id the remapping has no host id for.
    std::string far = le32(2) + le16(2) + le16(4) + le32(70000);
    EXPECT_FALSE(remap_xattr("system.posix_acl_access", far, uids, gids));
}

TEST(remap_xattr, capabilities_become_v3_with_the_remapped_root) {
    const std::vector<id_range> uids{{0, 100000, 65536}}, gids{{0, 100000, 65536}};
    std::string v2 = le32(0x02000001) + le32(1u << 10) + le32(0) + le32(0) + le32(0);
    auto r = remap_xattr("security.capability", v2, uids, gids);
    ASSERT_TRUE(r) << r.err().message;
    EXPECT_EQ(*r, le32(0x03000001) + le32(1u << 10) + le32(0) + le32(0) + le32(0) + le32(100000));
    std::string v3 = le32(0x03000000) + le32(1) + le32(0) + le32(0) + le32(0) + le32(5);
    r = remap_xattr("security.capability", v3, uids, gids);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->substr(20), le32(100005));
    EXPECT_FALSE(remap_xattr("security.capability", "abc", uids, gids));
    // Anything else is kept as it is.
    r = remap_xattr("trusted.overlay.opaque", "y", uids, gids);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "y");
}

}  // namespace
}  // namespace berth
