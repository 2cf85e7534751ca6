"""stats, top and update (issue 3), from the API, the berth CLI, the docker CLI
and docker-py: Docker's JSON shapes, numbers that follow what the container
does, the processes of its cgroup, and limits rewritten in the cgroup files
the kernel reads (v1 names on this hybrid machine, cgroup2 names on a
unified host)."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BERTH, UnixHTTPConnection
from test_limits import UNIFIED, inspect, knob

MiB = 1 << 20
BUSY = "while :; do :; done"
# A shell variable of 40 MB (after 2 s, so that a reading before it is small).
# The final ":" keeps the shell (ash would exec a last simple command).
GROW = "sleep 2; x=$(head -c 40000000 /dev/zero | tr '\\0' x); echo grown; sleep 300; :"
HEADER = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]


def run_d(daemon, *args):
    r = daemon.cli("run", "-d", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def stats(daemon, ref, query="stream=0"):
    st, body = daemon.api("GET", "/containers/%s/stats?%s" % (ref, query))
    assert st == 200, body
    return body


def cpu_percent(s):
    """The docker CLI's formula."""
    cpu = s["cpu_stats"]["cpu_usage"]["total_usage"] - s["precpu_stats"]["cpu_usage"]["total_usage"]
    system = s["cpu_stats"].get("system_cpu_usage", 0) - s["precpu_stats"].get("system_cpu_usage", 0)
    if cpu <= 0 or system <= 0:
        return 0.0
    return cpu / system * s["cpu_stats"]["online_cpus"] * 100


def memory_used(s):
    m = s["memory_stats"]
    cache = m["stats"].get("total_inactive_file", m["stats"].get("inactive_file", 0))
    return m["usage"] - cache if cache < m["usage"] else m["usage"]


def wait_for_log(daemon, cid, text, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in daemon.cli("logs", cid).stdout:
            return
        time.sleep(0.1)
    raise AssertionError("no %r in the logs of %s" % (text, cid))


def test_stats_follow_cpu_and_memory(daemon):
    busy = run_d(daemon, "--name", "st-busy", "busybox", "sh", "-c", BUSY)
    grow = run_d(daemon, "--name", "st-grow", "busybox", "sh", "-c", GROW)
    try:
        # one-shot: a single reading at once, precpu left empty.
        t0 = time.time()
        small = stats(daemon, grow, "stream=0&one-shot=1")
        assert time.time() - t0 < 0.9
        assert small["precpu_stats"]["cpu_usage"]["total_usage"] == 0
        assert small["preread"] == "0001-01-01T00:00:00Z"
        assert memory_used(small) < 10 * MiB, small["memory_stats"]

        # Without one-shot the daemon takes two readings a second apart.
        t0 = time.time()
        s = stats(daemon, busy)
        assert 0.9 < time.time() - t0 < 5
        assert list(s)[:9] == ["read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
                               "cpu_stats", "precpu_stats", "memory_stats"]
        assert s["name"] == "/st-busy" and s["id"] == busy
        assert "networks" not in s  # network none: only lo, which Docker does not report
        assert s["pids_stats"]["current"] == 1
        assert s["cpu_stats"]["online_cpus"] == len([l for l in open("/proc/stat") if re.match(r"cpu\d", l)])
        assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"]
        # A busy loop keeps about one CPU busy: far above a sleeping container.
        assert cpu_percent(s) > 30, s["cpu_stats"]
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] - s["precpu_stats"]["cpu_usage"]["total_usage"] > 3e8
        if not UNIFIED:
            assert len(s["cpu_stats"]["cpu_usage"]["percpu_usage"]) >= 1
            assert "max_usage" in s["memory_stats"] and "total_inactive_file" in s["memory_stats"]["stats"]
            assert isinstance(s["blkio_stats"]["io_service_bytes_recursive"], list)
        host_mem = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1)) * 1024
        assert s["memory_stats"]["limit"] == host_mem  # no limit: the host's memory, as Docker
        assert list(s["memory_stats"]["stats"]) == sorted(s["memory_stats"]["stats"])

        # The memory reading follows the shell's 40 MB variable.
        wait_for_log(daemon, grow, "grown")
        big = stats(daemon, grow, "stream=0&one-shot=1")
        assert memory_used(big) > memory_used(small) + 30 * MiB, (small["memory_stats"], big["memory_stats"])
        idle = stats(daemon, grow)
        assert cpu_percent(idle) < 20
    finally:
        daemon.cli("rm", "-f", busy, grow)


