"""--time-offset (a berth extension: the container's own time namespace).
The offsets are visible inside (uptime reads CLOCK_BOOTTIME, the probe both
clocks through the vDSO), in the container's init and in `exec`, while the
host's clocks are untouched; a container without the flag reads the host's
clocks; bad values are clear errors (exit 125, nothing created); inspect
shows the setting."""
import json
import os
import time

import pytest

DAY = 86400
# Slack for the time between the host's reading and the container's.
SLACK = 30


def clocks(text):
    """{"monotonic": s, "boottime": s, "realtime": s} from `probe clocks`."""
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition("=")
        out[k] = float(v)
    return out


def host_clocks():
    return {"monotonic": time.clock_gettime(time.CLOCK_MONOTONIC),
            "boottime": time.clock_gettime(time.CLOCK_BOOTTIME),
            "realtime": time.time()}


def host_uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def assert_offset(inside, before, after, clock, offset):
    lo, hi = before[clock] + offset, after[clock] + offset
    assert lo - 1 <= inside[clock] <= hi + 1, (clock, inside[clock], lo, hi)


def container_ids(daemon):
    return sorted(daemon.cli("ps", "-a", "-q", "--no-trunc").stdout.split())


OFFSET_FLAGS = ("--time-offset", "monotonic=%d,boottime=%d" % (DAY, 2 * DAY))


def test_offsets_visible_inside_host_clock_untouched(daemon):
    before = host_clocks()
    r = daemon.cli("run", "--rm", *OFFSET_FLAGS, "busybox", "sh", "-c", "/probe clocks; cat /proc/uptime")
    after = host_clocks()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    inside = clocks("\n".join(lines[:3]))
    assert_offset(inside, before, after, "monotonic", DAY)
    assert_offset(inside, before, after, "boottime", 2 * DAY)
    # CLOCK_REALTIME is not namespaced.
    assert abs(inside["realtime"] - after["realtime"]) < SLACK
    uptime = float(lines[3].split()[0])
    assert uptime >= 2 * DAY
    assert before["boottime"] + 2 * DAY - 1 <= uptime <= after["boottime"] + 2 * DAY + 1
    # The host's uptime is still its own boottime.
    assert abs(host_uptime() - time.clock_gettime(time.CLOCK_BOOTTIME)) < 2
    assert time.clock_gettime(time.CLOCK_MONOTONIC) < before["monotonic"] + SLACK


