// The attached flow `run` and `start -a` share, in docker's order: attach
// (hijacked), wait (headers now, body at exit), start, copy the container's
// output until the daemon closes the attach, then read the exit status.
#pragma once

#include <string>
#include <string_view>

#include <boost/json.hpp>

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
    // false for `berth attach`: the container runs already; the exit code
    // is read from inspect once the stream ends.
    bool start = true;
    bool sig_proxy = true;    // forward signals (without a tty)
    std::string detach_keys;  // "" = Docker's default, ctrl-p,ctrl-q
};

// Runs the flow and returns the container's exit code, or 125/126/127 when
// the container could not be attached or started.
int run_attached(context& ctx, const attach_plan& plan);

// `berth exec`: create the exec, start it attached (or detached), copy its
// streams, return its exit code (1 for daemon errors, as docker).
struct exec_plan {
    std::string container;
    boost::json::object body;  // POST /containers/{id}/exec
    bool detach = false, interactive = false, tty = false;
    std::string detach_keys;
};
int run_exec(context& ctx, const exec_plan& plan);

}  // namespace berth::cli
