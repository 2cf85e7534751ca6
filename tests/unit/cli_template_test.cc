// The --format template engine (cli/format.h) against what Go's text/template
// and docker's formatter print.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/common.h"
#include "cli/format.h"

namespace berth::cli {
namespace {

namespace json = boost::json;

std::string run(std::string_view tmpl, const template_data& d, bool header = false) {
    auto t = go_template::parse(tmpl);
    EXPECT_TRUE(t) << (t ? "" : t.err().message);
    if (!t) return "<parse error>";
    std::string out;
    auto r = t->execute(d, out, header);
    EXPECT_TRUE(r) << (r ? "" : r.err().message);
    return out;
}

template_data container_row() {
    template_data d;
    d.type_name = "*formatter.ContainerContext";
    d.dot = json::object{{"ID", "d21c973fcd6a"}, {"Names", "web"}, {"Labels", "a=1,tier=front"}, {"State", "running"}};
    d.methods["Label"] = [](const std::vector<json::value>& args) -> result<json::value> {
        if (args.size() == 1 && args[0] == "tier") return json::value("front");
        return json::value("");
    };
    return d;
}

TEST(CliTemplate, FieldsMethodsAndFunctions) {
    auto d = container_row();
    EXPECT_EQ(run("{{.ID}} {{.Names}}", d), "d21c973fcd6a web");
    EXPECT_EQ(run("{{.Label \"tier\"}}|{{.Label \"nope\"}}", d), "front|");
    EXPECT_EQ(run("{{upper .Names}} {{.State | upper}} {{lower \"AbC\"}}", d), "WEB RUNNING abc");
    EXPECT_EQ(run("{{title \"hello big world\"}}", d), "Hello Big World");
    EXPECT_EQ(run("{{json .Names}}", d), "\"web\"");
    EXPECT_FALSE(go_template::parse("{{join (split .Labels \",\") \";\"}}"));  // no parentheses
}

TEST(CliTemplate, PipelinesPadTruncateAndTrim) {
    auto d = container_row();
    EXPECT_EQ(run("{{split .Labels \",\" | json}}", d), "[\"a=1\",\"tier=front\"]");
    EXPECT_EQ(run("[{{pad .Names 2 1}}]", d), "[  web ]");
    EXPECT_EQ(run("{{truncate .ID 4}} {{truncate .Names 10}}", d), "d21c web");
    EXPECT_EQ(run("state:   {{- pad .State 1 0}}\n{{.Names -}}  \n|", d), "state: running\nweb|");
    EXPECT_EQ(run("a  {{- .Names}}", d), "aweb");
    EXPECT_EQ(run("{{-3}}", d), "-3");  // a number, not a trim marker
    EXPECT_EQ(run("{{len .Names}}", d), "3");
}

TEST(CliTemplate, JsonOfTheDot) {
    template_data d;
    d.dot = json::object{{"B", "2"}, {"A", json::array{"x", 1}}};
    EXPECT_EQ(run("{{json .}}", d), "{\"B\":\"2\",\"A\":[\"x\",1]}");
    EXPECT_EQ(run("{{.A}} {{index .A 1}}", d), "[x 1] 1");
}

TEST(CliTemplate, MissingFields) {
    template_data map_data;
    map_data.dot = json::object{{"State", json::object{{"Pid", 7}}}};
    EXPECT_EQ(run("{{.Nope}} {{.Nope.Deeper}} {{json .Nope}} {{.State.Pid}}", map_data), "<no value> <no value> null 7");

    auto d = container_row();
    auto t = go_template::parse("table {{.ID}}\\t{{.Foo}}");
    ASSERT_TRUE(t);
    std::string out;
    auto r = t->execute(d, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message,
              "template: :1:17: executing \"\" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext");
    EXPECT_EQ(out, "table d21c973fcd6a\\t");  // what came before the error stays
    out.clear();
    r = go_template::parse("{{.ID.Short}}")->execute(d, out);
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find("can't evaluate field Short in type string"), std::string::npos);
    out.clear();
    r = go_template::parse("{{.Names \"x\"}}")->execute(d, out);
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find("Names is not a method but has arguments"), std::string::npos);
    out.clear();
    r = go_template::parse("{{upper .Missing}}")->execute(map_data, out);
    EXPECT_FALSE(r);
}

