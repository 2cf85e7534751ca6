// berth cp [-a] [-L] [-q] CONTAINER:SRC_PATH DEST_PATH|-
// berth cp [-a] [-L] [-q] SRC_PATH|- CONTAINER:DEST_PATH
//
// The path rules are the docker CLI's (moby pkg/archive/copy.go), applied
// here on the client as docker applies them: the daemon only archives one
// path and extracts one archive into one directory.
//   - a file to a missing path is saved under that name; to a directory, into
//     it under its own name; over a file, replacing it;
//   - a directory to a missing path becomes that path; into a directory, it
//     is nested (SRC) or its contents are copied ("SRC/.");
//   - "-" streams the tar itself (to stdout, or from stdin into a directory).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <climits>
#include <cstdio>
#include <memory>
#include <thread>

#include "base/fd.h"
#include "base/tar.h"
#include "base/util.h"
#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace {

namespace json = boost::json;

struct options {
    bool archive = false;  // -a: the container's user owns what is copied in
    bool follow = false;   // -L: follow a symlink given as SRC_PATH
    bool quiet = false;
    std::string src, dst;
};

// Go's os.FileMode type bits, as X-Docker-Container-Path-Stat sends them.
constexpr std::uint32_t k_mode_dir = 1u << 31;
constexpr std::uint32_t k_mode_symlink = 1u << 27;
constexpr std::uint32_t k_mode_device = 1u << 26;
constexpr std::uint32_t k_mode_irregular = 1u << 19;

// ---- paths (Go's filepath on clean, slash-separated paths) ---------------------

bool has_trailing_separator(std::string_view p) { return !p.empty() && p.back() == '/'; }

std::string clean(std::string_view p) {
    bool abs = !p.empty() && p[0] == '/';
    std::vector<std::string> out;
    for (auto& c : split(p, '/')) {
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            if (!out.empty() && out.back() != "..") out.pop_back();
            else if (!abs) out.push_back(c);
            continue;
        }
        out.push_back(c);
    }
    std::string r = abs ? "/" : "";
    for (size_t i = 0; i < out.size(); ++i) r += (i ? "/" : "") + out[i];
    return r.empty() ? "." : r;
}

