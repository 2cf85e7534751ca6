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
// The rest of an open descriptor's contents; `shown` names it in errors.
result<std::string> read_to_end(int fd, const std::string& shown);
status write_file(const std::string& path, std::string_view data, int mode = 0644);
// The same, over an existing file's bytes, cut only where it was longer:
// never truncated to zero first. ext4 (auto_da_alloc) starts the writeback of
// a file truncated to zero and rewritten at its close, and the writer then
// waits for the disk.
status overwrite_file(const std::string& path, std::string_view data, int mode = 0644);
// Writes path.tmp, fsyncs it and renames it over path: the file is either old or new.
status write_file_atomic(const std::string& path, std::string_view data, int mode = 0644);
status make_dirs(const std::string& path, int mode = 0755);
// rm -rf that never crosses a mount point and never follows symlinks.
status remove_all(const std::string& path);
bool path_exists(const std::string& path);
// The names in a directory (a descriptor that can be read; it is not moved),
// without "." and "..", sorted bytewise. `shown` names it in errors.
result<std::vector<std::string>> list_directory(int dirfd, const std::string& shown);
// The same for a path.
result<std::vector<std::string>> list_directory(const std::string& path);
// Bytes of the regular files (and symlinks) under path, each inode counted
// once, directories not counted, never crossing a mount point: moby's
// directory.Size. A missing path is 0. Blocks.
result<std::uint64_t> disk_usage(const std::string& path);

std::vector<std::string> split(std::string_view s, char sep);
bool starts_with(std::string_view s, std::string_view prefix);
std::string trim(std::string_view s);

// 32 random bytes as 64 lowercase hex digits (container and exec ids).
std::string random_id();
std::string hex(const unsigned char* data, std::size_t n);
// Standard base64 (RFC 4648 section 4) with padding; decoding also takes it
// without padding and refuses anything else.
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// Nanoseconds since the epoch (CLOCK_REALTIME).
std::int64_t now_ns();
// RFC 3339 with nanoseconds, UTC: 2026-11-29T04:01:28.123456789Z
std::string format_rfc3339_nano(std::int64_t ns);
// Parses what format_rfc3339_nano writes (and second or fractional precision).
std::optional<std::int64_t> parse_rfc3339(std::string_view s);

}  // namespace berth
