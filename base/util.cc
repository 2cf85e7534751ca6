#include "base/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

#include "base/log.h"

namespace berth {

int http_status(errc code) {
    switch (code) {
    case errc::invalid_argument: return 400;
    case errc::not_found: return 404;
    case errc::already_exists: return 409;
    case errc::conflict: return 409;
    case errc::unavailable: return 503;
    case errc::cannot_execute: return 400;
    case errc::command_not_found: return 400;
    case errc::internal: break;
    }
    return 500;
}

error sys_error(std::string_view what, int err) {
    errc code = errc::internal;
    switch (err) {
    case ENOENT: code = errc::not_found; break;
    case EEXIST: code = errc::already_exists; break;
    case EINVAL: case ENAMETOOLONG: code = errc::invalid_argument; break;
    case EBUSY: code = errc::conflict; break;
    case ENOSYS: case EOPNOTSUPP: code = errc::unavailable; break;
    default: break;
    }
    std::string msg(what);
    msg += ": ";
    msg += std::strerror(err);
    for (auto& c : msg) c = (c >= 'A' && c <= 'Z' && &c > msg.data() + what.size()) ? char(c - 'A' + 'a') : c;
    return {code, std::move(msg), err};
}

result<std::string> read_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error("open " + path);
    return read_to_end(fd.get(), path);
}

result<std::string> read_to_end(int fd, const std::string& shown) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + shown);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

static status write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("write " + path);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
}

status write_file(const std::string& path, std::string_view data, int mode) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return sys_error("open " + path);
    return write_all(fd.get(), data, path);
}

status overwrite_file(const std::string& path, std::string_view data, int mode) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, mode));
    if (!fd) return sys_error("open " + path);
    BERTH_TRY(write_all(fd.get(), data, path));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + path);
    if (static_cast<std::uint64_t>(st.st_size) > data.size() && ::ftruncate(fd.get(), static_cast<off_t>(data.size())) != 0)
        return sys_error("truncate " + path);
    return ok();
}

status write_file_atomic(const std::string& path, std::string_view data, int mode) {
    std::string tmp = path + ".tmp";
    unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return sys_error("open " + tmp);
    BERTH_TRY(write_all(fd.get(), data, tmp));
    if (::fsync(fd.get()) != 0) return sys_error("fsync " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_error("rename " + tmp);
    return ok();
}

status make_dirs(const std::string& path, int mode) {
    if (path.empty()) return ok();
    std::string cur;
    for (size_t i = 0; i <= path.size(); ++i) {
        if (i == path.size() || (path[i] == '/' && i > 0)) {
            cur = path.substr(0, i);
            if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return sys_error("mkdir " + cur);
        }
    }
    return ok();
}

static status remove_at(int dirfd, const char* name, dev_t dev, const std::string& shown) {
    struct stat st;
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("stat " + shown);
    }
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev) return make_error(errc::conflict, "remove " + shown + ": is a mount point");
        unique_fd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) return sys_error("open " + shown);
        BERTH_ASSIGN(auto names, list_directory(fd.get(), shown));
        for (auto& n : names) BERTH_TRY(remove_at(fd.get(), n.c_str(), dev, shown + "/" + n));
        if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return sys_error("rmdir " + shown);
        return ok();
    }
    if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return sys_error("unlink " + shown);
    return ok();
}

status remove_all(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("stat " + path);
    }
    return remove_at(AT_FDCWD, path.c_str(), st.st_dev, path);
}

static status usage_at(int dirfd, const char* name, dev_t dev, const std::string& shown,
                       std::set<std::pair<dev_t, ino_t>>& seen, std::uint64_t& total) {
    struct stat st;
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return ok();
        return sys_error("stat " + shown);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (st.st_size > 0 && seen.emplace(st.st_dev, st.st_ino).second) total += std::uint64_t(st.st_size);
        return ok();
    }
    if (st.st_dev != dev) return ok();
    unique_fd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return errno == ENOENT ? ok() : sys_error("open " + shown);
    BERTH_ASSIGN(auto names, list_directory(fd.get(), shown));
    for (auto& n : names) BERTH_TRY(usage_at(fd.get(), n.c_str(), dev, shown + "/" + n, seen, total));
    return ok();
}

