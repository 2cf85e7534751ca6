#!/usr/bin/env python3
"""Startup benchmark: containers running `true` with network none, on one
busybox image, in one run, for each runner at each concurrency:

  berth batch   `berth run --count N` where this berth has it ("not
                available" otherwise)
  berth API     create -> start -> wait -> delete from persistent (keep-alive)
                API clients, one per concurrent worker
  berth CLI     `berth run --rm`, one process per container
  kernel probe  bench/kernel_probe.c: only the syscalls of berth's start and
                teardown (berth's cgroups, namespaces, mounts, confinement);
                the ceiling berth is measured against
  crun, runc    `crun run` / `runc run` on an OCI bundle of the same rootfs
  podman        `podman run --rm` (if installed; --install-peers: apt-get)
  pool-burst    berth warm pool (POST /berth/pools, Wait) of --pool-size
                (1000) sandboxes, then one batch of as many containers all
                in flight (count=parallel=pool size, remove=1): containers
                running per second (RunningPerSecond; the bar: >= 2000/s),
                once, after the concurrency loop
  pool-open     open loop from a warm pool: --open-rate (1000/s) for
                --open-seconds (2 s), i.e. 2000 containers, container i due
                i/rate s after the first, latency from its due time
                (queueing included); the pool (--open-pool) defaults to the
                run's count, so its stock covers the run while it refills;
                the bar: p99 <= the kernel probe's p99 at concurrency 1
                Both are "not available" where berth has no /berth/pools, and
                remove their pool afterwards (DELETE /berth/pools/busybox).
  probe-pool    the kernel probe's warm pool (--prefork): --pool-size
                containers set up one after another, each parked right before
                its execve, then all released at once: the running/s this
                machine's kernel allows a burst from any pool, the peer of
                pool-burst (whose bar is absolute)

Each run lasts until N containers are done and at least --min-seconds have
passed (so the kernel's deferred network namespace cleanup falls inside the
window); its window ends after the last teardown. Figures per run:
containers/s; p50/p99 start latency (berth API and the probe: create request
-> running, i.e. the execve observed; CLI and peers: the `run` process's whole
life, an upper bound); CPU per container = the whole machine's busy CPU time
(/proc/stat, so kernel workers count) over the window / containers. Ratios
to crun and to the kernel probe at the same concurrency. Then the memory of
idle containers (--idle 1000,10000): PSS summed over the daemon and the
monitors, each process's descriptors against its RLIMIT_NOFILE
(bench/idle_containers.py's measurement). --beside N runs everything beside
N idle `sleep 3600` containers of berth's, started before the first runner
and removed after the last (kernel work per container start grows with the
containers a host already has).

    bench/startup.py [-n N] [-c 1,2,16] [--rounds R] [--min-seconds S] [--runners LIST]
                     [--pool-size K] [--pool-rounds R] [--open-rate R] [--open-seconds S]
                     [--open-pool K] [--idle 1000,10000 | --idle 0] [--beside N]
                     [--json FILE] [--png FILE] [--install-peers]
                     [--berth PATH] [--smoke] [--probe-check]

A p99 wants at least 2000 samples (the table marks those from fewer): -n 2000
for the concurrency loop; pool-open's defaults give 2000. On a noisy machine,
--rounds R repeats the concurrency loop R times, the runners' order rotated
and reversed every other round (after every run the machine settles, and
the CPU it spends meanwhile is that run's), and
the table gives medians (containers/s, CPU per container) over the rounds and
the p50/p99 of all their samples; each round's figures are printed below it.
--pool-rounds R does the same for pool-burst, pool-open and probe-pool (their order
reversed every other round): the median round's running/s, the p99 of all
their samples.

Beside each window's figures: the CPU that the machine's other tenants
(processes that were there before the benchmark, and DAMON's kdamond) took
meanwhile, in ms per second (bench/background.py), so that a figure taken
while an agent of the host was busy can be told apart.

Output: a table, a JSON file (every sample included) and, where matplotlib
is importable (Debian: python3-matplotlib, in scripts/install-deps.sh; run
with /usr/bin/python3), a PNG of the latency CDFs: a panel per concurrency
and one for the warm pool runners.

Peers run inside a mount and network namespace the bench creates: crun 1.8
refuses this machine's hybrid cgroup layout ("cgroups in hybrid mode not
supported", hugetlb is bound to cgroup2), so a tmpfs covers
/sys/fs/cgroup/unified there and it sees plain v1; runc works as is. Their
containers get a network namespace with only lo (network none)."""
import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../tests/e2e"))
sys.path.insert(0, HERE)


def pct(samples, p):
    s = sorted(samples)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


BUILD = os.path.join(HERE, "../build")
PROBE = os.environ.get("BERTH_KERNEL_PROBE", os.path.join(BUILD, "bench/berth_kernel_probe"))
STUB = os.environ.get("BERTH_SECCOMP_STUB", os.path.join(BUILD, "bench/berth_seccomp_stub"))
BUSYBOX = "busybox:latest"
# Root here lacks CAP_SYS_RESOURCE and has a hard nofile limit of 20000.
PODMAN_ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def machine_busy_s():
    """The whole machine's busy CPU time so far (/proc/stat: all but idle and iowait), seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def settle(max_s, idle_share=0.9, step=0.25):
    """Waits (at most max_s seconds) until the machine is idle (at least
    idle_share of its CPU time over `step` seconds), so that a run's deferred
    kernel work (network namespace cleanup, memory cgroups being freed) does
    not land in the next runner's window. Returns the seconds waited and the
    machine's busy CPU seconds meanwhile: charge_tail() counts them against
    the run that left that work behind."""
    t0, busy0 = time.monotonic(), machine_busy_s()
    cpus = os.cpu_count() or 1
    while time.monotonic() - t0 < max_s:
        b0, w0 = machine_busy_s(), time.monotonic()
        time.sleep(step)
        if machine_busy_s() - b0 <= (1 - idle_share) * cpus * (time.monotonic() - w0):
            break
    return time.monotonic() - t0, machine_busy_s() - busy0


def charge_tail(row, busy_s):
    """Adds the CPU the machine spent after a run's window, until it settled,
    to that run's CPU per container (its deferred work is its own)."""
    if row.get("available") and row.get("n"):
        row["machine_busy_cpu_s"] += busy_s
        row["tail_cpu_s"] = busy_s
        row["cpu_ms_per_container"] = row["machine_busy_cpu_s"] * 1e3 / row["n"]


# The other tenants' CPU during each window (bench/background.py), from main().
BACKGROUND = None


def make_row(runner, conc, samples, wall, cpu_s, latency, error=None, extra=None, end=None):
    """A runner's row; its window is the `wall` seconds before `end` (a
    perf_counter() time; default: now)."""
    n = len(samples)
    row = {"runner": runner, "concurrency": conc, "available": True, "n": n,
           "containers_per_s": n / wall if wall else 0.0, "p50_ms": pct(samples, 50) * 1e3,
           "p99_ms": pct(samples, 99) * 1e3, "cpu_ms_per_container": cpu_s * 1e3 / n if n else float("nan"),
           "wall_s": wall, "machine_busy_cpu_s": cpu_s, "latency": latency, "error": error,
           "samples_ms": [round(x * 1e3, 4) for x in samples]}
    if BACKGROUND is not None and wall:
        end = time.perf_counter() if end is None else end
        row["background_ms_per_s"], row["background_top"] = BACKGROUND.window(end - wall, end)
    row.update(extra or {})
    return row


