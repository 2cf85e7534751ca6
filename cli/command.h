// The berth CLI: a table of subcommands, each in its own file, each a thin
// translation from flags to Docker Engine API calls and from answers to the
// text a docker user expects. No engine logic lives here.
//
// Lifecycle of one invocation: cli::main parses the global flags and the
// subcommand with CLI11; the subcommand's setup() declared its flags and
// returned an action; the action runs with a context, whose api() connects
// to the daemon on first use (starting one when allowed).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "net/client.h"

namespace CLI {
class App;
}

namespace berth::cli {

struct globals {
    std::string host = "unix:///run/berth/berth.sock";
    std::string data_root = "/var/lib/berth";
    bool no_autostart = false;
};

class context {
public:
    explicit context(globals g) : _globals(std::move(g)) {}

    const globals& opts() const { return _globals; }

    // The client of a daemon that answered /_ping. When nothing listens on
    // the socket and --no-autostart is not set, starts `berth daemon`
    // detached and waits up to 10 s for it. Errors carry the text to print.
    result<const net::client*> api();

private:
    globals _globals;
    std::optional<net::client> _client;
};

// What a subcommand's action returns: the process exit code.
using action = std::function<int(context&)>;

struct command {
    const char* name;
    const char* summary;
    // Exit code for usage errors: 125 for run and create, like docker; 1 otherwise.
    int usage_exit;
    // Declares flags and arguments on the subcommand; the action runs after
    // a successful parse and reads what the flags were bound to.
    action (*setup)(CLI::App& sub);
};

// The subcommands, one file each under cli/.
command run_command();
command create_command();
command start_command();
command exec_command();
command attach_command();
command ps_command();
command rm_command();
command stop_command();
command kill_command();
command restart_command();
command pause_command();
command unpause_command();
command rename_command();
command stats_command();
command top_command();
command update_command();
command events_command();
command logs_command();
command inspect_command();
command wait_command();
command images_command();
command rmi_command();
command pull_command();
command import_command();
command load_command();
command version_command();
command info_command();
command cp_command();
command diff_command();
command export_command();
command volume_command();
command pool_command();
command system_command();

struct create_options;
// The container flags `run` and `create` share (cli/create.cc).
void add_container_flags(CLI::App& sub, create_options& o);
// The resource flags of those (-m, --memory-swap, --memory-reservation,
// --cpus, -c, --cpuset-cpus, --cpuset-mems, --blkio-weight, --pids-limit),
// which `update` takes too (cli/create.cc).
void add_resource_flags(CLI::App& sub, create_options& o);
// POST /containers/create[?name=] and print the daemon's warnings; returns
// the new id. When the image is missing, prints docker's "Unable to find
// image" line first. Errors carry the text to print.
result<std::string> create_container(context& ctx, const create_options& o);

// Runs the berth CLI: global flags, then one subcommand.
int main(int argc, char** argv);

// Prints "<prefix><message>" on stderr and returns code.
int fail(const error& e, int code, std::string_view prefix = {});

// The socket path of a -H value: "unix:///run/x.sock" or a plain path.
result<std::string> socket_path_of(std::string_view host);

}  // namespace berth::cli
