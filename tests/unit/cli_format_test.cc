// The CLI's human formats and request bodies, checked against what the docker
// CLI prints and sends (traces in docs/docker-api: 09-images, 11-run-rm,
// 14-ps, 23-inspect, 40-run-flags).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <string>

#include "base/util.h"
#include "cli/common.h"

namespace berth::cli {
namespace {

namespace json = boost::json;

TEST(CliFormat, HumanDuration) {
    EXPECT_EQ(human_duration(0), "Less than a second");
    EXPECT_EQ(human_duration(1), "1 second");
    EXPECT_EQ(human_duration(3), "3 seconds");
    EXPECT_EQ(human_duration(59), "59 seconds");
    EXPECT_EQ(human_duration(60), "About a minute");
    EXPECT_EQ(human_duration(119), "About a minute");
    EXPECT_EQ(human_duration(120), "2 minutes");
    EXPECT_EQ(human_duration(3599), "59 minutes");
    EXPECT_EQ(human_duration(3600), "About an hour");
    EXPECT_EQ(human_duration(5399), "About an hour");  // hours are rounded
    EXPECT_EQ(human_duration(5400), "2 hours");
    EXPECT_EQ(human_duration(47 * 3600), "47 hours");
    EXPECT_EQ(human_duration(48 * 3600), "2 days");
    EXPECT_EQ(human_duration(13 * 86400), "13 days");
    EXPECT_EQ(human_duration(14 * 86400), "2 weeks");
    EXPECT_EQ(human_duration(60 * 86400), "2 months");
    EXPECT_EQ(human_duration(729 * 86400), "24 months");
    EXPECT_EQ(human_duration(730 * 86400), "2 years");
    // 09-images: created 2024-01-01, listed 2026-11-29.
    EXPECT_EQ(time_ago(1704067200, 1795924887), "2 years ago");
    EXPECT_EQ(time_ago(1795924889, 1795924892), "3 seconds ago");
}

TEST(CliFormat, HumanSize) {
    EXPECT_EQ(human_size(1985573), "1.99MB");
    EXPECT_EQ(human_size(4260000), "4.26MB");
    EXPECT_EQ(human_size(0), "0B");
    EXPECT_EQ(human_size(999), "999B");
    EXPECT_EQ(human_size(1000), "1kB");
    EXPECT_EQ(human_size(123456789012), "123GB");
    EXPECT_EQ(human_size_binary(25276665856.0), "23.54GiB");
    EXPECT_EQ(human_size_binary(1024), "1KiB");
}

TEST(CliFormat, RamBytes) {
    EXPECT_EQ(*parse_ram_bytes("64m"), 67108864);
    EXPECT_EQ(*parse_ram_bytes("1g"), 1073741824);
    EXPECT_EQ(*parse_ram_bytes("512"), 512);
    EXPECT_EQ(*parse_ram_bytes("1.5k"), 1536);
    EXPECT_EQ(*parse_ram_bytes("2MiB"), 2 * 1024 * 1024);
    EXPECT_FALSE(parse_ram_bytes("lots"));
    EXPECT_FALSE(parse_ram_bytes("12x"));
    EXPECT_FALSE(parse_ram_bytes(""));
}

TEST(CliFormat, CommandColumn) {
    std::string cmd =
        "sh -c 'echo out-line; echo err-line >&2; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done'";
    EXPECT_EQ(go_quote(ellipsis(cmd, 20)), "\"sh -c 'echo out-lin\xE2\x80\xA6\"");
    EXPECT_EQ(go_quote(ellipsis("sleep 100", 20)), "\"sleep 100\"");
    EXPECT_EQ(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    EXPECT_EQ(display_width("out-lin\xE2\x80\xA6"), 8u);
}

TEST(CliFormat, ShortId) {
    EXPECT_EQ(short_id("sha256:6846890dda769293a2748b20176022bf36f52a3a00a87bd93467a8ff50c788f5"), "6846890dda76");
    EXPECT_EQ(short_id("d21c973fcd6abfeb451edf3a05abdbb6f9942efac9dc2f42e40a999f729127cc"), "d21c973fcd6a");
}

TEST(CliFormat, TableLikeDockerPs) {
    std::string cmd = go_quote(ellipsis("sh -c 'echo out-line; echo err-line >&2'", 20));
    std::string out = format_table({
        {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"},
        {"6199341ca13f", "127.0.0.1:5000/busybox", cmd, "3 seconds ago", "Up 2 seconds", "", "fx-talker"},
        {"d21c973fcd6a", "127.0.0.1:5000/busybox", "\"sleep 100\"", "3 seconds ago", "Up 2 seconds", "",
         "fx-sleeper"},
    });
    // 14-ps, byte for byte.
    EXPECT_EQ(out,
              "CONTAINER ID   IMAGE                    COMMAND                  CREATED         STATUS         "
              "PORTS     NAMES\n"
              "6199341ca13f   127.0.0.1:5000/busybox   \"sh -c 'echo out-lin\xE2\x80\xA6\"   3 seconds ago   Up 2 "
              "seconds             fx-talker\n"
              "d21c973fcd6a   127.0.0.1:5000/busybox   \"sleep 100\"              3 seconds ago   Up 2 seconds   "
              "          fx-sleeper\n");
}

TEST(CliFormat, Escaping) {
    EXPECT_EQ(escape_path("127.0.0.1:5000/busybox"), "127.0.0.1:5000/busybox");
    EXPECT_EQ(escape_path("a b?c%"), "a%20b%3Fc%25");
    EXPECT_EQ(escape_query("127.0.0.1:5000/busybox"), "127.0.0.1%3A5000%2Fbusybox");
    EXPECT_EQ(escape_query("{\"name\":{\"x\":true}}"), "%7B%22name%22%3A%7B%22x%22%3Atrue%7D%7D");
}

TEST(CliFormat, References) {
    EXPECT_EQ(normalize_reference("127.0.0.1:5000/layered"), "127.0.0.1:5000/layered:latest");
    EXPECT_EQ(normalize_reference("busybox:1.36"), "busybox:1.36");
    EXPECT_EQ(normalize_reference("busybox@sha256:ab"), "busybox@sha256:ab");
    EXPECT_EQ(split_reference("127.0.0.1:5000/busybox:latest"),
              std::make_pair(std::string("127.0.0.1:5000/busybox"), std::string("latest")));
    EXPECT_EQ(split_reference("127.0.0.1:5000/busybox"),
              std::make_pair(std::string("127.0.0.1:5000/busybox"), std::string()));
    EXPECT_EQ(split_reference("fx/imp@sha256:ab"), std::make_pair(std::string("fx/imp"), std::string()));
}

TEST(CliFormat, PrettyJsonLikeDockerInspect) {
    json::value v = json::parse(R"([{"Id":"x","Args":["100"],"State":{"Running":true,"Pid":7},)"
                                R"("Labels":{},"Mounts":[],"Ratio":0.5,"Gone":null}])");
    EXPECT_EQ(pretty_json(v),
              "[\n"
              "    {\n"
              "        \"Id\": \"x\",\n"
              "        \"Args\": [\n"
              "            \"100\"\n"
              "        ],\n"
              "        \"State\": {\n"
              "            \"Running\": true,\n"
              "            \"Pid\": 7\n"
              "        },\n"
              "        \"Labels\": {},\n"
              "        \"Mounts\": [],\n"
              "        \"Ratio\": 0.5,\n"
              "        \"Gone\": null\n"
              "    }\n"
              "]");
    EXPECT_EQ(pretty_json(json::array{}), "[]");
}

TEST(CliFormat, Template) {
    json::value v = json::parse(R"({"State":{"Pid":13093,"Status":"running"},"Config":{"Env":["A=1","B=2"],)"
                                R"("Labels":{"b":"2","a":"1"}},"Name":"/fx"})");
    EXPECT_EQ(*render_template("{{.State.Pid}} {{.State.Status}}", v), "13093 running");
    EXPECT_EQ(*render_template("{{ .Name }}", v), "/fx");
    EXPECT_EQ(*render_template("{{.Config.Env}}", v), "[A=1 B=2]");
    EXPECT_EQ(*render_template("{{.Config.Labels}}", v), "map[a:1 b:2]");
    EXPECT_EQ(*render_template("{{json .Config.Env}}", v), "[\"A=1\",\"B=2\"]");
    EXPECT_EQ(*render_template("{{.Missing.Field}}", v), "<no value>");
    EXPECT_FALSE(render_template("{{range .Config.Env}}{{.}}{{end}}", v));
    EXPECT_FALSE(render_template("{{.State.Pid", v));
}

TEST(CliFormat, CreateBodyDefaults) {
    create_options o;
    o.image = "127.0.0.1:5000/busybox";
    o.cmd = {"echo", "hi"};
    o.auto_remove = true;
    auto body = build_create_body(o);
    ASSERT_TRUE(body) << body.err().message;
    const json::object& b = *body;
    // 11-run-rm, except NetworkMode: berth has no default bridge.
    EXPECT_EQ(b.at("Image"), "127.0.0.1:5000/busybox");
    EXPECT_EQ(b.at("Cmd"), (json::array{"echo", "hi"}));
    EXPECT_TRUE(b.at("Env").is_null());
    EXPECT_TRUE(b.at("Entrypoint").is_null());
    EXPECT_EQ(b.at("AttachStdin"), false);
    EXPECT_EQ(b.at("AttachStdout"), true);
    EXPECT_EQ(b.at("AttachStderr"), true);
    EXPECT_EQ(b.at("Tty"), false);
    EXPECT_EQ(b.at("OpenStdin"), false);
    EXPECT_TRUE(b.at("Labels").as_object().empty());
    const json::object& h = b.at("HostConfig").as_object();
    EXPECT_EQ(h.at("AutoRemove"), true);
    EXPECT_EQ(h.at("NetworkMode"), "none");
    EXPECT_EQ(h.at("RestartPolicy").at("Name"), "no");
    EXPECT_EQ(h.at("MemorySwappiness"), -1);
    EXPECT_EQ(h.at("ConsoleSize"), (json::array{0, 0}));
    EXPECT_TRUE(h.at("CapAdd").is_null());
    EXPECT_FALSE(h.contains("Init"));
    EXPECT_TRUE(b.at("NetworkingConfig").at("EndpointsConfig").as_object().contains("none"));
}

TEST(CliFormat, CreateBodyFlags) {
    create_options o;
    o.image = "busybox";
    o.cmd = {"-c", "id"};
    o.entrypoint = "/bin/sh";
    o.env = {"FOO=bar"};
    o.labels = {"a=b", "flag"};
    o.workdir = "/tmp";
    o.user = "1000:1000";
    o.hostname = "fxhost";
    o.network = "host";
    o.cap_add = {"chown"};
    o.cap_drop = {"ALL"};
    o.volumes = {"/srv/fx/vol:/vol:ro", "/anon"};
    o.tmpfs = {"/run:size=1m"};
    o.memory = "64m";
    o.pids_limit = 50;
    o.read_only = true;
    o.init = true;
    o.stop_signal = "SIGINT";
    o.interactive = true;
    auto body = build_create_body(o);
    ASSERT_TRUE(body) << body.err().message;
    const json::object& b = *body;
    EXPECT_EQ(b.at("Entrypoint"), (json::array{"/bin/sh"}));
    EXPECT_EQ(b.at("Env"), (json::array{"FOO=bar"}));
    EXPECT_EQ(b.at("Labels"), (json::object{{"a", "b"}, {"flag", ""}}));
    EXPECT_EQ(b.at("WorkingDir"), "/tmp");
    EXPECT_EQ(b.at("User"), "1000:1000");
    EXPECT_EQ(b.at("Hostname"), "fxhost");
    EXPECT_EQ(b.at("StopSignal"), "SIGINT");
    EXPECT_EQ(b.at("AttachStdin"), true);
    EXPECT_EQ(b.at("OpenStdin"), true);
    EXPECT_EQ(b.at("StdinOnce"), true);
    EXPECT_TRUE(b.at("Volumes").as_object().contains("/anon"));
    const json::object& h = b.at("HostConfig").as_object();
    EXPECT_EQ(h.at("NetworkMode"), "host");
    EXPECT_EQ(h.at("CapAdd"), (json::array{"CAP_CHOWN"}));
    EXPECT_EQ(h.at("CapDrop"), (json::array{"ALL"}));
    EXPECT_EQ(h.at("Binds"), (json::array{"/srv/fx/vol:/vol:ro"}));
    EXPECT_EQ(h.at("Tmpfs"), (json::object{{"/run", "size=1m"}}));
    EXPECT_EQ(h.at("Memory"), 67108864);
    EXPECT_EQ(h.at("PidsLimit"), 50);
    EXPECT_EQ(h.at("ReadonlyRootfs"), true);
    EXPECT_EQ(h.at("Init"), true);
    EXPECT_TRUE(b.at("NetworkingConfig").at("EndpointsConfig").as_object().contains("host"));

    create_options d;
    d.image = "busybox";
    d.detach = true;
    d.interactive = true;
    auto detached = build_create_body(d);
    ASSERT_TRUE(detached);
    EXPECT_EQ(detached->at("AttachStdout"), false);
    EXPECT_EQ(detached->at("AttachStdin"), false);
    EXPECT_EQ(detached->at("OpenStdin"), true);
    EXPECT_EQ(detached->at("StdinOnce"), false);

    create_options bad;
    bad.image = "busybox";
    bad.memory = "lots";
    EXPECT_FALSE(build_create_body(bad));
    create_options empty_entrypoint;
    empty_entrypoint.entrypoint = "";
    EXPECT_EQ(build_create_body(empty_entrypoint)->at("Entrypoint"), (json::array{""}));
}

TEST(CliFormat, EnvResolution) {
    ::setenv("BERTH_CLI_TEST_VAR", "from-env", 1);
    ::unsetenv("BERTH_CLI_TEST_UNSET");
    char dir[] = "/tmp/berth-cli-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    std::string file = std::string(dir) + "/env";
    ASSERT_TRUE(write_file(file, "# comment\n\n  A=1\r\nBERTH_CLI_TEST_VAR\nBERTH_CLI_TEST_UNSET\nB=x=y\n"));
    auto env = resolve_env({file}, {"C=3", "BERTH_CLI_TEST_VAR", "BERTH_CLI_TEST_UNSET"});
    ASSERT_TRUE(env) << env.err().message;
    EXPECT_EQ(*env, (std::vector<std::string>{"A=1", "BERTH_CLI_TEST_VAR=from-env", "B=x=y", "C=3",
                                              "BERTH_CLI_TEST_VAR=from-env", "BERTH_CLI_TEST_UNSET"}));
    ASSERT_TRUE(write_file(file, "BAD NAME=1\n"));
    EXPECT_FALSE(resolve_env({file}, {}));
    EXPECT_FALSE(resolve_env({std::string(dir) + "/missing"}, {}));
    ::unlink(file.c_str());
    ::rmdir(dir);
}

TEST(CliFormat, StartFailureExitCode) {
    EXPECT_EQ(start_failure_exit_code("exec: \"nope\": executable file not found in $PATH"), 127);
    EXPECT_EQ(start_failure_exit_code("exec /bin/x: no such file or directory"), 127);
    EXPECT_EQ(start_failure_exit_code("exec /etc/passwd: permission denied"), 126);
    EXPECT_EQ(start_failure_exit_code("cannot execute /x"), 126);
    EXPECT_EQ(start_failure_exit_code("cgroup: device busy"), 125);
}

TEST(CliFormat, CreateBodyHealthcheck) {
    create_options o;
    o.image = "busybox";
    o.health_cmd = "curl -f localhost";
    o.health_interval = "1m30s";
    o.health_timeout = "500ms";
    o.health_retries = 4;
    auto body = build_create_body(o);
    ASSERT_TRUE(body) << body.err().message;
    const json::object& hc = body->at("Healthcheck").as_object();
    EXPECT_EQ(hc.at("Test"), (json::array{"CMD-SHELL", "curl -f localhost"}));
    EXPECT_EQ(hc.at("Interval"), 90'000'000'000LL);
    EXPECT_EQ(hc.at("Timeout"), 500'000'000LL);
    EXPECT_EQ(hc.at("Retries"), 4);

    create_options none;
    none.image = "busybox";
    none.no_healthcheck = true;
    auto off = build_create_body(none);
    ASSERT_TRUE(off);
    EXPECT_EQ(off->at("Healthcheck").at("Test"), (json::array{"NONE"}));
    none.health_cmd = "true";
    EXPECT_FALSE(build_create_body(none));
    create_options bad;
    bad.image = "busybox";
    bad.health_interval = "soon";
    EXPECT_FALSE(build_create_body(bad));
}

}  // namespace
}  // namespace berth::cli
