// A container's directories under <data-root>/containers/<id> (engine/containers.cc),
// made by create and by a warm pool's sandbox preparation alike.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth {

// A stock of removed containers' directories, taken by later creates
// instead of new ones. On this kind of host (ext4 without a journal) an
// inode allocation skips every inode of its group deleted in the last 30 s
// (ext4's recently_deleted()), so creating and deleting the 8 inodes of a
// container's directory at every start cost more than everything else the
// daemon does for it. A directory goes back only untouched: upper/ empty,
// with its own owner, mode and no extended attribute but the overlay's
// uuid (removed; overlayfs marks a layer it copied up into with other
// trusted.overlay.* attributes), work/ holding at most the
// kernel's empty work/work (removed here: the next mount would remove it
// and make it anew), the init layer
// its three files, and nothing else but the container's logs (deleted).
// Never a directory whose overlay may still be mounted somewhere (the
// caller's choice). Thread-safe: used from workers.
class spare_dirs {
public:
    // `containers`: <data-root>/containers. At most `max` spares.
    explicit spare_dirs(std::string containers, std::size_t max = 64);
    // Removes spares a previous daemon left (at start, before any create).
    void clear_leftovers();
    // Keeps the removed container's `dir` as a spare if it is untouched
    // (true); false: the caller removes it. With `as` (a fresh container
    // id: the name its cgroups were kept under, cgroup::manager::remove) it
    // is renamed to <containers>/<as>, its init files written for that id's
    // default hostname and a network of its own: the next container, which
    // claims that id, finds its directory made (take_named).
    bool give(const std::string& dir, const std::string& as = {});
    // Renames a spare to `dir` (true); false: none (the caller makes one).
    bool take(const std::string& dir);
    // The spare that stands at `dir` already (give()'s `as`): taken, true.
    bool take_named(const std::string& dir);
    // The spares' names (GET /berth/spares).
    std::vector<std::string> names();
    // <containers>/.spare-<n>: what clear_leftovers() removes.
    static bool is_spare_name(const std::string& name);

private:
    std::string _containers;
    std::size_t _max;
    std::mutex _mu;
    std::vector<std::string> _free;  // full paths
    std::size_t _next = 0;
};

// upper/, work/ and the init layer: etc/hostname, etc/hosts and
// etc/resolv.conf. `shared`: the mount points come from
// engine::mount_points_layer(), the layer below; else (an init layer whose
// owners are shifted) it has its own dev/, proc/, sys/. Every inode saved
// counts: on ext4 each is an allocation at create and, mounted with discard,
// a synchronous discard at removal. With `spares` (and `shared`), a spare
// directory is taken when there is one, its init files rewritten in place.
status make_container_dirs(const std::string& dir, const std::string& hostname, bool host_net, bool shared,
                           spare_dirs* spares = nullptr);

}  // namespace berth
