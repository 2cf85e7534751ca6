// Calls the subcommands make, with docker's wording for daemon errors.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cli/command.h"
#include "net/client.h"

namespace berth::cli {

// "Error response from daemon: <message>", categorized by the HTTP status.
error daemon_error(int status, std::string_view body);

// Sends a request; a non-2xx answer becomes daemon_error(). Returns the body.
result<std::string> call(context& ctx, std::string_view method, std::string_view target,
                         std::string_view json_body = {});
// call() and parse the body as JSON (null when empty).
result<boost::json::value> call_json(context& ctx, std::string_view method, std::string_view target,
                                     std::string_view json_body = {});

// `docker rm/stop/kill/restart` style: for each container, METHOD
// /containers/<name><suffix><query>, print the name on success or the error
// on stderr and go on. Exit code 1 if any failed, else 0.
int call_each_container(context& ctx, std::string_view method, const std::vector<std::string>& names,
                        std::string_view suffix, std::string_view query);

// `stop` and `restart`: [-t SECONDS] [-s SIGNAL] CONTAINER..., POSTed to
// /containers/<name><suffix>.
action stop_like_setup(CLI::App& sub, std::string suffix);

// Prints a JSON-lines progress stream (pull, load, import) as the docker CLI
// does without a terminal: "id: status", "stream" text as is. An in-band
// {"error": ...} fails with its message.
status print_json_messages(net::response_stream& s);

}  // namespace berth::cli