result<std::uint64_t> disk_usage(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::uint64_t(0);
        return sys_error("stat " + path);
    }
    std::set<std::pair<dev_t, ino_t>> seen;
    std::uint64_t total = 0;
    BERTH_TRY(usage_at(AT_FDCWD, path.c_str(), st.st_dev, path, seen, total));
    return total;
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

namespace {

// Reads and closes d: its names without "." and "..", sorted bytewise.
result<std::vector<std::string>> read_names(DIR* d, const std::string& shown) {
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
        errno = 0;
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return sys_error("read directory " + shown, err);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

result<std::vector<std::string>> list_directory(int dirfd, const std::string& shown) {
    // A descriptor of our own: fdopendir takes it over, and reading moves it.
    unique_fd own(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!own) return sys_error("read directory " + shown);
    DIR* d = ::fdopendir(own.get());
    if (!d) return sys_error("read directory " + shown);
    own.release();
    return read_names(d, shown);
}

result<std::vector<std::string>> list_directory(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return sys_error("read directory " + path);
    return read_names(d, path);
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t pos = s.find(sep, start);
        if (pos == std::string_view::npos) {
            out.emplace_back(s.substr(start));
            return out;
        }
        out.emplace_back(s.substr(start, pos - start));
        start = pos + 1;
    }
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

std::string hex(const unsigned char* data, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out(n * 2, '0');
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    return out;
}

namespace {
constexpr char k_base64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string base64_encode(std::string_view data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    for (size_t i = 0; i < data.size(); i += 3) {
        std::uint32_t n = std::uint32_t(static_cast<unsigned char>(data[i])) << 16;
        if (i + 1 < data.size()) n |= std::uint32_t(static_cast<unsigned char>(data[i + 1])) << 8;
        if (i + 2 < data.size()) n |= static_cast<unsigned char>(data[i + 2]);
        out += k_base64[(n >> 18) & 63];
        out += k_base64[(n >> 12) & 63];
        out += i + 1 < data.size() ? k_base64[(n >> 6) & 63] : '=';
        out += i + 2 < data.size() ? k_base64[n & 63] : '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const char* p = std::strchr(k_base64, c);
        if (c == '\0' || !p) return std::nullopt;
        acc = (acc << 6) | std::uint32_t(p - k_base64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

std::string random_id() {
    unsigned char b[32];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
        if (n > 0) got += static_cast<size_t>(n);
    }
    return hex(b, sizeof b);
}

std::int64_t now_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string format_rfc3339_nano(std::int64_t ns) {
    if (ns <= 0) return "0001-01-01T00:00:00Z";
    time_t secs = static_cast<time_t>(ns / 1000000000);
    struct tm tm;
    ::gmtime_r(&secs, &tm);
    char buf[64];
    size_t n = ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out(buf, n);
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(ns % 1000000000));
    out += frac;
    out += 'Z';
    return out;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
    struct tm tm {};
    std::string str(s);
    const char* end = ::strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return std::nullopt;
    std::int64_t ns = 0;
    if (*end == '.') {
        ++end;
        int digits = 0;
        while (*end >= '0' && *end <= '9') {
            if (digits < 9) {
                ns = ns * 10 + (*end - '0');
                ++digits;
            }
            ++end;
        }
        while (digits++ < 9) ns *= 10;
    }
    std::int64_t offset = 0;
    if (*end == '+' || *end == '-') {
        int hh = 0, mm = 0;
        if (std::sscanf(end + 1, "%d:%d", &hh, &mm) == 2) offset = (hh * 3600 + mm * 60) * (*end == '+' ? 1 : -1);
    }
    time_t secs = ::timegm(&tm) - offset;
    return std::int64_t(secs) * 1000000000 + ns;
}

namespace log {
namespace {
std::mutex g_mu;
level g_level = level::info;
}
void set_level(level l) { g_level = l; }
void write(level l, std::string_view msg) {
    if (l < g_level) return;
    static const char* names[] = {"debug", "info", "warn", "error"};
    std::string line = format_rfc3339_nano(now_ns());
    line += ' ';
    line += names[static_cast<int>(l)];
    line += ' ';
    line += msg;
    line += '\n';
    std::lock_guard lk(g_mu);
    (void)!::write(2, line.data(), line.size());
}
}  // namespace log

}  // namespace berth