def merge_rounds(rows):
    """The rows of one runner and concurrency from several rounds (--rounds),
    as one: containers/s and CPU per container the medians of the rounds',
    p50/p99 over all their samples, n their sum; "rounds" keeps each round's
    figures. Rounds interleave the runners (bench order: rotated, reversed
    every other round), so that a noisy stretch of the machine hits one round
    of each rather than all of one runner."""
    groups, order = {}, []
    for r in rows:
        key = (r["runner"], r["concurrency"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    out = []
    for key in order:
        ok = [r for r in groups[key] if r.get("available") and r["n"]]
        if len(ok) < 2:
            out.append(ok[0] if ok else groups[key][0])
            continue
        samples = [x / 1e3 for r in ok for x in r["samples_ms"]]
        row = dict(ok[0])
        row.update({"n": len(samples), "p50_ms": pct(samples, 50) * 1e3, "p99_ms": pct(samples, 99) * 1e3,
                    "containers_per_s": statistics.median(r["containers_per_s"] for r in ok),
                    "cpu_ms_per_container": statistics.median(r["cpu_ms_per_container"] for r in ok),
                    "wall_s": sum(r["wall_s"] for r in ok),
                    "machine_busy_cpu_s": sum(r["machine_busy_cpu_s"] for r in ok),
                    "error": next((r["error"] for r in ok if r.get("error")), None),
                    "samples_ms": [x for r in ok for x in r["samples_ms"]],
                    "rounds": [{k: r[k] for k in ("n", "containers_per_s", "p50_ms", "p99_ms", "cpu_ms_per_container",
                                                  "background_ms_per_s", "background_top") if k in r}
                               for r in ok]})
        row.pop("background_top", None)  # each round's is in "rounds"
        if all("background_ms_per_s" in r for r in ok):
            row["background_ms_per_s"] = statistics.median(r["background_ms_per_s"] for r in ok)
        out.append(row)
    return out


def unavailable(runner, conc, why):
    return {"runner": runner, "concurrency": conc, "available": False, "reason": why}


def drive(conc, n, min_seconds, one, setup=None):
    """conc threads; each runs one(ctx) (-> seconds of latency) until n runs
    are claimed and min_seconds have passed. The window (wall and machine
    CPU) ends when every thread is done, teardown included. Stops at the
    first failure. Returns (samples, wall, cpu_s, error)."""
    lock = threading.Lock()
    claimed = [0]
    samples, errors = [], []
    t0 = time.perf_counter()
    c0 = machine_busy_s()

    def worker():
        ctx = setup() if setup else None
        try:
            while not errors:
                with lock:
                    if claimed[0] >= n and time.perf_counter() - t0 >= min_seconds:
                        return
                    claimed[0] += 1
                s = one(ctx)
                with lock:
                    samples.append(s)
        except Exception as e:  # the first failure stops everyone
            with lock:
                errors.append("%s" % e)
        finally:
            if ctx is not None and hasattr(ctx, "close"):
                ctx.close()

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, time.perf_counter() - t0, machine_busy_s() - c0, (errors[0] if errors else None)


class Client:
    """One persistent (keep-alive) connection to the daemon's API."""

    def __init__(self, sock):
        self.sock = sock
        self.conn = None
        self.connects = 0

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def call(self, method, path, body=None, timeout=120):
        from conftest import UnixHTTPConnection
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = UnixHTTPConnection(self.sock, timeout=timeout)
                self.connects += 1
            data = json.dumps(body) if body is not None else None
            try:
                self.conn.request(method, "/v1.41" + path, body=data,
                                  headers={"Content-Type": "application/json"} if data else {})
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if fresh or attempt:  # only a stale kept-alive connection is retried
                    raise
                continue
            if resp.will_close:
                self.close()
            return resp.status, (json.loads(raw) if raw else None)


def bench_berth_api(d, conc, n, min_seconds):
    """create -> start -> wait -> delete from persistent clients, one per
    thread; the sample is create request -> start returned (the monitor has
    seen the execve succeed)."""
    seq = [0]
    lock = threading.Lock()
    clients = []
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}}

    def setup():
        c = Client(d.sock)
        clients.append(c)
        return c

    phases = {"create": [], "start": [], "wait": [], "delete": []}

    def one(cl):
        with lock:
            seq[0] += 1
            name = "bench-%d-%d-%d" % (os.getpid(), conc, seq[0])
        t = [time.perf_counter()]
        st, c = cl.call("POST", "/containers/create?name=" + name, body)
        if st != 201:
            raise RuntimeError("create: %s %s" % (st, c))
        t.append(time.perf_counter())
        st, out = cl.call("POST", "/containers/%s/start" % c["Id"])
        if st != 204:
            raise RuntimeError("start: %s %s" % (st, out))
        t.append(time.perf_counter())
        st, out = cl.call("POST", "/containers/%s/wait" % c["Id"])
        if st != 200 or out.get("StatusCode") != 0:
            raise RuntimeError("wait: %s %s" % (st, out))
        t.append(time.perf_counter())
        st, out = cl.call("DELETE", "/containers/" + c["Id"])
        if st != 204:
            raise RuntimeError("delete: %s %s" % (st, out))
        t.append(time.perf_counter())
        with lock:
            for i, k in enumerate(("create", "start", "wait", "delete")):
                phases[k].append(t[i + 1] - t[i])
        return t[2] - t[0]

    samples, wall, cpu, err = drive(conc, n, min_seconds, one, setup)
    # Where a client's time goes: the start latency is create + start; wait
    # and delete are the rest of each container's turn.
    return make_row("berth API", conc, samples, wall, cpu, "create request -> start returned (running)", err,
                    {"connections": sum(c.connects for c in clients),
                     "phase_p50_ms": {k: round(pct(v, 50) * 1e3, 3) for k, v in phases.items()}})


def bench_berth_cli(d, conc, n, min_seconds):
    def one(_):
        s = time.perf_counter()
        r = d.cli("run", "--rm", "--network", "none", "busybox", "true")
        if r.returncode != 0:
            raise RuntimeError("berth run failed: " + r.stderr)
        return time.perf_counter() - s

    samples, wall, cpu, err = drive(conc, n, min_seconds, one)
    return make_row("berth CLI run --rm", conc, samples, wall, cpu, "CLI process start -> exit (create, start, "
                    "wait, remove)", err)


def berth_batch_available(d):
    r = d.cli("run", "--help")
    return "--count" in (r.stdout + r.stderr)


