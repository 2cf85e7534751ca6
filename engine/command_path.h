// Where a container's command is found along PATH, looked up by the daemon
// for a warm pool's sandboxes.
//
// A claimed sandbox's child used to search PATH itself, with a stat() per
// directory in an overlay mounted moments before: nothing of it is in the
// dentry cache, so every component is a slow lookup through the layers
// (busybox's `true` along Docker's default PATH: six stats, about a fifth
// of the claimed child's CPU, one claim in twenty of the machine's). A
// pool's sandboxes are pristine (nothing ran in them and nothing wrote
// their upper directory, or they were unparked), so the search gives the
// same answer in every one of them for the same name, PATH and user: the
// pool looks it up once, in the image's layers, and the claims carry it
// (launch_spec::exe).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth {

class rootfs_view;

// exec.LookPath(name) along `path` in `view` (the image as a container
// starts from it), as the container's root, who may search every
// directory, does it: the first regular file with an execute bit, as
// PATH names it ("/bin/true"). nullopt when it is not found or the answer
// could differ inside the container: a name with a slash, a relative PATH
// entry, or a directory or file that resolves into /proc, /dev or /sys
// (the container's own mounts, which the view lacks) or /etc (the init
// layer, whose files differ per container).
std::optional<std::string> resolve_command(const rootfs_view& view, const std::string& name, std::string_view path);

// A pristine container's /etc/passwd and /etc/group (nullopt: missing), as
// its child would read them to resolve its user: read once per image by
// the daemon, for the next cold starts (engine::told_accounts).
struct account_files {
    std::optional<std::string> passwd, group;
};
// From `view` (the image as a container starts from it); nullopt where
// the child's own reading could differ or fail, a symlink on the way (it
// could lead into the container's own mounts) or not a regular file, and
// for a file over 32 KiB (each start message carries them).
std::optional<account_files> read_account_files(const rootfs_view& view);

// Commands along PATH as a pristine container's search would find them
// (the key names the command and its PATH, and the image where the cache
// serves several: engine::told_command), and those being looked up.
struct command_places {
    std::map<std::string, std::string> known;  // to the path; "": the child searches itself
    std::set<std::string> looking_up;
};

}  // namespace berth
