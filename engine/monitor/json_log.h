// A container's json-file log with Docker's rotation (--log-opt max-size,
// max-file): the monitor writes it, the daemon reads it.
//
// Files, for a log path P:
//   P           the current file, appended to
//   P.1 … P.N   rotated files, P.1 the newest; N = max-file - 1
//   P.base      {"start": S, "ino": I}: S is the offset of the first byte of
//               the current file, whose inode is I. Written (temp + rename)
//               before the first rotation and after every one; absent for a
//               log that never rotates.
//
// Offsets: every entry has an offset, the number of bytes ever written to
// this container's log (rotated and deleted files included) up to the end
// of the entry. It only grows, across rotations and restarts (a restart
// appends to P), so the daemon can tell whether a live entry was already in
// what it read from the files: it was if its offset <= the end offset the
// read reported. In the current file, offset = S + position.
//
// Rotation (when the current file has reached max-size before a write, as
// Docker's json-file): create P.new, shift P.(N-1)->P.N … P->P.1 (the
// oldest is overwritten), rename P.new->P, write P.base. With max-file 1
// the new file simply replaces P.
//
// Reading: read_json_log() opens P, P.1, P.2 … and reads P.base, and
// retries if a rotation moved anything in between (see json_log.cc), so
// what it returns is one consistent snapshot, oldest first. Blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "base/error.h"
#include "base/fd.h"

namespace berth::json_log {

struct rotation {
    std::uint64_t max_size = 0;  // bytes; 0: never rotate
    int max_file = 1;            // files kept, the current one included
};

// The monitor's side. Not thread-safe; one per running container.
class writer {
public:
    // Opens path for appending and finds the offset to go on from; a log
    // that does not exist yet is created at the first append. known_new:
    // the caller knows there is none (a container's first start), so not
    // even its files are looked for.
    status open(std::string path, rotation r, bool known_new = false);
    bool is_open() const { return _fd || _deferred; }
    // Appends one entry (a JSON line with its '\n'), rotating first when the
    // current file has reached max_size. Returns the offset after it; a
    // failed write is logged and does not move the offset.
    std::uint64_t append(std::string_view line);
    std::uint64_t offset() const { return _start + _size; }

private:
    status create();  // opens (creates) _path and finds the offset
    void rotate();

    std::string _path;
    rotation _rot;
    unique_fd _fd;
    bool _deferred = false;  // no file yet: created at the first append
    std::uint64_t _start = 0;  // offset of the current file's first byte
    std::uint64_t _size = 0;   // bytes in the current file
};

// One file of a snapshot, oldest first.
struct chunk {
    std::uint64_t start = 0;  // offset of data[0]
    std::string data;
};

// Reads every file of the log as one consistent snapshot, oldest first. A
// log that does not exist is empty.
result<std::vector<chunk>> read_json_log(const std::string& path);

// Parses Docker's --log-opt max-size (go-units FromHumanSize: decimal
// units, "10k" = 10000, "1.5m", "1g", "10KB") and max-file.
result<std::uint64_t> parse_max_size(std::string_view s);
result<int> parse_max_file(std::string_view s);

// HostConfig.LogConfig checked at create: Type "json-file" (the default when
// empty) with the options berth implements (max-size, max-file, mode
// blocking), or "none". Docker's messages for unknown drivers and options;
// other Docker drivers and options are refused, not ignored. Returns the
// LogConfig to store: {"Type", "Config"}.
result<boost::json::object> check_log_config(const boost::json::object& host_config);

// What a stored HostConfig asks of the log: none (no file), or a json-file
// with its rotation.
struct settings {
    bool enabled = true;
    rotation rot;
};
settings settings_of(const boost::json::object& host_config);

}  // namespace berth::json_log
