// The error model of berth: every fallible call returns result<T>.
//
// An error carries a category (what kind of failure, which decides the HTTP
// status and the CLI exit code in one place: net/status.cc), the errno that
// caused it when there is one, and a message that names the object involved,
// lowercase and without a final period: "open layer sha256:ab12…: no such file".
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace berth {

enum class errc {
    internal,          // a bug or an unexpected kernel answer
    invalid_argument,  // the caller sent something malformed
    not_found,         // the named object does not exist
    already_exists,    // a name or object is taken
    conflict,          // the object is in a state that forbids the operation
    unavailable,       // a dependency (monitor, kernel feature) is not there
    cannot_execute,    // the container's command exists but cannot run (126)
    command_not_found, // the container's command does not exist (127)
};

struct error {
    errc code = errc::internal;
    std::string message;
    int sys_errno = 0;

    // Prefixes context: err.wrap("create container x") -> "create container x: <old>".
    error wrap(std::string_view context) const {
        error e = *this;
        e.message = std::string(context) + ": " + message;
        return e;
    }
};

// The errc -> HTTP status mapping, the one place it lives (base/util.cc).
int http_status(errc code);

inline error make_error(errc code, std::string message) { return {code, std::move(message), 0}; }

// An error from errno: "<what>: <strerror(errno)>", classified by errno.
error sys_error(std::string_view what, int err = errno);

template <class T>
class [[nodiscard]] result {
public:
    result(T value) : _v(std::in_place_index<0>, std::move(value)) {}
    result(error e) : _v(std::in_place_index<1>, std::move(e)) {}

    bool has_value() const noexcept { return _v.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { return std::get<0>(_v); }
    const T& value() const& { return std::get<0>(_v); }
    T&& value() && { return std::get<0>(std::move(_v)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const error& err() const { return std::get<1>(_v); }
    T value_or(T def) const& { return has_value() ? value() : std::move(def); }

private:
    std::variant<T, error> _v;
};

template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(error e) : _e(std::move(e)), _failed(true) {}
    bool has_value() const noexcept { return !_failed; }
    explicit operator bool() const noexcept { return !_failed; }
    const error& err() const { return _e; }

private:
    error _e;
    bool _failed = false;
};

using status = result<void>;

inline status ok() { return {}; }

}  // namespace berth

// Propagates an error from a result-returning expression.
#define BERTH_TRY(expr)                          \
    do {                                         \
        auto&& _berth_r = (expr);                \
        if (!_berth_r) return _berth_r.err();    \
    } while (0)

#define BERTH_CONCAT_(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_(a, b)
// BERTH_ASSIGN(auto x, f()); binds the value or returns the error.
#define BERTH_ASSIGN(decl, expr) BERTH_ASSIGN_(BERTH_CONCAT(_berth_a, __LINE__), decl, expr)
#define BERTH_ASSIGN_(tmp, decl, expr) \
    auto tmp = (expr);                 \
    if (!tmp) return tmp.err();        \
    decl = std::move(tmp).value()
