// The engine's event log: what `GET /events` streams (Docker's shape).
//
// Loop-only. Keeps the most recent events in memory for `since` queries;
// subscribers wait on `changed` and read everything after the sequence
// number they last saw.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "engine/core/async.h"

namespace berth {

struct event {
    std::uint64_t seq = 0;
    std::string type = "container";  // container | image
    std::string action;              // create, start, die, kill, stop, restart, destroy, oom, …
    std::string id;
    std::map<std::string, std::string> attributes;  // image, name, exitCode, signal, labels…
    std::int64_t time_ns = 0;

    boost::json::object to_json() const;
};

// Docker's /events filters: {"type":{..}, "container":{..}, "event":{..}, "image":{..}, "label":{..}}.
struct event_filter {
    std::map<std::string, std::vector<std::string>> by_key;
    bool matches(const event& e) const;
};

class event_log {
public:
    explicit event_log(asio::any_io_executor ex) : _changed(ex) {}
    void publish(event e);
    // Events with seq > after (oldest first).
    std::vector<event> after(std::uint64_t seq) const;
    std::uint64_t last_seq() const { return _next - 1; }
    async_signal& changed() { return _changed; }

private:
    static constexpr std::size_t keep = 10000;
    std::deque<event> _events;
    std::uint64_t _next = 1;
    async_signal _changed;
};

}  // namespace berth
