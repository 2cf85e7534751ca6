// The mounts of a Docker HostConfig: Binds ("SRC:DST[:MODE]", as the docker
// CLI sends -v) and Mounts ({Type, Source, Target, ReadOnly, BindOptions},
// as it sends --mount), checked as Docker checks them at create and read
// again at start into the launch spec. Engine-internal; nothing here touches
// the filesystem except `check_bind_sources`, which stats (run it on a worker).
//
// Host binds, named volumes of the local driver (a bind of the volume's
// _data) and anonymous volumes are implemented; tmpfs and other types in
// Mounts are refused with a clear error. Anonymous volumes (Config.Volumes,
// a Binds entry without a host part, --mount type=volume without source,
// the image's VOLUME entries) are named at create: HostConfig keeps the
// target -> name map under `anonymous_volumes_key` (hidden from inspect).
#pragma once

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "engine/runtime/spec.h"

namespace berth {

inline constexpr const char* anonymous_volumes_key = "BerthAnonymousVolumes";
// Docker's label on the volumes it makes anonymous.
inline constexpr const char* anonymous_volume_label = "com.docker.volume.anonymous";

// Names every anonymous volume of the container (a fresh random 64-hex
// name per target), leaving out targets a bind, named volume or tmpfs
// covers: the map to store under anonymous_volumes_key. Checks Binds and
// Mounts (invalid_argument as bind_mounts_of).
result<boost::json::object> assign_anonymous_volumes(const boost::json::object& host_config,
                                                     const boost::json::object& request_volumes,
                                                     const boost::json::object& image_volumes);
// The anonymous volumes' names (from anonymous_volumes_key).
std::vector<std::string> anonymous_volumes_of(const boost::json::object& host_config);

// Parses and checks Binds and Mounts; invalid_argument with Docker's
// message where Docker has one (duplicate targets included).
// Named volumes become binds of data_root/volumes/<name>/_data.
result<std::vector<runtime::bind_mount>> bind_mounts_of(const boost::json::object& host_config,
                                                        const std::string& data_root);

// The volumes (named and anonymous) a HostConfig uses (valid or not: for in-use checks).
std::vector<std::string> volume_names_of(const boost::json::object& host_config);

// --mount type=bind refuses a missing source (-v creates it at start).
// Blocks (stat).
status check_bind_sources(const std::vector<runtime::bind_mount>& binds);

// Inspect's "Mounts": [{Type, Source, Destination, Mode, RW, Propagation}].
boost::json::array mount_points_json(const boost::json::object& host_config, const std::string& data_root);

}  // namespace berth
