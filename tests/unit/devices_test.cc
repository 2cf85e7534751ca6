// Devices: the CLI's --device and --device-cgroup-rule parsing (docker's
// validateLinuxPath, parseLinuxDevice, validateDeviceCgroupRule), the
// daemon's checks of HostConfig (moby's rule parser and messages), the rule
// texts the v1 devices controller takes, and the launch spec's device fields.
#include <linux/bpf.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "cli/common.h"
#include "engine/cgroup/devices.h"
#include "engine/device_config.h"
#include "engine/runtime/spec.h"

namespace berth {
namespace {

namespace json = boost::json;

constexpr unsigned R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;

json::object device(const char* host, const char* container, const char* perms) {
    return {{"PathOnHost", host}, {"PathInContainer", container}, {"CgroupPermissions", perms}};
}

TEST(DeviceFlag, HostOnlyTakesTheSamePathAndRwm) {
    auto d = cli::parse_device_flag("/dev/null");
    ASSERT_TRUE(d) << d.err().message;
    EXPECT_EQ(*d, device("/dev/null", "/dev/null", "rwm"));
}

TEST(DeviceFlag, ContainerPathAndPermissions) {
    EXPECT_EQ(*cli::parse_device_flag("/dev/null:/dev/mynull"), device("/dev/null", "/dev/mynull", "rwm"));
    EXPECT_EQ(*cli::parse_device_flag("/dev/null:/dev/mynull:r"), device("/dev/null", "/dev/mynull", "r"));
    // Two parts whose second is a mode: the mode, on the host's path.
    EXPECT_EQ(*cli::parse_device_flag("/dev/null:mw"), device("/dev/null", "/dev/null", "mw"));
    // docker cleans the paths of these forms.
    EXPECT_EQ(*cli::parse_device_flag("/dev//snd/"), device("/dev/snd", "/dev/snd", "rwm"));
    EXPECT_EQ(*cli::parse_device_flag("/dev/null:/dev/./x/../mynull"), device("/dev/null", "/dev/mynull", "rwm"));
}

TEST(DeviceFlag, DockerErrors) {
    auto msg = [](const char* spec) {
        auto d = cli::parse_device_flag(spec);
        return d ? std::string("accepted") : d.err().message;
    };
    EXPECT_EQ(msg("/dev/null:/dev/x:rwx"), "bad mode specified: rwx");
    EXPECT_EQ(msg("/dev/null:/dev/x:rr"), "bad mode specified: rr");
    EXPECT_EQ(msg("/dev/null:/dev/x:"), "bad mode specified: ");
    EXPECT_EQ(msg("a:b:c:d"), "bad format for path: a:b:c:d");
    EXPECT_EQ(msg(":/dev/x"), "bad format for path: :/dev/x");
    EXPECT_EQ(msg("/dev/null:relative"), "relative is not an absolute path");
    EXPECT_EQ(msg("null"), "null is not an absolute path");
}

TEST(DeviceCgroupRuleFlag, DockerPattern) {
    for (const char* ok : {"c 1:3 mr", "b *:* m", "a *:* rwm", "c 10:200 rwm", "c 1:3 rrr"})
        EXPECT_TRUE(cli::check_device_cgroup_rule(ok)) << ok;
    for (const char* bad : {"a", "c 1:3", "x 1:3 r", "c 1-3 r", "c 1:3 rwmr", "c 1:3 q", "c  1:3 r", " c 1:3 r",
                            "c a:3 r", ""}) {
        auto s = cli::check_device_cgroup_rule(bad);
        ASSERT_FALSE(s) << bad;
        EXPECT_EQ(s.err().message, "invalid device cgroup format '" + std::string(bad) + "'");
    }
}

TEST(CreateBody, DevicesAndRules) {
    cli::create_options o;
    o.image = "busybox";
    o.devices = {"/dev/null:/dev/mynull:r", "/dev/zero"};
    o.device_cgroup_rules = {"c 1:3 mr"};
    o.privileged = true;
    auto body = cli::build_create_body(o);
    ASSERT_TRUE(body) << body.err().message;
    const auto& hc = body->at("HostConfig").as_object();
    EXPECT_EQ(hc.at("Devices"), (json::array{device("/dev/null", "/dev/mynull", "r"),
                                             device("/dev/zero", "/dev/zero", "rwm")}));
    EXPECT_EQ(hc.at("DeviceCgroupRules"), (json::array{"c 1:3 mr"}));
    EXPECT_EQ(hc.at("Privileged"), true);
    o.devices = {"/dev/null:/x:rwq"};
    body = cli::build_create_body(o);
    ASSERT_FALSE(body);
    EXPECT_EQ(body.err().message, "invalid argument \"/dev/null:/x:rwq\" for \"--device\" flag: bad mode specified: rwq");
    o.devices.clear();
    o.device_cgroup_rules = {"c 1:3"};
    body = cli::build_create_body(o);
    ASSERT_FALSE(body);
    EXPECT_EQ(body.err().message,
              "invalid argument \"c 1:3\" for \"--device-cgroup-rule\" flag: invalid device cgroup format 'c 1:3'");
}

TEST(DeviceAccess, EachOfRwmOnce) {
    EXPECT_EQ(cgroup::parse_device_access("rwm"), R | W | M);
    EXPECT_EQ(cgroup::parse_device_access("mr"), R | M);
    EXPECT_EQ(cgroup::parse_device_access("w"), W);
    for (const char* bad : {"", "rr", "rwx", "a", "rwmr"}) EXPECT_FALSE(cgroup::parse_device_access(bad)) << bad;
}

TEST(DeviceCgroupRule, MobyParse) {
    auto r = cgroup::parse_device_cgroup_rule("c 1:3 mr");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, 'c');
    EXPECT_EQ(r->major, 1);
    EXPECT_EQ(r->minor, 3);
    EXPECT_EQ(r->access, R | M);
    r = cgroup::parse_device_cgroup_rule("b *:* w");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->major, -1);
    EXPECT_EQ(r->minor, -1);
    // "a" alone is "a *:* rwm"; an "a" rule covers everything whatever its numbers.
    for (const char* all : {"a", "a 1:2 r"}) {
        r = cgroup::parse_device_cgroup_rule(all);
        ASSERT_TRUE(r) << all;
        EXPECT_EQ(cgroup::device_rule_text(*r), "a *:* rwm");
    }
    r = cgroup::parse_device_cgroup_rule("c 4294967295:0 r");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->major, 4294967295LL);
}