def bench_berth_batch(d, conc, n, min_seconds):
    """berth's batch mode (`berth run --count`, here through its API,
    POST /berth/containers/run): the daemon creates, starts, waits for and
    removes the containers, `conc` in flight at once; latency is create
    request -> execve observed, as the daemon measures it. Requests of n
    containers repeat until n have run and min_seconds have passed; the
    window ends after the last removal."""
    samples = []
    t0 = time.perf_counter()
    c0 = machine_busy_s()
    err = None
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}}
    while not samples or len(samples) < n or time.perf_counter() - t0 < min_seconds:
        st, out = d.api("POST", "/berth/containers/run?count=%d&parallel=%d&remove=1" % (n, conc), body=body,
                        timeout=1800)
        if st != 200 or not isinstance(out, dict):
            err = "berth run --count failed: %s %s" % (st, out)
            break
        if out.get("Failed"):
            err = "%d failed, first: %s" % (out["Failed"], (out.get("Errors") or ["?"])[0])
            break
        samples += [x / 1e3 for x in out["LatenciesMs"]]
    wall = time.perf_counter() - t0
    cpu = machine_busy_s() - c0
    return make_row("berth batch (run --count)", conc, samples, wall, cpu,
                    "create request -> execve observed, measured in the daemon", err)


POOL_BODY = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}}
POOL_BURST_BAR = 2000.0  # containers running per second from a warm pool
POOL_RUNNERS = ("pool-burst", "pool-open", "probe-pool")
PROBE_POOL = "kernel probe pool-burst"
MIN_P99_SAMPLES = 2000  # fewer: the table marks the p99


def berth_pools_available(d):
    st, out = d.api("GET", "/berth/pools")
    return st == 200 and isinstance(out, list)


def set_pool(d, size):
    """Sets busybox's warm pool to `size` sandboxes and waits until it is
    full; returns (its GET /berth/pools entry, seconds, machine busy CPU s)."""
    t0 = time.perf_counter()
    c0 = machine_busy_s()
    st, out = d.api("POST", "/berth/pools", body={"Image": "busybox", "Size": size, "Wait": True}, timeout=1800)
    secs, cpu = time.perf_counter() - t0, machine_busy_s() - c0
    if st != 200 or not isinstance(out, dict):
        raise RuntimeError("POST /berth/pools (Size %d, Wait): %s %s" % (size, st, out))
    if out.get("Ready") != size:
        raise RuntimeError("POST /berth/pools (Size %d, Wait) answered with %s ready: %s" % (size, out.get("Ready"),
                                                                                            out))
    return out, secs, cpu


def remove_pool(d):
    """DELETE /berth/pools/busybox; then GET must not list it (later runners run cold)."""
    st, out = d.api("DELETE", "/berth/pools/busybox", timeout=600)
    if st != 204:
        return "DELETE /berth/pools/busybox: %s %s" % (st, out)
    st, out = d.api("GET", "/berth/pools")
    left = [p for p in out or [] if p.get("Image") == "busybox" and p.get("Size")] if st == 200 else None
    return "pool still listed after DELETE: %s %s" % (st, out) if left is None or left else None


def pool_batch(d, pool_size, query):
    """Sets a pool of pool_size, runs one batch request (POOL_BODY) with
    `query`, removes the pool. Returns (summary, request wall s, request
    machine CPU s, pool entry, preparation s, preparation CPU s, error,
    the request's perf_counter() start)."""
    err = None
    try:
        pool, prep_s, prep_cpu = set_pool(d, pool_size)
        t0 = time.perf_counter()
        c0 = machine_busy_s()
        st, out = d.api("POST", "/berth/containers/run?" + query, body=POOL_BODY, timeout=1800)
        wall, cpu = time.perf_counter() - t0, machine_busy_s() - c0
        if st != 200 or not isinstance(out, dict):
            raise RuntimeError("POST /berth/containers/run?%s: %s %s" % (query, st, out))
        if out.get("Failed"):
            err = "%d failed, first: %s" % (out["Failed"], (out.get("Errors") or ["?"])[0])
        elif len(out.get("LatenciesMs") or []) != out.get("Started"):
            err = "LatenciesMs has %d entries for %s started" % (len(out.get("LatenciesMs") or []),
                                                                  out.get("Started"))
    finally:
        gone = remove_pool(d)  # also after a failure: later runners run cold
    return out, wall, cpu, pool, prep_s, prep_cpu, err or gone, t0


def pool_row(runner, pool_size, out, wall, cpu, pool, prep_s, prep_cpu, err, t0, latency, extra):
    """A pool runner's row: containers/s is RunningPerSecond (first create ->
    the last one running); CPU per container is the machine's over the
    request (the pool's background refill at nice 19 included); the other
    tenants' CPU is theirs while containers were being started (the request's
    first RunningSeconds)."""
    samples = [x / 1e3 for x in out["LatenciesMs"]]
    running_s = out.get("RunningSeconds") or wall
    row = make_row(runner, pool_size, samples, running_s, cpu, latency, err, extra, end=t0 + running_s)
    row["wall_s"] = wall
    started = out.get("Started") or 0
    row.update({"containers_per_s": out.get("RunningPerSecond", 0.0), "request_containers_per_s":
                started / wall if wall else 0.0, "cpu_ms_per_container": cpu * 1e3 / started if started
                else float("nan"), "pool_size": pool_size, "from_pool": out.get("FromPool"), "started": started,
                "running_seconds": out.get("RunningSeconds"), "running_per_s": out.get("RunningPerSecond"),
                "batch_seconds": out.get("Seconds"), "daemon_p50_ms": out["StartLatencyMs"]["P50"],
                "daemon_p99_ms": out["StartLatencyMs"]["P99"], "daemon_max_ms": out["StartLatencyMs"]["Max"],
                "pool_prepare_s": prep_s, "pool_prepare_cpu_ms_per_sandbox": prep_cpu * 1e3 / pool_size,
                "pool_after_set": pool})
    return row


def bench_pool_burst(d, pool_size):
    """A warm pool of pool_size busybox sandboxes (set with Wait), then one
    batch of pool_size containers, all in flight at once
    (count=parallel=pool_size, remove=1): how many containers a full pool
    gets running per second (the bar: POOL_BURST_BAR)."""
    row = pool_row("berth pool-burst", pool_size, *pool_batch(
        d, pool_size, "count=%d&parallel=%d&remove=1" % (pool_size, pool_size)),
                   "create request -> execve observed, measured in the daemon (all submitted at once)", {})
    row["bar"] = {"what": "RunningPerSecond >= %d/s" % POOL_BURST_BAR, "ratio": row["running_per_s"] / POOL_BURST_BAR,
                  "met": row["running_per_s"] >= POOL_BURST_BAR}
    return row


def bench_pool_open(d, rate, seconds, pool_size):
    """Open loop from a warm pool: rate*seconds containers, container i due
    i/rate s after the first (POST /berth/containers/run?rate=), latency from
    its due time (queueing included). The bar (set in pool_bars): p99 <= the
    kernel probe's p99 at concurrency 1."""
    count = max(1, int(round(rate * seconds)))
    return pool_row("berth pool-open", pool_size, *pool_batch(
        d, pool_size, "count=%d&parallel=%d&remove=1&rate=%g" % (count, count, rate)),
                    "due time (i/rate after the first) -> execve observed, in the daemon (queueing included)",
                    {"rate": rate, "seconds": seconds, "count": count})