def test_stats_stream_one_object_a_second(daemon):
    cid = run_d(daemon, "-m", "64m", "busybox", "sleep", "300")
    try:
        conn = UnixHTTPConnection(daemon.sock, timeout=20)
        conn.request("GET", "/v1.41/containers/%s/stats" % cid[:12])
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
        frames = [json.loads(resp.readline()) for _ in range(3)]
        conn.close()
        for before, after in zip(frames, frames[1:]):
            assert after["preread"] == before["read"]
            assert after["precpu_stats"] == before["cpu_stats"]
        assert frames[0]["memory_stats"]["limit"] == 64 * MiB
        assert frames[0]["id"] == cid
    finally:
        daemon.cli("rm", "-f", cid)
    st, body = daemon.api("GET", "/containers/%s/stats?stream=1&one-shot=1" % "nosuch")
    assert st == 404


def test_stats_of_a_stopped_container_are_zero(daemon):
    r = daemon.cli("create", "--name", "st-stopped", "busybox", "true")
    assert r.returncode == 0, r.stderr
    try:
        s = stats(daemon, "st-stopped")
        assert s["read"] == "0001-01-01T00:00:00Z"
        assert s["memory_stats"] == {} and s["pids_stats"] == {}
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] == 0
        assert s["blkio_stats"]["io_service_bytes_recursive"] is None
        assert s["name"] == "/st-stopped"
        r = daemon.cli("stats", "--no-stream", "st-stopped")
        assert r.returncode == 0, r.stderr
        row = re.split(r"\s{2,}", r.stdout.splitlines()[1])
        assert row[1:] == ["st-stopped", "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"], r.stdout
    finally:
        daemon.cli("rm", "-f", "st-stopped")


def test_stats_cli_no_stream_table(daemon):
    busy = run_d(daemon, "--name", "st-cli-busy", "busybox", "sh", "-c", BUSY)
    capped = run_d(daemon, "--name", "st-cli-capped", "-m", "32m", "busybox", "sleep", "300")
    try:
        r = daemon.cli("stats", "--no-stream")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert re.split(r"\s{2,}", lines[0]) == HEADER
        rows = {re.split(r"\s{2,}", l)[1]: re.split(r"\s{2,}", l) for l in lines[1:]}
        assert rows["st-cli-busy"][0] == busy[:12]
        assert float(rows["st-cli-busy"][2].rstrip("%")) > 30
        assert rows["st-cli-capped"][3].endswith(" / 32MiB"), rows
        assert float(rows["st-cli-capped"][4].rstrip("%")) < 50
        assert rows["st-cli-capped"][5] == "0B / 0B" and rows["st-cli-capped"][7] == "1"
        # Named containers, full ids, and a template.
        r = daemon.cli("stats", "--no-stream", "--no-trunc", "st-cli-capped")
        assert r.returncode == 0 and r.stdout.splitlines()[1].startswith(capped), r.stdout
        r = daemon.cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", "st-cli-capped")
        assert r.returncode == 0, r.stderr
        assert re.fullmatch(r"st-cli-capped 1 [\d.]+[KM]iB / 32MiB\n", r.stdout), r.stdout
        r = daemon.cli("stats", "--no-stream", "--format", "table {{.Container}}\\t{{.CPUPerc}}", "st-cli-busy")
        assert re.split(r"\s{2,}", r.stdout.splitlines()[0]) == ["CONTAINER", "CPU %"], r.stdout
        r = daemon.cli("stats", "--no-stream", "nosuchcontainer")
        assert r.returncode == 1 and "No such container: nosuchcontainer" in r.stderr
    finally:
        daemon.cli("rm", "-f", busy, capped)