TEST(DeviceCgroupRule, MobyErrors) {
    for (const char* bad : {"c 1:3", "b", "x 1:3 r", "c 1-3 r", "c 1:3 rwx", "c -1:3 r", "c 1:3 rwmr", ""}) {
        auto r = cgroup::parse_device_cgroup_rule(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.err().message, "invalid device cgroup rule format: '" + std::string(bad) + "'");
        EXPECT_EQ(r.err().code, errc::invalid_argument);
    }
    auto r = cgroup::parse_device_cgroup_rule("c 4294967296:3 r");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "invalid major value in device cgroup rule format: 'c 4294967296:3 r'");
    r = cgroup::parse_device_cgroup_rule("c 1:99999999999999999999 r");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "invalid minor value in device cgroup rule format: 'c 1:99999999999999999999 r'");
}

TEST(DeviceRuleText, DevicesAllowLines) {
    EXPECT_EQ(cgroup::device_rule_text({'c', 1, 3, R | W | M}), "c 1:3 rwm");
    EXPECT_EQ(cgroup::device_rule_text({'b', -1, -1, M}), "b *:* m");
    EXPECT_EQ(cgroup::device_rule_text({'c', 136, -1, R | W}), "c 136:* rw");
}

TEST(DeviceRules, DockerDefaultsFirst) {
    std::vector<std::string> texts;
    for (const auto& r : cgroup::rules_with_defaults({{'c', 10, 237, R}})) texts.push_back(cgroup::device_rule_text(r));
    EXPECT_EQ(texts, (std::vector<std::string>{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                                               "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm",
                                               "c 136:* rwm", "c 10:200 rwm", "c 10:237 r"}));
}

