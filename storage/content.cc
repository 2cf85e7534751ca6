#include "storage/content.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "base/fd.h"
#include "base/sha256.h"
#include "base/util.h"

namespace berth::storage {

namespace {

constexpr std::size_t copy_chunk = 1 << 20;

status write_all(int fd, const char* data, std::size_t n, const std::string& shown) {
    while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return sys_error("write " + shown);
        }
        data += w;
        n -= static_cast<std::size_t>(w);
    }
    return ok();
}

// Reads up to n bytes; 0 at end of file.
result<std::size_t> read_some(int fd, char* buf, std::size_t n, const std::string& shown) {
    for (;;) {
        ssize_t r = ::read(fd, buf, n);
        if (r >= 0) return static_cast<std::size_t>(r);
        if (errno != EINTR) return sys_error("read " + shown);
    }
}

error mismatch(std::string_view expected, std::string_view got) {
    return make_error(errc::invalid_argument,
                      "blob " + std::string(expected) + ": digest mismatch (got " + std::string(got) + ")");
}

}  // namespace

bool is_digest(std::string_view s) {
    if (s.size() != 7 + 64 || s.substr(0, 7) != "sha256:") return false;
    for (char c : s.substr(7))
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string_view digest_hex(std::string_view digest) {
    return digest.substr(0, 7) == "sha256:" ? digest.substr(7) : digest;
}

result<blob_info> digest_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    auto buf = std::make_unique<char[]>(copy_chunk);
    sha256 h;
    blob_info info;
    for (;;) {
        BERTH_ASSIGN(std::size_t n, read_some(fd.get(), buf.get(), copy_chunk, path));
        if (n == 0) break;
        h.update(buf.get(), n);
        info.size += n;
    }
    info.digest = h.digest();
    return info;
}

content_store::content_store(std::string root) : _root(std::move(root)) {}

status content_store::init() {
    BERTH_TRY(make_dirs(_root + "/blobs/sha256", 0700));
    BERTH_TRY(make_dirs(_root + "/ingest", 0700));
    // Whatever is in ingest/ was cut short by a crash: nothing refers to it.
    std::string ingest = _root + "/ingest";
    DIR* d = ::opendir(ingest.c_str());
    if (!d) return sys_error("open " + ingest);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
        names.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (auto& n : names) BERTH_TRY(remove_all(ingest + "/" + n));
    return ok();
}

std::string content_store::blob_path(std::string_view digest) const {
    return _root + "/blobs/sha256/" + std::string(digest_hex(digest));
}

bool content_store::has(std::string_view digest) const {
    if (!is_digest(digest)) return false;
    struct stat st;
    return ::stat(blob_path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

namespace {

// Streams `next` chunks into a fresh ingest file, then verifies and commits.
template <class Source>
result<blob_info> ingest(const content_store& store, std::string_view expected, Source&& next) {
    if (!expected.empty() && !is_digest(expected))
        return make_error(errc::invalid_argument, "blob " + std::string(expected) + ": invalid digest");
    std::string tmp = store.root() + "/ingest/" + random_id().substr(0, 32);
    unique_fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!out) return sys_error("create " + tmp);
    scope_exit cleanup([&] { ::unlink(tmp.c_str()); });

    sha256 h;
    blob_info info;
    for (;;) {
        BERTH_ASSIGN(std::string_view chunk, next());
        if (chunk.empty()) break;
        h.update(chunk.data(), chunk.size());
        info.size += chunk.size();
        BERTH_TRY(write_all(out.get(), chunk.data(), chunk.size(), tmp));
    }
    info.digest = h.digest();
    if (!expected.empty() && info.digest != expected) return mismatch(expected, info.digest);
    if (::fsync(out.get()) != 0) return sys_error("fsync " + tmp);
    out.reset();

    std::string dest = store.blob_path(info.digest);
    info.created = !store.has(info.digest);
    if (::rename(tmp.c_str(), dest.c_str()) != 0) return sys_error("commit blob " + info.digest);
    cleanup.dismiss();
    return info;
}

}  // namespace

result<blob_info> content_store::write_file(const std::string& src, std::string_view expected) {
    if (!expected.empty() && has(expected)) {
        // The store holds the blob already: only check that src is that blob.
        BERTH_ASSIGN(blob_info info, digest_file(src));
        if (info.digest != expected) return mismatch(expected, info.digest);
        return info;
    }
    unique_fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return sys_error("open " + src);
    auto buf = std::make_unique<char[]>(copy_chunk);
    return ingest(*this, expected, [&]() -> result<std::string_view> {
        BERTH_ASSIGN(std::size_t n, read_some(in.get(), buf.get(), copy_chunk, src));
        return std::string_view(buf.get(), n);
    });
}

result<blob_info> content_store::write_bytes(std::string_view data, std::string_view expected) {
    bool done = false;
    return ingest(*this, expected, [&]() -> result<std::string_view> {
        if (done) return std::string_view();
        done = true;
        return data;
    });
}

result<std::string> content_store::read(std::string_view digest) const {
    if (!is_digest(digest))
        return make_error(errc::invalid_argument, "blob " + std::string(digest) + ": invalid digest");
    auto r = read_file(blob_path(digest));
    if (!r) return r.err().wrap("read blob " + std::string(digest));
    return r;
}

status content_store::remove(std::string_view digest) {
    if (!is_digest(digest))
        return make_error(errc::invalid_argument, "blob " + std::string(digest) + ": invalid digest");
    if (::unlink(blob_path(digest).c_str()) != 0 && errno != ENOENT)
        return sys_error("remove blob " + std::string(digest));
    return ok();
}

result<std::vector<std::string>> content_store::list() const {
    std::string dir = _root + "/blobs/sha256";
    DIR* d = ::opendir(dir.c_str());
    if (!d) return sys_error("open " + dir);
    std::vector<std::string> out;
    while (dirent* e = ::readdir(d)) {
        std::string digest = std::string("sha256:") + e->d_name;
        if (is_digest(digest)) out.push_back(std::move(digest));
    }
    ::closedir(d);
    return out;
}

}  // namespace berth::storage