std::string base_name(std::string_view p) {
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    if (p.empty()) return ".";
    if (p == "/") return "/";
    auto slash = p.rfind('/');
    return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

std::string dir_name(std::string_view p) {
    auto slash = p.rfind('/');
    if (slash == std::string_view::npos) return ".";
    return clean(p.substr(0, slash + 1));
}

// "x/." or "." : the contents of a directory, not the directory.
bool specifies_current_dir(std::string_view p) { return base_name(p) == "."; }

// Docker's PreserveTrailingDotOrSeparator.
std::string preserve_trailing(std::string cleaned, std::string_view original) {
    if (!specifies_current_dir(cleaned) && specifies_current_dir(original)) {
        if (!has_trailing_separator(cleaned)) cleaned += "/";
        cleaned += ".";
    }
    if (!has_trailing_separator(cleaned) && has_trailing_separator(original)) cleaned += "/";
    return cleaned;
}

// Docker's SplitPathDirEntry: "/a/b/" -> ("/a", "b"), "/a/b/." -> ("/a/b", ".").
std::pair<std::string, std::string> split_dir_entry(std::string_view p) {
    std::string c = clean(p);
    if (specifies_current_dir(p)) c += c == "/" ? "." : "/.";
    return {dir_name(c), base_name(c)};
}

// Docker's GetRebaseName: the resolved path keeps the "/." or "/" of the one
// asked for, and when the last name changed, the archive's top entry must be
// renamed back to it.
std::pair<std::string, std::string> rebase_name(std::string_view path, std::string resolved) {
    if (specifies_current_dir(path) && !specifies_current_dir(resolved)) resolved += "/.";
    if (has_trailing_separator(path) && !has_trailing_separator(resolved)) resolved += "/";
    std::string rebase = base_name(path) != base_name(resolved) ? base_name(path) : "";
    return {resolved, rebase};
}

// "CONTAINER:PATH" or a local path (absolute paths and names starting with
// "." are local even with a colon in them).
std::pair<std::string, std::string> split_cp_arg(const std::string& arg) {
    if (!arg.empty() && arg[0] == '/') return {"", arg};
    auto colon = arg.find(':');
    if (colon == std::string::npos || arg[0] == '.') return {"", arg};
    return {arg.substr(0, colon), arg.substr(colon + 1)};
}

result<std::string> local_absolute(const std::string& p) {
    std::string abs = p;
    if (p.empty() || p[0] != '/') {
        char cwd[PATH_MAX];
        if (!::getcwd(cwd, sizeof cwd)) return sys_error("getcwd");
        abs = std::string(cwd) + "/" + p;
    }
    return preserve_trailing(clean(abs), p);
}

result<std::string> eval_symlinks(const std::string& p) {
    char buf[PATH_MAX];
    if (!::realpath(p.c_str(), buf)) return sys_error("lstat " + clean(p));
    return std::string(buf);
}

// What is known of one side of the copy (Docker's CopyInfo).
struct copy_info {
    std::string path;
    bool exists = false;
    bool is_dir = false;
    std::string rebase_name;
};

// How to extract: into `dir`, the archive's top entry renamed from `old_base`
// to `new_base` (no renaming when both are empty).
struct copy_plan {
    std::string dir;
    std::string old_base, new_base;
};

// Docker's PrepareArchiveCopy.
result<copy_plan> prepare_copy(const copy_info& src, const copy_info& dst) {
    auto [dst_dir, dst_base] = split_dir_entry(dst.path);
    std::string src_base = split_dir_entry(src.path).second;
    if (!src.rebase_name.empty()) src_base = src.rebase_name;
    if (dst.exists && dst.is_dir) return copy_plan{dst.path, "", ""};
    if (dst.exists && src.is_dir) return make_error(errc::invalid_argument, "cannot copy directory");
    if (!dst.exists && !src.is_dir && (has_trailing_separator(dst.path) || specifies_current_dir(dst.path)))
        return make_error(errc::not_found, "no such directory");
    return copy_plan{dst_dir, src_base, dst_base};
}

// Docker's RebaseArchiveEntries on one name: a first component `old_base`
// becomes `new_base` ("/" as old base: new_base goes in front).
std::string rebase(const std::string& name, const copy_plan& plan) {
    if (plan.old_base.empty() && plan.new_base.empty()) return name;
    if (plan.old_base == "/") return plan.new_base + name;
    if (name == plan.old_base) return plan.new_base;
    if (name.size() > plan.old_base.size() && name.compare(0, plan.old_base.size(), plan.old_base) == 0 &&
        name[plan.old_base.size()] == '/')
        return plan.new_base + name.substr(plan.old_base.size());
    return name;
}

// An archive name as a path relative to the extraction directory: no "..",
// no leading "/", "." for the directory itself.
std::optional<std::string> relative_name(const std::string& name) {
    std::string out;
    for (auto& c : split(name, '/')) {
        if (c.empty() || c == ".") continue;
        if (c == "..") return std::nullopt;
        out += (out.empty() ? "" : "/") + c;
    }
    return out.empty() ? std::string(".") : out;
}

// ---- the container side -----------------------------------------------------------

struct container_stat {
    std::string name;
    std::uint32_t mode = 0;
    std::string link_target;
};

std::string archive_target(const std::string& container, const std::string& path) {
    return "/containers/" + escape_path(container) + "/archive?path=" + escape_query(path);
}

result<container_stat> parse_path_stat(const std::string& header) {
    auto decoded = base64_decode(header);
    if (!decoded) return make_error(errc::internal, "unable to decode container path stat header");
    BERTH_ASSIGN(json::value v, parse_json(*decoded, "container path stat"));
    container_stat st;
    st.name = json_string(v, "name");
    st.mode = static_cast<std::uint32_t>(json_int(v, "mode"));
    st.link_target = json_string(v, "linkTarget");
    return st;
}

// HEAD /containers/{c}/archive?path=: the stat, or the daemon's refusal.
result<container_stat> stat_container_path(context& ctx, const std::string& container, const std::string& path) {
    BERTH_ASSIGN(const net::client* api, ctx.api());
    BERTH_ASSIGN(net::response r, api->request("HEAD", archive_target(container, path)));
    if (!r.ok()) {
        // A HEAD answer has no body to say why.
        if (r.status == 404) return make_error(errc::not_found, "No such container:path: " + container + ":" + path);
        return daemon_error(r.status, r.body);
    }
    return parse_path_stat(r.header("X-Docker-Container-Path-Stat"));
}

// ---- extracting on the host ---------------------------------------------------------

struct archive_read_free_fn {
    void operator()(archive* a) const noexcept { archive_read_free(a); }
};
struct archive_write_free_fn {
    void operator()(archive* a) const noexcept { archive_write_free(a); }
};

struct stream_source {
    net::response_stream* stream;
    std::vector<char> buf = std::vector<char>(256 * 1024);
    std::optional<error> failure;
    std::uint64_t bytes = 0;  // of the tar stream, for the summary line

    static la_ssize_t read(archive* a, void* self, const void** out) {
        auto* s = static_cast<stream_source*>(self);
        auto n = s->stream->read_some(s->buf.data(), s->buf.size());
        if (!n) {
            s->failure = n.err();
            archive_set_error(a, EIO, "%s", n.err().message.c_str());
            return -1;
        }
        *out = s->buf.data();
        s->bytes += *n;
        return static_cast<la_ssize_t>(*n);
    }
};

error archive_error(archive* a, std::string_view what) {
    const char* msg = archive_error_string(a);
    return make_error(errc::internal, std::string(what) + ": " + (msg && *msg ? msg : "failed"));
}

// Docker's Untar with NoLchown and NoOverwriteDirNonDir, into plan.dir: the
// files belong to the user running berth; a directory never replaces a
// non-directory or back; no entry goes through a symlink, names with ".."
// and absolute names stay inside (libarchive's secure extraction flags).
// copied: the size of the tar stream read.
status extract_here(net::response_stream& in, const copy_plan& plan, std::uint64_t& copied) {
    unique_fd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (::chdir(plan.dir.c_str()) != 0) return sys_error("chdir " + plan.dir);
    scope_exit back([&] {
        if (cwd) (void)::fchdir(cwd.get());
    });
    std::unique_ptr<archive, archive_read_free_fn> tar(archive_read_new());
    std::unique_ptr<archive, archive_write_free_fn> disk(archive_write_disk_new());
    if (!tar || !disk) return make_error(errc::internal, "extract archive: out of memory");
    archive_read_support_format_tar(tar.get());
    archive_read_support_format_empty(tar.get());
    archive_read_support_filter_all(tar.get());
    archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_XATTR |
                                                   ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                   ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    stream_source src{&in};
    auto failed = [&](std::string_view what) -> error { return src.failure ? *src.failure : archive_error(tar.get(), what); };
    if (archive_read_open(tar.get(), &src, nullptr, &stream_source::read, nullptr) != ARCHIVE_OK)
        return failed("read archive");
    for (;;) {
        archive_entry* e = nullptr;
        int r = archive_read_next_header(tar.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return failed("read archive");
        const char* raw = archive_entry_pathname(e);
        auto name = relative_name(rebase(raw ? raw : "", plan));
        if (!name) return make_error(errc::invalid_argument, std::string("archive entry ") + (raw ? raw : "") + " leaves the destination");
        archive_entry_set_pathname(e, name->c_str());
        if (const char* link = archive_entry_hardlink(e)) {
            auto target = relative_name(rebase(link, plan));
            if (!target) return make_error(errc::invalid_argument, std::string("hardlink to ") + link + " leaves the destination");
            archive_entry_set_hardlink(e, target->c_str());
        }
        struct stat st;
        bool to_dir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
        if (::lstat(name->c_str(), &st) == 0 && S_ISDIR(st.st_mode) != to_dir) {
            std::string where = plan.dir + "/" + *name;
            return make_error(errc::invalid_argument, to_dir ? "cannot overwrite non-directory \"" + where + "\" with directory"
                                                             : "cannot overwrite directory \"" + where + "\" with non-directory");
        }
        r = archive_write_header(disk.get(), e);
        if (r == ARCHIVE_FATAL || r == ARCHIVE_FAILED) return archive_error(disk.get(), "extract " + plan.dir + "/" + *name);
        if (archive_entry_size(e) > 0) {
            for (;;) {
                const void* buf = nullptr;
                size_t n = 0;
                la_int64_t offset = 0;
                r = archive_read_data_block(tar.get(), &buf, &n, &offset);
                if (r == ARCHIVE_EOF) break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return failed("read archive");
                if (archive_write_data_block(disk.get(), buf, n, offset) < ARCHIVE_WARN)
                    return archive_error(disk.get(), "write " + plan.dir + "/" + *name);
            }
        }
        if (archive_write_finish_entry(disk.get()) < ARCHIVE_WARN)
            return archive_error(disk.get(), "extract " + plan.dir + "/" + *name);
    }
    copied = src.bytes;
    // Directory modes and times, now that nothing is created in them any more.
    if (archive_write_close(disk.get()) != ARCHIVE_OK) return archive_error(disk.get(), "extract into " + plan.dir);
    return ok();
}

// Docker's CopyInfoDestinationPath: a symlink as destination is followed
// (a dangling one too); a missing destination needs its parent directory.
result<copy_info> local_destination(std::string path) {
    const std::string original = path;
    struct stat st;
    int r = ::lstat(path.c_str(), &st);
    for (int n = 0; r == 0 && S_ISLNK(st.st_mode); ++n) {
        if (n > 10) return make_error(errc::invalid_argument, "too many symlinks in " + original);
        char target[PATH_MAX];
        ssize_t len = ::readlink(path.c_str(), target, sizeof target - 1);
        if (len < 0) return sys_error("readlink " + path);
        std::string t(target, static_cast<size_t>(len));
        path = t[0] == '/' ? t : clean(split_dir_entry(path).first + "/" + t);
        r = ::lstat(path.c_str(), &st);
    }
    if (r == 0) return copy_info{path, true, S_ISDIR(st.st_mode), ""};
    if (errno != ENOENT) return sys_error("lstat " + path);
    std::string parent = split_dir_entry(path).first;
    if (::stat(parent.c_str(), &st) != 0) return sys_error("stat " + parent);
    if (!S_ISDIR(st.st_mode)) return make_error(errc::invalid_argument, "not a directory");
    return copy_info{path, false, false, ""};
}

int copy_from_container(context& ctx, const options& o, const std::string& container, std::string src) {
    std::string dst = o.dst;
    if (dst != "-") {
        auto abs = local_absolute(dst);
        if (!abs) return fail(abs.err(), 1);
        dst = *abs;
        // Docker's ValidateOutputPath.
        std::string parent = dir_name(clean(dst));
        struct stat st;
        if (parent != "." && ::stat(parent.c_str(), &st) != 0 && errno == ENOENT)
            return fail(make_error(errc::not_found, "invalid output path: directory \"" + parent + "\" does not exist"), 1);
    }
    std::string rebase;
    if (o.follow) {
        auto st = stat_container_path(ctx, container, src);
        if (st && (st->mode & k_mode_symlink)) {
            std::string target = st->link_target;
            if (target.empty() || target[0] != '/') target = clean(split_dir_entry(src).first + "/" + target);
            std::tie(src, rebase) = rebase_name(src, target);
        }
    }
    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    auto s = (*api)->stream("GET", archive_target(container, src));
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    if (dst == "-") {
        char buf[65536];
        for (;;) {
            auto n = s->read_some(buf, sizeof buf);
            if (!n) return fail(n.err(), 1);
            if (*n == 0) return 0;
            if (auto w = write_fd(1, std::string_view(buf, *n)); !w) return fail(w.err(), 1);
        }
    }
    auto stat = parse_path_stat(s->header("X-Docker-Container-Path-Stat"));
    if (!stat) return fail(stat.err(), 1);
    copy_info src_info{src, true, (stat->mode & k_mode_dir) != 0, rebase};
    auto dst_info = local_destination(dst);
    if (!dst_info) return fail(dst_info.err(), 1);
    auto plan = prepare_copy(src_info, *dst_info);
    if (!plan) return fail(plan.err(), 1);
    if (!rebase.empty() && plan->old_base.empty()) {
        // Only the -L renaming (the link's name back for its target's).
        plan->old_base = split_dir_entry(src).second;
        plan->new_base = rebase;
    } else if (!rebase.empty()) {
        plan->old_base = split_dir_entry(src).second;
    }
    std::uint64_t copied = 0;
    if (auto st = extract_here(*s, *plan, copied); !st) return fail(st.err(), 1);
    // As docker: a summary only for a terminal, the size that of the tar.
    if (!o.quiet && ::isatty(2))
        std::fprintf(stderr, "Successfully copied %s to %s\n", human_size(double(copied)).c_str(), dst.c_str());
    return 0;
}

// Docker's ResolveHostSourcePath: the directory part's symlinks resolved,
// the last name's only with -L (or a trailing "/").
result<copy_info> local_source(const std::string& path, bool follow) {
    copy_info info;
    if (follow) {
        BERTH_ASSIGN(std::string resolved, eval_symlinks(path));
        std::tie(info.path, info.rebase_name) = rebase_name(path, resolved);
    } else {
        auto slash = path.rfind('/');
        std::string dir = path.substr(0, slash + 1), base = path.substr(slash + 1);
        BERTH_ASSIGN(std::string resolved_dir, eval_symlinks(dir));
        info.path = resolved_dir == "/" ? "/" + base : resolved_dir + "/" + base;
        if (has_trailing_separator(path) && base_name(path) != base_name(info.path)) info.rebase_name = base_name(path);
    }
    struct stat st;
    if (::lstat(info.path.c_str(), &st) != 0) return sys_error("lstat " + info.path);
    info.exists = true;
    info.is_dir = S_ISDIR(st.st_mode);
    return info;
}

int copy_to_container(context& ctx, const options& o, const std::string& container, const std::string& dst_path) {
    std::string src = o.src;
    if (src != "-") {
        auto abs = local_absolute(src);
        if (!abs) return fail(abs.err(), 1);
        src = *abs;
    }
    copy_info dst{dst_path, false, false, ""};
    auto st = stat_container_path(ctx, container, dst_path);
    if (st && (st->mode & k_mode_symlink)) {
        std::string target = st->link_target;
        if (target.empty() || target[0] != '/') target = clean(split_dir_entry(dst_path).first + "/" + target);
        dst.path = target;
        st = stat_container_path(ctx, container, target);
    }
    if (st) {
        // Docker's ValidateOutputPathFileMode.
        if (st->mode & (k_mode_device | k_mode_irregular))
            return fail(make_error(errc::invalid_argument,
                                   "destination \"" + container + ":" + dst_path + "\" must be a directory or a regular file: " +
                                       (st->mode & k_mode_device ? "got a device" : "got an irregular file")),
                        1);
        dst.exists = true;
        dst.is_dir = (st->mode & k_mode_dir) != 0;
    }

    auto api = ctx.api();
    if (!api) return fail(api.err(), 1);
    std::string query = "&noOverwriteDirNonDir=true";
    if (o.archive) query += "&copyUIDGID=true";

    if (src == "-") {
        if (!dst.is_dir)
            return fail(make_error(errc::invalid_argument, "destination \"" + container + ":" + dst_path + "\" must be a directory"), 1);
        auto s = (*api)->upload("PUT", archive_target(container, dst.path) + query, "application/x-tar", 0);
        if (!s) return fail(s.err(), 1);
        if (!s->ok()) {
            auto body = s->read_all();
            return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
        }
        return 0;
    }

    auto src_info = local_source(src, o.follow);
    if (!src_info) return fail(src_info.err(), 1);
    auto plan = prepare_copy(*src_info, dst);
    if (!plan) return fail(plan.err(), 1);
    // The archive's top entry is named as it must land in plan->dir.
    auto [src_dir, src_base] = split_dir_entry(src_info->path);
    std::string top = src_info->rebase_name.empty() ? src_base : src_info->rebase_name;
    top = rebase(top, *plan);
    unique_fd parent(::open(src_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent) return fail(sys_error("open " + src_dir), 1);

    // The tar is written by a thread into a pipe the upload reads: nothing
    // is held whole in memory. If writing it fails, the upload is abandoned
    // before its last chunk and the daemon discards what it got.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail(sys_error("pipe"), 1);
    unique_fd rd(fds[0]), wr(fds[1]);
    ::signal(SIGPIPE, SIG_IGN);  // the daemon may stop reading early
    status produced;
    std::uint64_t copied = 0;
    std::thread producer([&] {
        tar_writer t;
        produced = t.open(wr.get());
        if (produced) produced = t.add(parent.get(), src_base, top);
        if (produced) produced = t.close();
        wr.reset();
    });
    net::client::body_reader read_body = [&](char* buf, std::size_t n) -> result<std::size_t> {
        for (;;) {
            ssize_t got = ::read(rd.get(), buf, n);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return sys_error("read archive");
            if (got == 0) {
                producer.join();
                if (!produced) return produced.err();
            }
            copied += static_cast<std::size_t>(got);
            return static_cast<std::size_t>(got);
        }
    };
    auto s = (*api)->upload("PUT", archive_target(container, plan->dir) + query, "application/x-tar", read_body);
    rd.reset();
    if (producer.joinable()) producer.join();
    if (!s) return fail(s.err(), 1);
    if (!s->ok()) {
        auto body = s->read_all();
        return fail(daemon_error(s->status(), body ? *body : std::string()), 1);
    }
    if (!o.quiet && ::isatty(2))
        std::fprintf(stderr, "Successfully copied %s to %s:%s\n", human_size(double(copied)).c_str(), container.c_str(),
                     dst_path.c_str());
    return 0;
}

int cp(context& ctx, const options& o) {
    if (o.src.empty()) return fail(make_error(errc::invalid_argument, "source can not be empty"), 1);
    if (o.dst.empty()) return fail(make_error(errc::invalid_argument, "destination can not be empty"), 1);
    auto [src_container, src_path] = split_cp_arg(o.src);
    auto [dst_container, dst_path] = split_cp_arg(o.dst);
    if (!src_container.empty() && !dst_container.empty())
        return fail(make_error(errc::invalid_argument, "copying between containers is not supported"), 1);
    if (src_container.empty() && dst_container.empty())
        return fail(make_error(errc::invalid_argument, "must specify at least one container source"), 1);
    if (!src_container.empty()) {
        if (src_path.empty()) return fail(make_error(errc::invalid_argument, "source path can not be empty"), 1);
        return copy_from_container(ctx, o, src_container, src_path);
    }
    if (dst_path.empty()) return fail(make_error(errc::invalid_argument, "destination path can not be empty"), 1);
    return copy_to_container(ctx, o, dst_container, dst_path);
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-a,--archive", o->archive, "Archive mode (copy all uid/gid information)");
    sub.add_flag("-L,--follow-link", o->follow, "Always follow symbol link in SRC_PATH");
    sub.add_flag("-q,--quiet", o->quiet, "Suppress progress output during copy");
    sub.add_option("SRC", o->src, "CONTAINER:SRC_PATH, a local path, or - (a tar on stdin)")->required();
    sub.add_option("DEST", o->dst, "CONTAINER:DEST_PATH, a local path, or - (a tar on stdout)")->required();
    return [o](context& ctx) { return cp(ctx, *o); };
}

}  // namespace

command cp_command() { return {"cp", "Copy files/folders between a container and the local filesystem", 1, setup}; }

}  // namespace berth::cli
