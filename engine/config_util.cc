#include "engine/config_util.h"

#include <algorithm>

namespace berth {

namespace json = boost::json;

std::vector<std::string> string_list(const json::value* v) {
    std::vector<std::string> out;
    if (!v) return out;
    if (v->is_string()) {
        out.emplace_back(v->as_string());
        return out;
    }
    if (!v->is_array()) return out;
    for (auto& e : v->as_array())
        if (e.is_string()) out.emplace_back(e.as_string());
    return out;
}

json::value to_array(const std::vector<std::string>& v) {
    json::array a;
    for (auto& s : v) a.emplace_back(s);
    return a;
}

std::string str_field(const json::object& o, const char* k) {
    auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool bool_field(const json::object& o, const char* k) {
    auto* v = o.if_contains(k);
    return v && v->is_bool() && v->as_bool();
}

std::string env_key(const std::string& kv) { return kv.substr(0, kv.find('=')); }

std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& over) {
    for (auto& kv : over) {
        auto k = env_key(kv);
        auto it = std::find_if(base.begin(), base.end(), [&](const std::string& e) { return env_key(e) == k; });
        if (it != base.end()) *it = kv;
        else base.push_back(kv);
    }
    return base;
}

}  // namespace berth
