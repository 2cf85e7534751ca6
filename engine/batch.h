// berth run --count N (a berth extension, POST /berth/containers/run):
// N full containers (each its own id, row, log, cgroup, overlay and
// namespaces) created and started from one create body, at most `parallel`
// at a time, waited for (and removed, with remove), with the figures a
// launcher wants: exit codes, containers per second, start latencies.
// Engine-internal; the engine's run_batch drives it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace berth {

struct batch_options {
    int count = 1;
    int parallel = 1;
    bool remove = false;  // --rm: the window ends when all are removed
    // Open loop (--rate): after the first container, container i is
    // submitted at i/rate seconds whatever the others are doing, and its
    // latency counts from that time (queueing included). 0: closed loop,
    // `parallel` at a time.
    double rate = 0;
};

struct batch_outcome {
    std::vector<std::string> ids;          // in creation order ("" for one that failed to be created)
    std::vector<int> exit_codes;           // -1: never ran
    std::vector<double> start_latency_ms;  // create request -> execve observed, started ones only
    std::vector<std::string> errors;       // one per container that failed to be created or started
    double seconds = 0;                    // first create -> last exit (or removal)
    double running_seconds = 0;            // first create -> the last start observed
    int from_pool = 0;                     // containers that took a warm pool's sandbox
};

// The summary the API returns: Count, Started, Failed, Errors (the first
// few), ExitCodes {"0": n, …}, Seconds, ContainersPerSecond, StartLatencyMs
// {P50, P99, Max}, LatenciesMs (all, for benchmarks), FromPool (took a warm
// pool's sandbox), RunningSeconds and RunningPerSecond (first create -> the
// last one running: a burst's figure), Ids (without remove).
boost::json::object batch_summary(const batch_outcome& o, bool removed);

// Nearest-rank percentile of sorted values (p in [0, 100]); 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

}  // namespace berth
