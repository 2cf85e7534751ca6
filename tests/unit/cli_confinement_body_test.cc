// The confinement flags in the create body, as the docker CLI sends them
// (docs/docker-api traces 23-inspect, 40-run-flags).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/common.h"

namespace berth::cli {
namespace {

namespace json = boost::json;

TEST(CliConfinementBody, DefaultsAsTheDockerCli) {
    create_options o;
    o.image = "busybox";
    auto body = build_create_body(o);
    ASSERT_TRUE(body) << body.err().message;
    const auto& host = body->at("HostConfig").as_object();
    EXPECT_EQ(host.at("ReadonlyRootfs"), false);
    EXPECT_EQ(host.at("ShmSize"), 0);
    EXPECT_EQ(host.at("Ulimits"), json::array{});
    EXPECT_TRUE(host.at("GroupAdd").is_null());
    EXPECT_TRUE(host.at("SecurityOpt").is_null());
    EXPECT_FALSE(host.contains("Sysctls"));
    EXPECT_FALSE(host.contains("Tmpfs"));
}

TEST(CliConfinementBody, FlagsBecomeHostConfig) {
    create_options o;
    o.image = "busybox";
    o.read_only = true;
    o.tmpfs = {"/run:size=1m,mode=1777", "/cache"};
    o.shm_size = "16m";
    o.ulimits = {"nofile=1024:2048", "core=0"};
    o.sysctls = {"kernel.shmmax=1234", "net.ipv4.ip_forward=1"};
    o.group_add = {"staff", "4242"};
    o.security_opt = {"no-new-privileges"};
    auto body = build_create_body(o);
    ASSERT_TRUE(body) << body.err().message;
    const auto& host = body->at("HostConfig").as_object();
    EXPECT_EQ(host.at("ReadonlyRootfs"), true);
    EXPECT_EQ(host.at("Tmpfs"), (json::object{{"/run", "size=1m,mode=1777"}, {"/cache", ""}}));
    EXPECT_EQ(host.at("ShmSize"), 16 << 20);
    EXPECT_EQ(host.at("Ulimits"), (json::array{json::object{{"Name", "nofile"}, {"Hard", 2048}, {"Soft", 1024}},
                                               json::object{{"Name", "core"}, {"Hard", 0}, {"Soft", 0}}}));
    EXPECT_EQ(host.at("Sysctls"), (json::object{{"kernel.shmmax", "1234"}, {"net.ipv4.ip_forward", "1"}}));
    EXPECT_EQ(host.at("GroupAdd"), (json::array{"staff", "4242"}));
    EXPECT_EQ(host.at("SecurityOpt"), (json::array{"no-new-privileges"}));
}

TEST(CliConfinementBody, MalformedValuesAreRefused) {
    for (const char* bad : {"nofile", "nofile=x", "nofile=10:5", "nofile=1:2:3"}) {
        create_options o;
        o.image = "busybox";
        o.ulimits = {bad};
        auto body = build_create_body(o);
        ASSERT_FALSE(body) << bad;
        EXPECT_NE(body.err().message.find("for \"--ulimit\" flag"), std::string::npos) << body.err().message;
    }
    create_options o;
    o.image = "busybox";
    o.sysctls = {"kernel.shmmax"};
    auto body = build_create_body(o);
    ASSERT_FALSE(body);
    EXPECT_NE(body.err().message.find("sysctl 'kernel.shmmax' is not allowed"), std::string::npos);
    o.sysctls.clear();
    o.shm_size = "lots";
    EXPECT_FALSE(build_create_body(o));
}

}  // namespace
}  // namespace berth::cli
