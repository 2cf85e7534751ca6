// `docker top`: the processes of a container as a table of strings, the
// way moby builds it from ps (daemon/top_unix.go). The pids come from the
// container's cgroup (cgroup::manager::pids). Everything here blocks
// (procfs reads, a ps child): call from the worker pool.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace berth {

struct process_table {
    std::vector<std::string> titles;
    std::vector<std::vector<std::string>> processes;
};

// The columns of `ps -ef` (UID PID PPID C STIME TTY TIME CMD) for `pids`,
// computed as procps does from /proc/<pid>/{stat,status,cmdline}, without
// needing a ps binary. A pid that exits meanwhile is left out.
process_table list_processes(const std::vector<int>& pids);

// moby's check of ps arguments: "specifying \"user=PID\" is not allowed"
// for an output column renamed to PID (only "pid=PID" may).
status validate_ps_args(const std::string& ps_args);

// Runs the host's ps with `ps_args` (split on spaces) and "-q <pids>", or
// without the pid list when ps refuses that combination, and keeps the rows
// whose PID column is one of `pids` (a thread row "-" follows its process).
// An error when there is no ps binary or it fails (its first stderr line).
result<process_table> run_ps(const std::string& ps_args, std::vector<int> pids);

}  // namespace berth
