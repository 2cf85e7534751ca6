// Helpers the berth subcommands share: docker's human formats, tables, the
// container create body, JSON printing, and the calling patterns several
// subcommands repeat. Pure functions unless noted; the formatting ones are
// unit-tested against what the docker CLI prints.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace berth::cli {

class context;

// ---- human formats (docker/go-units) ----------------------------------------

// "Less than a second", "1 second", "5 seconds", "About a minute", "3 minutes",
// "About an hour", "5 hours", "3 days", "2 weeks", "4 months", "2 years".
std::string human_duration(std::int64_t seconds);
// human_duration(now - unix_time) + " ago", as in the CREATED columns.
std::string time_ago(std::int64_t unix_time, std::int64_t now_unix);
// Decimal units with 3 significant digits: 1985573 -> "1.99MB", 999 -> "999B".
std::string human_size(double bytes);
// Binary units with 4 significant digits: 25276665856 -> "23.54GiB".
std::string human_size_binary(double bytes);
// "64m" -> 67108864 (docker's RAMInBytes: b, k, m, g, t, p; binary multiples).
result<std::int64_t> parse_ram_bytes(std::string_view s);
// "1.5" -> 1500000000 (docker's --cpus: a decimal, at most 9 fractional digits).
result<std::int64_t> parse_nano_cpus(std::string_view s);

// ---- text -------------------------------------------------------------------

// Width in code points, as Go's tabwriter counts.
std::size_t display_width(std::string_view s);
// Cuts s to max_width code points, the last one being "…", when longer.
std::string ellipsis(std::string_view s, std::size_t max_width);
// Go's strconv.Quote for the ASCII range: "sh -c \"x\"".
std::string go_quote(std::string_view s);
// The 12 hex digits docker shows for an id, without any "sha256:" prefix.
std::string short_id(std::string_view id);
// Docker's table layout (tabwriter minwidth 10, padding 3): every column but
// the last padded to its widest cell plus 3 spaces; one line per row.
// min_width: the tabwriter's minwidth (10 for docker's tables, 20 for top).
std::string format_table(const std::vector<std::vector<std::string>>& rows, std::size_t min_width = 10);

// Escapes a path segment the way Go's url.PathEscape leaves docker's image
// references readable: "/", ":" and "@" stay, spaces and "%" do not.
std::string escape_path(std::string_view s);
// Escapes a query value: everything but unreserved characters.
std::string escape_query(std::string_view s);

// ---- JSON -------------------------------------------------------------------

// Go's json.Indent with four spaces, as `docker inspect` prints.
std::string pretty_json(const boost::json::value& v);
// Go's json.Marshal of a decoded value, compact: what {{json .X}} prints.
std::string compact_json(const boost::json::value& v);
// How Go's text/template prints a value decoded from JSON: strings as is,
// arrays as [a b], objects as map[k:v] with sorted keys, null as <nil>.
std::string go_value_text(const boost::json::value& v);
// Renders a Go template (cli/format.h) on v as a map, as `inspect -f` does.
result<std::string> render_template(std::string_view format, const boost::json::value& v);

// Reads one JSON value from a string; the message names what was parsed.
result<boost::json::value> parse_json(std::string_view text, std::string_view what);
// Field helpers that tolerate a missing or mistyped field.
std::string json_string(const boost::json::value& obj, std::string_view key);
std::int64_t json_int(const boost::json::value& obj, std::string_view key);
bool json_bool(const boost::json::value& obj, std::string_view key);

// ---- images -----------------------------------------------------------------

// Adds ":latest" when the reference has neither tag nor digest.
std::string normalize_reference(std::string_view ref);
// Splits "host:5000/repo:tag" into {"host:5000/repo", "tag"} ("" when none).
std::pair<std::string, std::string> split_reference(std::string_view ref);

// ---- containers ---------------------------------------------------------------

