#include "engine/command_path.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/fd.h"
#include "base/sys.h"
#include "base/util.h"
#include "engine/rootfs_view.h"

namespace berth {

namespace {

// Not the view's business: what the container mounts over its rootfs, and
// the init layer's directory.
bool beside_own_mounts(const std::string& clean) {
    for (std::string_view top : {"/proc", "/dev", "/sys", "/etc"})
        if (clean == top || (clean.starts_with(top) && clean.size() > top.size() && clean[top.size()] == '/'))
            return false;
    return true;
}

// Whether the walk to path, every symlink followed inside the view, stays
// clear of those at every step, and takes no ".." after a component that
// is missing (the kernel's walk stops there; the container may have it:
// a mount point, a working directory made at the claim).
bool resolves_beside_own_mounts(const rootfs_view& view, const std::string& path) {
    bool missing = false;
    auto real = resolve_in_scope(view, path, [&](const std::string& sofar, scope_step step) {
        if (step == scope_step::up && missing) return false;
        if (step == scope_step::missing) missing = true;
        return beside_own_mounts(sofar);
    });
    return real && beside_own_mounts(*real);
}

constexpr off_t k_max_told_account_file = 32 << 10;

// One account file below the view's root: nullopt (not for telling), or
// the file's text (nullopt inside: missing).
std::optional<std::optional<std::string>> read_account_file_in(const rootfs_view& view, const char* path) {
    unique_fd fd(sys::openat2(view.root(), path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                              RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
    if (!fd) {
        if (errno == ENOENT) return std::optional<std::string>();
        return std::nullopt;
    }
    // Carried in every start message (at most monitor::max_packet, 256
    // KiB, with the rest of the spec): a larger file the child reads.
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > k_max_told_account_file)
        return std::nullopt;
    auto text = read_to_end(fd.get(), path);
    if (!text) return std::nullopt;
    return std::optional<std::string>(std::move(*text));
}

}  // namespace

std::optional<account_files> read_account_files(const rootfs_view& view) {
    auto passwd = read_account_file_in(view, "etc/passwd");
    auto group = read_account_file_in(view, "etc/group");
    if (!passwd || !group) return std::nullopt;
    return account_files{std::move(*passwd), std::move(*group)};
}

std::optional<std::string> resolve_command(const rootfs_view& view, const std::string& name, std::string_view path) {
    if (name.empty() || name.find('/') != std::string::npos) return std::nullopt;
    for (const auto& dir : split(path, ':')) {
        // "" and relative entries are taken from the working directory.
        if (dir.empty() || dir[0] != '/') return std::nullopt;
        if (!resolves_beside_own_mounts(view, dir)) return std::nullopt;
        std::string candidate = dir + "/" + name;
        // Where it leads first: a link into /proc is missing in the view
        // and found in the container.
        if (!resolves_beside_own_mounts(view, candidate)) return std::nullopt;
        // The child's stat(): whatever fails to open is skipped, as there.
        unique_fd fd(view.in_root(candidate, O_PATH | O_CLOEXEC));
        if (!fd) continue;
        struct stat st;
        if (::fstat(fd.get(), &st) != 0) return std::nullopt;
        if (S_ISREG(st.st_mode) && (st.st_mode & 0111)) return candidate;
    }
    return std::nullopt;
}

}  // namespace berth
