// GET /containers/json filters, checked against moby's daemon/list.go rules.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/container_filter.h"

namespace berth {
namespace {

namespace json = boost::json;

container_ptr make(std::string id, std::string name, std::string status, std::int64_t created,
                   json::object labels = {}) {
    auto c = std::make_shared<container>();
    c->id = std::move(id);
    c->name = std::move(name);
    c->status = std::move(status);
    c->created_ns = created;
    c->image_ref = "busybox";
    c->image_id = "sha256:1111";
    c->config["Labels"] = std::move(labels);
    c->host_config["NetworkMode"] = "none";
    if (c->status != "created") c->started_ns = created + 1;
    if (c->status == "exited") c->finished_ns = created + 2;
    return c;
}

// Newest first, as the engine lists them.
struct fixture {
    container_ptr web = make("aaaa1111", "web", "running", 40, {{"tier", "front"}, {"env", "prod"}});
    container_ptr db = make("aaaa2222", "db", "running", 30, {{"tier", "back"}});
    container_ptr job = make("bbbb3333", "job-7", "exited", 20, {{"env", "prod"}});
    container_ptr fresh = make("cccc4444", "fresh", "created", 10);
    std::vector<container_ptr> all{web, db, job, fresh};

    fixture() {
        job->exit_code = 3;
        db->image_id = "sha256:2222";
    }

    result<std::vector<std::string>> list(std::string_view filters, bool all_flag = false, int limit = -1,
                                          std::string before = {}, std::string since = {}) const {
        BERTH_ASSIGN(filter_args args, parse_filter_args(filters));
        container_list_options o;
        o.all = all_flag;
        o.limit = limit;
        o.before = std::move(before);
        o.since = std::move(since);
        o.filters = std::move(args);
        auto images = [](std::string_view ref) -> result<std::string> {
            if (ref == "busybox" || ref == "busybox:latest" || ref == "1111") return std::string("sha256:1111");
            if (ref == "redis") return std::string("sha256:2222");
            return make_error(errc::not_found, "No such image: " + std::string(ref));
        };
        BERTH_ASSIGN(container_filter f, container_filter::make(o, all, images));
        std::vector<std::string> names;
        for (auto& c : f.select(all)) names.push_back(c->name);
        return names;
    }
};

using names = std::vector<std::string>;

TEST(ContainerFilter, ParsesBothEncodings) {
    auto a = parse_filter_args(R"({"name":{"web":true},"status":{"running":true,"exited":true}})");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->at("name"), (std::set<std::string>{"web"}));
    EXPECT_EQ(a->at("status"), (std::set<std::string>{"running", "exited"}));
    auto b = parse_filter_args(R"({"label":["a=1","b"]})");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->at("label"), (std::set<std::string>{"a=1", "b"}));
    EXPECT_TRUE(parse_filter_args("")->empty());
    EXPECT_FALSE(parse_filter_args("{not json"));
    EXPECT_FALSE(parse_filter_args(R"(["name"])"));
    EXPECT_FALSE(parse_filter_args(R"({"name":"web"})"));
    EXPECT_FALSE(parse_filter_args(R"({"name":[1]})"));
}

TEST(ContainerFilter, AllAndRunning) {
    fixture f;
    EXPECT_EQ(*f.list(""), (names{"web", "db"}));
    EXPECT_EQ(*f.list("", true), (names{"web", "db", "job-7", "fresh"}));
    // A limit implies all, as in moby.
    EXPECT_EQ(*f.list("", false, 3), (names{"web", "db", "job-7"}));
    EXPECT_EQ(*f.list("", false, 0), (names{"web", "db"}));
}

