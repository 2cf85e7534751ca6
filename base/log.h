// Daemon log lines to stderr: "time level message". Thread-safe, unbuffered.
#pragma once

#include <fmt/format.h>
#include <string_view>

namespace berth::log {

enum class level { debug, info, warn, error };
void set_level(level l);
void write(level l, std::string_view msg);

template <class... A>
void info(fmt::format_string<A...> f, A&&... a) { write(level::info, fmt::format(f, std::forward<A>(a)...)); }
template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) { write(level::warn, fmt::format(f, std::forward<A>(a)...)); }
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) { write(level::error, fmt::format(f, std::forward<A>(a)...)); }
template <class... A>
void debug(fmt::format_string<A...> f, A&&... a) { write(level::debug, fmt::format(f, std::forward<A>(a)...)); }

}  // namespace berth::log
