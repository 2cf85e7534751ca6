// The mounts of a Docker HostConfig: Binds ("SRC:DST[:MODE]", as the docker
// CLI sends -v) and Mounts ({Type, Source, Target, ReadOnly, BindOptions},
// as it sends --mount), checked as Docker checks them at create and read
// again at start into the launch spec. Engine-internal; nothing here touches
// the filesystem except `check_bind_sources`, which stats (run it on a worker).
//
// Host binds, named volumes of the local driver (a bind of the volume's
// _data, or the volume's own filesystem when it has driver options),
// anonymous volumes, tmpfs mounts (--mount type=tmpfs) and --volumes-from
// are implemented; other types in Mounts are refused with a clear error. Anonymous volumes (Config.Volumes,
// a Binds entry without a host part, --mount type=volume without source,
// the image's VOLUME entries) are named at create: HostConfig keeps the
// target -> name map under `anonymous_volumes_key` (hidden from inspect).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "engine/runtime/spec.h"

namespace berth {

inline constexpr const char* anonymous_volumes_key = "BerthAnonymousVolumes";
// --volumes-from: the source containers' mounts, copied at create (hidden
// from inspect): [{Type bind|volume, Destination, RW, Source, Propagation |
// Name, Anonymous}]. A bind or mount of the container at the same target wins.
inline constexpr const char* volumes_from_key = "BerthVolumesFrom";
// The user-namespace remapping a container was created under (hidden from
// inspect): "uid_map|gid_map" as the kernel's map text, "" for none. Its
// upper layer is owned accordingly, so a start under another remapping is
// refused (Docker keeps a data root per remapping).
inline constexpr const char* userns_record_key = "BerthUsernsRemap";
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

// "CONTAINER[:MODE]" (moby's ParseVolumesFrom): the container and the mode
// ("rw" when none; ro|rw with z|Z and a consistency; no propagation, no nocopy).
result<std::pair<std::string, std::string>> parse_volumes_from(const std::string& spec);
// The mounts (binds and volumes, never tmpfs) a container gets from a
// source container's HostConfig: each keeps its own mode, and "ro" in mode
// makes them all read-only (moby: RW = source RW && mode's rw).
result<boost::json::array> inherited_mounts(const boost::json::object& source_hc, const std::string& mode);

// --mount type=tmpfs entries of Mounts, as runtime tmpfs mounts (Docker's
// default flags noexec, nosuid, nodev; size and mode from TmpfsOptions).
result<std::vector<runtime::tmpfs_mount>> tmpfs_mounts_of(const boost::json::object& host_config);

// The volumes rm -v (and AutoRemove) may remove: the anonymous ones,
// the container's own and those it got by --volumes-from (moby removes
// those too unless another container still uses them).
std::vector<std::string> removable_volumes_of(const boost::json::object& host_config);

// The named volumes the container's Binds and Mounts name, with the labels
// and driver options --mount asks for when it creates one.
struct volume_request {
    std::string name;
    boost::json::object labels, options;
};
std::vector<volume_request> volume_requests_of(const boost::json::object& host_config);

// At start, on a worker (it reads files), for containers whose binds
// need it (binds_need_preparing: a named volume, a shared or slave bind):
// the named volumes' driver options go into their binds, and the source of
// a [r]shared ([r]slave) bind must sit on a shared (shared or slave) mount
// of the host, with Docker's message otherwise ("path X is mounted on Y
// but it is not a shared mount").
bool binds_need_preparing(const std::vector<runtime::bind_mount>& binds);
status prepare_binds(std::vector<runtime::bind_mount>& binds, const std::string& data_root);

// --mount type=bind refuses a missing source (-v creates it at start).
// Blocks (stat).
status check_bind_sources(const std::vector<runtime::bind_mount>& binds);

// Inspect's "Mounts": [{Type, Source, Destination, Mode, RW, Propagation}].
boost::json::array mount_points_json(const boost::json::object& host_config, const std::string& data_root);

}  // namespace berth
