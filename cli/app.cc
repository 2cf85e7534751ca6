// The command table and the global flags.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/command.h"

namespace berth::cli {

namespace {

// Every subcommand, in the order `berth --help` lists them.
constexpr command (*table[])() = {
    run_command,  create_command, start_command, exec_command, attach_command, ps_command,     logs_command,
    wait_command, rm_command,     stop_command,  kill_command,    restart_command,
    pause_command, unpause_command, rename_command, stats_command, top_command, update_command,
    events_command, inspect_command, images_command, pull_command,
    rmi_command,  import_command, load_command,  version_command, info_command,
    cp_command,   diff_command,   export_command, volume_command, system_command, pool_command,
};

struct entry {
    CLI::App* app;
    action run;
    int usage_exit;
};

}  // namespace

int main(int argc, char** argv) {
    globals g;
    CLI::App app{"berth: a container engine that speaks the Docker Engine API", "berth"};
    app.add_option("-H,--host", g.host, "Daemon socket to connect to (unix:///path)")
        ->envname("BERTH_HOST")
        ->capture_default_str();
    app.add_option("--data-root", g.data_root, "Root of the daemon's state, for autostart")
        ->envname("BERTH_DATA_ROOT")
        ->capture_default_str();
    app.add_flag("--no-autostart", g.no_autostart, "Fail instead of starting a daemon when none answers");
    app.require_subcommand(1);
    app.footer("Run 'berth COMMAND --help' for more information on a command.\n");

    std::vector<entry> entries;
    for (auto make : table) {
        command c = make();
        CLI::App* sub = app.add_subcommand(c.name, c.summary);
        entries.push_back({sub, c.setup(*sub), c.usage_exit});
    }

    if (argc <= 1) {
        std::cout << app.help();
        return 0;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        for (const auto& en : entries) {
            if (en.app->count() == 0) continue;
            std::string msg = e.what();
            auto extra = en.app->remaining();
            if (extra.empty()) extra = app.remaining();
            if (dynamic_cast<const CLI::ExtrasError*>(&e) && !extra.empty() && extra.front().starts_with("-"))
                msg = "unknown flag: " + extra.front();
            std::fprintf(stderr, "berth: %s\nSee 'berth %s --help'.\n", msg.c_str(), en.app->get_name().c_str());
            return en.usage_exit;
        }
        if (!app.remaining().empty()) {
            std::fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'.\n",
                         app.remaining().front().c_str());
            return 1;
        }
        std::fprintf(stderr, "berth: %s\nSee 'berth --help'.\n", e.what());
        return 1;
    }

    for (auto& en : entries) {
        if (en.app->count() == 0) continue;
        context ctx(g);
        return en.run(ctx);
    }
    return 1;
}

}  // namespace berth::cli