def test_uptime_and_init(daemon):
    # busybox uptime reads sysinfo(2), which the time namespace offsets too.
    # Whole days of the host's uptime plus the 2 days of the offset (either
    # side of a day boundary the host may cross meanwhile).
    before = host_uptime()
    r = daemon.cli("run", "--rm", *OFFSET_FLAGS, "busybox", "uptime")
    after = host_uptime()
    assert r.returncode == 0, r.stderr
    days = {int((t + 2 * DAY) // DAY) for t in (before, after)}
    assert any("up %d days" % d in r.stdout for d in days), (days, r.stdout)
    # With --init, berth-init's execve enters the namespace; the command it
    # forks inherits it.
    r = daemon.cli("run", "--rm", "--init", *OFFSET_FLAGS, "busybox", "sh", "-c",
                   "tr '\\0' ' ' < /proc/1/cmdline; echo; cat /proc/uptime")
    assert r.returncode == 0, r.stderr
    cmdline, uptime = r.stdout.splitlines()
    assert cmdline.startswith("/sbin/docker-init"), cmdline
    assert float(uptime.split()[0]) >= 2 * DAY


def test_only_one_clock_and_negative_and_fractional(daemon):
    before = host_clocks()
    r = daemon.cli("run", "--rm", "--time-offset", "boottime=-1.5s", "busybox", "/probe", "clocks")
    after = host_clocks()
    assert r.returncode == 0, r.stderr
    inside = clocks(r.stdout)
    assert_offset(inside, before, after, "boottime", -1.5)
    assert_offset(inside, before, after, "monotonic", 0)


def test_exec_joins_the_time_namespace(daemon):
    r = daemon.cli("run", "-d", *OFFSET_FLAGS, "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        for _ in range(2):  # twice: each exec joins on its own
            before = host_clocks()
            e = daemon.cli("exec", cid, "/probe", "clocks")
            after = host_clocks()
            assert e.returncode == 0, e.stderr
            inside = clocks(e.stdout)
            assert_offset(inside, before, after, "monotonic", DAY)
            assert_offset(inside, before, after, "boottime", 2 * DAY)
        e = daemon.cli("exec", cid, "cat", "/proc/uptime")
        assert e.returncode == 0, e.stderr
        assert float(e.stdout.split()[0]) >= 2 * DAY
        # The container's init itself (PID 1) is in the namespace: the
        # uptime seen through a shell that its exec forks.
        e = daemon.cli("exec", cid, "sh", "-c", "cut -d' ' -f1 /proc/uptime")
        assert float(e.stdout) >= 2 * DAY
        # inspect shows the setting.
        info = json.loads(daemon.cli("inspect", cid).stdout)[0]
        assert info["HostConfig"]["BerthTimeOffsets"] == {"monotonic": DAY, "boottime": 2 * DAY}
        # One namespace: the init's (not the host's), the exec's the same.
        init_ns = os.readlink("/proc/%d/ns/time" % info["State"]["Pid"])
        assert init_ns != os.readlink("/proc/self/ns/time")
        e = daemon.cli("exec", cid, "sh", "-c", "readlink /proc/$$/ns/time; readlink /proc/$$/ns/time_for_children")
        assert e.stdout.split() == [init_ns, init_ns], (e.stdout, init_ns)
    finally:
        daemon.cli("rm", "-f", cid)


def test_restart_keeps_the_offsets(daemon):
    r = daemon.cli("run", "-d", *OFFSET_FLAGS, "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert daemon.cli("restart", "-t", "0", cid).returncode == 0
        e = daemon.cli("exec", cid, "cat", "/proc/uptime")
        assert e.returncode == 0, e.stderr
        assert float(e.stdout.split()[0]) >= 2 * DAY
    finally:
        daemon.cli("rm", "-f", cid)


def test_without_the_flag_the_hosts_clocks(daemon):
    before = host_clocks()
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "/probe clocks; cat /proc/uptime")
    after = host_clocks()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    inside = clocks("\n".join(lines[:3]))
    assert_offset(inside, before, after, "monotonic", 0)
    assert_offset(inside, before, after, "boottime", 0)
    assert before["boottime"] - 1 <= float(lines[3].split()[0]) <= after["boottime"] + 1
    r = daemon.cli("run", "-d", "busybox", "sleep", "60")
    cid = r.stdout.strip()
    try:
        hc = json.loads(daemon.cli("inspect", cid).stdout)[0]["HostConfig"]
        assert "BerthTimeOffsets" not in hc
        e = daemon.cli("exec", cid, "/probe", "clocks")
        assert e.returncode == 0, e.stderr
        assert abs(clocks(e.stdout)["boottime"] - time.clock_gettime(time.CLOCK_BOOTTIME)) < SLACK
        # Host and container share the time namespace.
        pid = json.loads(daemon.cli("inspect", cid).stdout)[0]["State"]["Pid"]
        assert os.readlink("/proc/%d/ns/time" % pid) == os.readlink("/proc/self/ns/time")
    finally:
        daemon.cli("rm", "-f", cid)


@pytest.mark.parametrize("value,message", [
    ("realtime=5", 'unknown clock "realtime"'),
    ("monotonic=abc", '"abc" is not a number of seconds'),
    ("monotonic", "expected CLOCK=SECONDS"),
    ("monotonic=1,monotonic=2", "given twice"),
    ("monotonic=99999999999", "out of range"),
    ("boottime=-999999999999", "out of range"),
    ("boottime=-4000000000", "would be negative"),
    ("monotonic=4611686018", "kernel's limit"),
])
def test_bad_values_are_refused(daemon, value, message):
    before = container_ids(daemon)
    r = daemon.cli("run", "--rm", "--time-offset", value, "busybox", "true")
    assert r.returncode == 125, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert container_ids(daemon) == before


def test_api_field_checked_and_shown(daemon):
    body = {"Image": "busybox", "Cmd": ["cat", "/proc/uptime"],
            "HostConfig": {"NetworkMode": "none", "BerthTimeOffsets": {"boottime": 3 * DAY}}}
    st, created = daemon.api("POST", "/containers/create", body)
    assert st == 201, created
    cid = created["Id"]
    try:
        st, info = daemon.api("GET", "/containers/%s/json" % cid)
        assert st == 200
        assert info["HostConfig"]["BerthTimeOffsets"] == {"boottime": 3 * DAY}
        st, _ = daemon.api("POST", "/containers/%s/start" % cid)
        assert st == 204
        st, waited = daemon.api("POST", "/containers/%s/wait" % cid)
        assert st == 200 and waited["StatusCode"] == 0, waited
        logs = daemon.cli("logs", cid)
        assert float(logs.stdout.split()[0]) >= 3 * DAY
    finally:
        daemon.cli("rm", "-f", cid)
    for bad, message in [({"monotonic": "1"}, "must be a number of seconds"),
                         ({"tai": 1}, 'unknown clock "tai"'),
                         ([1], "must be an object")]:
        body["HostConfig"]["BerthTimeOffsets"] = bad
        st, err = daemon.api("POST", "/containers/create", body)
        assert st == 400, (st, err)
        assert message in err["message"], err
