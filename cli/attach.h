// The attached flow `run` and `start -a` share, in docker's order: attach
// (hijacked), wait (headers now, body at exit), start, copy the container's
// output until the daemon closes the attach, then read the exit status.
#pragma once

#include <string>
#include <string_view>

#include "cli/command.h"

namespace berth::cli {

struct attach_plan {
    std::string id;
    bool send_stdin = false;  // -i: forward stdin, half-close at its EOF
    bool tty = false;         // raw bytes instead of stdcopy frames
    // "removed" for run --rm, else "next-exit".
    std::string wait_condition = "next-exit";
    // Printed before daemon errors: "berth: " for run, "" for start.
    std::string error_prefix;
};

// Runs the flow and returns the container's exit code, or 125/126/127 when
// the container could not be attached or started.
int run_attached(context& ctx, const attach_plan& plan);

}  // namespace berth::cli
