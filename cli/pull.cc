// berth pull [--platform P] NAME[:TAG|@DIGEST]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    std::string platform;
    bool quiet = false;
    std::string reference;
};

int pull(context& ctx, const options& o) {
    std::string ref = o.reference;
    std::string name, tag;
    if (auto at = ref.find('@'); at != std::string::npos) {
        name = ref.substr(0, at);
        tag = ref.substr(at + 1);
    } else {
        std::tie(name, tag) = split_reference(ref);
        if (tag.empty()) {
            if (!o.quiet) std::printf("Using default tag: latest\n");
            tag = "latest";
            ref += ":latest";
        }
    }
    std::string target = "/images/create?fromImage=" + escape_query(name);
    if (!o.platform.empty()) target += "&platform=" + escape_query(o.platform);
    target += "&tag=" + escape_query(tag);

    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    // "e30=" is base64url of {}: no credentials, as the docker CLI sends.
    auto s = (*api)->stream("POST", target, {}, {{"X-Registry-Auth", "e30="}});
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    if (o.quiet) {
        auto body = s->read_all();
        if (!body) return fail(body.err(), 1);
    } else if (auto st = print_json_messages(*s); !st) {
        return fail(st.err(), 1);
    }
    std::printf("%s\n", ref.c_str());
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("--platform", o->platform, "Set platform if server is multi-platform capable");
    sub.add_flag("-q,--quiet", o->quiet, "Suppress verbose output");
    sub.add_option("NAME", o->reference, "Image reference")->required();
    return [o](context& ctx) { return pull(ctx, *o); };
}

}  // namespace

command pull_command() { return {"pull", "Download an image from a registry (the daemon refuses it until registry pulls exist)", 1, setup}; }

}  // namespace berth::cli
