// berth export [-o FILE] CONTAINER
#include <fcntl.h>
#include <stdlib.h>
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
    std::string output;
    std::string container;
};

// Copies the body of s to fd as it arrives.
status copy_body(net::response_stream& s, int fd) {
    std::vector<char> buf(256 * 1024);
    for (;;) {
        BERTH_ASSIGN(std::size_t n, s.read_some(buf.data(), buf.size()));
        if (n == 0) return ok();
        BERTH_TRY(write_fd(fd, std::string_view(buf.data(), n)));
    }
}

int export_container(context& ctx, const options& o) {
    if (o.output.empty() && ::isatty(1))
        return fail(make_error(errc::invalid_argument, "cowardly refusing to save to a terminal. Use the -o flag or redirect"), 1);
    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    auto s = (*api)->stream("GET", "/containers/" + escape_path(o.container) + "/export");
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    if (o.output.empty()) {
        if (auto st = copy_body(*s, 1); !st) return fail(st.err(), 1);
        return 0;
    }
    // As docker's CopyToFile: a temporary file next to the output, renamed
    // over it once complete, so a failed export leaves no partial archive.
    auto slash = o.output.rfind('/');
    std::string dir = slash == std::string::npos ? "." : o.output.substr(0, slash + 1);
    std::string tmp = dir + "/.docker_temp_XXXXXX";
    unique_fd f(::mkostemp(tmp.data(), O_CLOEXEC));
    if (!f) return fail(sys_error("create temporary file in " + dir), 1);
    auto st = copy_body(*s, f.get());
    if (st && ::fsync(f.get()) != 0) st = sys_error("write " + tmp);
    f.reset();
    if (st && ::rename(tmp.c_str(), o.output.c_str()) != 0) st = sys_error("rename " + tmp + " to " + o.output);
    if (!st) {
        ::unlink(tmp.c_str());
        return fail(st.err(), 1);
    }
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("-o,--output", o->output, "Write to a file, instead of STDOUT");
    sub.add_option("CONTAINER", o->container, "Container")->required();
    return [o](context& ctx) { return export_container(ctx, *o); };
}

}  // namespace

command export_command() { return {"export", "Export a container's filesystem as a tar archive", 1, setup}; }

}  // namespace berth::cli
