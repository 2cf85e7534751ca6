// Resolving a container's --user against the image's /etc/passwd and
// /etc/group, with runc's rules (libcontainer/user GetExecUser). Pure: the
// caller reads the files (inside the container root). Private to engine/runtime.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::runtime {

struct exec_user {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups
    std::string home = "/";
};

// spec: "", "name", "uid", "name:group", "uid:gid", … ("" is root).
// passwd / group: file contents, nullopt when the image has no such file.
// Supplementary groups are the groups listing the user by name, and only when
// no group was given explicitly.
result<exec_user> resolve_user(std::string_view spec, const std::optional<std::string>& passwd,
                               const std::optional<std::string>& group);

// --group-add: each a group name from the image's group file or a gid
// (taken as it is when the file lacks it), as runc's GetAdditionalGroups.
result<std::vector<gid_t>> resolve_additional_groups(const std::vector<std::string>& names,
                                                     const std::optional<std::string>& group);

}  // namespace berth::runtime