def bench_probe_pool(lowers, scratch, pool_size, seccomp):
    """The kernel probe's warm pool (--prefork): pool_size containers set
    up and parked right before their execve, then all released at once: the
    running/s that this machine's kernel allows a burst from any pool (the
    same count as pool-burst's)."""
    row = probe_row(PROBE_POOL, pool_size, "release of the parked child -> exec-status EOF (all released at once)",
                    lowers, scratch, 1, 0, seccomp, extra=["--prefork", str(pool_size)])
    if row.get("available"):
        row.update({"pool_size": pool_size, "running_per_s": row["containers_per_s"]})
    return row


def pool_bars(rows):
    """Each pool runner against its bar: pool-burst RunningPerSecond / 2000,
    pool-open p99 / the kernel probe's p99 at concurrency 1 in this run."""
    out = []
    probe1 = next((r for r in rows if r["runner"] == "kernel probe" and r["concurrency"] == 1 and r.get("available")
                   and r["n"]), None)
    floor = next((r for r in rows if r["runner"] == PROBE_POOL and r.get("available") and r["n"]), None)
    for r in rows:
        if not r.get("available") or not r["n"]:
            continue
        if r["runner"] == "berth pool-burst":
            b = {"runner": r["runner"], "vs": "%d containers running/s" % POOL_BURST_BAR,
                 "value": r["running_per_s"], "ratio": r["bar"]["ratio"], "met": r["bar"]["met"]}
            if floor:
                # What this machine's kernel allows a burst: the bar is absolute.
                b["x_probe_pool"] = r["running_per_s"] / floor["running_per_s"]
                b["probe_pool_running_per_s"] = floor["running_per_s"]
            out.append(b)
        elif r["runner"] == "berth pool-open":
            b = {"runner": r["runner"], "vs": "kernel probe p99 at concurrency 1", "value": r["p99_ms"]}
            if probe1:
                b.update({"reference": probe1["p99_ms"], "ratio": r["p99_ms"] / probe1["p99_ms"],
                          "met": r["p99_ms"] <= probe1["p99_ms"]})
            else:
                b.update({"reference": None, "ratio": None, "met": None,
                          "note": "no kernel probe row at concurrency 1 in this run (add probe and -c 1)"})
            r["bar"] = b
            out.append(b)
    return out


