#!/usr/bin/python3
"""Before/after check of a change to the start path.

    bench/compare.py --before OLD/berth --after NEW/berth [-n 500] [-c 1,2] [--rounds 2] [--beside N]

Runs bench/startup.py's berth batch and kernel-probe runners for each build,
alternating (before, after, before, after, ...) so that drift in a noisy
machine hits both, and prints per concurrency the median containers/s, p99
and CPU per container of each build, each also relative to the kernel probe
measured in the same round, and the after/before ratios. A ratio of
containers/s below 1 (or of p99 or CPU above 1) is a regression.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def one_round(berth, n, concs, min_seconds, out, beside=0):
    cmd = [sys.executable, os.path.join(HERE, "startup.py"), "--berth", berth, "--runners", "batch,probe",
           "-n", str(n), "-c", concs, "--min-seconds", str(min_seconds), "--idle", "", "--json", out,
           "--beside", str(beside)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("startup.py failed for %s:\n%s%s" % (berth, r.stdout, r.stderr))
    with open(out) as f:
        rows = json.load(f)["rows"]
    figures = {}
    for row in rows:
        if not row.get("available") or row.get("error"):
            continue
        kind = "probe" if row["runner"].startswith("kernel probe") else "berth"
        figures.setdefault(row["concurrency"], {})[kind] = row
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the berth binary before the change")
    ap.add_argument("--after", required=True, help="the berth binary after the change")
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("-c", default="1,2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--min-seconds", type=float, default=5)
    ap.add_argument("--beside", type=int, default=0, help="every round beside N idle containers (startup.py --beside)")
    args = ap.parse_args()
    for b in (args.before, args.after):
        if not os.access(b, os.X_OK):
            raise SystemExit("not an executable: %s" % b)
    tmp = tempfile.mkdtemp(prefix="berth-compare-")
    results = {"before": [], "after": []}
    try:
        for i in range(args.rounds):
            for label, berth in (("before", args.before), ("after", args.after)):
                print("round %d: %s" % (i + 1, label), flush=True)
                results[label].append(one_round(berth, args.n, args.c, args.min_seconds,
                                                os.path.join(tmp, "%s-%d.json" % (label, i)), args.beside))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(label, conc, key, relative=False):
        vals = []
        for rnd in results[label]:
            f = rnd.get(conc, {})
            if "berth" not in f:
                continue
            v = f["berth"][key]
            if relative:
                if "probe" not in f or not f["probe"][key]:
                    continue
                v = v / f["probe"][key]
            vals.append(v)
        return statistics.median(vals) if vals else float("nan")

    missing = [(label, conc) for label in results for conc in [int(x) for x in args.c.split(",") if x]
               if not any("berth" in rnd.get(conc, {}) and "probe" in rnd.get(conc, {}) for rnd in results[label])]
    if missing:
        raise SystemExit("no berth batch or kernel probe figures for %s" % missing)
    print("\n%4s  %-22s %10s %10s %8s" % ("conc", "figure (median)", "before", "after", "ratio"))
    for conc in [int(x) for x in args.c.split(",") if x]:
        for key, name in (("containers_per_s", "containers/s"), ("p99_ms", "p99 ms"),
                          ("cpu_ms_per_container", "CPU ms/container")):
            for rel in (False, True):
                b, a = med("before", conc, key, rel), med("after", conc, key, rel)
                label = name + (" / probe" if rel else "")
                ratio = a / b if b else float("nan")
                print("%4d  %-22s %10.2f %10.2f %7.2fx" % (conc, label, b, a, ratio))
    print("\nratios are after/before: containers/s below 1, p99 or CPU above 1, is a regression;"
          " the '/ probe' rows divide by the kernel probe of the same round.")


if __name__ == "__main__":
    main()
