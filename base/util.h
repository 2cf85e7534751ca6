// Small helpers shared by every layer: files, strings, ids, time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace berth {

// Whole-file helpers for small files (configs, cgroup knobs). They block.
result<std::string> read_file(const std::string& path);
status write_file(const std::string& path, std::string_view data, int mode = 0644);
// Writes path.tmp, fsyncs it and renames it over path: the file is either old or new.
status write_file_atomic(const std::string& path, std::string_view data, int mode = 0644);
status make_dirs(const std::string& path, int mode = 0755);
// rm -rf that never crosses a mount point and never follows symlinks.
status remove_all(const std::string& path);
bool path_exists(const std::string& path);

std::vector<std::string> split(std::string_view s, char sep);
bool starts_with(std::string_view s, std::string_view prefix);
std::string trim(std::string_view s);

// 32 random bytes as 64 lowercase hex digits (container and exec ids).
std::string random_id();
std::string hex(const unsigned char* data, std::size_t n);

// Nanoseconds since the epoch (CLOCK_REALTIME).
std::int64_t now_ns();
// RFC 3339 with nanoseconds, UTC: 2026-11-29T04:01:28.123456789Z
std::string format_rfc3339_nano(std::int64_t ns);
// Parses what format_rfc3339_nano writes (and second or fractional precision).
std::optional<std::int64_t> parse_rfc3339(std::string_view s);

}  // namespace berth