def container_lowerdirs(d):
    """The overlay lower directories berth gives a busybox container (its
    init layer and the image's layers), from inspect's GraphDriver; the
    container is left created (the caller removes it)."""
    st, c = d.api("POST", "/containers/create?name=bench-probe-layers",
                  body={"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}})
    if st != 201:
        raise RuntimeError("create: %s %s" % (st, c))
    st, info = d.api("GET", "/containers/%s/json" % c["Id"])
    if st != 200:
        raise RuntimeError("inspect: %s %s" % (st, info))
    return c["Id"], info["GraphDriver"]["Data"]["LowerDir"].split(":")


def berth_seccomp_filter(d):
    """The compiled filter berth's containers load (<data-root>/seccomp/<key>.bpf), if the daemon writes one."""
    dirname = os.path.join(d.root, "seccomp")
    files = sorted((os.path.join(dirname, f) for f in os.listdir(dirname) if f.endswith(".bpf")),
                   key=os.path.getmtime) if os.path.isdir(dirname) else []
    return files[-1] if files else None


def run_probe(lowers, scratch, conc, n, min_seconds, seccomp=None, nnp=False, extra=()):
    args = [PROBE, "--scratch", scratch, "-n", str(n), "-w", str(conc), "--min-seconds", str(min_seconds),
            "--net", "--json", "-"]
    if seccomp:
        args += ["--seccomp", seccomp]
    if nnp:
        args.append("--no-new-privs")
    r = subprocess.run(args + list(extra) + list(lowers), capture_output=True, text=True)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        raise RuntimeError("kernel probe failed (%d): %s" % (r.returncode, r.stderr.strip()))
    res["returncode"] = r.returncode
    return res


def probe_row(label, conc, latency, lowers, scratch, n, min_seconds, seccomp, extra=()):
    """Runs the kernel probe and makes its row, or an "unavailable" one where
    it is not built or the host is not supported; the window is the probe's
    own (its CLOCK_MONOTONIC is perf_counter()'s): with --prefork, the
    release -> the last exec, not the preparation or teardown around it."""
    if not os.access(PROBE, os.X_OK):
        return unavailable(label, conc, "%s not built" % PROBE)
    try:
        res = run_probe(lowers, scratch, 1 if extra else conc, n, min_seconds, seccomp, extra=extra)
    except RuntimeError as e:
        if "not supported yet" in str(e):  # a cgroup2-only host
            return unavailable(label, conc, "not available: %s" % str(e).split(": ", 1)[-1])
        raise
    samples = [x / 1e3 for x in res["samples_ms"]]
    return make_row(label, conc, samples, res["wall_s"], res["machine_busy_cpu_s"], latency, res["error"],
                    {"seccomp_insns": res["seccomp_insns"], "teardown_ms": res["teardown_ms"]},
                    end=res.get("window_end_s"))


def bench_probe(lowers, scratch, conc, n, min_seconds, seccomp):
    return probe_row("kernel probe", conc, "cgroups + clone -> exec-status EOF (running)", lowers, scratch, n,
                     min_seconds, seccomp)


# ---- peers: crun, runc, podman, each in a mount and network namespace of
# the bench's own (unshare --mount --net): crun 1.8 sees plain cgroup v1
# there (a tmpfs over /sys/fs/cgroup/unified), and their networking is
# confined to that namespace (the containers themselves get none: a netns
# with only lo).

def make_bundle(base, tar):
    bundle = os.path.join(base, "bundle")
    os.makedirs(os.path.join(bundle, "rootfs"))
    subprocess.run(["tar", "-C", os.path.join(bundle, "rootfs"), "-xf", tar], check=True)
    subprocess.run(["crun", "spec"] if shutil.which("crun") else ["runc", "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["args"] = ["/bin/true"]
    spec["process"]["terminal"] = False
    spec["root"]["readonly"] = False
    # As berth: a cgroup namespace too; the network namespace (network none) is in the default spec.
    if not any(ns["type"] == "cgroup" for ns in spec["linux"]["namespaces"]):
        spec["linux"]["namespaces"].append({"type": "cgroup"})
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    return bundle


def peer_inner(cfg):
    """In the bench's namespaces: runs cfg["cmd"] (with a unique id) from conc threads."""
    if cfg["cgroup_v1_only"]:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", "/sys/fs/cgroup/unified"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
    seq = [0]
    lock = threading.Lock()

    def one(_):
        with lock:
            seq[0] += 1
            cid = "bench-%d-%d" % (os.getpid(), seq[0])
        cmd = [a.replace("{id}", cid) for a in cfg["cmd"]]
        s = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (cmd[0], r.stderr.decode(errors="replace").strip()[-500:]))
        return time.perf_counter() - s

    samples, wall, cpu, err = drive(cfg["conc"], cfg["n"], cfg["min_seconds"], one)
    print(json.dumps({"samples": samples, "wall": wall, "cpu": cpu, "error": err}))


def bench_peer(name, cmd, conc, n, min_seconds, cgroup_v1_only):
    cfg = {"cmd": cmd, "conc": conc, "n": n, "min_seconds": min_seconds, "cgroup_v1_only": cgroup_v1_only}
    r = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", sys.executable,
                        os.path.abspath(__file__), "--peer-inner", json.dumps(cfg)], capture_output=True, text=True)
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        raise RuntimeError("%s bench failed: %s" % (name, r.stderr.strip()[-1000:]))
    res = json.loads(lines[-1])
    return make_row(name, conc, res["samples"], res["wall"], res["cpu"],
                    "`run` process start -> exit (create, start, wait, delete)", res["error"])


def podman_setup(base, tar, install):
    """(podman command prefix, image) or (None, reason)."""
    if not shutil.which("podman") and install:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "podman"], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None, "apt-get install podman failed: " + r.stderr.strip()[-300:]
    if not shutil.which("podman"):
        return None, "not available (podman is not installed; --install-peers installs it with apt-get)"
    prefix = ["podman", "--root", os.path.join(base, "podman/root"), "--runroot", os.path.join(base, "podman/run"),
              "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
    r = subprocess.run(prefix + ["import", tar, "localhost/berth-bench-busybox"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, "podman import failed: " + r.stderr.strip()[-300:]
    return prefix, "localhost/berth-bench-busybox"


def podman_cleanup(prefix):
    if prefix:
        subprocess.run(prefix + ["system", "reset", "--force"], capture_output=True)


# ---- report ----

def ratios(rows):
    out = []
    for r in rows:
        if not r.get("available") or not r["n"] or "pool_size" in r:  # pool runners: pool_bars
            continue
        same = {x["runner"]: x for x in rows if x["concurrency"] == r["concurrency"] and x.get("available")
                and x["n"] and "pool_size" not in x}
        for ref in ("crun run", "kernel probe"):
            b = same.get(ref)
            if b is None or b is r:
                continue
            out.append({"runner": r["runner"], "concurrency": r["concurrency"], "vs": ref,
                        "containers_per_s": r["containers_per_s"] / b["containers_per_s"]
                        if b["containers_per_s"] else float("nan"),
                        "p50": r["p50_ms"] / b["p50_ms"] if b["p50_ms"] else float("nan"),
                        "cpu_per_container": r["cpu_ms_per_container"] / b["cpu_ms_per_container"]
                        if b["cpu_ms_per_container"] else float("nan")})
    return out


def bar_text(r):
    b = r.get("bar")
    if not b or b.get("ratio") is None:
        return ""
    if r["runner"] == "berth pool-burst":
        return "  %.2f x %d/s%s" % (b["ratio"], POOL_BURST_BAR, "" if b["met"] else " (bar NOT met)")
    return "  p99 %.2f x probe c=1%s" % (b["ratio"], "" if b["met"] else " (bar NOT met)")


def print_table(rows, rat, idle, min_p99_samples, bars=()):
    print()
    print("%-26s %4s %6s %12s %9s %10s %10s %9s %9s" % ("runner", "conc", "n", "containers/s", "p50 ms", "p99 ms",
                                                        "CPU ms/ctr", "x crun", "x probe"))
    for r in rows:
        if not r.get("available"):
            print("%-26s %4d  %s" % (r["runner"], r["concurrency"], r["reason"]))
            continue
        rel = {x["vs"]: x["containers_per_s"] for x in rat
               if x["runner"] == r["runner"] and x["concurrency"] == r["concurrency"]}
        p99 = "%9.2f" % r["p99_ms"] + ("*" if r["n"] < min_p99_samples else " ")
        print("%-26s %4d %6d %12.1f %9.2f %s %10.2f %9s %9s%s" % (
            r["runner"], r["concurrency"], r["n"], r["containers_per_s"], r["p50_ms"], p99,
            r["cpu_ms_per_container"],
            "%.2f" % rel["crun run"] if "crun run" in rel else "-",
            "%.2f" % rel["kernel probe"] if "kernel probe" in rel else "-",
            ("  ERROR: " + r["error"] if r.get("error") else "") + bar_text(r)))
    print("x crun, x probe: containers/s relative to crun run / the kernel probe at the same concurrency.")
    tenants = [r for r in rows if r.get("available") and "background_ms_per_s" in r]
    if tenants:
        # What the machine's other tenants (bench/background.py) took meanwhile: a figure
        # next to a large one is noise, not the runner's.
        print("other tenants' CPU in each window, ms per s (of %d CPUs): %s" % (os.cpu_count() or 1, "; ".join(
            "%s c=%d %.0f%s" % (r["runner"], r["concurrency"], r["background_ms_per_s"],
                                " (%s)" % ", ".join("%s %.0f" % kv for kv in r["background_top"].items())
                                if r.get("background_top") else "") for r in tenants)))
    print("* p99 from fewer than %d samples (-n %d; pool-open: --open-rate x --open-seconds)." % (
        min_p99_samples, min_p99_samples))
    if any("pool_size" in r for r in rows):
        print("berth pool-*: conc = the warm pool's size, run once; containers/s = RunningPerSecond (first create "
              "-> the last one running); CPU over the request (the pool's background refill included).")
    if any(r["runner"] == PROBE_POOL for r in rows):
        print("%s: conc = parked containers released at once; containers/s = running/s over the release -> the "
              "last exec; CPU over that window." % PROBE_POOL)
    for b in bars:
        if b.get("ratio") is None:
            print("  %s: %.2f ms against the %s: %s" % (b["runner"], b["value"], b["vs"], b.get("note", "-")))
        elif b["runner"] == "berth pool-burst":
            print("  %s: %.1f containers running/s = %.2f x the bar of %s: %s%s" % (
                b["runner"], b["value"], b["ratio"], b["vs"], "met" if b["met"] else "NOT met",
                "; %.2f x the %s's %.1f/s in this run" % (b["x_probe_pool"], PROBE_POOL, b["probe_pool_running_per_s"])
                if "x_probe_pool" in b else ""))
        else:
            print("  %s: p99 %.2f ms = %.2f x the %s (%.2f ms): %s" % (
                b["runner"], b["value"], b["ratio"], b["vs"], b["reference"], "met" if b["met"] else "NOT met"))
    for r in rows:
        if "pool_size" in r and r.get("available") and r["n"] and r["runner"] != PROBE_POOL:
            print("  %s: %d of %d started from the pool; pool of %d prepared in %.1f s (%.2f ms machine CPU per "
                  "sandbox); p50/p99/max in the daemon %.2f/%.2f/%.2f ms" % (
                      r["runner"], r["from_pool"] or 0, r["started"], r["pool_size"], r["pool_prepare_s"],
                      r["pool_prepare_cpu_ms_per_sandbox"], r["daemon_p50_ms"], r["daemon_p99_ms"],
                      r["daemon_max_ms"]))
    for r in rows:
        if r.get("available") and (r["concurrency"] == rows[0]["concurrency"] or "pool_size" in r):
            print("  latency of %-27s %s" % (r["runner"] + ":", r["latency"]))
    for r in rows:
        if r.get("phase_p50_ms"):
            print("  %s at concurrency %d, p50 per request: %s" % (r["runner"], r["concurrency"], ", ".join(
                "%s %.2f ms" % kv for kv in r["phase_p50_ms"].items())))
        if r.get("teardown_ms"):
            print("  %s at concurrency %d, teardown per container: %s" % (r["runner"], r["concurrency"], ", ".join(
                "%s %.2f ms" % kv for kv in r["teardown_ms"].items())))
    for m in idle:
        snap = m["snapshots"][-1] if m and m.get("snapshots") else None
        if snap:
            base = m["baseline"]["pss_sum_kib"] if m.get("baseline") else 0
            print("idle: %d `sleep 3600` containers running: PSS summed over berth's %d processes %.1f MiB "
                  "(%.1f KiB per container above the %.1f MiB with none); every process within its "
                  "RLIMIT_NOFILE: %s (most fds: %d)" % (
                      snap["containers"], len(snap["processes"]), snap["pss_sum_kib"] / 1024,
                      (snap["pss_sum_kib"] - base) / max(1, snap["containers"]), base / 1024,
                      snap["all_within_nofile"], max(p["fds"] for p in snap["processes"])))


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not importable (apt package python3-matplotlib): no plot"
    # One panel per concurrency, and one for the warm pool runners (with the
    # kernel probe at concurrency 1, pool-open's bar, dashed).
    pooled = [r for r in rows if "pool_size" in r and r.get("available") and r.get("samples_ms")]
    concs = sorted({r["concurrency"] for r in rows if "pool_size" not in r})
    panels = [("concurrency %d" % c, [(r, "-") for r in rows if r["concurrency"] == c and "pool_size" not in r])
              for c in concs]
    if pooled:
        probe1 = [(r, "--") for r in rows if r["runner"] == "kernel probe" and r["concurrency"] == 1]
        panels.append(("warm pool (pool-burst: all at once; pool-open: %s/s)" % ", ".join(
            "%g" % r["rate"] for r in pooled if "rate" in r), [(r, "-") for r in pooled] + probe1))
    panels = [p for p in panels if any(r.get("available") and r.get("samples_ms") for r, _ in p[1])]
    if not panels:
        return "no samples: no plot"
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (title, members) in zip(axes[0], panels):
        for r, style in members:
            if not r.get("available") or not r.get("samples_ms"):
                continue
            s = sorted(r["samples_ms"])
            label = r["runner"] + (" (pool %d)" % r["pool_size"] if "pool_size" in r else
                                   " (c=1)" if style == "--" else "")
            ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], style, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("start latency, ms (log)")
        ax.set_ylabel("fraction of containers")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return None


# ---- the probe's own check (CI) ----

def probe_cgroup_parents():
    """The kernel probes' cgroup parents (berth-probe-<pid>) in every hierarchy."""
    found = set()
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split(" - ")[0].split()[4] for line in f if " - cgroup" in line]
    for m in mounts:
        for dirpath, dirnames, _ in os.walk(m):
            found |= {os.path.join(dirpath, x) for x in dirnames if x.startswith("berth-probe-")}
            if dirpath.count("/") > m.count("/") + 3:
                dirnames[:] = []
    return found


def probe_check():
    """Runs the kernel probe with each of its options on a busybox rootfs and
    checks its figures and that it leaves no directory or cgroup behind, also
    when it is interrupted (SIGTERM)."""
    from conftest import make_busybox_tar
    base = tempfile.mkdtemp(prefix="berth-probe-check-")
    failures = []
    before = probe_cgroup_parents()
    try:
        tar = make_busybox_tar(os.path.join(base, "busybox.tar"))
        rootfs = os.path.join(base, "rootfs")
        os.makedirs(rootfs)
        subprocess.run(["tar", "-C", rootfs, "-xf", tar], check=True)
        filt = os.path.join(base, "filter.bpf")
        subprocess.run([STUB, filt], check=True, capture_output=True)
        scratch = os.path.join(base, "scratch")
        cases = [("cgroups, netns", {}), ("seccomp", {"seccomp": filt}),
                 ("seccomp + no_new_privs", {"seccomp": filt, "nnp": True}),
                 ("no cgroups", {"extra": ["--cgroup", "none"]}),
                 ("fork (clone3)", {"seccomp": filt, "extra": ["--fork"]})]
        for name, kw in cases:
            res = run_probe([rootfs], scratch, 2, 4, 0, **kw)
            ok = (res["returncode"] == 0 and res["error"] is None and res["n"] == 4
                  and len(res["samples_ms"]) == 4 and all(x > 0 for x in res["samples_ms"])
                  and res["containers_per_s"] > 0
                  and res["seccomp_insns"] == (os.path.getsize(filt) // 8 if "seccomp" in kw else 0)
                  and (res["hierarchies"] == 0) == ("--cgroup" in kw.get("extra", []))
                  and res["fork"] == ("--fork" in kw.get("extra", [])) and os.listdir(scratch) == [])
            print("%-24s %s: %.1f containers/s, p50 %.2f ms" % (name, "ok" if ok else "FAILED",
                                                               res["containers_per_s"], res["p50_ms"]))
            if not ok:
                failures.append("%s: %s" % (name, {k: v for k, v in res.items() if k != "samples_ms"}))
        # The warm pool's floor: 6 parked, released at once, one sample each.
        res = run_probe([rootfs], scratch, 1, 1, 0, seccomp=filt, extra=["--prefork", "6"])
        ok = (res["returncode"] == 0 and res["error"] is None and res["prefork"] == 6 and res["n"] == 6
              and len(res["samples_ms"]) == 6 and all(x > 0 for x in res["samples_ms"])
              and max(res["samples_ms"]) <= res["wall_s"] * 1e3 + 1e-3 and os.listdir(scratch) == [])
        print("%-24s %s: %.1f running/s, p50 %.2f ms" % ("prefork", "ok" if ok else "FAILED",
                                                        res["containers_per_s"], res["p50_ms"]))
        if not ok:
            failures.append("prefork: %s" % res)
        # A failing execve is reported, not counted (cold and parked alike).
        for extra in ([], ["--fork"], ["--prefork", "3"]):
            res = run_probe([rootfs], scratch, 1, 2, 0, extra=["--exec", "/nonexistent"] + extra)
            if (res["returncode"] != 1 or not res["error"] or "execve: ENOENT" not in res["error"] or res["n"] != 0
                    or os.listdir(scratch) != []):
                failures.append("missing program %s: %s" % (extra, res))
        # Interrupted: it stops starting, finishes (and tears down) what is in flight, and reports.
        p = subprocess.Popen([PROBE, "--scratch", scratch, "-n", "100000", "-w", "2", "--net", "--json", "-", rootfs],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        p.terminate()
        out, err = p.communicate(timeout=60)
        try:
            res = json.loads(out)
        except ValueError:
            res = None
        if p.returncode != 0 or not res or not 0 < res["n"] < 100000 or os.listdir(scratch) != []:
            failures.append("interrupted: rc %s, %s, %s, left %s" % (p.returncode, res and res["n"], err.strip(),
                                                                     os.listdir(scratch)))
        # Nothing left in any cgroup hierarchy (other probes may run meanwhile:
        # only the parents that appeared during this check count).
        left = sorted(probe_cgroup_parents() - before)
        if left:
            failures.append("cgroups left behind: %s" % left[:5])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for f in failures:
        print("FAILED " + f)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=300, help="containers per runner and concurrency (at least); a p99 "
                    "is marked * below %d samples: -n %d for p99s from enough samples (pool-open: --open-rate x "
                    "--open-seconds samples, 2000 by default)" % (MIN_P99_SAMPLES, MIN_P99_SAMPLES))
    ap.add_argument("-c", "--concurrency", default="1,2,16")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the concurrency loop (every runner at every concurrency) this many times, "
                    "in an order that changes each round; the table gives each runner's median containers/s and "
                    "CPU per container and the p50/p99 of all its samples")
    ap.add_argument("--min-seconds", type=float, default=10.0,
                    help="each run lasts at least this long (deferred namespace cleanup is counted)")
    ap.add_argument("--runners", default="batch,api,cli,probe,crun,runc,podman,pool-burst,pool-open,probe-pool",
                    help="pool-burst and pool-open run once, after the -c loop (default: %(default)s)")
    ap.add_argument("--pool-size", type=int, default=1000,
                    help="pool-burst: the warm pool's size and the burst's count and parallel")
    ap.add_argument("--pool-rounds", type=int, default=1,
                    help="pool-burst and pool-open run this many times each, alternating; the table gives the median "
                    "round's running/s and the p99 over all their samples (default: %(default)s)")
    ap.add_argument("--open-rate", type=float, default=1000.0, help="pool-open: containers submitted per second")
    ap.add_argument("--open-seconds", type=float, default=2.0, help="pool-open: seconds of submissions")
    ap.add_argument("--open-pool", type=int,
                    help="pool-open: the warm pool's size (default: rate x seconds, the whole run's stock)")
    ap.add_argument("--idle", default="100", help="idle container counts for the memory figures, e.g. "
                    "1000,10000 (0: none)")
    ap.add_argument("--idle-clients", type=int, default=4)
    ap.add_argument("--beside", type=int, default=0,
                    help="idle containers of berth's running throughout (started before the first runner)")
    ap.add_argument("--json", "--out", dest="json", default="bench-startup.json")
    ap.add_argument("--png", help="latency CDF plot (default: next to --json)")
    ap.add_argument("--install-peers", action="store_true", help="apt-get install podman if missing")
    ap.add_argument("--berth")
    ap.add_argument("--smoke", action="store_true", help="CI: -n 3 -c 1,2 --min-seconds 0 --idle 3 "
                    "--pool-size 5 --open-rate 50 --open-seconds 0.2")
    ap.add_argument("--probe-check", action="store_true", help="CI: check the kernel probe alone")
    ap.add_argument("--peer-inner")
    args = ap.parse_args()
    if args.berth:
        os.environ["BERTH_BINARY"] = os.path.abspath(args.berth)
    if args.peer_inner:
        peer_inner(json.loads(args.peer_inner))
        return 0
    if args.probe_check:
        return probe_check()
    if args.smoke:
        args.n, args.concurrency, args.min_seconds, args.idle = 3, "1,2", 0.0, "3"
        args.pool_size, args.open_rate, args.open_seconds, args.beside = 5, 50.0, 0.2, min(args.beside, 2)
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    if args.pool_rounds < 1:
        raise SystemExit("--pool-rounds must be at least 1")
    open_count = max(1, int(round(args.open_rate * args.open_seconds)))
    open_pool = args.open_pool or open_count
    global BACKGROUND
    import background  # noqa: E402
    BACKGROUND = background.Background().start()  # before the daemon: it is no tenant
    from conftest import Daemon, make_busybox_tar  # noqa: E402 (reads BERTH_BINARY)

    concs = [int(x) for x in args.concurrency.split(",") if x]
    runners = [x for x in args.runners.split(",") if x]
    idle_counts = [int(x) for x in args.idle.split(",") if x and int(x) > 0]  # --idle 0: no memory figures
    base = tempfile.mkdtemp(prefix="berth-bench-")
    d = Daemon(base)
    rows, idle, notes = [], [], []
    podman = (None, "")
    beside = []
    try:
        d.start()
        tar = make_busybox_tar(os.path.join(base, "busybox.tar"))
        r = d.cli("import", tar, BUSYBOX)
        assert r.returncode == 0, r.stderr
        r = d.cli("run", "--rm", "--network", "none", "busybox", "true")  # warm up
        assert r.returncode == 0, r.stderr
        layers_id, lowers = container_lowerdirs(d)
        seccomp = berth_seccomp_filter(d)
        notes.append("kernel probe seccomp: %s" % (seccomp or "none (berth loaded no filter)"))
        batch = berth_batch_available(d)
        bundle = make_bundle(base, tar) if {"crun", "runc"} & set(runners) else None
        if "podman" in runners:
            podman = podman_setup(base, tar, args.install_peers)
        # After every run the machine settles: what it does meanwhile (the
        # run's deferred kernel work) is charged to that run, not to the next
        # runner's window. The order changes every round (rotated, and
        # reversed every other round), so that no runner always follows the
        # same one.
        settle_max = 1.0 if args.smoke else 15.0
        settled = []
        cold = [x for x in runners if x not in POOL_RUNNERS]
        if args.beside > 0:
            import idle_containers
            beside, failures, wall = idle_containers.start_idle(d, args.beside, args.idle_clients)
            if failures:
                raise SystemExit("--beside: %d started, then: %s" % (len(beside), failures[0]))
            notes.append("beside %d idle containers of berth's (started in %.1f s)" % (len(beside), wall))
            print(notes[-1], flush=True)
        settle(settle_max)
        for rnd in range(args.rounds):
            for conc in concs:
                print("concurrency %d%s" % (conc, " (round %d of %d)" % (rnd + 1, args.rounds) if args.rounds > 1
                                                else ""), flush=True)
                k = rnd % len(cold) if cold else 0
                order = cold[k:] + cold[:k]
                if rnd % 2:
                    order.reverse()
                for name in order:
                    t = time.perf_counter()
                    if name == "batch":
                        rows.append(bench_berth_batch(d, conc, args.n, args.min_seconds) if batch else
                                    unavailable("berth batch (run --count)", conc,
                                                "not available (this berth has no `run --count`)"))
                    elif name == "api":
                        rows.append(bench_berth_api(d, conc, args.n, args.min_seconds))
                    elif name == "cli":
                        rows.append(bench_berth_cli(d, conc, args.n, args.min_seconds))
                    elif name == "probe":
                        rows.append(bench_probe(lowers, os.path.join(base, "probe"), conc, args.n, args.min_seconds,
                                                seccomp))
                    elif name == "crun":
                        rows.append(bench_peer("crun run", ["crun", "run", "--bundle", bundle, "{id}"], conc, args.n,
                                               args.min_seconds, True) if shutil.which("crun") else
                                    unavailable("crun run", conc, "not available (crun is not installed)"))
                    elif name == "runc":
                        rows.append(bench_peer("runc run", ["runc", "--root", os.path.join(base, "runc"), "run",
                                                            "--bundle", bundle, "{id}"], conc, args.n, args.min_seconds,
                                               False) if shutil.which("runc") else
                                    unavailable("runc run", conc, "not available (runc is not installed)"))
                    elif name == "podman":
                        prefix, image = podman
                        rows.append(bench_peer("podman run --rm", prefix + ["run", "--rm", "--network", "none"] +
                                               PODMAN_ULIMITS + [image, "true"], conc, args.n, args.min_seconds, True)
                                    if prefix else unavailable("podman run --rm", conc, image))
                    else:
                        raise SystemExit("unknown runner %r" % name)
                    last = rows[-1]
                    waited, tail = settle(settle_max)
                    settled.append(waited)
                    charge_tail(last, tail)
                    if last.get("available"):
                        print("  %-26s %6d in %5.1f s: %7.1f/s p50 %.2f ms%s" % (
                            last["runner"], last["n"], time.perf_counter() - t, last["containers_per_s"],
                            last["p50_ms"], "  ERROR " + last["error"] if last.get("error") else ""), flush=True)
        if settled:
            notes.append("settling after each run (until 90%% of the CPU is idle, at most %g s; the CPU meanwhile "
                         "is the run's): median %.1f s, max %.1f s" % (settle_max, statistics.median(settled),
                                                                      max(settled)))
        if args.rounds > 1:
            rows = merge_rounds(rows)
            for r in rows:
                if r.get("rounds"):
                    notes.append("%s at concurrency %d, per round: %s" % (
                        r["runner"], r["concurrency"], ", ".join(
                            "%.1f/s %.2f ms CPU (other tenants %.0f ms/s)" % (
                                x["containers_per_s"], x["cpu_ms_per_container"],
                                x.get("background_ms_per_s", float("nan"))) for x in r["rounds"])))
        # The warm pool runners, --pool-rounds times each, alternating (not
        # part of the -c loop); each removes its pool, so nothing after them
        # takes a pooled sandbox.
        pools = berth_pools_available(d) if set(POOL_RUNNERS) & set(runners) else False
        pool_names = [name for name in runners if name in POOL_RUNNERS]
        pool_rows = []
        for rnd in range(args.pool_rounds):
            for name in (pool_names if rnd % 2 == 0 else pool_names[::-1]):
                label, conc = {"pool-burst": ("berth pool-burst", args.pool_size), "pool-open": (
                    "berth pool-open", open_pool), "probe-pool": (PROBE_POOL, args.pool_size)}[name]
                if name == "probe-pool":
                    print("probe-pool: the kernel probe's %d parked containers, released at once" % args.pool_size,
                          flush=True)
                elif not pools:
                    pool_rows.append(unavailable(label, conc, "not available (this berth has no /berth/pools)"))
                    continue
                elif name == "pool-burst":
                    print("pool-burst: a pool of %d, then one batch of %d all in flight (count=parallel=%d)" % (
                        args.pool_size, args.pool_size, args.pool_size), flush=True)
                else:
                    note = "pool-open: %d containers at %g/s for %g s from a pool of %d%s" % (
                        open_count, args.open_rate, args.open_seconds, open_pool,
                        " (= the run's count: the stock covers the whole run while the pool refills)"
                        if open_pool >= open_count else " (< the run's count: the run outlasts the stock unless the "
                        "refill keeps up)")
                    print(note, flush=True)
                    if note not in notes:
                        notes.append(note)
                # (Their CPU is the request's: what follows is the pool's removal.)
                settle(settle_max)
                t = time.perf_counter()
                try:
                    if name == "probe-pool":
                        pool_rows.append(bench_probe_pool(lowers, os.path.join(base, "probe"), args.pool_size,
                                                          seccomp))
                    else:
                        pool_rows.append(bench_pool_burst(d, args.pool_size) if name == "pool-burst" else
                                         bench_pool_open(d, args.open_rate, args.open_seconds, open_pool))
                except RuntimeError as e:
                    pool_rows.append(make_row(label, conc, [], 0, 0, "", str(e)))
                last = pool_rows[-1]
                print("  %-26s %6d in %5.1f s: %7.1f running/s p50 %.2f ms p99 %.2f ms%s%s" % (
                    last["runner"], last["n"], time.perf_counter() - t, last["containers_per_s"], last["p50_ms"],
                    last["p99_ms"], ", %s from the pool" % last.get("from_pool") if name != "probe-pool" else "",
                    "  ERROR " + last["error"] if last.get("error") else ""), flush=True)
        if args.pool_rounds > 1:
            pool_rows = merge_rounds(pool_rows)
            for r in pool_rows:
                if r.get("rounds"):
                    # The median round's RunningPerSecond against the bar.
                    r["running_per_s"] = r["containers_per_s"]
                    if r["runner"] == "berth pool-burst":
                        r["bar"] = dict(r["bar"], ratio=r["running_per_s"] / POOL_BURST_BAR,
                                        met=r["running_per_s"] >= POOL_BURST_BAR)
                    notes.append("%s, per round: %s" % (r["runner"], ", ".join(
                        "%.1f running/s p99 %.2f ms (other tenants %.0f ms/s)" % (
                            x["containers_per_s"], x["p99_ms"], x.get("background_ms_per_s", float("nan")))
                        for x in r["rounds"])))
        rows.extend(pool_rows)
        st, _ = d.api("DELETE", "/containers/" + layers_id)
        assert st == 204, st
        if idle_counts:
            import idle_containers
            for k in idle_counts:
                # The same processes with no container: the baseline of the per-container figure.
                time.sleep(1)
                base_snap = idle_containers.snapshot(d, 0)
                print("idle: %d containers (berth's PSS with none: %.1f MiB)" % (
                    k, base_snap["pss_sum_kib"] / 1024), flush=True)
                m = idle_containers.run_idle(d, k, args.idle_clients)
                if m:
                    m["baseline"] = base_snap
                idle.append(m)
    finally:
        if beside:
            idle_containers.remove_containers(d, beside, args.idle_clients)
        podman_cleanup(podman[0])
        d.teardown()
        shutil.rmtree(base, ignore_errors=True)
        BACKGROUND.stop()

    rat = ratios(rows)
    bars = pool_bars(rows)
    print_table(rows, rat, idle, MIN_P99_SAMPLES, bars)
    for n in notes:
        print(n)
    png = args.png or (os.path.splitext(args.json)[0] + ".png" if args.json else None)
    if png:
        why = plot(rows, png)
        print(why or "plot: " + png)
    result = {"machine": {"kernel": os.uname().release, "cpus": os.cpu_count(),
                          "note": "shared machine: other builds and tests run meanwhile; figures are noisy"},
              "config": {"n": args.n, "rounds": args.rounds, "concurrency": concs, "min_seconds": args.min_seconds,
                         "network": "none",
                         "image": "busybox (static), `true`", "idle": idle_counts, "beside": args.beside,
                         "runners": runners,
                         "pool_size": args.pool_size, "open_rate": args.open_rate,
                         "open_seconds": args.open_seconds, "open_pool": open_pool},
              "rows": rows, "ratios": rat, "pool_bars": bars, "idle": idle, "notes": notes}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    failed = [r for r in rows if r.get("error")] + [m for m in idle if not m or m["failures"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())


