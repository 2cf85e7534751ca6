#include "engine/events.h"

#include <algorithm>

namespace berth {

boost::json::object event::to_json() const {
    boost::json::object attrs;
    for (auto& [k, v] : attributes) attrs[k] = v;
    boost::json::object o;
    if (type == "container") {
        // The pre-1.22 fields Docker still sends for containers.
        o["status"] = action;
        o["id"] = id;
        auto it = attributes.find("image");
        if (it != attributes.end()) o["from"] = it->second;
    }
    o["Type"] = type;
    o["Action"] = action;
    o["Actor"] = boost::json::object{{"ID", id}, {"Attributes", attrs}};
    o["scope"] = "local";
    o["time"] = time_ns / 1000000000;
    o["timeNano"] = time_ns;
    return o;
}

bool event_filter::matches(const event& e) const {
    for (auto& [key, values] : by_key) {
        auto any = [&](auto pred) { return std::any_of(values.begin(), values.end(), pred); };
        bool ok = true;
        if (key == "type") ok = any([&](const std::string& v) { return v == e.type; });
        else if (key == "event") ok = any([&](const std::string& v) { return v == e.action; });
        else if (key == "container") {
            auto name = e.attributes.count("name") ? e.attributes.at("name") : std::string();
            ok = e.type == "container" &&
                 any([&](const std::string& v) { return v == name || (!v.empty() && e.id.rfind(v, 0) == 0); });
        } else if (key == "image") {
            auto img = e.attributes.count("image") ? e.attributes.at("image") : std::string();
            ok = any([&](const std::string& v) { return v == img || v == e.id; });
        } else if (key == "label") {
            ok = any([&](const std::string& v) {
                auto eq = v.find('=');
                auto it = e.attributes.find(v.substr(0, eq));
                return it != e.attributes.end() && (eq == std::string::npos || it->second == v.substr(eq + 1));
            });
        }
        if (!ok) return false;
    }
    return true;
}

void event_log::publish(event e) {
    e.seq = _next++;
    _events.push_back(std::move(e));
    while (_events.size() > keep) _events.pop_front();
    _changed.notify();
}

std::vector<event> event_log::after(std::uint64_t seq) const {
    std::vector<event> out;
    for (auto it = _events.rbegin(); it != _events.rend() && it->seq > seq; ++it) out.push_back(*it);
    std::reverse(out.begin(), out.end());
    return out;
}

}  // namespace berth
