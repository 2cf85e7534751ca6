#include "engine/runtime/populate.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/fd.h"

namespace berth::runtime {
namespace {

status copy_attrs(int fd, const struct stat& st, const std::string& what) {
    if (::fchown(fd, st.st_uid, st.st_gid) != 0) return sys_error("chown " + what);
    if (::fchmod(fd, st.st_mode & 07777) != 0) return sys_error("chmod " + what);  // after chown: it clears setuid
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::futimens(fd, times) != 0) return sys_error("set times of " + what);
    return ok();
}

status copy_file(int from_dir, int to_dir, const char* name, const struct stat& st, const std::string& what) {
    unique_fd in(::openat(from_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return sys_error("open " + what);
    unique_fd out(::openat(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return sys_error("create " + what);
    for (off_t left = st.st_size; left > 0;) {
        ssize_t n = ::sendfile(out.get(), in.get(), nullptr, static_cast<size_t>(left));
        if (n < 0) return sys_error("copy " + what);
        if (n == 0) break;  // shrank meanwhile
        left -= n;
    }
    return copy_attrs(out.get(), st, what);
}

status copy_dir(int from, int to, const std::string& shown) {
    unique_fd list(::openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!list) return sys_error("open " + shown);
    DIR* d = ::fdopendir(list.get());
    if (!d) return sys_error("read " + shown);
    (void)list.release();
    struct closer {
        DIR* d;
        ~closer() { ::closedir(d); }
    } close_dir{d};
    while (struct dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const std::string what = shown + "/" + name;
        struct stat st;
        if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("stat " + what);
        if (S_ISDIR(st.st_mode)) {
            if (::mkdirat(to, name.c_str(), 0700) != 0) return sys_error("mkdir " + what);
            unique_fd sub_from(::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            unique_fd sub_to(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub_from || !sub_to) return sys_error("open " + what);
            BERTH_TRY(copy_dir(sub_from.get(), sub_to.get(), what));
            BERTH_TRY(copy_attrs(sub_to.get(), st, what));
        } else if (S_ISREG(st.st_mode)) {
            BERTH_TRY(copy_file(from, to, name.c_str(), st, what));
        } else if (S_ISLNK(st.st_mode)) {
            std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
            ssize_t n = ::readlinkat(from, name.c_str(), target.data(), target.size());
            if (n < 0) return sys_error("readlink " + what);
            target.resize(static_cast<size_t>(n));
            if (::symlinkat(target.c_str(), to, name.c_str()) != 0) return sys_error("symlink " + what);
            if (::fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
                return sys_error("chown " + what);
        } else {
            if (::mknodat(to, name.c_str(), st.st_mode, st.st_rdev) != 0) return sys_error("mknod " + what);
            if (::fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
                return sys_error("chown " + what);
        }
    }
    return ok();
}

}  // namespace

status populate_volume(int from, int to) {
    unique_fd probe(::openat(to, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!probe) return sys_error("open volume");
    DIR* d = ::fdopendir(probe.get());
    if (!d) return sys_error("read volume");
    (void)probe.release();
    bool empty = true;
    while (struct dirent* e = ::readdir(d))
        if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") empty = false;
    ::closedir(d);
    if (!empty) return ok();
    BERTH_TRY(copy_dir(from, to, "volume content"));
    struct stat st;
    if (::fstat(from, &st) != 0) return sys_error("stat volume target");
    unique_fd top(::openat(to, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!top) return sys_error("open volume");
    return copy_attrs(top.get(), st, "volume");
}

}  // namespace berth::runtime
