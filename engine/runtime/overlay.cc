#include "engine/runtime/overlay.h"

#include <fcntl.h>
#include <unistd.h>

#include <string_view>
#include <utility>

#include "base/sys.h"

namespace berth::runtime {
namespace {

// A failed fsconfig()/fsmount() queues the reason on the fs context fd
// ("e overlay: ..."); errno alone rarely says which option was wrong.
std::string fs_context_log(int fs) {
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fs, buf, sizeof buf);
        if (n <= 0) break;
        std::string_view m(buf, static_cast<size_t>(n));
        if (m.size() > 2 && m[1] == ' ') m.remove_prefix(2);
        if (!out.empty()) out += "; ";
        out += m;
    }
    return out;
}

error fs_error(int fs, const std::string& what) {
    int err = errno;
    error e = sys_error(what, err);
    if (auto log = fs_context_log(fs); !log.empty()) e.message += " (" + log + ")";
    return e;
}

// fsconfig() copies string values with strndup_user(value, 256).
constexpr size_t k_fsconfig_string_max = 256;

}  // namespace

result<unique_fd> open_overlay(const overlay_layers& layers, const std::string& what) {
    if (layers.lower_dirs.empty()) return make_error(errc::invalid_argument, what + ": no lower directory");
    bool fits = layers.upper_dir.size() < k_fsconfig_string_max && layers.work_dir.size() < k_fsconfig_string_max;
    for (const auto& dir : layers.lower_dirs) fits = fits && dir.size() < k_fsconfig_string_max;
    if (!fits) return unique_fd();
    unique_fd fs(sys::fsopen("overlay", FSOPEN_CLOEXEC));
    if (!fs) return sys_error(what);
    // Before Linux 6.5 overlayfs has no fs_context parser: the VFS's legacy
    // one takes any key and the joined options fail only at CMD_CREATE
    // (dmesg: unrecognized mount option "lowerdir+=..."). A key no overlayfs
    // knows tells them apart: only the legacy parser accepts it.
    if (sys::fsconfig(fs.get(), FSCONFIG_SET_FLAG, "berth-probe", nullptr, 0) == 0) return unique_fd();
    (void)fs_context_log(fs.get());
    for (size_t i = 0; i < layers.lower_dirs.size(); ++i) {
        const auto& dir = layers.lower_dirs[i];
        if (sys::fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", dir.c_str(), 0) == 0) continue;
        if (i == 0 && errno == EINVAL) {
            // No "lowerdir+" (Linux < 6.8).
            (void)fs_context_log(fs.get());
            return unique_fd();
        }
        return fs_error(fs.get(), what + ": lower directory " + dir);
    }
    if (!layers.upper_dir.empty()) {
        if (sys::fsconfig(fs.get(), FSCONFIG_SET_STRING, "upperdir", layers.upper_dir.c_str(), 0) != 0)
            return fs_error(fs.get(), what + ": upper directory " + layers.upper_dir);
        if (sys::fsconfig(fs.get(), FSCONFIG_SET_STRING, "workdir", layers.work_dir.c_str(), 0) != 0)
            return fs_error(fs.get(), what + ": work directory " + layers.work_dir);
    }
    if (sys::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return fs_error(fs.get(), what);
    unique_fd mnt(sys::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
    if (!mnt) return fs_error(fs.get(), what);
    return mnt;
}

result<unique_fd> open_overlay_from_fds(const std::vector<int>& lowers, const std::string& upper,
                                        const std::string& work, const std::string& what) {
    unique_fd fs(sys::fsopen("overlay", FSOPEN_CLOEXEC));
    if (!fs) return sys_error(what);
    for (int fd : lowers) {
        if (sys::fsconfig(fs.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, fd) == 0) continue;
        int err = errno;
        if (err == EINVAL) {
            auto log = fs_context_log(fs.get());
            return error{errc::unavailable,
                         what + ": userns-remap needs overlayfs layers given by descriptor (Linux 6.15+)" +
                             (log.empty() ? std::string() : " (" + log + ")"),
                         err};
        }
        errno = err;
        return fs_error(fs.get(), what + ": idmapped lower directory");
    }
    for (auto [key, dir] : {std::pair{"upperdir", &upper}, std::pair{"workdir", &work}}) {
        unique_fd d(::open(dir->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!d) return sys_error(what + ": open " + *dir);
        if (sys::fsconfig(fs.get(), FSCONFIG_SET_FD, key, nullptr, d.get()) != 0)
            return fs_error(fs.get(), what + ": " + key + " " + *dir);
    }
    if (sys::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return fs_error(fs.get(), what);
    unique_fd mnt(sys::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
    if (!mnt) return fs_error(fs.get(), what);
    return mnt;
}

std::string overlay_mount_options(const overlay_layers& layers) {
    // Backslash-escapes what the legacy option parser splits on.
    auto escaped = [](const std::string& p) {
        std::string out;
        for (char c : p) {
            if (c == ':' || c == ',' || c == '\\') out += '\\';
            out += c;
        }
        return out;
    };
    std::string opts = "lowerdir=";
    for (size_t i = 0; i < layers.lower_dirs.size(); ++i) opts += (i ? ":" : "") + escaped(layers.lower_dirs[i]);
    if (!layers.upper_dir.empty())
        opts += ",upperdir=" + escaped(layers.upper_dir) + ",workdir=" + escaped(layers.work_dir);
    return opts;
}

}  // namespace berth::runtime
