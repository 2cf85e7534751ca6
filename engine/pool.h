// The warm pools' state inside the engine (engine/pool.cc); included by
// the engine's own sources only (its destructor needs the complete type).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace berth {

struct engine::pool_sandbox {
    std::string id;
    std::string sandbox_json;  // its sandbox half, as to_json gives it
};

struct engine::pool {
    std::string image_ref, image_id;
    std::vector<std::string> chain_ids;
    int size = 0;
    std::deque<pool_sandbox> ready;
    int preparing = 0;
    int fillers = 0;
    int failures_in_a_row = 0;
    std::uint64_t taken = 0, failed = 0;
    std::string last_error;
    std::unique_ptr<async_signal> changed;
    std::uint64_t serial = 0;  // tells a pool from a later one of the same image
    std::chrono::steady_clock::time_point last_prepared;  // when a preparation last ended
    // What the sandboxes' preloaded seccomp program was compiled from (the
    // default profile for the default capabilities): a container gets a
    // sandbox only with the same.
    std::optional<std::string> seccomp_profile;
    std::vector<std::string> capabilities;
    // By seccomp key (profile and capabilities): the compiled filters of a
    // sandbox that waits outside its network namespace (engine/seccomp.h,
    // netns_entry_profiles_of); nullopt: it waits inside
    // (runtime::launch_spec::parks_outside_netns).
    struct netns_filters {
        runtime::bpf_program parked_program, refusal_program;
        std::string parked_file;
    };
    std::map<std::string, std::optional<netns_filters>> netns_entry;
    // A container HostConfig that got one of these sandboxes.
    std::optional<boost::json::object> fitting_host_config;
    // Commands along PATH as a claim's search would find them (name, a NUL
    // and the PATH).
    command_places commands;
};

}  // namespace berth
