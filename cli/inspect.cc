// berth inspect [-f FORMAT] [--type container|image] NAME...
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

struct options {
    std::string format;
    std::string type;
    std::vector<std::string> names;
};

int inspect(context& ctx, const options& o) {
    if (!o.type.empty() && o.type != "container" && o.type != "image")
        return fail(make_error(errc::invalid_argument, "\"" + o.type + "\" is not a valid value for --type"), 1);
    if (auto api = ctx.api(); !api) return fail(api.err(), 1);

    json::array found;
    std::vector<std::string> errors;
    for (const auto& name : o.names) {
        result<json::value> v = make_error(errc::not_found, "");
        if (o.type != "image") v = call_json(ctx, "GET", "/containers/" + escape_path(name) + "/json");
        if (!v && v.err().code == errc::not_found && o.type != "container")
            v = call_json(ctx, "GET", "/images/" + escape_path(name) + "/json");
        if (v) {
            found.push_back(std::move(*v));
        } else if (v.err().code == errc::not_found) {
            const char* what = o.type == "container" ? "container" : o.type == "image" ? "image" : "object";
            errors.push_back(std::string("Error: No such ") + what + ": " + name);
        } else {
            errors.push_back(v.err().message);
        }
    }

    if (o.format.empty()) {
        std::printf("%s\n", pretty_json(found).c_str());
    } else {
        for (const auto& v : found) {
            auto text = render_template(o.format, v);
            if (!text) return fail(text.err(), 1);
            std::printf("%s\n", text->c_str());
        }
    }
    std::fflush(stdout);
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    return errors.empty() ? 0 : 1;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("-f,--format", o->format, "Format output using a Go template subset: {{.A.B}}, {{json .A}}");
    sub.add_option("--type", o->type, "Only inspect objects of the given type (container|image)");
    sub.add_option("NAME", o->names, "Containers or images")->required();
    return [o](context& ctx) { return inspect(ctx, *o); };
}

}  // namespace

command inspect_command() { return {"inspect", "Return low-level information on containers or images", 1, setup}; }

}  // namespace berth::cli
