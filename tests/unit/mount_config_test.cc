#include <algorithm>
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
    EXPECT_EQ(msg(R"({"Binds":["/a:/"]})"), "invalid specification: destination can't be '/' in '/a:/'");
    EXPECT_EQ(msg(R"({"Mounts":[{"Type":"bind","Target":"/t"}]})"),
              "invalid mount config for type \"bind\": field Source must not be empty");
    EXPECT_EQ(msg(R"({"Mounts":[{"Type":"bind","Source":"/s","Target":"/t","BindOptions":{"Propagation":"x"}}]})"),
              "invalid mount config for type \"bind\": invalid propagation mode: x");
    EXPECT_NE(msg(R"({"Mounts":[{"Type":"tmpfs","Target":"/t"}]})").find("not supported yet"), std::string::npos);
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
