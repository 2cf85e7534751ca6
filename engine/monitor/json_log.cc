#include "engine/monitor/json_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "base/log.h"
#include "base/util.h"

namespace berth::json_log {

namespace {

struct base_record {
    std::uint64_t start = 0;
    std::uint64_t ino = 0;
};

std::string rotated(const std::string& path, int i) { return path + "." + std::to_string(i); }
std::string base_path(const std::string& path) { return path + ".base"; }

std::optional<base_record> read_base(const std::string& path) {
    auto text = read_file(base_path(path));
    if (!text) return std::nullopt;
    boost::system::error_code ec;
    auto v = boost::json::parse(*text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    auto& o = v.as_object();
    auto* s = o.if_contains("start");
    auto* i = o.if_contains("ino");
    if (!s || !i || !s->is_number() || !i->is_number()) return std::nullopt;
    return base_record{s->to_number<std::uint64_t>(), i->to_number<std::uint64_t>()};
}

// Temp file and rename: a reader sees the old record or the new one. Not
// fsync'd: after a crash writer::open() recomputes it from the files.
status write_base(const std::string& path, base_record b) {
    std::string text = boost::json::serialize(boost::json::object{{"start", b.start}, {"ino", b.ino}});
    std::string tmp = base_path(path) + ".tmp";
    BERTH_TRY(write_file(tmp, text, 0640));
    if (::rename(tmp.c_str(), base_path(path).c_str()) != 0) return sys_error("rename " + tmp);
    return ok();
}

std::uint64_t inode_of(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 ? std::uint64_t(st.st_ino) : 0;
}

std::optional<struct stat> stat_of(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return st;
}

// The start offset of the current file (inode cur) when P.base does not
// describe it: a rotation was cut short by a crash (P.base still names the
// file that is now P.1), or the log predates P.base (the oldest file then
// starts at 0).
std::uint64_t recover_start(const std::string& path, const std::optional<base_record>& b, std::uint64_t cur) {
    if (b && b->ino == cur) return b->start;
    if (b) {
        auto first = stat_of(rotated(path, 1));
        if (first && std::uint64_t(first->st_ino) == b->ino) return b->start + std::uint64_t(first->st_size);
        return b->start;
    }
    std::uint64_t sum = 0;
    for (int i = 1;; ++i) {
        auto st = stat_of(rotated(path, i));
        if (!st) break;
        sum += std::uint64_t(st->st_size);
    }
    return sum;
}

result<std::string> read_all(int fd, const std::string& shown) {
    std::string out;
    char buf[64 * 1024];
    off_t pos = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, pos);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("read " + shown);
        }
        if (n == 0) return out;
        out.append(buf, std::size_t(n));
        pos += n;
    }
}

void pause_briefly() {
    timespec ts{0, 1000000};  // 1 ms: a rotation takes a few syscalls
    ::nanosleep(&ts, nullptr);
}

}  // namespace