TEST(CliTemplate, ParseErrors) {
    auto expect_error = [](std::string_view tmpl, std::string_view message) {
        auto t = go_template::parse(tmpl);
        ASSERT_FALSE(t) << tmpl;
        EXPECT_EQ(t.err().message, message) << tmpl;
    };
    expect_error("{{.ID", "template: :1: unclosed action");
    expect_error("a\n{{nosuch .ID}}", "template: :2: function \"nosuch\" not defined");
    expect_error("{{}}", "template: :1: missing value for command");
    expect_error("{{.ID | }}", "template: :1: missing value for command");
    expect_error("{{\"abc}}", "template: :1: unclosed action");
    EXPECT_FALSE(go_template::parse("{{range .Names}}{{.}}{{end}}"));
    EXPECT_FALSE(go_template::parse("{{if .ID}}x{{end}}"));
    EXPECT_FALSE(go_template::parse("{{$x := .ID}}"));
    // "}}" inside a string does not close the action.
    EXPECT_EQ(run("{{\"a}}b\"}}", container_row()), "a}}b");
}

TEST(CliTemplate, Reads) {
    auto t = go_template::parse("{{.ID}} {{.Size | upper}}");
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->reads("Size"));
    EXPECT_TRUE(t->reads("ID"));
    EXPECT_FALSE(t->reads("Names"));
    auto all = go_template::parse("{{json .}}");
    EXPECT_TRUE(all->reads("Size"));
}

TEST(CliTemplate, DockerFormatAndTable) {
    auto f = parse_docker_format("table {{.ID}}\\t{{.Names}}  ");
    EXPECT_TRUE(f.table);
    EXPECT_EQ(f.text, "{{.ID}}\t{{.Names}}");
    auto plain = parse_docker_format("{{.ID}}\\t{{.Names}}\\n");
    EXPECT_FALSE(plain.table);
    EXPECT_EQ(plain.text, "{{.ID}}\t{{.Names}}\n");

    template_data header;
    header.dot = json::object{{"ID", "CONTAINER ID"}, {"Names", "NAMES"}};
    header.methods["Label"] = [](const std::vector<json::value>& a) -> result<json::value> {
        return json::value(a[0].get_string());
    };
    auto a = container_row();
    auto b = container_row();
    b.dot.as_object()["ID"] = "0123456789ab";
    b.dot.as_object()["Names"] = "a-much-longer-name";
    auto table = render_rows(f, {a, b}, header);
    ASSERT_TRUE(table);
    EXPECT_EQ(*table,
              "CONTAINER ID   NAMES\n"
              "d21c973fcd6a   web\n"
              "0123456789ab   a-much-longer-name\n");
    // Header functions return their argument; cells are at least 10 wide.
    auto labels = render_rows(parse_docker_format("table {{lower .Names}}\\t{{.Label \"tier\"}}\\t{{.ID}}"),
                              {a}, header);
    ASSERT_TRUE(labels);
    EXPECT_EQ(*labels,
              "NAMES     tier      CONTAINER ID\n"
              "web       front     d21c973fcd6a\n");
    // Without "table": no header, tabs kept.
    EXPECT_EQ(*render_rows(plain, {a}, header), "d21c973fcd6a\tweb\n\n");
    // An empty list still has its header.
    EXPECT_EQ(*render_rows(f, {}, header), "CONTAINER ID   NAMES\n");
}

TEST(CliTemplate, InspectTemplateStillWorks) {
    json::value v = json::parse(R"({"State":{"Pid":13093},"Config":{"Labels":{"b":"2","a":"1"}}})");
    EXPECT_EQ(*render_template("{{.State.Pid}} {{.Config.Labels}}", v), "13093 map[a:1 b:2]");
    EXPECT_EQ(*render_template("{{index .Config.Labels \"b\"}}", v), "2");
    EXPECT_EQ(go_value_text(json::parse("[1,\"a\",null]")), "[1 a <nil>]");
    EXPECT_EQ(compact_json(json::parse("{\"a\":[1,2]}")), "{\"a\":[1,2]}");
}

}  // namespace
}  // namespace berth::cli
