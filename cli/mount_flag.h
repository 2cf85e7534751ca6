// --mount's CSV (docker's opts/mount.go) into a HostConfig.Mounts entry.
#pragma once

#include <string>

#include <boost/json.hpp>

#include "base/error.h"

namespace berth::cli {

// "type=bind,source=/a,target=/b,readonly,bind-propagation=rshared" ->
// {Type, Source, Target, ReadOnly, BindOptions{Propagation}}; the daemon
// judges what it supports.
result<boost::json::object> parse_mount_flag(const std::string& value);

}  // namespace berth::cli
