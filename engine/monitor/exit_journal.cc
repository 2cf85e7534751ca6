#include "engine/monitor/exit_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
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
            j->_unacked[id] = entry{finished_of(o), o, true};
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
            if (finished_of(v.as_object()) >= slot.finished) slot = entry{finished_of(v.as_object()), v.as_object(), true};
            legacy.push_back(dir + "/" + n);
        }
        ::closedir(d);
    }

    j->_event.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!j->_event) return sys_error("eventfd");
    {
        // Start from a file that holds exactly the unacknowledged records.
        std::mutex unused;
        std::unique_lock lock(unused);
        BERTH_TRY(j->compact_locked(lock));
    }
    for (const auto& f : legacy) ::unlink(f.c_str());
    j->_thread = std::thread([p = j.get()] { p->writer(); });
    return j;
}

exit_journal::~exit_journal() {
    {
        std::lock_guard lock(_mu);
        _stop = true;
    }
    _cv.notify_one();
    if (_thread.joinable()) _thread.join();
}

void exit_journal::append(json::object rec) {
    {
        std::lock_guard lock(_mu);
        std::string id = id_of(rec);
        _unacked[id] = entry{finished_of(rec), rec, false};
        _to_write.push_back(json::serialize(rec));
        _in_flight.push_back(std::move(rec));
    }
    _cv.notify_one();
}

void exit_journal::ack(const std::string& id, std::int64_t finished) {
    {
        std::lock_guard lock(_mu);
        auto it = _unacked.find(id);
        if (it == _unacked.end() || it->second.finished != finished || !it->second.durable) return;
        _unacked.erase(it);
        _to_write.push_back(json::serialize(json::object{{"ack", id}, {"finished", finished}}));
    }
    _cv.notify_one();
}

std::vector<json::object> exit_journal::take_durable() {
    std::uint64_t n = 0;
    (void)!::read(_event.get(), &n, sizeof n);
    std::lock_guard lock(_mu);
    return std::exchange(_durable_ready, {});
}

std::vector<json::object> exit_journal::unacknowledged() const {
    std::lock_guard lock(_mu);
    std::vector<json::object> out;
    for (const auto& [id, e] : _unacked)
        if (e.durable) out.push_back(e.rec);
    return out;
}

void exit_journal::writer() {
    std::unique_lock lock(_mu);
    for (;;) {
        _cv.wait(lock, [this] { return _stop || !_to_write.empty(); });
        if (_to_write.empty()) return;  // stopping, nothing left
        auto lines = std::exchange(_to_write, {});
        auto records = std::exchange(_in_flight, {});
        lock.unlock();

        std::string buf;
        for (const auto& l : lines) (buf += l) += '\n';
        auto written = write_all_fd(_fd.get(), buf, _path);
        // One flush for every record gathered while the last one ran.
        if (written && !records.empty() && ::fdatasync(_fd.get()) != 0) written = sys_error("fdatasync " + _path);
        if (!written) log::error("monitor: exit records: {}", written.err().message);

        lock.lock();
        _size += buf.size();
        // A record that could not be made durable is still reported: the
        // daemon persists it in its own database.
        for (auto& r : records) {
            auto it = _unacked.find(id_of(r));
            if (it != _unacked.end() && it->second.finished == finished_of(r)) it->second.durable = true;
            _durable_ready.push_back(std::move(r));
        }
        if (!records.empty()) {
            std::uint64_t one = 1;
            (void)!::write(_event.get(), &one, sizeof one);
        }
        if (_size > _compact_bytes && _to_write.empty()) {
            if (auto s = compact_locked(lock); !s) log::error("monitor: exit records: {}", s.err().message);
        }
    }
}

// Rewrites the file with the unacknowledged records only (all durable when
// called: nothing is in flight). Called with _mu held, or before the writer
// thread exists.
status exit_journal::compact_locked(std::unique_lock<std::mutex>&) {
    std::string buf;
    for (const auto& [id, e] : _unacked) (buf += json::serialize(e.rec)) += '\n';
    std::string tmp = _path + ".tmp";
    {
        unique_fd t(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!t) return sys_error("open " + tmp);
        BERTH_TRY(write_all_fd(t.get(), buf, tmp));
        if (::fsync(t.get()) != 0) return sys_error("fsync " + tmp);
    }
    if (::rename(tmp.c_str(), _path.c_str()) != 0) return sys_error("rename " + tmp);
    if (unique_fd d(::open(_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); d) (void)::fsync(d.get());
    unique_fd fd(::open(_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (!fd) return sys_error("open " + _path);
    _fd = std::move(fd);
    _size = buf.size();
    return ok();
}

}  // namespace berth::monitor
