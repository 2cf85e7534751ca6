#!/usr/bin/env python3
"""Startup baseline: N containers running `true` (network none), one after
another, through berth and through crun on the same busybox rootfs, in one
run. Prints containers/s and p50/p99 per runner and berth's ratio to crun,
and writes the figures as JSON.

    bench/startup.py [-n N] [--out FILE] [--berth PATH]

crun 1.8 refuses this machine's hybrid cgroup layout ("cgroups in hybrid mode
not supported", because hugetlb is bound to cgroup2), so crun runs in a
private mount namespace in which a tmpfs covers /sys/fs/cgroup/unified and
it sees plain v1."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../tests/e2e"))
from conftest import Daemon, make_busybox_tar  # noqa: E402


def pct(samples, p):
    s = sorted(samples)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def summarize(name, samples, wall):
    return {"runner": name, "n": len(samples), "containers_per_s": len(samples) / wall if wall else 0,
            "p50_ms": pct(samples, 50) * 1e3, "p99_ms": pct(samples, 99) * 1e3, "wall_s": wall}


def bench_berth_cli(d, n):
    samples = []
    t0 = time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        r = d.cli("run", "--rm", "--network", "none", "busybox", "true")
        if r.returncode != 0:
            raise RuntimeError("berth run failed: " + r.stderr)
        samples.append(time.perf_counter() - s)
    return summarize("berth run --rm (CLI)", samples, time.perf_counter() - t0)


def bench_berth_api(d, n):
    """create -> start -> wait -> delete from one persistent client; the
    sample is create request -> start returned (execve observed)."""
    samples = []
    t0 = time.perf_counter()
    for _ in range(n):
        s = time.perf_counter()
        st, c = d.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["true"],
                                                          "HostConfig": {"NetworkMode": "none"}})
        assert st == 201, c
        st, _ = d.api("POST", "/containers/%s/start" % c["Id"])
        assert st == 204
        samples.append(time.perf_counter() - s)
        d.api("POST", "/containers/%s/wait" % c["Id"])
        d.api("DELETE", "/containers/" + c["Id"])
    return summarize("berth API create+start", samples, time.perf_counter() - t0)


def crun_inner(bundle, n):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", "/sys/fs/cgroup/unified"], check=True)
    samples = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        r = subprocess.run(["crun", "run", "--bundle", bundle, "bench-%d-%d" % (os.getpid(), i)],
                           capture_output=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError("crun failed: " + r.stderr.decode())
        samples.append(time.perf_counter() - s)
    print(json.dumps({"samples": samples, "wall": time.perf_counter() - t0}))


def bench_crun(base, tar, n):
    if not shutil.which("crun"):
        return None
    bundle = os.path.join(base, "bundle")
    os.makedirs(os.path.join(bundle, "rootfs"))
    subprocess.run(["tar", "-C", os.path.join(bundle, "rootfs"), "-xf", tar], check=True)
    subprocess.run(["crun", "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["args"] = ["/bin/true"]
    spec["process"]["terminal"] = False
    spec["root"]["readonly"] = False
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, os.path.abspath(__file__),
                        "--crun-inner", bundle, "-n", str(n)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("crun bench failed: " + r.stderr)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    return summarize("crun run", res["samples"], res["wall"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--out", default="bench-startup.json")
    ap.add_argument("--crun-inner")
    args = ap.parse_args()
    if args.crun_inner:
        crun_inner(args.crun_inner, args.n)
        return
    base = tempfile.mkdtemp(prefix="berth-bench-")
    d = Daemon(base)
    try:
        d.start()
        tar = make_busybox_tar(os.path.join(base, "busybox.tar"))
        r = d.cli("import", tar, "busybox:latest")
        assert r.returncode == 0, r.stderr
        d.cli("run", "--rm", "busybox", "true")  # warm up
        rows = [bench_berth_api(d, args.n), bench_berth_cli(d, args.n)]
        c = bench_crun(base, tar, args.n)
        if c:
            rows.append(c)
    finally:
        d.teardown()
    print("%-28s %6s %12s %9s %9s" % ("runner", "n", "containers/s", "p50 ms", "p99 ms"))
    for r in rows:
        print("%-28s %6d %12.1f %9.2f %9.2f" % (r["runner"], r["n"], r["containers_per_s"], r["p50_ms"], r["p99_ms"]))
    crun = next((r for r in rows if r["runner"] == "crun run"), None)
    ratios = {}
    if crun:
        for r in rows:
            if r is not crun:
                ratios[r["runner"]] = r["containers_per_s"] / crun["containers_per_s"]
                print("ratio %-22s / crun: %.2fx containers/s" % (r["runner"], ratios[r["runner"]]))
    with open(args.out, "w") as f:
        json.dump({"rows": rows, "ratios_vs_crun": ratios}, f, indent=2)


if __name__ == "__main__":
    main()
