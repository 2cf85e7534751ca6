// berth restart [-t SECONDS] [-s SIGNAL] CONTAINER...
#include "cli/api.h"
#include "cli/command.h"

namespace berth::cli {

namespace {
action setup(CLI::App& sub) { return stop_like_setup(sub, "/restart"); }
}  // namespace

command restart_command() { return {"restart", "Restart one or more containers", 1, setup}; }

}  // namespace berth::cli
