// berth stop [-t SECONDS] [-s SIGNAL] CONTAINER...
#include "cli/api.h"
#include "cli/command.h"

namespace berth::cli {

namespace {
action setup(CLI::App& sub) { return stop_like_setup(sub, "/stop"); }
}  // namespace

command stop_command() { return {"stop", "Stop one or more running containers", 1, setup}; }

}  // namespace berth::cli
