// berth import [-c CHANGE]... [-m MESSAGE] FILE|URL|- [REPOSITORY[:TAG]]
#include <fcntl.h>

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
    std::string message;
    std::vector<std::string> changes;
    std::string source;
    std::string reference;
};

int import_image(context& ctx, const options& o) {
    bool url = o.source.starts_with("http://") || o.source.starts_with("https://");
    // Parameters sorted, as Go's url.Values.Encode writes them.
    std::string target = "/images/create?fromSrc=" + escape_query(url ? o.source : "-");
    for (auto& c : o.changes) target += "&changes=" + escape_query(c);
    if (!o.message.empty()) target += "&message=" + escape_query(o.message);
    if (!o.reference.empty()) {
        auto [repo, tag] = split_reference(o.reference);
        target += "&repo=" + escape_query(repo);
        if (!tag.empty()) target += "&tag=" + escape_query(tag);
    }

    unique_fd file;
    int body_fd = 0;
    if (!url && o.source != "-") {
        file.reset(::open(o.source.c_str(), O_RDONLY | O_CLOEXEC));
        if (!file) return fail(sys_error("open " + o.source), 1);
        body_fd = file.get();
    }

    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    auto s = url ? (*api)->stream("POST", target) : (*api)->upload("POST", target, "application/x-tar", body_fd);
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    if (auto st = print_json_messages(*s); !st) return fail(st.err(), 1);
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_option("-c,--change", o->changes, "Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL)")
        ->allow_extra_args(false);
    sub.add_option("-m,--message", o->message, "Set commit message for imported image");
    sub.add_option("file", o->source, "Tarball to import: a path, a URL or - for stdin")->required();
    sub.add_option("REPOSITORY", o->reference, "Name and tag for the image (REPOSITORY[:TAG])");
    return [o](context& ctx) { return import_image(ctx, *o); };
}

}  // namespace

command import_command() { return {"import", "Import the contents from a tarball to create a filesystem image", 1, setup}; }

}  // namespace berth::cli
