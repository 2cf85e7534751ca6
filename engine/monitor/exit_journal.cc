#include "engine/monitor/exit_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "base/util.h"

namespace json = boost::json;

namespace berth::monitor {
namespace {

std::int64_t finished_of(const json::object& rec) {
    const json::value* f = rec.if_contains("finished");
    return f && f->is_number() ? f->to_number<std::int64_t>() : 0;
}

std::string id_of(const json::object& rec, const char* key = "id") {
    const json::value* v = rec.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

int shard_of(const json::object& rec) {
    const json::value* s = rec.if_contains("shard");
    return s && s->is_int64() ? static_cast<int>(s->as_int64()) : 0;
}

status write_all_fd(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return sys_error("write " + what);
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok();
}

}  // namespace

result<std::unique_ptr<exit_journal>> exit_journal::open(const std::string& dir, int shard) {
    std::unique_ptr<exit_journal> j(new exit_journal);
    j->_dir = dir;
    j->_path = dir + "/shard-" + std::to_string(shard) + ".journal";

    // What the file holds: records, and acknowledgements of them.
    if (auto text = read_file(j->_path)) {
        for (const auto& line : split(*text, '\n')) {
            if (line.empty()) continue;
            boost::system::error_code ec;
            json::value v = json::parse(line, ec);
            if (ec || !v.is_object()) continue;  // a torn last line
            const auto& o = v.as_object();
            if (std::string acked = id_of(o, "ack"); !acked.empty()) {
                auto it = j->_unacked.find(acked);
                if (it != j->_unacked.end() && it->second.finished == finished_of(o)) j->_unacked.erase(it);
                continue;
            }
            std::string id = id_of(o);
            if (id.empty()) continue;
            j->_unacked[id] = entry{finished_of(o), o};
        }
    }
    // Records of older monitors: one file per exit.
    std::vector<std::string> legacy;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.size() <= 5 || n.compare(n.size() - 5, 5, ".json") != 0) continue;
            auto data = read_file(dir + "/" + n);
            if (!data) continue;
            boost::system::error_code ec;
            json::value v = json::parse(*data, ec);
            if (ec || !v.is_object() || shard_of(v.as_object()) != shard) continue;
            std::string id = id_of(v.as_object());
            if (id.empty()) continue;
            auto& slot = j->_unacked[id];
            if (finished_of(v.as_object()) >= slot.finished) slot = entry{finished_of(v.as_object()), v.as_object()};
            legacy.push_back(dir + "/" + n);
        }
        ::closedir(d);
    }

    // Start from a file that holds exactly the unacknowledged records.
    BERTH_TRY(j->compact());
    for (const auto& f : legacy) ::unlink(f.c_str());
    return j;
}

exit_journal::~exit_journal() = default;

void exit_journal::write_line(const std::string& line) {
    std::string buf = line + '\n';
    if (auto s = write_all_fd(_fd.get(), buf, _path); !s) log::error("monitor: exit records: {}", s.err().message);
    _size += buf.size();
    // Past the threshold and twice what the last rewrite kept: many records
    // left unacknowledged (a daemon away) are not rewritten at every line.
    if (_size > _compact_bytes && _size > 2 * _kept)
        if (auto s = compact(); !s) log::error("monitor: exit records: {}", s.err().message);
}

void exit_journal::append(json::object rec) {
    std::string id = id_of(rec);
    std::string line = json::serialize(rec);
    _unacked[id] = entry{finished_of(rec), std::move(rec)};
    write_line(line);
}

void exit_journal::ack(const std::string& id, std::int64_t finished) {
    auto it = _unacked.find(id);
    if (it == _unacked.end() || it->second.finished != finished) return;
    _unacked.erase(it);
    write_line(json::serialize(json::object{{"ack", id}, {"finished", finished}}));
}

std::vector<json::object> exit_journal::unacknowledged() const {
    std::vector<json::object> out;
    for (const auto& [id, e] : _unacked) out.push_back(e.rec);
    return out;
}

// Rewrites the file with the unacknowledged records only: a new file
// renamed over the old one, so that a kill midway leaves one or the other.
status exit_journal::compact() {
    std::string buf;
    for (const auto& [id, e] : _unacked) (buf += json::serialize(e.rec)) += '\n';
    std::string tmp = _path + ".tmp";
    {
        unique_fd t(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!t) return sys_error("open " + tmp);
        BERTH_TRY(write_all_fd(t.get(), buf, tmp));
    }
    if (::rename(tmp.c_str(), _path.c_str()) != 0) return sys_error("rename " + tmp);
    unique_fd fd(::open(_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd) return sys_error("open " + _path);
    _fd = std::move(fd);
    _size = _kept = buf.size();
    return ok();
}

}  // namespace berth::monitor
