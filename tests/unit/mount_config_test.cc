#include <algorithm>
#include <sys/mount.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/mount_flag.h"
#include "engine/mount_config.h"
#include "engine/runtime/spec.h"

namespace berth {
namespace {

namespace json = boost::json;

json::object hc(std::string_view text) { return json::parse(text).as_object(); }

TEST(BindMounts, BindsAndMountsGiveLaunchSpecBinds) {
    auto b = bind_mounts_of(hc(R"({"Binds":["/a/:/data//x:ro,rslave","vol:/v:nocopy"],
        "Mounts":[{"Type":"bind","Source":"/f","Target":"/t","ReadOnly":true,"BindOptions":{"Propagation":"shared"}}]})"),
                            "/root");
    ASSERT_TRUE(b) << b.err().message;
    ASSERT_EQ(b->size(), 3u);
    EXPECT_EQ((*b)[0].source, "/a");
    EXPECT_EQ((*b)[0].target, "/data/x");
    EXPECT_TRUE((*b)[0].readonly);
    EXPECT_TRUE((*b)[0].create_source);
    EXPECT_EQ((*b)[0].propagation, "rslave");
    EXPECT_EQ((*b)[1].source, "/root/volumes/vol/_data");
    EXPECT_FALSE((*b)[1].populate);
    EXPECT_FALSE((*b)[1].create_source);
    EXPECT_EQ((*b)[2].propagation, "shared");
    EXPECT_FALSE((*b)[2].create_source);
    EXPECT_EQ(volume_names_of(hc(R"({"Binds":["/a:/b","vol:/v"],"Mounts":[{"Type":"volume","Source":"w","Target":"/w"}]})")),
              (std::vector<std::string>{"vol", "w"}));
}

TEST(BindMounts, DockerMessagesForBadSpecs) {
    auto msg = [](std::string_view text) {
        auto b = bind_mounts_of(hc(text), "/r");
        return b ? std::string() : b.err().message;
    };
    EXPECT_EQ(msg(R"({"Binds":["/a:/b:bogus"]})"), "invalid mode: bogus");
    EXPECT_EQ(msg(R"({"Binds":["/a:/b","/c:/b/"]})"), "Duplicate mount point: /b");
    EXPECT_EQ(msg(R"({"Binds":["/a:/"]})"),
              "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: "
              "destination can't be '/'");
    EXPECT_EQ(msg(R"({"Binds":["/data:ro"]})"), "invalid volume specification: '/data:ro'");
    EXPECT_EQ(msg(R"({"Binds":["/a:/b:c:d"]})"), "invalid volume specification: '/a:/b:c:d'");
    EXPECT_EQ(msg(R"({"Binds":[":/b"]})"), "invalid volume specification: ':/b'");
    EXPECT_EQ(msg(R"({"Binds":["/a:/b:ro,z,cached"]})"), "");
    EXPECT_EQ(msg(R"({"Mounts":[{"Type":"volume","Target":"/t","ReadOnly":true}]})"),
              "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes");
    EXPECT_EQ(msg(R"({"Mounts":[{"Type":"bind","Target":"/t"}]})"),
              "invalid mount config for type \"bind\": field Source must not be empty");
    EXPECT_EQ(msg(R"({"Mounts":[{"Type":"bind","Source":"/s","Target":"/t","BindOptions":{"Propagation":"x"}}]})"),
              "invalid mount config for type \"bind\": invalid propagation mode: x");
    EXPECT_EQ(msg(R"({"Mounts":[{"Type":"tmpfs","Target":"/t","Source":"x"}]})"),
              "invalid mount config for type \"tmpfs\": field Source must not be specified");
    EXPECT_EQ(msg(R"({"Mounts":[{"Type":"tmpfs","Target":"/t"},{"Type":"bind","Source":"/s","Target":"/t"}]})"),
              "Duplicate mount point: /t");
    EXPECT_NE(msg(R"({"Binds":["/a:/b/../c"]})").find("must not contain .."), std::string::npos);
}

TEST(BindMounts, AnonymousVolumes) {
    auto h = hc(R"({"Binds":["/a:/data","/anon"],"Mounts":[{"Type":"volume","Target":"/m/"}],"Tmpfs":{"/t":""}})");
    auto anon = assign_anonymous_volumes(h, hc(R"({"/data":{},"/req":{}})"), hc(R"({"/t":{},"/img":{},"/req":{}})"));
    ASSERT_TRUE(anon) << anon.err().message;
    std::vector<std::string> targets;
    for (const auto& [k, v] : *anon) {
        targets.emplace_back(k);
        EXPECT_EQ(v.as_string().size(), 64u);
    }
    std::sort(targets.begin(), targets.end());
    EXPECT_EQ(targets, (std::vector<std::string>{"/anon", "/img", "/m", "/req"}));
    h[anonymous_volumes_key] = *anon;
    auto b = bind_mounts_of(h, "/r");
    ASSERT_TRUE(b) << b.err().message;
    ASSERT_EQ(b->size(), 5u);
    for (const auto& m : *b)
        if (m.target != "/data") {
            EXPECT_EQ(m.source, "/r/volumes/" + std::string((*anon)[m.target].as_string()) + "/_data");
            EXPECT_TRUE(m.populate);
        }
    EXPECT_EQ(anonymous_volumes_of(h).size(), 4u);
    EXPECT_EQ(volume_names_of(h).size(), 4u);
    h.erase(anonymous_volumes_key);
    EXPECT_FALSE(bind_mounts_of(h, "/r"));  // unnamed anonymous volume
}

TEST(BindMounts, TmpfsMountsAndVolumesFrom) {
    auto t = tmpfs_mounts_of(hc(R"({"Mounts":[{"Type":"tmpfs","Target":"/x/","ReadOnly":true,
        "TmpfsOptions":{"SizeBytes":1048576,"Mode":448}}]})"));
    ASSERT_TRUE(t) << t.err().message;
    ASSERT_EQ(t->size(), 1u);
    EXPECT_EQ((*t)[0].target, "/x");
    EXPECT_EQ((*t)[0].data, "mode=700,size=1048576");
    EXPECT_EQ((*t)[0].flags & (MS_RDONLY | MS_NOEXEC | MS_NOSUID | MS_NODEV), MS_RDONLY | MS_NOEXEC | MS_NOSUID | MS_NODEV);
    EXPECT_FALSE(tmpfs_mounts_of(hc(R"({"Tmpfs":{"/x":""},"Mounts":[{"Type":"tmpfs","Target":"/x"}]})")));

    auto vf = parse_volumes_from("box:ro");
    ASSERT_TRUE(vf);
    EXPECT_EQ(vf->first, "box");
    EXPECT_EQ(vf->second, "ro");
    EXPECT_EQ(parse_volumes_from("box")->second, "rw");
    EXPECT_FALSE(parse_volumes_from("box:rshared"));
    EXPECT_FALSE(parse_volumes_from(""));

    auto src = hc(R"({"Binds":["/h:/h:ro","vol:/v"],"Mounts":[{"Type":"tmpfs","Target":"/t"}],
        "BerthAnonymousVolumes":{"/a":"abc"}})");
    auto m = inherited_mounts(src, "rw");
    ASSERT_TRUE(m) << m.err().message;
    ASSERT_EQ(m->size(), 3u);  // no tmpfs
    auto consumer = hc(R"({"Binds":["/other:/a"]})");
    consumer[volumes_from_key] = *m;
    auto b = bind_mounts_of(consumer, "/r");
    ASSERT_TRUE(b) << b.err().message;
    ASSERT_EQ(b->size(), 3u);  // the consumer's own /a wins over the inherited one
    for (const auto& x : *b) {
        if (x.target == "/h") {
            EXPECT_TRUE(x.readonly && x.source == "/h");
        } else if (x.target == "/v") {
            EXPECT_TRUE(!x.readonly && x.source == "/r/volumes/vol/_data" && !x.populate);
        } else {
            EXPECT_EQ(x.source, "/other");
        }
    }
    EXPECT_EQ(volume_names_of(consumer), (std::vector<std::string>{"vol"}));
    auto ro = inherited_mounts(src, "ro");
    ASSERT_TRUE(ro);
    for (const auto& x : *ro) EXPECT_FALSE(x.as_object().at("RW").as_bool());
}

