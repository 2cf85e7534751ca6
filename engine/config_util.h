// Small readers of Docker's JSON configs (Config, HostConfig, ExecConfig)
// shared by the engine's modules. Engine-internal.
#pragma once

#include <string>
#include <vector>

#include <boost/json.hpp>

namespace berth {

// A string or an array of strings; anything else is empty.
std::vector<std::string> string_list(const boost::json::value* v);
boost::json::value to_array(const std::vector<std::string>& v);
// o[k] when it is a string, else "".
std::string str_field(const boost::json::object& o, const char* k);
// o[k] when it is a bool, else false.
bool bool_field(const boost::json::object& o, const char* k);
// The "KEY" of "KEY=VALUE".
std::string env_key(const std::string& kv);
// `over` replaces or extends `base`, key by key.
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& over);

}  // namespace berth