TEST(DeviceConfig, ReadsHostConfig) {
    json::object hc{{"Privileged", true},
                    {"Devices", json::array{device("/dev/null", "/dev/mynull", "r"), device("/dev/zero", "", "")}},
                    {"DeviceCgroupRules", json::array{"c 1:3 mr", "a"}}};
    auto c = device_config_of(hc);
    ASSERT_TRUE(c) << c.err().message;
    EXPECT_TRUE(c->privileged);
    ASSERT_EQ(c->devices.size(), 2u);
    EXPECT_EQ(c->devices[0].path_in_container, "/dev/mynull");
    EXPECT_EQ(c->devices[0].permissions, "r");
    ASSERT_EQ(c->cgroup_rules.size(), 2u);
    EXPECT_EQ(cgroup::device_rule_text(c->cgroup_rules[1]), "a *:* rwm");
    EXPECT_TRUE(c->any());
    auto none = device_config_of(json::object{{"Devices", nullptr}, {"DeviceCgroupRules", nullptr}});
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->any());
}

TEST(DeviceConfig, RefusesWhatDockerRefuses) {
    auto msg = [](json::object hc) {
        auto c = device_config_of(hc);
        return c ? std::string("accepted") : c.err().message;
    };
    EXPECT_EQ(msg({{"Devices", json::array{device("/dev/null", "/x", "rwq")}}}), "bad mode specified: rwq");
    EXPECT_EQ(msg({{"Devices", json::array{device("/dev/null", "x", "rwm")}}}), "x is not an absolute path");
    EXPECT_EQ(msg({{"Devices", json::array{device("", "/x", "rwm")}}}), "bad format for path: ");
    EXPECT_EQ(msg({{"Devices", json::array{"/dev/null"}}}),
              "HostConfig.Devices must be an array of {PathOnHost, PathInContainer, CgroupPermissions}");
    EXPECT_EQ(msg({{"DeviceCgroupRules", json::array{"c 1:3 rwx"}}}), "invalid device cgroup rule format: 'c 1:3 rwx'");
    EXPECT_EQ(msg({{"DeviceCgroupRules", json::array{1}}}), "HostConfig.DeviceCgroupRules must be an array of strings");
    EXPECT_EQ(msg({{"Privileged", "yes"}}), "HostConfig.Privileged must be a boolean");
}

TEST(LaunchSpecDevices, RoundTrip) {
    runtime::launch_spec s;
    s.devices = {{"/dev/mynull", 'c', 1, 3, 0666, 0, 0}, {"/dev/sdx", 'b', 8, 16, 0660, 0, 6},
                 {"/dev/fifo", 'p', 0, 0, 0600, 1000, 1000}};
    s.writable_sys = true;
    auto back = runtime::launch_spec_from_json(runtime::to_json(s));
    ASSERT_TRUE(back) << back.err().message;
    ASSERT_EQ(back->devices.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(back->devices[i].path, s.devices[i].path);
        EXPECT_EQ(back->devices[i].type, s.devices[i].type);
        EXPECT_EQ(back->devices[i].major, s.devices[i].major);
        EXPECT_EQ(back->devices[i].minor, s.devices[i].minor);
        EXPECT_EQ(back->devices[i].mode, s.devices[i].mode);
        EXPECT_EQ(back->devices[i].uid, s.devices[i].uid);
        EXPECT_EQ(back->devices[i].gid, s.devices[i].gid);
    }
    EXPECT_TRUE(back->writable_sys);
    auto bad = runtime::launch_spec_from_json(R"({"devices":[{"path":"/dev/x","type":"x","major":1,"minor":1,)"
                                              R"("mode":0,"uid":0,"gid":0}]})");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.err().message.find("devices.type"), std::string::npos);
}

}  // namespace
}  // namespace berth
