// --time-offset (a berth extension): the CLI's flag, the HostConfig field,
// the launch spec, the text written to timens_offsets and the range checks.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/common.h"
#include "engine/confinement_config.h"
#include "engine/runtime/spec.h"
#include "engine/runtime/timens.h"

namespace berth {
namespace {

namespace json = boost::json;
constexpr std::int64_t s = 1'000'000'000;

TEST(TimensOffsetsText, BothClocksSecondsAndNanoseconds) {
    EXPECT_EQ(runtime::timens_offsets_text({86400 * s, 172800 * s}), "monotonic 86400 0\nboottime 172800 0\n");
    EXPECT_EQ(runtime::timens_offsets_text({0, 1 * s + 250'000'000}), "monotonic 0 0\nboottime 1 250000000\n");
}

TEST(TimensOffsetsText, NegativeOffsetsKeepNanosecondsPositive) {
    // -1.5 s is -2 s + 0.5 s: the kernel wants 0 <= nsec < 1e9.
    EXPECT_EQ(runtime::timens_offsets_text({-(1 * s + 500'000'000), -60 * s}),
              "monotonic -2 500000000\nboottime -60 0\n");
    EXPECT_EQ(runtime::timens_offsets_text({-1, 0}), "monotonic -1 999999999\nboottime 0 0\n");
}

TEST(TimensSupport, KernelsBefore61AreRefused) {
    EXPECT_TRUE(runtime::check_time_namespace_support("6.1.0-13-amd64"));
    EXPECT_TRUE(runtime::check_time_namespace_support("6.18.44-fc"));
    EXPECT_TRUE(runtime::check_time_namespace_support("7.0"));
    auto old = runtime::check_time_namespace_support("6.0.19");
    ASSERT_FALSE(old);
    EXPECT_EQ(old.err().code, errc::invalid_argument);
    EXPECT_NE(old.err().message.find("Linux 6.1 or later"), std::string::npos) << old.err().message;
    EXPECT_FALSE(runtime::check_time_namespace_support("5.15.0-91-generic"));
    EXPECT_FALSE(runtime::check_time_namespace_support("garbage"));
}

TEST(TimensRange, ClockMustStayBetweenZeroAndHalfKtimeMax) {
    const std::int64_t now = 1000 * s;
    EXPECT_TRUE(runtime::check_time_offset("monotonic", 86400 * s, now));
    EXPECT_TRUE(runtime::check_time_offset("boottime", -1000 * s, now));
    auto negative = runtime::check_time_offset("boottime", -1001 * s, now);
    ASSERT_FALSE(negative);
    EXPECT_NE(negative.err().message.find("would be negative"), std::string::npos) << negative.err().message;
    EXPECT_NE(negative.err().message.find("boottime=-1001"), std::string::npos) << negative.err().message;
    const std::int64_t max = runtime::k_timens_clock_max_sec * s;
    EXPECT_TRUE(runtime::check_time_offset("monotonic", max - now, now));
    auto huge = runtime::check_time_offset("monotonic", max - now + s, now);
    ASSERT_FALSE(huge);
    EXPECT_NE(huge.err().message.find("kernel's limit"), std::string::npos) << huge.err().message;
    EXPECT_FALSE(runtime::check_time_offset("realtime", 0));
}

TEST(TimensSpec, RoundTripsAndStaysAbsentWhenUnset) {
    runtime::launch_spec spec;
    spec.args = {"true"};
    auto plain = runtime::to_json(spec);
    EXPECT_EQ(plain.find("time_offsets"), std::string::npos);
    auto back = runtime::launch_spec_from_json(plain);
    ASSERT_TRUE(back) << back.err().message;
    EXPECT_FALSE(back->time_offsets);

    spec.time_offsets = runtime::time_offset_spec{86400 * s, -(3 * s + 1)};
    back = runtime::launch_spec_from_json(runtime::to_json(spec));
    ASSERT_TRUE(back) << back.err().message;
    ASSERT_TRUE(back->time_offsets);
    EXPECT_EQ(*back->time_offsets, *spec.time_offsets);
    EXPECT_FALSE(runtime::launch_spec_from_json(R"({"time_offsets": {"monotonic_ns": "1"}})"));
}

json::object host_config(std::string_view offsets) {
    return json::object{{"BerthTimeOffsets", json::parse(offsets)}};
}

TEST(TimensHostConfig, SecondsBecomeNanoseconds) {
    auto c = confinement_of(host_config(R"({"monotonic": 86400, "boottime": -1.5})"));
    ASSERT_TRUE(c) << c.err().message;
    ASSERT_TRUE(c->time_offsets);
    EXPECT_EQ(c->time_offsets->monotonic_ns, 86400 * s);
    EXPECT_EQ(c->time_offsets->boottime_ns, -1'500'000'000);
    for (auto none : {R"(null)", R"({})"}) {
        auto n = confinement_of(host_config(none));
        ASSERT_TRUE(n) << n.err().message;
        EXPECT_FALSE(n->time_offsets) << none;
    }
    auto absent = confinement_of(json::object{});
    ASSERT_TRUE(absent);
    EXPECT_FALSE(absent->time_offsets);
    EXPECT_TRUE(check_time_offsets_on_host(*absent));
}

TEST(TimensHostConfig, BadValuesAreClearErrors) {
    auto unknown = confinement_of(host_config(R"({"realtime": 5})"));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.err().code, errc::invalid_argument);
    EXPECT_NE(unknown.err().message.find("unknown clock \"realtime\""), std::string::npos) << unknown.err().message;
    auto text = confinement_of(host_config(R"({"monotonic": "soon"})"));
    ASSERT_FALSE(text);
    EXPECT_NE(text.err().message.find("must be a number of seconds"), std::string::npos) << text.err().message;
    for (auto big : {R"({"boottime": 1e30})", R"({"boottime": 18446744073709551615})", R"({"boottime": -9223372037})"}) {
        auto b = confinement_of(host_config(big));
        ASSERT_FALSE(b) << big;
        EXPECT_NE(b.err().message.find("out of range"), std::string::npos) << b.err().message;
    }
    EXPECT_FALSE(confinement_of(host_config(R"([1, 2])")));
}

TEST(TimensCliFlag, BecomesBerthTimeOffsets) {
    cli::create_options o;
    o.image = "busybox";
    auto plain = cli::build_create_body(o);
    ASSERT_TRUE(plain) << plain.err().message;
    EXPECT_FALSE(plain->at("HostConfig").as_object().contains("BerthTimeOffsets"));

    o.time_offsets = {"monotonic=86400,boottime=-60s", "realtime=0.25"};
    auto body = cli::build_create_body(o);
    ASSERT_TRUE(body) << body.err().message;
    const auto& t = body->at("HostConfig").at("BerthTimeOffsets").as_object();
    EXPECT_EQ(t.at("monotonic"), 86400);
    EXPECT_EQ(t.at("boottime"), -60);
    EXPECT_EQ(t.at("realtime"), 0.25);  // the daemon refuses the clock
}

TEST(TimensCliFlag, MalformedValuesAreRefused) {
    for (auto bad : {"monotonic", "=5", "monotonic=abc", "monotonic=", "monotonic=1.", "monotonic=1.0000000001",
                     "monotonic=1,monotonic=2", "boottime=1e5"}) {
        cli::create_options o;
        o.image = "busybox";
        o.time_offsets = {bad};
        auto body = cli::build_create_body(o);
        ASSERT_FALSE(body) << bad;
        EXPECT_NE(body.err().message.find("for \"--time-offset\" flag"), std::string::npos) << body.err().message;
    }
}

}  // namespace
}  // namespace berth