status writer::open(std::string path, rotation r, bool known_new) {
    _path = std::move(path);
    _rot = r;
    _deferred = false;
    // A fresh log (no file, no rotation's traces) is made at its first line:
    // most short-lived containers never print one, and on ext4 an empty file
    // still costs an inode allocation and, at removal, its eviction.
    if (!known_new) _fd.reset(::open(_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (known_new ||
        (!_fd && errno == ENOENT && !path_exists(base_path(_path)) && !path_exists(rotated(_path, 1)))) {
        _deferred = true;
        _start = _size = 0;
        return ok();
    }
    return create();
}

status writer::create() {
    _deferred = false;
    if (!_fd) _fd.reset(::open(_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!_fd) return sys_error("open log " + _path);
    struct stat st;
    if (::fstat(_fd.get(), &st) != 0) return sys_error("stat log " + _path);
    _size = std::uint64_t(st.st_size);
    auto b = read_base(_path);
    _start = recover_start(_path, b, std::uint64_t(st.st_ino));
    // A rotating log always has a P.base naming its current file (readers
    // need it to place the rotated files).
    if ((b && b->ino != std::uint64_t(st.st_ino)) || (!b && _rot.max_size > 0))
        BERTH_TRY(write_base(_path, {_start, std::uint64_t(st.st_ino)}));
    return ok();
}

std::uint64_t writer::append(std::string_view line) {
    if (_deferred) {
        if (auto s = create(); !s) {
            log::error("monitor: {}", s.err().message);
            _fd.reset();
            return offset();
        }
    }
    if (!_fd) return offset();
    if (_rot.max_size > 0 && _size >= _rot.max_size) rotate();
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(_fd.get(), rest.data(), rest.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            log::error("monitor: write log {}: {}", _path, std::strerror(errno));
            break;
        }
        rest.remove_prefix(std::size_t(n));
        _size += std::uint64_t(n);
    }
    return offset();
}

void writer::rotate() {
    std::string fresh = _path + ".new";
    unique_fd nfd(::open(fresh.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!nfd) {
        log::error("monitor: rotate log {}: create {}: {}", _path, fresh, std::strerror(errno));
        return;
    }
    if (_rot.max_file > 1) {
        for (int i = _rot.max_file - 1; i >= 2; --i) {
            std::string from = rotated(_path, i - 1), to = rotated(_path, i);
            if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
                log::error("monitor: rotate log: rename {} to {}: {}", from, to, std::strerror(errno));
        }
        std::string first = rotated(_path, 1);
        if (::rename(_path.c_str(), first.c_str()) != 0) {
            log::error("monitor: rotate log: rename {} to {}: {}", _path, first, std::strerror(errno));
            ::unlink(fresh.c_str());
            return;
        }
    }
    if (::rename(fresh.c_str(), _path.c_str()) != 0) {
        log::error("monitor: rotate log: rename {} to {}: {}", fresh, _path, std::strerror(errno));
        return;  // keeps appending to the old file, wherever it is now
    }
    _start += _size;
    _size = 0;
    _fd = std::move(nfd);
    if (auto s = write_base(_path, {_start, inode_of(_fd.get())}); !s)
        log::error("monitor: rotate log {}: {}", _path, s.err().message);
}

result<std::vector<chunk>> read_json_log(const std::string& path) {
    constexpr int attempts = 1000;
    for (int attempt = 0;; ++attempt) {
        bool last_try = attempt + 1 >= attempts;
        // Newest first: P, then P.1, P.2 … as long as they exist.
        std::vector<unique_fd> fds;
        std::vector<std::uint64_t> inodes;
        unique_fd cur(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!cur) {
            if (errno != ENOENT) return sys_error("open log " + path);
            // No P: no log yet, or a rotation between its two renames.
            bool rotating = path_exists(base_path(path)) || path_exists(rotated(path, 1));
            if (!rotating || last_try) return std::vector<chunk>{};
            pause_briefly();
            continue;
        }
        inodes.push_back(inode_of(cur.get()));
        fds.push_back(std::move(cur));
        bool moved = false;
        for (int i = 1;; ++i) {
            std::string p = rotated(path, i);
            unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd) {
                if (errno == ENOENT) break;
                return sys_error("open log " + p);
            }
            std::uint64_t ino = inode_of(fd.get());
            // A rotation shifted the names under us: P.i is a file we hold.
            if (std::find(inodes.begin(), inodes.end(), ino) != inodes.end()) {
                moved = true;
                break;
            }
            inodes.push_back(ino);
            fds.push_back(std::move(fd));
        }
        // Read after the opens: if P.base still names the file we opened as
        // P, no rotation finished since, and the files we hold are P's
        // predecessors in order (we hold them open, so no inode is reused).
        auto b = read_base(path);
        bool consistent = !moved && (b ? b->ino == inodes[0] : fds.size() == 1);
        if (!consistent && !last_try) {
            pause_briefly();
            continue;
        }
        std::uint64_t start = consistent ? (b ? b->start : 0) : recover_start(path, b, inodes[0]);
        std::vector<chunk> newest_first;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            BERTH_ASSIGN(std::string data, read_all(fds[i].get(), i == 0 ? path : rotated(path, int(i))));
            newest_first.push_back({0, std::move(data)});
        }
        // The current file starts at `start`; each older one ends where the
        // next begins.
        newest_first[0].start = start;
        for (std::size_t i = 1; i < newest_first.size(); ++i) {
            std::uint64_t next = newest_first[i - 1].start, size = newest_first[i].data.size();
            newest_first[i].start = next >= size ? next - size : 0;
        }
        std::reverse(newest_first.begin(), newest_first.end());
        return newest_first;
    }
}

result<std::uint64_t> parse_max_size(std::string_view s) {
    // go-units FromHumanSize: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$, decimal units.
    auto bad = [&] { return make_error(errc::invalid_argument, "invalid size: '" + std::string(s) + "'"); };
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t from = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        return i > from;
    };
    if (!digits()) return bad();
    while (i < s.size() && s[i] == '.') {
        ++i;
        if (!digits()) return bad();
    }
    std::string number(s.substr(0, i));
    if (i < s.size() && s[i] == ' ') ++i;
    double mul = 1;
    if (i < s.size()) {
        switch (std::tolower(static_cast<unsigned char>(s[i]))) {
        case 'k': mul = 1e3; ++i; break;
        case 'm': mul = 1e6; ++i; break;
        case 'g': mul = 1e9; ++i; break;
        case 't': mul = 1e12; ++i; break;
        case 'p': mul = 1e15; ++i; break;
        default: break;
        }
    }
    if (i < s.size() && (s[i] == 'i' || s[i] == 'I')) ++i;
    if (i < s.size() && (s[i] == 'b' || s[i] == 'B')) ++i;
    if (i != s.size()) return bad();
    double value = std::strtod(number.c_str(), nullptr) * mul;
    if (!std::isfinite(value) || value >= 9.2e18) return bad();
    auto bytes = std::uint64_t(value);
    if (bytes == 0) return make_error(errc::invalid_argument, "max-size must be a positive number");
    return bytes;
}

