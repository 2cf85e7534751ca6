// The berth executable: the CLI, and the daemon and monitor processes it
// starts. The long-running ones are dispatched before any CLI parsing so they
// parse their own flags.
#include <string_view>

#include "cli/command.h"
#include "daemon/main.h"

int main(int argc, char** argv) {
    if (argc > 1) {
        std::string_view sub = argv[1];
        if (sub == "daemon") return berth::daemon_main(argc - 1, argv + 1);
        if (sub == "monitor") return berth::monitor_main(argc - 1, argv + 1);
    }
    return berth::cli::main(argc, argv);
}
