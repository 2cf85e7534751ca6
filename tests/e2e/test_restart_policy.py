"""Restart policies with Docker's back-off."""
import json
import time


def inspect(daemon, cid):
    return json.loads(daemon.cli("inspect", cid).stdout)[0]


def start_times(daemon, cid, since):
    st, _ = daemon.api("GET", "/_ping")
    conn = __import__("conftest").UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/events?since=%s&until=%.9f&filters=%s" % (
        since, time.time(), '{"event":{"start":true}}'))
    events = [json.loads(l) for l in conn.getresponse().read().decode().splitlines() if l.strip()]
    return [e["timeNano"] / 1e9 for e in events if e["Actor"]["ID"] == cid]


def wait_for(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_on_failure_with_max_retries_and_backoff(daemon):
    since = "%.9f" % time.time()
    cid = daemon.cli("run", "-d", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 3").stdout.strip()
    assert len(cid) == 64
    assert wait_for(lambda: inspect(daemon, cid)["RestartCount"] == 3 and
                    inspect(daemon, cid)["State"]["Status"] == "exited")
    time.sleep(1.0)  # no fourth start
    info = inspect(daemon, cid)
    assert info["RestartCount"] == 3 and info["State"]["ExitCode"] == 3
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    starts = start_times(daemon, cid, since)
    assert len(starts) == 4
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps[0] < gaps[1] < gaps[2], gaps  # back-off grows
    daemon.cli("rm", cid)


def test_on_failure_does_not_restart_success(daemon):
    cid = daemon.cli("run", "-d", "--restart", "on-failure", "busybox", "true").stdout.strip()
    daemon.cli("wait", cid)
    time.sleep(0.5)
    info = inspect(daemon, cid)
    assert info["RestartCount"] == 0 and info["State"]["Status"] == "exited"
    daemon.cli("rm", cid)


def test_always_until_stopped(daemon):
    cid = daemon.cli("run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 0.1").stdout.strip()
    assert wait_for(lambda: inspect(daemon, cid)["RestartCount"] >= 2)
    assert daemon.cli("stop", "-t", "1", cid).returncode == 0
    count = inspect(daemon, cid)["RestartCount"]
    time.sleep(1.5)
    info = inspect(daemon, cid)
    assert info["RestartCount"] == count and info["State"]["Status"] == "exited"
    assert daemon.cli("rm", "-f", cid).returncode == 0


def test_bad_restart_options(daemon):
    r = daemon.cli("run", "--rm", "--restart", "always", "busybox", "true")
    assert r.returncode == 125 and "Conflicting options" in r.stderr
    r = daemon.cli("run", "-d", "--restart", "sometimes", "busybox", "true")
    assert r.returncode == 125 and "invalid restart policy" in r.stderr
    r = daemon.cli("run", "-d", "--restart", "always:3", "busybox", "true")
    assert r.returncode == 125 and "maximum retry count" in r.stderr


def test_docker_cli_restart_policy(daemon, docker):
    cid = docker("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1").stdout.strip()
    assert wait_for(lambda: docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", cid).stdout.strip() == "2 exited")
    assert docker("rm", cid).returncode == 0