TEST(BindMounts, LaunchSpecRoundTrip) {
    runtime::launch_spec s;
    s.binds.push_back({"/src", "/dst", true, true, "rshared", true});
    auto back = runtime::launch_spec_from_json(runtime::to_json(s));
    ASSERT_TRUE(back);
    ASSERT_EQ(back->binds.size(), 1u);
    const auto& b = back->binds[0];
    EXPECT_EQ(b.source, "/src");
    EXPECT_EQ(b.target, "/dst");
    EXPECT_TRUE(b.readonly && b.create_source && b.populate);
    EXPECT_EQ(b.propagation, "rshared");
}

TEST(MountFlag, TmpfsSizeAndModeAsDockerSendsThem) {
    auto m = cli::parse_mount_flag("type=tmpfs,target=/x,tmpfs-size=1m,tmpfs-mode=0700");
    ASSERT_TRUE(m) << m.err().message;
    EXPECT_EQ(json::serialize(*m), R"({"Type":"tmpfs","Target":"/x","TmpfsOptions":{"SizeBytes":1048576,"Mode":448}})");
    EXPECT_FALSE(cli::parse_mount_flag("type=tmpfs,target=/x,tmpfs-mode=9"));
    EXPECT_FALSE(cli::parse_mount_flag("type=tmpfs,target=/x,tmpfs-size=big"));
    auto mixed = cli::parse_mount_flag("type=bind,source=/a,target=/x,tmpfs-size=1m");
    ASSERT_FALSE(mixed);
    EXPECT_NE(mixed.err().message.find("cannot mix 'tmpfs-*' options with mount type 'bind'"), std::string::npos);
}

TEST(MountFlag, DockerCsv) {
    auto m = cli::parse_mount_flag("type=bind,src=/a,dst=/b,readonly,bind-propagation=rslave");
    ASSERT_TRUE(m);
    EXPECT_EQ(json::serialize(*m),
              R"({"Type":"bind","Source":"/a","Target":"/b","ReadOnly":true,"BindOptions":{"Propagation":"rslave"}})");
    auto v = cli::parse_mount_flag("source=vol,target=/d");
    ASSERT_TRUE(v);
    EXPECT_EQ((*v)["Type"].as_string(), "volume");
    EXPECT_FALSE(cli::parse_mount_flag("type=bind,source=/a"));
    EXPECT_FALSE(cli::parse_mount_flag("type=bind,bogus=1,target=/b"));
}

}  // namespace
}  // namespace berth