result<int> parse_max_file(std::string_view s) {
    int n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        return make_error(errc::invalid_argument, "strconv.Atoi: parsing \"" + std::string(s) + "\": invalid syntax");
    if (n < 1) return make_error(errc::invalid_argument, "max-file cannot be less than 1");
    return n;
}

result<boost::json::object> check_log_config(const boost::json::object& host_config) {
    namespace json = boost::json;
    json::object out{{"Type", "json-file"}, {"Config", json::object{}}};
    const json::value* lc = host_config.if_contains("LogConfig");
    if (!lc || lc->is_null()) return out;
    if (!lc->is_object()) return make_error(errc::invalid_argument, "HostConfig.LogConfig must be an object");
    std::string type;
    if (auto* t = lc->as_object().if_contains("Type"); t && t->is_string()) type = std::string(t->as_string());
    json::object config;
    if (auto* c = lc->as_object().if_contains("Config"); c && !c->is_null()) {
        if (!c->is_object()) return make_error(errc::invalid_argument, "HostConfig.LogConfig.Config must be an object");
        for (auto& [k, v] : c->as_object()) {
            if (!v.is_string())
                return make_error(errc::invalid_argument,
                                  "log opt '" + std::string(k) + "' must be a string");
            config[k] = v;
        }
    }
    if (type.empty()) type = "json-file";
    if (type == "none") {
        out["Type"] = "none";
        out["Config"] = std::move(config);  // moby accepts (and ignores) options for none
        return out;
    }
    static const char* docker_drivers[] = {"local",   "journald", "syslog",  "gelf",    "fluentd",
                                           "awslogs", "splunk",   "etwlogs", "gcplogs", "logentries"};
    if (type != "json-file") {
        for (const char* d : docker_drivers)
            if (type == d)
                return make_error(errc::invalid_argument,
                                  "logging driver " + type + " is not supported by berth (json-file, none)");
        return make_error(errc::invalid_argument, "logger: no log driver named '" + type + "' is registered");
    }
    std::optional<std::uint64_t> max_size;
    int max_file = 1;
    for (auto& [k, v] : config) {
        std::string_view val = v.as_string();
        if (k == "max-size") {
            BERTH_ASSIGN(max_size, parse_max_size(val));
        } else if (k == "max-file") {
            BERTH_ASSIGN(max_file, parse_max_file(val));
        } else if (k == "mode") {
            if (val == "non-blocking")
                return make_error(errc::invalid_argument, "log opt mode=non-blocking is not supported by berth");
            if (val != "blocking" && !val.empty())
                return make_error(errc::invalid_argument, "logger: logging mode not supported: " + std::string(val));
        } else if (k == "compress" || k == "labels" || k == "labels-regex" || k == "env" || k == "env-regex" ||
                   k == "tag" || k == "max-buffer-size") {
            return make_error(errc::invalid_argument, "log opt '" + std::string(k) +
                                                          "' is not supported by berth (max-size, max-file)");
        } else {
            return make_error(errc::invalid_argument,
                              "unknown log opt '" + std::string(k) + "' for json-file log driver");
        }
    }
    // As moby: max-file without max-size is accepted and has no effect
    // (nothing rotates).
    (void)max_file;
    out["Config"] = std::move(config);
    return out;
}

settings settings_of(const boost::json::object& host_config) {
    settings s;
    const auto* lc = host_config.if_contains("LogConfig");
    if (!lc || !lc->is_object()) return s;
    if (auto* t = lc->as_object().if_contains("Type"); t && t->is_string() && t->as_string() == "none") {
        s.enabled = false;
        return s;
    }
    const auto* c = lc->as_object().if_contains("Config");
    if (!c || !c->is_object()) return s;
    // Checked at create; a value that no longer parses means no rotation.
    if (auto* v = c->as_object().if_contains("max-size"); v && v->is_string())
        s.rot.max_size = parse_max_size(v->as_string()).value_or(0);
    if (auto* v = c->as_object().if_contains("max-file"); v && v->is_string())
        s.rot.max_file = parse_max_file(v->as_string()).value_or(1);
    return s;
}

}  // namespace berth::json_log
