// berth load [-i FILE] [-q]
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "base/fd.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

struct options {
    std::string input;
    bool quiet = false;
};

int load(context& ctx, const options& o) {
    unique_fd file;
    int body_fd = 0;
    if (!o.input.empty() && o.input != "-") {
        file.reset(::open(o.input.c_str(), O_RDONLY | O_CLOEXEC));
        if (!file) return fail(sys_error("open " + o.input), 1);
        body_fd = file.get();
    } else if (::isatty(0)) {
        return fail(make_error(errc::invalid_argument, "requested load from stdin, but stdin is empty"), 1);
    }

    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    auto s = (*api)->upload("POST", o.quiet ? "/images/load?quiet=1" : "/images/load?quiet=0", "application/x-tar",
                            body_fd);
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    if (s->content_type().find("json") != std::string::npos) {
        if (auto st = print_json_messages(*s); !st) return fail(st.err(), 1);
        return 0;
    }
    auto body = s->read_all();
    if (!body) return fail(body.err(), 1);
    std::fputs(body->c_str(), stdout);
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("-i,--input", o->input, "Read from tar archive file, instead of STDIN");
    sub.add_flag("-q,--quiet", o->quiet, "Suppress the load output");
    return [o](context& ctx) { return load(ctx, *o); };
}

}  // namespace

command load_command() { return {"load", "Load an image from a tar archive or STDIN", 1, setup}; }

}  // namespace berth::cli
