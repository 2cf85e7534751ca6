// Move-only owners of kernel handles. Every fd berth opens is O_CLOEXEC.
#pragma once

#include <unistd.h>

#include <utility>

namespace berth {

class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : _fd(fd) {}
    unique_fd(unique_fd&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) reset(std::exchange(o._fd, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return _fd; }
    bool valid() const noexcept { return _fd >= 0; }
    explicit operator bool() const noexcept { return valid(); }
    int release() noexcept { return std::exchange(_fd, -1); }
    void reset(int fd = -1) noexcept {
        if (_fd >= 0) ::close(_fd);
        _fd = fd;
    }

private:
    int _fd = -1;
};

// Runs a callable at scope exit unless dismissed: rollback on error paths.
template <class F>
class scope_exit {
public:
    explicit scope_exit(F f) : _f(std::move(f)) {}
    scope_exit(const scope_exit&) = delete;
    scope_exit& operator=(const scope_exit&) = delete;
    ~scope_exit() {
        if (_armed) _f();
    }
    void dismiss() noexcept { _armed = false; }

private:
    F _f;
    bool _armed = true;
};

}  // namespace berth
