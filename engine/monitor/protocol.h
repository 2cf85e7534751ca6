// The daemon <-> monitor protocol, over a SOCK_SEQPACKET UNIX socket
// (<data-root>/monitor.sock): one message per packet, fds as SCM_RIGHTS.
//
// A data root may have several monitors, the shards (each keeps its
// containers within its RLIMIT_NOFILE): shard 0 serves monitor.sock, shard
// k > 0 monitor-<k>.sock, each with its own lock, pid and log file
// (shard_file). Each keeps its exit records in exits/shard-<k>.journal
// (exit_journal.h). The daemon talks to every shard and routes each
// message to the shard holding the id (engine/monitor_client.h).
//
// Packet: [u8 type][u32 header length, little endian][header: JSON object][payload bytes]
//
// daemon -> monitor
//   hello       {}                                  monitor answers with `state`, then
//                                                   re-sends `exited` for every unacked exit record
//                                                   of its shard
//   start       {id, spec, log_path, open_stdin, tty, rows?, cols?, max_size?, max_file?}
//                                                   spec: runtime::launch_spec as JSON; with tty the
//                                                   child opens a pty in the container's devpts;
//                                                   log_path "" for --log-driver none; max_size (bytes)
//                                                   and max_file: json-file rotation (json_log.h)
//   exec        {id, container, spec, open_stdin, tty, rows?, cols?}
//                                                   id: the exec id; a process joining the running
//                                                   container's namespaces and cgroups (spec's process half)
//   resize      {id, rows, cols}                    id: container or exec id with a tty
//   signal      {id, signal}
//   stdin_data  {id} + payload                      bytes for the stdin of a container or exec
//   stdin_close {id}
//   ack_exit    {id, finished}                      the daemon has that exit durably; drop the record
//   park        {id, spec}                          a warm pool's sandbox (engine/pool.cc): the
//                                                   sandbox half of spec done in a new child, which
//                                                   then parks; answered by `parked` or `start_failed`
//   start       {…, claim: true}                    a parked sandbox's id: its process half (spec's
//                                                   process fields) and stdio go to the parked child,
//                                                   which execs; then as any start. A parked child
//                                                   that dies unclaimed (or that a new daemon's
//                                                   `hello` kills: its pool is gone) is reported as
//                                                   start_failed, never recorded as an exit
// monitor -> daemon   (started, start_failed, output and exited carry "exec": true for an exec
//                     id; exec output has no offset, is never logged, its exit never recorded)
//   state       {running: [{id, pid}], last}      in parts of up to 1,000; last=true ends it
//   started     {id, pid}                           execve succeeded
//   parked      {id, pid}                           the sandbox is ready for a claim
//   start_failed{id, code, message}                 errc name and message of the failed step
//   output      {id, stream, time, offset} + payload  one json-file log entry; offset: bytes ever
//                                                   written to the container's log (rotated and deleted
//                                                   files included) up to the end of this entry, as
//                                                   engine::read_log_file reports them (json_log.h)
//   exited      {id, exit_code, finished, shard}     written durably (exits/<id>.json) before sending
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "base/error.h"
#include "base/fd.h"

namespace berth::monitor {

enum class msg : std::uint8_t {
    hello = 1, start, signal, stdin_data, stdin_close, ack_exit, exec, resize, park, release,
    state = 64, started, start_failed, output, exited, parked,
};

struct message {
    msg type{};
    boost::json::object header;
    std::string payload;
};

std::string encode(const message& m);
result<message> decode(std::string_view packet);

// Blocking send/receive of one packet with up to `fds` descriptors attached.
status send_packet(int sock, std::string_view packet, const std::vector<int>& fds = {});
// Returns the packet (empty on orderly shutdown) and fills fds with received descriptors.
result<std::string> recv_packet(int sock, std::vector<unique_fd>* fds = nullptr);

// errc <-> its wire name.
std::string errc_name(errc c);
errc errc_from_name(std::string_view name);

constexpr std::size_t max_packet = 256 * 1024;

// <root>/monitor<suffix> for shard 0, <root>/monitor-<shard><suffix> otherwise
// (suffix ".sock", ".lock", ".pid", ".log").
std::string shard_file(const std::string& root, int shard, std::string_view suffix);

}  // namespace berth::monitor
