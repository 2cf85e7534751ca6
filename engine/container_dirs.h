// A container's directories under <data-root>/containers/<id> (engine/containers.cc),
// made by create and by a warm pool's sandbox preparation alike.
#pragma once

#include <string>

#include "base/error.h"

namespace berth {

// upper/, work/ and the init layer: etc/hostname, etc/hosts and
// etc/resolv.conf. `shared`: the mount points come from
// engine::mount_points_layer(), the layer below; else (an init layer whose
// owners are shifted) it has its own dev/, proc/, sys/. Every inode saved
// counts: on ext4 each is an allocation at create and, mounted with discard,
// a synchronous discard at removal.
status make_container_dirs(const std::string& dir, const std::string& hostname, bool host_net, bool shared);

}  // namespace berth
