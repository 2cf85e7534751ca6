// Entry points of the long-running processes, dispatched from cli/main.cc.
#pragma once

namespace berth {
int daemon_main(int argc, char** argv);
int monitor_main(int argc, char** argv);
}  // namespace berth
