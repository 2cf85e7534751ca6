#!/usr/bin/env python3
"""Idle containers at scale: starts N idle `sleep 3600` containers (network
none) on a fresh daemon and data root, then reports, for every berth process
(the daemon, each monitor shard and its zygote), its open descriptors
against its RLIMIT_NOFILE and its PSS (from /proc/<pid>/smaps_rollup), with
the PSS sum; then removes the containers. Not run in CI (10,000 containers
take minutes and gigabytes); stops starting at the first failure and still
reports and cleans up.

    bench/idle_containers.py [-n N] [-j PARALLEL] [--every K] [--out FILE] [--berth PATH]

Containers are created and started through the API by PARALLEL client
threads. --every K also reports the figures every K containers."""
import argparse
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../tests/e2e"))


def nofile_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    return None, None


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def pid_ns(pid):
    try:
        return os.readlink("/proc/%d/ns/pid" % pid)
    except OSError:
        return None


def berth_processes(d):
    """[(name, pid, containers it parents)]: the daemon, every monitor and its zygotes."""
    from conftest import children  # noqa: E402 (conftest reads BERTH_BINARY when imported)
    procs = [("daemon", d.proc.pid, 0)]
    for k, pid in sorted(d.monitor_pids().items()):
        kids = [c for c, _ in children(pid)]
        # A zygote (berth-zygote, or the monitor's fork where that binary is
        # missing) shares the monitor's pid namespace; a container (even one
        # still being set up, with the zygote's command line) does not.
        zygotes = [c for c in kids if pid_ns(c) == pid_ns(pid) and
                   (cmdline(c)[:1] == [b"berth-zygote"] or cmdline(c)[1:2] == [b"monitor"])]
        procs.append(("monitor %d" % k, pid, len(kids) - len(zygotes)))
        for z in zygotes:
            procs.append(("zygote %d" % k, z, 0))
    return procs


def snapshot(d, started):
    rows = []
    for name, pid, boxes in berth_processes(d):
        try:
            fds = len(os.listdir("/proc/%d/fd" % pid))
            soft, hard = nofile_limit(pid)
            pss = pss_kib(pid)
        except OSError:
            continue
        rows.append({"process": name, "pid": pid, "containers": boxes, "fds": fds, "nofile_soft": soft,
                     "nofile_hard": hard, "within_nofile": fds <= soft, "pss_kib": pss})
    return {"containers": started, "processes": rows, "pss_sum_kib": sum(r["pss_kib"] for r in rows),
            "all_within_nofile": all(r["within_nofile"] for r in rows), "mem_available_kib": mem_available()}


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def show(snap):
    print("%d containers; MemAvailable %.1f GiB" % (snap["containers"], snap["mem_available_kib"] / 2**20))
    print("  %-10s %8s %10s %8s %12s %10s" % ("process", "pid", "containers", "fds", "RLIMIT_NOFILE", "PSS MiB"))
    for r in snap["processes"]:
        print("  %-10s %8d %10d %8d %6d/%-6d %10.1f" % (r["process"], r["pid"], r["containers"], r["fds"],
                                                      r["nofile_soft"], r["nofile_hard"], r["pss_kib"] / 1024))
    print("  PSS sum %.1f MiB" % (snap["pss_sum_kib"] / 1024))
    sys.stdout.flush()


