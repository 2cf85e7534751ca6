"""pause/unpause and rename, from the API, the berth CLI and the docker CLI (issue 3)."""
import json
import os
import time

from conftest import UnixHTTPConnection, cgroup_parents

TICKER = "i=0; while true; do i=$((i+1)); echo $i > /tmp/t; sleep 0.05; done"


def inspect(daemon, ref):
    r = daemon.cli("inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def ticks(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def advancing(path, span=0.5):
    a = ticks(path)
    time.sleep(span)
    return ticks(path) != a


def start_ticker(daemon, *extra):
    cid = daemon.cli("run", "-d", *extra, "busybox", "sh", "-c", TICKER).stdout.strip()
    assert cid
    upper = inspect(daemon, cid)["GraphDriver"]["Data"]["UpperDir"]
    path = os.path.join(upper, "tmp/t")
    deadline = time.time() + 10
    while ticks(path) is None and time.time() < deadline:
        time.sleep(0.05)
    assert ticks(path) is not None
    return cid, path


def container_cgroups(daemon, cid):
    return [os.path.join(p, cid) for p in cgroup_parents(daemon.root) if os.path.isdir(os.path.join(p, cid))]


def events(daemon, since, cid):
    until = "%.9f" % (time.time() + 0.3)
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/events?since=%s&until=%s" % (since, until))
    out = [json.loads(l) for l in conn.getresponse().read().decode().splitlines() if l.strip()]
    conn.close()
    return [e for e in out if e["Actor"]["ID"] == cid]


def test_pause_freezes_and_unpause_thaws(daemon):
    since = "%.9f" % time.time()
    cid, path = start_ticker(daemon)
    assert advancing(path)
    r = daemon.cli("pause", cid)
    assert r.returncode == 0 and r.stdout.strip() == cid, r.stderr
    # Every process of the container stopped: the file no longer changes.
    assert not advancing(path)
    # The kernel says so too (cgroup2 where the container has it, else the v1 freezer).
    dirs = container_cgroups(daemon, cid)
    v2 = [d for d in dirs if os.path.exists(os.path.join(d, "cgroup.freeze"))]
    states = []
    for d in v2:
        with open(os.path.join(d, "cgroup.events")) as f:
            states.append("frozen 1" in f.read().splitlines())
    for d in [] if v2 else dirs:
        if os.path.exists(os.path.join(d, "freezer.state")):
            with open(os.path.join(d, "freezer.state")) as f:
                states.append(f.read().strip() == "FROZEN")
    assert states and all(states), (dirs, states)
    # And each of its processes sits in the freezer, not merely sleeping:
    # /proc/<pid>/status says "S (sleeping)" either way, the wait channel
    # tells (do_freezer_trap is called from get_signal; v1's is __refrigerator).
    for d in v2 or dirs:
        if os.path.exists(os.path.join(d, "cgroup.procs")):
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
            break
    assert pids
    for pid in pids:
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read().strip()
        assert wchan in ("0", "", "get_signal", "do_freezer_trap", "__refrigerator"), (pid, wchan)
    st = inspect(daemon, cid)["State"]
    assert st["Status"] == "paused" and st["Paused"] is True and st["Running"] is True
    ps = daemon.cli("ps", "--no-trunc").stdout
    line = [l for l in ps.splitlines() if l.startswith(cid)]
    assert line and "(Paused)" in line[0], ps
    st_, info = daemon.api("GET", "/info")
    assert info["ContainersPaused"] >= 1
    # Twice: Docker's 409.
    r = daemon.cli("pause", cid)
    assert r.returncode == 1 and "Container %s is already paused" % cid in r.stderr, r.stderr
    code, body = daemon.api("POST", "/containers/%s/pause" % cid)
    assert code == 409 and "is already paused" in body["message"]
    r = daemon.cli("unpause", cid)
    assert r.returncode == 0 and r.stdout.strip() == cid, r.stderr
    assert advancing(path)
    st = inspect(daemon, cid)["State"]
    assert st["Status"] == "running" and st["Paused"] is False
    r = daemon.cli("unpause", cid)
    assert r.returncode == 1 and "Container %s is not paused" % cid in r.stderr, r.stderr
    mine = [e["Action"] for e in events(daemon, since, cid)]
    assert "pause" in mine and "unpause" in mine and mine.index("pause") < mine.index("unpause"), mine
    daemon.cli("rm", "-f", cid)


def test_pause_not_running(daemon):
    cid = daemon.cli("create", "busybox", "true").stdout.strip()
    code, body = daemon.api("POST", "/containers/%s/pause" % cid)
    assert code == 409 and body["message"] == "Container %s is not running" % cid
    code, body = daemon.api("POST", "/containers/%s/unpause" % cid)
    assert code == 409 and body["message"] == "Container %s is not paused" % cid
    code, _ = daemon.api("POST", "/containers/nosuchthing/pause")
    assert code == 404
    daemon.cli("rm", cid)


def test_stop_paused(daemon):
    cid, _ = start_ticker(daemon)
    assert daemon.cli("pause", cid).returncode == 0
    t0 = time.monotonic()
    r = daemon.cli("stop", "-t", "1", cid)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 10
    st = inspect(daemon, cid)["State"]
    assert st["Status"] == "exited" and st["Paused"] is False and st["ExitCode"] == 137, st
    # It starts again, not paused.
    assert daemon.cli("start", cid).returncode == 0
    st = inspect(daemon, cid)["State"]
    assert st["Running"] and not st["Paused"]
    daemon.cli("rm", "-f", cid)


def test_kill_paused(daemon):
    cid, _ = start_ticker(daemon)
    assert daemon.cli("pause", cid).returncode == 0
    assert daemon.cli("kill", cid).returncode == 0
    r = daemon.cli("wait", cid)
    assert r.stdout.strip() == "137", r.stderr
    assert inspect(daemon, cid)["State"]["Paused"] is False
    daemon.cli("rm", cid)


def test_rm_force_paused(daemon):
    cid, _ = start_ticker(daemon)
    assert daemon.cli("pause", cid).returncode == 0
    r = daemon.cli("rm", cid)
    assert r.returncode == 1 and "cannot remove a running container" in r.stderr
    r = daemon.cli("rm", "-f", cid)
    assert r.returncode == 0, r.stderr
    assert daemon.cli("inspect", cid).returncode == 1
    assert container_cgroups(daemon, cid) == []


def test_rename(daemon):
    since = "%.9f" % time.time()
    cid = daemon.cli("run", "-d", "--name", "before", "busybox", "sleep", "60").stdout.strip()
    other = daemon.cli("create", "--name", "taken", "busybox", "true").stdout.strip()
    r = daemon.cli("rename", "before", "after")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    c = inspect(daemon, "after")
    assert c["Id"] == cid and c["Name"] == "/after"
    r = daemon.cli("inspect", "before")
    assert r.returncode == 1 and "No such" in r.stderr
    ps = daemon.cli("ps").stdout
    assert "after" in ps and "before" not in ps
    # The old name is free again.
    again = daemon.cli("create", "--name", "before", "busybox", "true")
    assert again.returncode == 0, again.stderr
    r = daemon.cli("rename", "after", "taken")
    assert r.returncode == 1
    assert ('Conflict. The container name "/taken" is already in use by container "%s". You have to remove '
            '(or rename) that container to be able to reuse that name.' % other) in r.stderr, r.stderr
    code, body = daemon.api("POST", "/containers/%s/rename?name=" % cid)
    assert code == 400
    code, body = daemon.api("POST", "/containers/%s/rename?name=bad%%20name" % cid)
    assert code == 400 and "Invalid container name" in body["message"]
    code, _ = daemon.api("POST", "/containers/%s/rename?name=/final" % cid)
    assert code == 204
    assert inspect(daemon, "final")["Id"] == cid
    renames = [e for e in events(daemon, since, cid) if e["Action"] == "rename"]
    assert [(e["Actor"]["Attributes"]["oldName"], e["Actor"]["Attributes"]["name"]) for e in renames] == [
        ("/before", "after"), ("/after", "final")]
    daemon.cli("rm", "-f", cid, other, again.stdout.strip())


def test_rename_persists_across_restart(daemon):
    cid = daemon.cli("create", "--name", "persisted1", "busybox", "true").stdout.strip()
    assert daemon.cli("rename", cid, "persisted2").returncode == 0
    daemon.stop()
    daemon.start()
    assert inspect(daemon, "persisted2")["Id"] == cid
    assert daemon.cli("inspect", "persisted1").returncode == 1
    daemon.cli("rm", cid)


def test_docker_cli_pause_unpause_rename(daemon, docker):
    cid = docker("run", "-d", "--name", "dockerpaused", "busybox", "sh", "-c", TICKER).stdout.strip()
    assert cid
    r = docker("pause", "dockerpaused")
    assert r.returncode == 0 and r.stdout.strip() == "dockerpaused", r.stderr
    r = docker("ps")
    assert "(Paused)" in r.stdout, r.stdout
    r = docker("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", cid)
    assert r.stdout.strip() == "paused true", r.stdout + r.stderr
    r = docker("pause", cid)
    assert r.returncode != 0 and "is already paused" in r.stderr
    r = docker("unpause", "dockerpaused")
    assert r.returncode == 0 and r.stdout.strip() == "dockerpaused", r.stderr
    r = docker("rename", "dockerpaused", "dockerrenamed")
    assert r.returncode == 0, r.stderr
    r = docker("inspect", "-f", "{{.Name}} {{.State.Status}}", "dockerrenamed")
    assert r.stdout.strip() == "/dockerrenamed running", r.stdout + r.stderr
    time.sleep(1.1)  # the CLI sends whole seconds: let "now" pass the events
    r = docker("events", "--since", "1m", "--until", "0s", "--filter", "container=" + cid)
    assert " container pause " in r.stdout and " container unpause " in r.stdout and " container rename " in r.stdout, r.stdout
    assert docker("pause", cid).returncode == 0
    assert docker("rm", "-f", cid).returncode == 0
