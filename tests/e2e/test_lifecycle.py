"""stop, kill, restart and the events stream (part of the lifecycle issue)."""
import json
import subprocess
import time

import pytest

from conftest import UnixHTTPConnection


def state(daemon, ref):
    return json.loads(daemon.cli("inspect", ref).stdout)[0]["State"]


def test_stop_sigterm_then_timeout_kill(daemon):
    # PID 1 sh ignores SIGTERM unless it traps it: stop waits -t, then SIGKILLs.
    cid = daemon.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    t0 = time.monotonic()
    r = daemon.cli("stop", "-t", "1", cid)
    took = time.monotonic() - t0
    assert r.returncode == 0 and r.stdout.strip() == cid
    assert 0.9 <= took < 10, took
    st = state(daemon, cid)
    assert st["Status"] == "exited" and st["ExitCode"] == 137
    # Stopping a stopped container is not an error (304 under the hood).
    assert daemon.cli("stop", cid).returncode == 0
    daemon.cli("rm", cid)


def test_stop_with_trap_exits_cleanly(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done").stdout.strip()
    time.sleep(0.3)
    t0 = time.monotonic()
    assert daemon.cli("stop", "-t", "10", cid).returncode == 0
    assert time.monotonic() - t0 < 5
    assert state(daemon, cid)["ExitCode"] == 0
    daemon.cli("rm", cid)


def test_kill_with_signal_and_not_running(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sh", "-c", "trap 'exit 12' USR1; while true; do sleep 0.1; done").stdout.strip()
    time.sleep(0.3)
    assert daemon.cli("kill", "-s", "USR1", cid).returncode == 0
    assert daemon.cli("wait", cid).stdout.strip() == "12"
    r = daemon.cli("kill", cid)
    assert r.returncode == 1 and "is not running" in r.stderr
    r = daemon.cli("kill", "-s", "NOSUCHSIG", cid)
    assert r.returncode == 1
    daemon.cli("rm", cid)


def test_restart(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sh", "-c", "echo run; sleep 60").stdout.strip()
    pid1 = state(daemon, cid)["Pid"]
    assert daemon.cli("restart", "-t", "0", cid).returncode == 0
    st = state(daemon, cid)
    assert st["Running"] and st["Pid"] != pid1
    assert daemon.cli("logs", cid).stdout == "run\nrun\n"
    daemon.cli("rm", "-f", cid)


def test_events_since_until_and_filters(daemon):
    since = "%.9f" % time.time()
    cid = daemon.cli("run", "-d", "--name", "evented", "busybox", "sh", "-c", "exit 4").stdout.strip()
    daemon.cli("wait", cid)
    daemon.cli("rm", cid)
    until = "%.9f" % (time.time() + 0.5)
    st, _ = daemon.api("GET", "/_ping")
    conn = __import__("conftest").UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/events?since=%s&until=%s" % (since, until))
    resp = conn.getresponse()
    events = [json.loads(l) for l in resp.read().decode().splitlines() if l.strip()]
    mine = [e for e in events if e["Actor"]["ID"] == cid]
    assert [e["Action"] for e in mine] == ["create", "start", "die", "destroy"]
    die = mine[2]
    assert die["Actor"]["Attributes"]["exitCode"] == "4" and die["Actor"]["Attributes"]["name"] == "evented"
    assert die["status"] == "die" and die["from"] == "busybox" and die["Type"] == "container"
    r = daemon.cli("events", "--since", since, "--until", until, "-f", "event=die", "-f", "container=evented")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and " container die " + cid in lines[0] and "exitCode=4" in lines[0]


def test_events_live_stream(daemon):
    p = subprocess.Popen([__import__("conftest").BERTH, "-H", daemon.host, "--no-autostart", "events",
                          "-f", "event=start"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        cid = daemon.cli("run", "-d", "busybox", "true").stdout.strip()
        line = p.stdout.readline()
        assert " container start " + cid in line
    finally:
        p.kill()
        p.wait()
    daemon.cli("rm", "-f", cid)


def test_docker_cli_stop_kill_restart_events(daemon, docker):
    cid = docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    assert docker("restart", "-t", "0", cid).returncode == 0
    assert docker("kill", cid).returncode == 0
    assert docker("wait", cid).stdout.strip() == "137"
    time.sleep(1.1)  # the CLI sends whole seconds: let "now" pass the events
    r = docker("events", "--since", "1m", "--until", "0s", "--filter", "container=" + cid)
    assert r.returncode == 0
    assert "restart" in r.stdout and "kill" in r.stdout and "die" in r.stdout
    cid2 = docker("run", "-d", "busybox", "sleep", "60").stdout.strip()
    assert docker("stop", "-t", "1", cid2).returncode == 0
    assert docker("ps", "-q").stdout.strip() == ""
    docker("rm", cid, cid2)


def test_container_prune(daemon, docker):
    running = daemon.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    exited = daemon.cli("run", "-d", "busybox", "true").stdout.strip()
    created = daemon.cli("create", "busybox", "true").stdout.strip()
    daemon.cli("wait", exited)
    r = docker("container", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert exited in r.stdout and created in r.stdout and running not in r.stdout
    ids = daemon.cli("ps", "-a", "-q", "--no-trunc").stdout.split()
    assert ids == [running]
    daemon.cli("rm", "-f", running)


def test_stop_many_runs_concurrently(daemon):
    # Three processes that ignore SIGTERM: stopped one after another, each
    # would get its SIGKILL before the next got its SIGTERM. Stopped at once,
    # every SIGTERM goes out before the first container dies.
    since = "%.9f" % time.time()
    ids = [daemon.cli("run", "-d", "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done").stdout.strip()
           for _ in range(3)]
    time.sleep(0.3)  # let the traps be set
    r = daemon.cli("stop", "-t", "1", *ids)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ids  # printed in the order given
    fmt = daemon.cli("events", "--since", since, "--until", "%.9f" % (time.time() + 0.1),
                     "--filter", "event=die", "--format", "{{.Action}} {{.Actor.Attributes.exitCode}} {{json .id}}")
    assert fmt.returncode == 0, fmt.stderr
    assert sorted(fmt.stdout.splitlines()) == sorted('die 137 "%s"' % c for c in ids)
    until = "%.9f" % (time.time() + 0.1)
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/events?since=%s&until=%s" % (since, until))
    evs = [json.loads(x) for x in conn.getresponse().read().decode().splitlines() if x.strip()]
    conn.close()
    seq = [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"].get("signal")) for e in evs
           if e["Actor"]["ID"] in ids and e["Action"] in ("kill", "die")]
    first_die = next(i for i, x in enumerate(seq) if x[0] == "die")
    assert sorted(x[1] for x in seq[:first_die] if x[2] == "15") == sorted(ids), seq
    for cid in ids:
        assert json.loads(daemon.cli("inspect", cid).stdout)[0]["State"]["ExitCode"] == 137
        daemon.cli("rm", cid)
