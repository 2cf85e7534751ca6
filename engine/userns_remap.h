// The daemon's --userns-remap, as Docker reads it: "default" (the `berth`
// user and group, created with subordinate ranges when missing; Docker's
// is "dockremap"), "USER" or "USER:GROUP" (names or ids). The container
// ids 0.. are mapped onto the user's ranges in /etc/subuid and the group's
// in /etc/subgid, in file order, as moby's idtools does.
//
// Runs in the daemon before it starts any thread (it may spawn useradd).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "engine/runtime/spec.h"

namespace berth {

struct userns_remap {
    std::string user, group;  // names (or the ids given when there is no name)
    std::vector<runtime::id_range> uid_map, gid_map;
};

constexpr const char* k_default_remap_user = "berth";
constexpr std::uint32_t k_default_remap_size = 65536;

// The ranges of `name` (or of its numeric id `id`, "" for none) in a
// subuid/subgid file's text, in file order, mapped from container id 0.
std::vector<runtime::id_range> subordinate_ranges(std::string_view file, const std::string& name,
                                                  const std::string& id);

// The first start at or above 100000 after every range of the file's text.
std::uint32_t next_free_subordinate(std::string_view file);

// Resolves the flag's value (files under `etc`, "/etc" but for tests).
result<userns_remap> resolve_userns_remap(const std::string& arg, const std::string& etc = "/etc");

}  // namespace berth