// The flags of `run` and `create`, as typed.
struct create_options {
    std::string name;  // --name, sent in the query, not the body
    std::string image;
    std::vector<std::string> cmd;
    std::optional<std::string> entrypoint;  // set when --entrypoint was given
    std::vector<std::string> env;           // -e, in order
    std::vector<std::string> env_files;     // --env-file, read before -e
    std::vector<std::string> labels;        // -l KEY=VALUE
    std::string workdir;
    std::string user;
    std::string hostname;
    std::string network;  // empty means "none": berth has no default bridge
    std::string userns;   // --userns: "" (the daemon's remapping, if any) or "host"
    std::string stop_signal;
    std::string restart = "no";  // --restart no|always|unless-stopped|on-failure[:N]
    std::optional<int> stop_timeout;
    std::string memory;  // "64m"
    std::string memory_swap;         // "128m", "-1"
    std::string memory_reservation;  // "32m"
    std::string cpus;                // "1.5" -> NanoCpus
    std::int64_t cpu_shares = 0;
    std::string cpuset_cpus, cpuset_mems;
    std::uint16_t blkio_weight = 0;
    std::int64_t pids_limit = 0;
    std::vector<std::string> cap_add;
    std::vector<std::string> cap_drop;
    std::vector<std::string> volumes;  // -v src:dst[:opts] -> Binds
    std::vector<std::string> tmpfs;    // --tmpfs /run[:opts]
    std::vector<std::string> mounts;   // --mount type=bind,source=…,target=… -> Mounts
    std::vector<std::string> volumes_from;  // --volumes-from CONTAINER[:ro|rw] -> VolumesFrom
    std::vector<std::string> security_opt;
    std::vector<std::string> ulimits;    // --ulimit NAME=SOFT[:HARD]
    std::vector<std::string> sysctls;    // --sysctl KEY=VALUE
    std::vector<std::string> group_add;  // --group-add GROUP
    std::vector<std::string> devices;    // --device HOST[:CONTAINER][:PERMS]
    std::vector<std::string> device_cgroup_rules;  // --device-cgroup-rule "c 1:3 mr"
    std::vector<std::string> time_offsets;  // --time-offset monotonic=S,boottime=S (berth extension)
    std::string shm_size;                // --shm-size "64m"
    std::string log_driver;              // --log-driver ("" = the daemon's default)
    std::vector<std::string> log_opts;   // --log-opt KEY=VALUE
    bool interactive = false;  // -i
    bool tty = false;          // -t
    bool detach = false;       // -d
    bool auto_remove = false;  // --rm
    bool read_only = false;
    bool privileged = false;
    bool init = false;
    // Healthcheck: --health-cmd and Go durations ("30s", "1m30s", "500ms").
    std::string health_cmd, health_interval, health_timeout, health_start_period;
    int health_retries = 0;
    bool no_healthcheck = false;
    int console_height = 0;
    int console_width = 0;
};

// Resolves --env-file then -e like docker: "KEY" alone takes the value from
// this process's environment when it has one. Env files skip blank lines and
// lines starting with "#".
result<std::vector<std::string>> resolve_env(const std::vector<std::string>& env_files,
                                             const std::vector<std::string>& env);
// "chown" -> "CAP_CHOWN"; "ALL" stays.
std::string normalize_capability(std::string_view cap);
// The POST /containers/create body: Config plus HostConfig plus
// NetworkingConfig, shaped like the docker CLI's.
result<boost::json::object> build_create_body(const create_options& o);
// --device as the docker CLI checks it (validateLinuxPath with
// validDeviceMode: "bad format for path: X", "bad mode specified: M",
// "X is not an absolute path") and parses it (parseLinuxDevice) into
// {PathOnHost, PathInContainer, CgroupPermissions}; "rwm" by default.
result<boost::json::object> parse_device_flag(std::string_view spec);
// --device-cgroup-rule as the docker CLI checks it: "invalid device cgroup
// format 'X'" unless "TYPE MAJOR:MINOR ACCESS" (a|b|c, number or *, [rwm]{1,3}).
status check_device_cgroup_rule(std::string_view rule);
// The HostConfig resource fields of add_resource_flags(), parsed as docker
// does (RAMInBytes, --cpus as NanoCpus, "-1" as unlimited swap): Memory,
// MemorySwap, MemoryReservation, NanoCpus, CpuShares, CpusetCpus,
// CpusetMems, BlkioWeight, PidsLimit. Shared by create and update.
result<boost::json::object> resources_body(const create_options& o);
// --restart "on-failure:3" -> {Name: on-failure, MaximumRetryCount: 3}
// ("" is "no"); the daemon validates.
boost::json::object restart_policy(const std::string& spec);

// The CLI exit code for a failed start, from the daemon's message: 127 when
// the command was not found, 126 when it could not be executed, else 125.
int start_failure_exit_code(std::string_view message);

// ---- calling the daemon -------------------------------------------------------
// Not pure: these call the daemon (cli/api.h) or print on stderr.

// GET path of a list endpoint (/containers/json, /images/json) with the query
// pieces "&key=value..." (empty for none), the first "&" becoming "?". An
// answer that is not a JSON array is an error naming the target.
result<boost::json::value> get_list(context& ctx, std::string path, std::string_view query);

// Runs fn for each name, in order, the way docker's commands that take
// several names do: a failure prints its error on stderr (after flushing
// stdout) and the next name is still tried. Returns the names that failed.
std::vector<std::string> for_each_name(const std::vector<std::string>& names,
                                       const std::function<status(const std::string&)>& fn);
// As the docker CLI's stop, kill, rm, start, pause...: fn runs for up to 16
// names at once (threads; fn must only call the daemon); each name is
// printed on success, errors on stderr, both in the order of `names`.
std::vector<std::string> for_each_name_concurrently(const std::vector<std::string>& names,
                                                    const std::function<status(const std::string&)>& fn);

// ---- output -------------------------------------------------------------------

// Writes all of data to fd (stdout and stderr for container output).
status write_fd(int fd, std::string_view data);
// Go's time.ParseDuration ("1h30m", "10s", "1.5m") in seconds.
std::optional<double> parse_go_duration(std::string_view s);
// docker's GetTimestamp for --since/--until: a duration counts back from
// now, an RFC 3339 time is converted, a unix timestamp passes as is.
result<std::string> api_timestamp(std::string_view v, std::string_view flag);

// Seconds since the epoch now.
std::int64_t now_unix();

}  // namespace berth::cli
