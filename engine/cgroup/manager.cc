#include "engine/cgroup/manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"
#include "engine/cgroup/device_filter.h"

namespace berth::cgroup {

std::vector<std::string> container_cgroup::v1_procs() const {
    std::vector<std::string> out;
    for (auto& d : v1_dirs) out.push_back(d + "/cgroup.procs");
    return out;
}

result<std::unique_ptr<manager>> manager::detect(const std::string& data_root, const std::string& parent_override) {
    auto m = std::unique_ptr<manager>(new manager);
    BERTH_ASSIGN(std::string own, read_file("/proc/self/cgroup"));
    BERTH_ASSIGN(std::string mountinfo, read_file("/proc/self/mountinfo"));
    // /proc/self/cgroup: "ID:controllers:path"
    std::vector<std::pair<std::string, std::string>> mine;  // controllers -> path
    for (auto& line : split(own, '\n')) {
        if (line.empty()) continue;
        auto a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        mine.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1));
    }
    bool have_v2 = false, have_v1 = false;
    std::string v2_mount;
    std::vector<hierarchy> v1;
    for (auto& line : split(mountinfo, '\n')) {
        // "... mountpoint ... - fstype source superopts"
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        auto fields = split(line.substr(0, dash), ' ');
        auto tail = split(line.substr(dash + 3), ' ');
        if (fields.size() < 5 || tail.size() < 3) continue;
        const std::string& mnt = fields[4];
        if (tail[0] == "cgroup2") {
            if (!have_v2) {
                have_v2 = true;
                v2_mount = mnt;
            }
        } else if (tail[0] == "cgroup") {
            // The controllers are the super options that name one.
            std::string ctrls;
            for (auto& opt : split(tail[2], ',')) {
                for (auto& [c, p] : mine) {
                    for (auto& one : split(c, ','))
                        if (one == opt && !one.empty()) {
                            if (!ctrls.empty()) ctrls += ',';
                            ctrls += opt;
                        }
                }
            }
            if (ctrls.empty()) continue;
            for (auto& [c, p] : mine)
                if (c == ctrls) {
                    have_v1 = true;
                    v1.push_back({ctrls, mnt, p});
                }
        }
    }
    if (have_v2) {
        std::string p;
        for (auto& [c, path] : mine)
            if (c.empty()) p = path;
        m->_h.push_back({"", v2_mount, p});
    }
    for (auto& h : v1) m->_h.push_back(h);
    m->_layout = have_v1 ? (have_v2 ? layout::hybrid : layout::legacy) : layout::unified;
    if (!have_v1 && !have_v2) return make_error(errc::unavailable, "no cgroup hierarchy is mounted");
    std::string digest = sha256::of(data_root).substr(7, 8);
    m->_parent_name = parent_override.empty() ? "berth-" + digest : parent_override;
    if (have_v2) {
        BERTH_ASSIGN(m->_device_prog, load_device_program(default_device_rules()));
    }
    return m;
}

std::vector<std::string> manager::parent_dirs() const {
    std::vector<std::string> out;
    for (auto& h : _h) {
        std::string own = h.own_path == "/" ? "" : h.own_path;
        out.push_back(h.mount + own + "/" + _parent_name);
    }
    return out;
}

container_cgroup manager::paths(const std::string& id) const {
    container_cgroup c;
    auto parents = parent_dirs();
    for (size_t i = 0; i < _h.size(); ++i) {
        std::string d = parents[i] + "/" + id;
        if (_h[i].controllers.empty()) c.v2_dir = d;
        else c.v1_dirs.push_back(d);
    }
    return c;
}

namespace {
status copy_cpuset(const std::string& parent, const std::string& dir) {
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
        auto v = read_file(parent + "/" + f);
        if (!v) continue;
        std::string t = trim(*v);
        if (t.empty()) {
            // An empty parent inherits from its own parent first.
            auto up = parent.substr(0, parent.rfind('/'));
            auto pv = read_file(up + "/" + f);
            if (pv) {
                (void)write_file(parent + "/" + f, trim(*pv));
                t = trim(*pv);
            }
        }
        BERTH_TRY(write_file(dir + "/" + f, t));
    }
    return ok();
}
}  // namespace

result<container_cgroup> manager::create(const std::string& id) {
    container_cgroup c = paths(id);
    auto parents = parent_dirs();
    std::vector<std::string> made;
    auto undo = scope_exit([&] {
        for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
    });
    for (size_t i = 0; i < _h.size(); ++i) {
        const std::string& parent = parents[i];
        if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("create cgroup " + parent);
        bool cpuset = _h[i].controllers.find("cpuset") != std::string::npos;
        if (cpuset) BERTH_TRY(copy_cpuset(parent.substr(0, parent.rfind('/')), parent));
        std::string dir = parent + "/" + id;
        if (::mkdir(dir.c_str(), 0755) != 0) return sys_error("create cgroup " + dir);
        made.push_back(dir);
        if (cpuset) BERTH_TRY(copy_cpuset(parent, dir));
        if (_h[i].controllers.empty() && _device_prog) {
            unique_fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!dfd) return sys_error("open cgroup " + dir);
            BERTH_TRY(attach_device_program(_device_prog.get(), dfd.get()));
        }
        if (_h[i].controllers.find("devices") != std::string::npos && !_device_prog) {
            // Legacy hosts only: the v1 devices controller carries the allowlist.
            BERTH_TRY(write_file(dir + "/devices.deny", "a"));
            for (auto& r : default_device_rules()) {
                std::string rule;
                rule += r.type;
                rule += ' ';
                rule += r.major < 0 ? "*" : std::to_string(r.major);
                rule += ':';
                rule += r.minor < 0 ? "*" : std::to_string(r.minor);
                rule += ' ';
                if (r.access & 2) rule += 'r';
                if (r.access & 4) rule += 'w';
                if (r.access & 1) rule += 'm';
                BERTH_TRY(write_file(dir + "/devices.allow", rule));
            }
        }
    }
    undo.dismiss();
    return c;
}

status manager::remove(const std::string& id) {
    container_cgroup c = paths(id);
    std::vector<std::string> dirs = c.v1_dirs;
    if (!c.v2_dir.empty()) dirs.push_back(c.v2_dir);
    status result;
    for (auto& d : dirs) {
        for (int attempt = 0;; ++attempt) {
            if (::rmdir(d.c_str()) == 0 || errno == ENOENT) break;
            // EBUSY while the kernel is still tearing down exited tasks.
            if (errno == EBUSY && attempt < 50) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                continue;
            }
            result = sys_error("remove cgroup " + d);
            break;
        }
    }
    return result;
}

}  // namespace berth::cgroup
