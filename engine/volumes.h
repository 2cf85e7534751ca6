// Named volumes of the local driver: <data-root>/volumes/<name>/_data, with
// the volume's metadata beside it in volume.json. The directory is the
// truth; a volume is staged under a temporary name and renamed into place,
// so a half-created one is never visible. Every function here blocks (run
// it on a worker). Whether a volume is in use is the engine's business (its
// containers' HostConfig), not the store's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"

namespace berth::volumes {

struct volume {
    std::string name;
    std::int64_t created_ns = 0;
    boost::json::object labels;
    // The local driver's options (type, device, o): a volume with options
    // is a filesystem each container using it mounts in its own mount
    // namespace (runtime/mounts.cc), never on the host; _data stays empty.
    boost::json::object options;
};

// moby's local driver checks of driver options: keys type, device, o (size
// needs quota support, which berth lacks); device and type go together, o
// needs both. invalid_argument "create NAME: invalid option: \"k\"", …
status check_options(const std::string& name, const boost::json::object& options);

// moby's local driver rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (Docker's message).
status check_name(const std::string& name);

std::string data_path(const std::string& data_root, const std::string& name);

// Creates the volume, or returns the existing one of that name (Docker does).
result<volume> create(const std::string& data_root, const std::string& name, boost::json::object labels,
                      boost::json::object options = {});
// not_found "get NAME: no such volume".
result<volume> get(const std::string& data_root, const std::string& name);
result<std::vector<volume>> list(const std::string& data_root);
// Removes it and its data (not_found when missing).
status remove(const std::string& data_root, const std::string& name);

// Docker's Volume object: {CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope}.
boost::json::object to_json(const std::string& data_root, const volume& v);

}  // namespace berth::volumes