def test_stats_cli_streams_until_interrupted(daemon):
    cid = run_d(daemon, "--name", "st-live", "busybox", "sh", "-c", BUSY)
    proc = subprocess.Popen([BERTH, "-H", daemon.host, "--no-autostart", "stats", "st-live"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(4.5)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        daemon.cli("rm", "-f", cid)
    screens = [s for s in out.decode().split("\033[2J\033[H") if s.strip()]
    assert len(screens) >= 2, (out, err)
    last = screens[-1].splitlines()
    assert re.split(r"\s{2,}", last[0]) == HEADER
    row = re.split(r"\s{2,}", last[1])
    assert row[1] == "st-live" and float(row[2].rstrip("%")) > 30, screens


def test_top_lists_the_processes_of_the_container(daemon):
    cid = run_d(daemon, "--name", "top-c", "busybox", "sh", "-c", "sleep 301 & sleep 302; :")
    try:
        want = {"sh -c sleep 301 & sleep 302; :", "sleep 301", "sleep 302"}
        deadline = time.time() + 10
        while True:
            st, body = daemon.api("GET", "/containers/top-c/top")
            assert st == 200, body
            by_cmd = {p[7]: p for p in body["Processes"]}
            # (A child shows the shell's command line until it has exec'd.)
            if set(by_cmd) == want or time.time() > deadline:
                break
            time.sleep(0.1)
        assert body["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        assert set(by_cmd) == want, body
        sh = by_cmd["sh -c sleep 301 & sleep 302; :"]
        assert sh[1] == str(inspect(daemon, cid)["State"]["Pid"])
        for cmd in ("sleep 301", "sleep 302"):
            p = by_cmd[cmd]
            assert p[0] == "root" and p[2] == sh[1] and p[5] == "?" and p[6] == "00:00:00"
            # Host pids: the process is there, running that command.
            with open("/proc/%s/cmdline" % p[1], "rb") as f:
                assert f.read().split(b"\0")[:2] == cmd.encode().split()
            assert re.fullmatch(r"\d\d:\d\d", p[4])

        r = daemon.cli("top", "top-c")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split() == body["Titles"]
        assert lines[0].startswith("UID                 PID                 PPID")  # docker's 20-wide columns
        assert any(l.endswith("sleep 301") for l in lines[1:])

        if os.path.exists("/bin/ps") or os.path.exists("/usr/bin/ps"):
            r = daemon.cli("top", "top-c", "-o", "pid,args")
            assert r.returncode == 0, r.stderr
            lines = r.stdout.splitlines()
            assert lines[0].split() == ["PID", "COMMAND"]
            assert sorted(l.split(None, 1)[1] for l in lines[1:]) == sorted(by_cmd), r.stdout
        st, body = daemon.api("GET", "/containers/top-c/top?ps_args=" + "-o%20user%3DPID")
        assert st == 400 and body["message"] == 'specifying "user=PID" is not allowed'
    finally:
        daemon.cli("rm", "-f", cid)


def test_top_of_a_stopped_container(daemon):
    r = daemon.cli("create", "--name", "top-stopped", "busybox", "true")
    assert r.returncode == 0
    cid = r.stdout.strip()
    try:
        st, body = daemon.api("GET", "/containers/top-stopped/top")
        assert st == 409 and body["message"] == "Container %s is not running" % cid
        r = daemon.cli("top", "top-stopped")
        assert r.returncode == 1 and "is not running" in r.stderr
    finally:
        daemon.cli("rm", "-f", cid)


def cgroup_knobs(daemon, cid):
    if UNIFIED:
        return {"memory": knob(daemon, cid, "memory.max"), "cpu": knob(daemon, cid, "cpu.max"),
                "pids": knob(daemon, cid, "pids.max")}
    return {"memory": knob(daemon, cid, "memory.limit_in_bytes"), "cpu": knob(daemon, cid, "cpu.cfs_quota_us"),
            "pids": knob(daemon, cid, "pids.max")}


def cpu_knob(nano):
    quota = nano * 100000 // 1000000000
    return "%d 100000" % quota if UNIFIED else str(quota)


def test_update_a_running_container(daemon):
    cid = run_d(daemon, "--name", "up-run", "-m", "32m", "--cpus", "0.5", "--pids-limit", "20",
                "busybox", "sleep", "300")
    since = "%.9f" % time.time()
    try:
        assert cgroup_knobs(daemon, cid) == {"memory": str(32 * MiB), "cpu": cpu_knob(500000000), "pids": "20"}
        r = daemon.cli("update", "--memory", "64m", "--memory-swap", "128m", "--cpus", "1.5", "--pids-limit", "50",
                       "--cpu-shares", "512", "up-run")
        assert r.returncode == 0, r.stderr
        assert r.stdout == "up-run\n"
        assert cgroup_knobs(daemon, cid) == {"memory": str(64 * MiB), "cpu": cpu_knob(1500000000), "pids": "50"}
        if not UNIFIED:
            assert knob(daemon, cid, "cpu.shares") == "512"
            if knob(daemon, cid, "memory.memsw.limit_in_bytes") is not None:
                assert knob(daemon, cid, "memory.memsw.limit_in_bytes") == str(128 * MiB)
        hc = inspect(daemon, cid)["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["PidsLimit"], hc["CpuShares"]) == \
            (64 * MiB, 128 * MiB, 1500000000, 50, 512)
        # Memory alone, within the swap limit in force; the rest stays.
        r = daemon.cli("update", "-m", "48m", "up-run")
        assert r.returncode == 0, r.stderr
        assert cgroup_knobs(daemon, cid)["memory"] == str(48 * MiB)
        assert inspect(daemon, cid)["HostConfig"]["MemorySwap"] == 128 * MiB
        # -1 lifts the pids limit.
        r = daemon.cli("update", "--pids-limit", "-1", "up-run")
        assert r.returncode == 0, r.stderr
        assert knob(daemon, cid, "pids.max") == "max"
        # The restart policy.
        r = daemon.cli("update", "--restart", "on-failure:3", "up-run")
        assert r.returncode == 0, r.stderr
        assert inspect(daemon, cid)["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        conn = UnixHTTPConnection(daemon.sock)
        conn.request("GET", "/v1.41/events?since=%s&until=%.9f" % (since, time.time() + 0.3))
        evs = [json.loads(l) for l in conn.getresponse().read().decode().splitlines() if l.strip()]
        conn.close()
        assert [e["Action"] for e in evs if e["Actor"]["ID"] == cid].count("update") == 4
        # The changes survive a daemon restart (they were persisted).
        daemon.stop()
        daemon.start()
        hc = inspect(daemon, cid)["HostConfig"]
        assert (hc["Memory"], hc["NanoCpus"], hc["RestartPolicy"]["Name"]) == (48 * MiB, 1500000000, "on-failure")
    finally:
        daemon.cli("rm", "-f", cid)


def test_update_a_stopped_container_applies_at_next_start(daemon):
    r = daemon.cli("create", "--name", "up-stopped", "-m", "32m", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        r = daemon.cli("update", "-m", "40m", "--memory-swap", "80m", "--cpus", "0.25", "--pids-limit", "25",
                       "up-stopped")
        assert r.returncode == 0, r.stderr
        assert knob(daemon, cid, "pids.max") is None  # no cgroup until it starts
        hc = inspect(daemon, cid)["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"], hc["PidsLimit"]) == (40 * MiB, 80 * MiB, 250000000, 25)
        r = daemon.cli("start", "up-stopped")
        assert r.returncode == 0, r.stderr
        assert cgroup_knobs(daemon, cid) == {"memory": str(40 * MiB), "cpu": cpu_knob(250000000), "pids": "25"}
    finally:
        daemon.cli("rm", "-f", cid)


def test_update_refuses_bad_values(daemon):
    cid = run_d(daemon, "--name", "up-bad", "-m", "32m", "busybox", "sleep", "300")
    auto = run_d(daemon, "--rm", "busybox", "sleep", "300")
    try:
        ncpu = len(os.sched_getaffinity(0))
        cases = [
            (["-m", "1m"], "Minimum memory limit allowed is 6MB"),
            (["--cpus", "1000"], "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available" % (ncpu, ncpu)),
            (["--cpuset-cpus", "999"], "Requested CPUs are not available"),
            (["-m", "16m", "--memory-swap", "8m"], "Minimum memoryswap limit should be larger than memory limit"),
            # Above the swap limit in force (64m, twice the memory) without a new swap limit.
            (["-m", "100m"], "Cannot update container %s: Memory limit should be smaller than already set "
                             "memoryswap limit, update the memoryswap at the same time" % cid),
            (["--restart", "sometimes"], "invalid restart policy 'sometimes'"),
            (["-m", "12x"], "invalid size"),
        ]
        for args, message in cases:
            r = daemon.cli("update", *args, "up-bad")
            assert r.returncode == 1, (args, r.returncode, r.stdout, r.stderr)
            assert message in r.stderr, (args, r.stderr)
        # Nothing of the refused updates stuck.
        hc = inspect(daemon, cid)["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["NanoCpus"]) == (32 * MiB, 64 * MiB, 0)
        assert knob(daemon, cid, "memory.max" if UNIFIED else "memory.limit_in_bytes") == str(32 * MiB)
        r = daemon.cli("update", "up-bad")
        assert r.returncode == 1 and "you must provide one or more flags" in r.stderr
        r = daemon.cli("update", "-m", "64m", "nosuch")
        assert r.returncode == 1 and "No such container: nosuch" in r.stderr
        r = daemon.cli("update", "--restart", "always", auto)
        assert r.returncode == 1
        assert "Restart policy cannot be updated because AutoRemove is enabled for the container" in r.stderr
        st, body = daemon.api("POST", "/containers/up-bad/update", body={"CpuQuota": 50000})
        assert st == 400 and "CpuQuota is not supported yet" in body["message"]
        st, body = daemon.api("POST", "/containers/up-bad/update", body="{")
        assert st == 400
        # The answer of an update that is fine.
        st, body = daemon.api("POST", "/containers/up-bad/update", body={"CpuShares": 256})
        assert (st, body) == (200, {"Warnings": None})
    finally:
        daemon.cli("rm", "-f", cid, auto)


def test_update_below_usage_reports_the_kernel_refusal(daemon):
    if UNIFIED:
        pytest.skip("cgroup2 takes a memory.max below usage (and OOM-kills); v1 refuses it")
    if any(l.strip() for l in open("/proc/swaps").readlines()[1:]):
        pytest.skip("with swap the kernel can reclaim below usage")
    cid = run_d(daemon, "-m", "100m", "--memory-swap", "100m", "busybox", "sh", "-c", GROW.replace("sleep 2; ", ""))
    try:
        wait_for_log(daemon, cid, "grown")
        r = daemon.cli("update", "-m", "10m", "--memory-swap", "10m", cid)
        assert r.returncode == 1, r.stdout
        assert "Cannot update container %s: write 10485760 to " % cid in r.stderr, r.stderr
        assert "memory.limit_in_bytes: device or resource busy" in r.stderr, r.stderr
        info = inspect(daemon, cid)
        assert info["HostConfig"]["Memory"] == 100 * MiB and info["State"]["Running"]
        assert knob(daemon, cid, "memory.limit_in_bytes") == str(100 * MiB)
    finally:
        daemon.cli("rm", "-f", cid)


def test_docker_cli_stats_top_update(daemon, docker):  # noqa: F811
    cid = run_d(daemon, "--name", "dk-stu", "-m", "48m", "busybox", "sh", "-c", "sleep 301 & " + BUSY)
    try:
        r = docker("stats", "--no-stream")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert re.split(r"\s{2,}", lines[0]) == HEADER
        row = next(re.split(r"\s{2,}", l) for l in lines[1:] if " dk-stu " in l)
        assert row[0] == cid[:12] and float(row[2].rstrip("%")) > 30 and row[3].endswith(" / 48MiB")
        assert row[7] == "2"

        r = docker("top", "dk-stu")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        assert any(l.endswith("sleep 301") for l in lines), r.stdout

        r = docker("update", "--memory", "64m", "dk-stu")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "dk-stu"
        assert knob(daemon, cid, "memory.max" if UNIFIED else "memory.limit_in_bytes") == str(64 * MiB)
        assert inspect(daemon, cid)["HostConfig"]["Memory"] == 64 * MiB
        r = docker("update", "--memory", "1m", "dk-stu")
        assert r.returncode != 0 and "Minimum memory limit allowed is 6MB" in r.stderr
    finally:
        daemon.cli("rm", "-f", cid)


def test_docker_sdk_stats_top_update(daemon):
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=daemon.host)
    c = client.containers.run("busybox", ["sh", "-c", BUSY], detach=True, name="sdk-stu", mem_limit="32m")
    try:
        s = c.stats(stream=False)
        assert s["name"] == "/sdk-stu" and s["memory_stats"]["limit"] == 32 * MiB
        assert cpu_percent(s) > 30
        frames = c.stats(stream=True, decode=True)
        first = next(frames)
        second = next(frames)
        assert second["preread"] == first["read"]
        top = c.top()
        assert top["Titles"][1] == "PID" and top["Processes"][0][7] == "sh -c " + BUSY
        assert c.update(mem_limit="48m", memswap_limit="96m", cpu_quota=0, cpu_shares=256) == {"Warnings": None}
        assert knob(daemon, c.id, "memory.max" if UNIFIED else "memory.limit_in_bytes") == str(48 * MiB)
        c.reload()
        assert (c.attrs["HostConfig"]["Memory"], c.attrs["HostConfig"]["CpuShares"]) == (48 * MiB, 256)
    finally:
        c.remove(force=True)
