"""Healthchecks (issue 3): --health-* flags and the image's HEALTHCHECK,
State.Health, (healthy) in ps, health_status events, docker CLI."""
import json
import os
import time

from conftest import UnixHTTPConnection, make_busybox_tar
from test_layers import docker_save


def state(daemon, ref):
    r = daemon.cli("inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]["State"]


def wait_health(daemon, ref, status, timeout=15):
    deadline = time.time() + timeout
    h = None
    while time.time() < deadline:
        h = state(daemon, ref).get("Health")
        if h and h["Status"] == status:
            return h
        time.sleep(0.1)
    raise AssertionError("health of %s never became %s: %s" % (ref, status, h))


def test_health_cmd_healthy_then_unhealthy(daemon):
    since = "%.9f" % time.time()
    r = daemon.cli("run", "-d", "--name", "hc", "--health-cmd", "test ! -e /tmp/broken && echo fine",
                   "--health-interval", "200ms", "--health-retries", "2", "--health-timeout", "2s",
                   "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert state(daemon, cid)["Health"]["Status"] == "starting"
    ps = daemon.cli("ps", "--filter", "name=hc").stdout
    assert "(health: starting)" in ps or "(healthy)" in ps
    h = wait_health(daemon, cid, "healthy")
    assert h["FailingStreak"] == 0
    assert h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
    assert "(healthy)" in daemon.cli("ps", "--filter", "name=hc").stdout
    assert daemon.cli("ps", "-q", "--filter", "health=healthy").stdout.split() == [cid[:12]]
    assert daemon.cli("ps", "-q", "--filter", "health=unhealthy").stdout.split() == []
    assert daemon.cli("exec", cid, "touch", "/tmp/broken").returncode == 0
    h = wait_health(daemon, cid, "unhealthy")
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
    assert len(h["Log"]) <= 5
    assert "(unhealthy)" in daemon.cli("ps", "--filter", "name=hc").stdout
    # Probes are not user execs.
    assert json.loads(daemon.cli("inspect", cid).stdout)[0]["ExecIDs"] is None
    until = "%.9f" % (time.time() + 0.2)
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/events?since=%s&until=%s" % (since, until))
    actions = [json.loads(l)["Action"] for l in conn.getresponse().read().decode().splitlines() if l.strip()]
    conn.close()
    assert "health_status: healthy" in actions and "health_status: unhealthy" in actions
    assert actions.index("health_status: healthy") < actions.index("health_status: unhealthy")
    daemon.cli("rm", "-f", cid)


def test_health_timeout_counts_as_failure(daemon):
    r = daemon.cli("run", "-d", "--health-cmd", "sleep 5", "--health-interval", "100ms",
                   "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "300")
    cid = r.stdout.strip()
    h = wait_health(daemon, cid, "unhealthy")
    assert h["Log"][-1]["ExitCode"] == -1
    assert "Health check exceeded timeout" in h["Log"][-1]["Output"]
    daemon.cli("rm", "-f", cid)


def test_image_healthcheck_and_no_healthcheck(daemon, tmp_path):
    rootfs = make_busybox_tar(str(tmp_path / "rootfs.tar"))
    with open(rootfs, "rb") as f:
        layer = f.read()
    archive = docker_save(str(tmp_path / "img.tar"), [layer], "hcimage:latest")
    # docker_save writes a fixed config; add the HEALTHCHECK to it.
    import tarfile, io, hashlib  # noqa: E401
    with tarfile.open(archive) as t:
        members = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    cfg = json.loads(members["config.json"])
    cfg["config"]["Healthcheck"] = {"Test": ["CMD-SHELL", "echo from-image"], "Interval": 200000000}
    members["config.json"] = json.dumps(cfg).encode()
    with tarfile.open(archive, "w") as t:
        for name, data in members.items():
            i = tarfile.TarInfo(name)
            i.size = len(data)
            t.addfile(i, io.BytesIO(data))
    r = daemon.cli("load", "-i", archive)
    assert r.returncode == 0, r.stderr
    cid = daemon.cli("run", "-d", "hcimage", "sleep", "300").stdout.strip()
    h = wait_health(daemon, cid, "healthy")
    assert h["Log"][-1]["Output"] == "from-image\n"
    cid2 = daemon.cli("run", "-d", "--no-healthcheck", "hcimage", "sleep", "300").stdout.strip()
    time.sleep(0.6)
    assert "Health" not in state(daemon, cid2)
    # Request fields override the image's one by one.
    cid3 = daemon.cli("run", "-d", "--health-cmd", "echo mine", "hcimage", "sleep", "300").stdout.strip()
    h = wait_health(daemon, cid3, "healthy")
    assert h["Log"][-1]["Output"] == "mine\n"
    r = daemon.cli("run", "-d", "--no-healthcheck", "--health-cmd", "true", "hcimage", "true")
    assert r.returncode != 0 and "conflicts" in r.stderr
    r = daemon.cli("run", "-d", "--health-interval", "bogus", "busybox", "true")
    assert r.returncode != 0 and "invalid" in r.stderr
    for c in (cid, cid2, cid3):
        daemon.cli("rm", "-f", c)
    daemon.cli("rmi", "hcimage")


def test_health_stops_with_the_container_and_restarts(daemon):
    cid = daemon.cli("run", "-d", "--health-cmd", "true", "--health-interval", "100ms",
                     "busybox", "sleep", "300").stdout.strip()
    wait_health(daemon, cid, "healthy")
    assert daemon.cli("stop", "-t", "0", cid).returncode == 0
    n = len(state(daemon, cid)["Health"]["Log"])
    time.sleep(0.5)
    assert len(state(daemon, cid)["Health"]["Log"]) == n
    assert daemon.cli("start", cid).returncode == 0
    assert state(daemon, cid)["Health"]["Status"] == "starting"
    wait_health(daemon, cid, "healthy")
    daemon.cli("rm", "-f", cid)


def test_docker_cli_health(daemon, docker):
    r = docker("run", "-d", "--health-cmd", "true", "--health-interval", "200ms", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    wait_health(daemon, cid, "healthy")
    r = docker("ps", "--format", "{{.Status}}", "--filter", "id=" + cid)
    assert "(healthy)" in r.stdout, r.stdout + r.stderr
    r = docker("inspect", "-f", "{{.State.Health.Status}}", cid)
    assert r.stdout.strip() == "healthy"
    docker("rm", "-f", cid)