TEST(ContainerFilter, UnknownKeyAndBadValues) {
    fixture f;
    auto r = f.list(R"({"foo":{"x":true}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "Invalid filter 'foo'");
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    r = f.list(R"({"status":{"sleeping":true}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "Invalid filter 'status=sleeping'");
    r = f.list(R"({"health":{"great":true}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "Unrecognised filter value for health: great");
    r = f.list(R"({"exited":{"x":true}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "strconv.Atoi: parsing \"x\": invalid syntax");
    r = f.list(R"({"publish":{"1:2":true}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "filter for 'publish' should not contain ':': 1:2");
    EXPECT_FALSE(f.list(R"({"expose":{"http":true}})"));
    EXPECT_FALSE(f.list(R"({"is-task":{"maybe":true}})"));
}

TEST(ContainerFilter, NameIsARegexpOnTheNameWithAndWithoutSlash) {
    fixture f;
    EXPECT_EQ(*f.list(R"({"name":{"web":true}})"), (names{"web"}));
    EXPECT_EQ(*f.list(R"({"name":{"^/d":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"name":{"^db$":true}})"), (names{"db"}));
    // Substring match; values of one key are alternatives.
    EXPECT_EQ(*f.list(R"({"name":{"o":true}})", true), (names{"job-7"}));
    EXPECT_EQ(*f.list(R"({"name":{"web":true,"fresh":true}})", true), (names{"web", "fresh"}));
    // A value that does not compile matches nothing (Go skips it).
    EXPECT_EQ(*f.list(R"({"name":{"(":true}})", true), names{});
}

TEST(ContainerFilter, IdIsAnUnambiguousPrefix) {
    fixture f;
    EXPECT_EQ(*f.list(R"({"id":{"aaaa2":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"id":{"aaaa2222":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"id":{"aaaa":true}})"), names{});  // two containers share it
    EXPECT_EQ(*f.list(R"({"id":{"bbbb":true}})"), names{});  // exited, no -a
    EXPECT_EQ(*f.list(R"({"id":{"bbbb":true}})", true), (names{"job-7"}));
    // Keys combine with AND.
    EXPECT_EQ(*f.list(R"({"id":{"aaaa1":true},"name":{"db":true}})"), names{});
}

TEST(ContainerFilter, LabelsMustAllMatch) {
    fixture f;
    EXPECT_EQ(*f.list(R"({"label":{"tier":true}})"), (names{"web", "db"}));
    EXPECT_EQ(*f.list(R"({"label":{"tier=back":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"label":["env=prod"]})", true), (names{"web", "job-7"}));
    EXPECT_EQ(*f.list(R"({"label":{"env=prod":true,"tier=front":true}})", true), (names{"web"}));
    EXPECT_EQ(*f.list(R"({"label":{"env=dev":true}})", true), names{});
}

TEST(ContainerFilter, StatusImpliesAll) {
    fixture f;
    EXPECT_EQ(*f.list(R"({"status":{"exited":true}})"), (names{"job-7"}));
    EXPECT_EQ(*f.list(R"({"status":{"created":true,"exited":true}})"), (names{"job-7", "fresh"}));
    f.db->paused = true;
    EXPECT_EQ(*f.list(R"({"status":{"paused":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"status":{"running":true}})"), (names{"web"}));
    f.job->restarting = true;
    EXPECT_EQ(container_state(*f.job), "restarting");
    EXPECT_EQ(*f.list(R"({"status":{"restarting":true}})"), (names{"job-7"}));
    // Restarting counts as running for the default (not -a) list.
    EXPECT_EQ(*f.list(""), (names{"web", "db", "job-7"}));
}

TEST(ContainerFilter, ExitedNeedsAStoppedContainerThatRan) {
    fixture f;
    // exited does not imply all (moby only does that for status).
    EXPECT_EQ(*f.list(R"({"exited":{"3":true}})"), names{});
    EXPECT_EQ(*f.list(R"({"exited":{"3":true}})", true), (names{"job-7"}));
    EXPECT_EQ(*f.list(R"({"exited":{"0":true}})", true), names{});  // "fresh" never ran
    EXPECT_EQ(*f.list(R"({"exited":{"0":true,"3":true}})", true), (names{"job-7"}));
}

TEST(ContainerFilter, Ancestor) {
    fixture f;
    EXPECT_EQ(*f.list(R"({"ancestor":{"busybox":true}})", true), (names{"web", "job-7", "fresh"}));
    EXPECT_EQ(*f.list(R"({"ancestor":{"redis":true}})", true), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"ancestor":{"1111":true,"redis":true}})"), (names{"web", "db"}));
    // An unknown image is skipped; with none known nothing matches.
    EXPECT_EQ(*f.list(R"({"ancestor":{"nope":true}})", true), names{});
}

TEST(ContainerFilter, BeforeAndSince) {
    fixture f;
    EXPECT_EQ(*f.list(R"({"before":{"db":true}})", true), (names{"job-7", "fresh"}));
    EXPECT_EQ(*f.list(R"({"since":{"job-7":true}})", true), (names{"web", "db"}));
    EXPECT_EQ(*f.list(R"({"since":{"/fresh":true}})"), (names{"web", "db"}));
    EXPECT_EQ(*f.list("", true, -1, "web", "fresh"), (names{"db", "job-7"}));
    EXPECT_EQ(*f.list(R"({"before":{"aaaa2":true}})", true), (names{"job-7", "fresh"}));
    auto r = f.list(R"({"before":{"nope":true}})", true);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "No such container: nope");
    EXPECT_EQ(r.err().code, errc::not_found);
}

TEST(ContainerFilter, HealthVolumeNetworkAndPorts) {
    fixture f;
    // Containers without a healthcheck are "none".
    EXPECT_EQ(*f.list(R"({"health":{"none":true}})"), (names{"web", "db"}));
    EXPECT_EQ(*f.list(R"({"health":{"healthy":true}})"), names{});
    f.db->health = health_state{};
    EXPECT_EQ(*f.list(R"({"health":{"starting":true}})"), (names{"db"}));
    f.db->health->status = "healthy";
    EXPECT_EQ(*f.list(R"({"health":{"healthy":true,"unhealthy":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"health":{"none":true}})"), (names{"web"}));
    f.job->health = health_state{};  // a stopped container reports none
    EXPECT_EQ(*f.list(R"({"health":{"none":true}})", true), (names{"web", "job-7", "fresh"}));
    EXPECT_EQ(*f.list(R"({"network":{"none":true}})"), (names{"web", "db"}));
    f.web->host_config["NetworkMode"] = "host";
    EXPECT_EQ(*f.list(R"({"network":{"host":true}})"), (names{"web"}));
    f.db->host_config["Binds"] = json::array{"/srv/data:/data:ro"};
    EXPECT_EQ(*f.list(R"({"volume":{"/data":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"volume":{"/srv/data":true}})"), (names{"db"}));
    EXPECT_EQ(*f.list(R"({"volume":{"/other":true}})"), names{});
    EXPECT_EQ(*f.list(R"({"publish":{"80/tcp":true}})"), names{});
    EXPECT_EQ(*f.list(R"({"is-task":{"false":true}})"), (names{"web", "db"}));
    EXPECT_EQ(*f.list(R"({"is-task":{"true":true}})"), names{});
    EXPECT_EQ(*f.list(R"({"isolation":{"default":true}})"), (names{"web", "db"}));
}

TEST(ContainerFilter, LimitCountsMatchesOnly) {
    fixture f;
    EXPECT_EQ(*f.list(R"({"label":{"env=prod":true}})", false, 1), (names{"web"}));
    EXPECT_EQ(*f.list(R"({"status":{"exited":true,"created":true}})", false, 1), (names{"job-7"}));
}

TEST(ContainerFilter, StateStrings) {
    fixture f;
    EXPECT_EQ(container_state(*f.web), "running");
    EXPECT_EQ(container_state(*f.job), "exited");
    EXPECT_EQ(container_state(*f.fresh), "created");
    f.fresh->status = "removing";
    EXPECT_EQ(container_state(*f.fresh), "removing");
    f.web->paused = true;
    EXPECT_EQ(container_state(*f.web), "paused");
    EXPECT_TRUE(container_running(*f.web));
}

}  // namespace
}  // namespace berth