def start_idle(d, n, j=4, every=0, snaps=None):
    """Creates and starts n idle `sleep 3600` containers (network none) on
    the running daemon d (busybox:latest imported) from j client threads,
    stopping at the first failure; with `every`, appends a snapshot to
    `snaps` every `every` containers. Returns (ids, failures, wall seconds).
    bench/startup.py --beside uses it too."""
    ids, failures = [], []
    lock = threading.Lock()
    body = {"Image": "busybox", "Cmd": ["sleep", "3600"], "HostConfig": {"NetworkMode": "none"}}
    next_report = [every or 0]
    run_id = "%x" % (time.monotonic_ns() & 0xffffffff)

    def worker(first, count):
        for i in range(first, first + count):
            if failures:
                return
            try:
                # Named: concurrent creates may draw the same generated name.
                st, c = d.api("POST", "/containers/create?name=idle-%s-%d" % (run_id, i), body=body)
                if st != 201:
                    raise RuntimeError("create: %s %s" % (st, c))
                with lock:
                    ids.append(c["Id"])
                st, out = d.api("POST", "/containers/%s/start" % c["Id"])
                if st != 204:
                    raise RuntimeError("start: %s %s" % (st, out))
            except Exception as e:  # stop everyone at the first failure
                with lock:
                    failures.append(str(e))
                return

    t0 = time.perf_counter()
    per = [n // j + (1 if i < n % j else 0) for i in range(j)]
    threads = [threading.Thread(target=worker, args=(sum(per[:i]), k)) for i, k in enumerate(per)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)
        created = len(ids)
        if every and snaps is not None and created >= next_report[0]:
            next_report[0] += every
            print("%.0f s: %d created" % (time.perf_counter() - t0, created))
            snaps.append(snapshot(d, created))
            show(snaps[-1])
    return ids, failures, time.perf_counter() - t0


def remove_containers(d, ids, j=4):
    """Force-removes the containers `ids` from j client threads (while the
    daemon runs); prints how many went."""
    t0 = time.perf_counter()
    if not d.proc or d.proc.poll() is not None:
        return
    lock = threading.Lock()
    removed = []

    def remove(chunk):
        for cid in chunk:
            try:
                if d.api("DELETE", "/containers/%s?force=1" % cid, timeout=120)[0] == 204:
                    with lock:
                        removed.append(cid)
            except Exception:
                pass
    removers = [threading.Thread(target=remove, args=(ids[i::max(1, j)],)) for i in range(max(1, j))]
    for t in removers:
        t.start()
    for t in removers:
        t.join()
    print("removed %d of %d containers in %.1f s" % (len(removed), len(ids), time.perf_counter() - t0))


def run_idle(d, n, j=4, every=0):
    """Starts n idle containers (start_idle), takes the snapshot of the berth
    processes, then removes the containers. Returns {"n", "created",
    "running", "wall_s", "failures", "snapshots"}; the last snapshot is the
    one with every container started. bench/startup.py --idle uses it too."""
    ids, snaps = [], []
    result = None
    try:
        ids, failures, wall = start_idle(d, n, j, every, snaps)
        if failures:
            print("stopped after %d containers: %s" % (len(ids), failures[0]))
        st, listed = d.api("GET", "/containers/json", timeout=600)
        running = len(listed) if st == 200 else -1
        print("%d containers created, %d running, in %.1f s (%.1f/s)" % (len(ids), running, wall,
                                                                          len(ids) / wall if wall else 0))
        time.sleep(min(2.0, 0.5 + n / 1000.0))  # let output and exec-status pipes settle
        final = snapshot(d, running)
        snaps.append(final)
        show(final)
        result = {"n": n, "created": len(ids), "running": running, "wall_s": wall, "failures": failures[:5],
                  "snapshots": snaps}
    finally:
        remove_containers(d, ids, j)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("-j", type=int, default=4, help="client threads creating and starting containers")
    ap.add_argument("--every", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--berth")
    args = ap.parse_args()
    if args.berth:
        os.environ["BERTH_BINARY"] = os.path.abspath(args.berth)
    from conftest import Daemon, make_busybox_tar  # noqa: E402 (reads BERTH_BINARY)

    base = tempfile.mkdtemp(prefix="berth-bench-idle-")
    d = Daemon(base)
    result = None
    try:
        d.start()
        r = d.cli("import", make_busybox_tar(os.path.join(base, "busybox.tar")), "busybox:latest")
        if r.returncode != 0:
            raise RuntimeError("import: " + r.stderr)
        result = run_idle(d, args.n, args.j, args.every)
    finally:
        d.teardown()
    if args.out and result:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    return 1 if result is None or result["failures"] or not result["snapshots"][-1]["all_within_nofile"] else 0


if __name__ == "__main__":
    sys.exit(main())
