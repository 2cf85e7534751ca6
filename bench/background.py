"""The CPU that the machine's other tenants take during a benchmark's
windows, so that a noisy figure can be told from a slow runner.

"Other tenants" are the processes that were there before the benchmark
started and are not its own: every user-space process but this one (an
init's agent, a shell left idle), and of the kernel's threads only DAMON's
monitors (kdamond.*), which run on their own schedule. Every other kernel
thread (kworkers, ksoftirqd, RCU) does work that the runs cause (network
namespace cleanup, freeing cgroups), so it is the runs' own cost and stays
out of this.

Measured on the development VM: its init (`process_api`) scans every
process's network namespace about once a second, so that 2,000 processes
each in a namespace of their own (a warm pool, or as many `unshare --net
sleep`) cost it 150-190 ms of CPU per second, in bursts that coincide with a
pool open loop's worst latencies; kdamond takes 20-100 ms/s.

A sampler thread reads /proc/<pid>/stat of the tenants every `period`
seconds; window(t0, t1) interpolates between samples."""
import array
import bisect
import os
import threading
import time

PF_KTHREAD = 0x00200000


def _stat(pid):
    """(comm, flags, utime + stime in clock ticks, start time) of
    /proc/<pid>/stat, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    # rest starts at field 3 (state): flags is field 9, utime 14, stime 15, starttime 22.
    return head.partition("(")[2], int(fields[6]), int(fields[11]) + int(fields[12]), int(fields[19])


def tenants(own=None):
    """The machine's other tenants now, as (pid, start time): user-space
    processes but `own` (default: this one), and kdamond threads."""
    own = os.getpid() if own is None else own
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == own:
            continue
        st = _stat(int(name))
        if st is None:
            continue
        comm, flags, _, started = st
        if not flags & PF_KTHREAD or comm.startswith("kdamond"):
            out.append((int(name), started))
    return out


def _interpolate(times, series, t):
    """series (one value per time in `times`) linearly interpolated at t."""
    i = bisect.bisect_left(times, t)
    if i <= 0:
        return series[0]
    if i >= len(times):
        return series[-1]
    t0, t1 = times[i - 1], times[i]
    a, b = series[i - 1], series[i]
    return a + (b - a) * ((t - t0) / (t1 - t0) if t1 > t0 else 1.0)


class Background:
    """Samples the tenants' CPU (seconds) from start() until stop()."""

    def __init__(self, period=0.2, pids=None):
        self.period = period
        self.pids = tenants() if pids is None else list(pids)  # (pid, start time)
        self.tick = os.sysconf("SC_CLK_TCK")
        self.names = {}
        # Per sample: its time, the sum, and each tenant's CPU (self.pids' order).
        self.times, self.totals, self.each = [], [], []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _record(self):
        with self._lock:
            # A tenant that has exited keeps its last reading (its CPU stays counted).
            row = array.array("d", self.each[-1]) if self.each else array.array("d", [0.0] * len(self.pids))
            for i, (pid, started) in enumerate(self.pids):
                st = _stat(pid)
                if st is not None and st[3] == started:  # not a later process with its pid
                    self.names[pid] = st[0]
                    row[i] = st[2] / self.tick
            self.times.append(time.perf_counter())
            self.each.append(row)
            self.totals.append(sum(row))

    def _run(self):
        while not self._stop.wait(self.period):
            self._record()

    def start(self):
        self._record()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._record()

    def _at(self, series, t):
        return _interpolate(self.times, series, t)

    def window(self, t0, t1):
        """The tenants' CPU between perf_counter() times t0 and t1: (ms per
        second of the window, {name: ms per second} of the three largest)."""
        if not self.times or t1 <= t0:
            return 0.0, {}
        self._record()  # the window may end after the last sample
        secs = t1 - t0
        with self._lock:
            total = (self._at(self.totals, t1) - self._at(self.totals, t0)) * 1e3 / secs
            i0 = max(0, bisect.bisect_left(self.times, t0) - 1)
            i1 = min(len(self.times), bisect.bisect_left(self.times, t1) + 1)
            times, each = self.times[i0:i1], self.each[i0:i1]
        by_name = {}
        for k, (pid, _) in enumerate(self.pids):
            ms = (_interpolate(times, [e[k] for e in each], t1) -
                  _interpolate(times, [e[k] for e in each], t0)) * 1e3 / secs
            if ms > 0:
                name = self.names.get(pid, str(pid))
                by_name[name] = by_name.get(name, 0.0) + ms
        top = dict(sorted(by_name.items(), key=lambda kv: -kv[1])[:3])
        return total, {k: round(v, 1) for k, v in top.items()}
