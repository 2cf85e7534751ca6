"""berth run --count N (and POST /berth/containers/run): N full containers
from one request, each with its own id, record, log and exit code; with
--rm none is left; a summary with containers/s and start latencies."""
import json
import re
import time

from conftest import UnixHTTPConnection


def summary(stdout):
    m = re.search(r"(\d+) containers started in ([\d.]+) s: ([\d.]+) containers/s", stdout)
    assert m, stdout
    lat = re.search(r"start latency: p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms", stdout)
    assert lat, stdout
    codes = re.search(r"exit codes: (.*)", stdout).group(1)
    return int(m.group(1)), float(m.group(3)), [float(x) for x in lat.groups()], codes


def all_ids(daemon):
    return set(daemon.cli("ps", "-a", "-q", "--no-trunc").stdout.split())


def test_count_with_rm_leaves_nothing(daemon):
    before = all_ids(daemon)
    since = "%.9f" % time.time()
    r = daemon.cli("run", "--count", "20", "--parallel", "3", "--rm", "busybox", "true", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    started, rate, (p50, p99, mx), codes = summary(r.stdout)
    assert started == 20 and rate > 0
    assert 0 < p50 <= p99 <= mx
    assert codes == "0 x20"
    assert all_ids(daemon) == before
    # Each was a full container: its own create, start, die and destroy.
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/events?since=%s&until=%.9f" % (since, time.time() + 0.5))
    events = [json.loads(l) for l in conn.getresponse().read().decode().splitlines() if l.strip()]
    by_action = {}
    for e in events:
        by_action.setdefault(e["Action"], set()).add(e["Actor"]["ID"])
    assert len(by_action["start"]) == 20
    for action in ("create", "die", "destroy"):
        assert by_action[action] == by_action["start"], action


def test_count_without_rm_keeps_each_container_and_its_exit_code(daemon):
    before = all_ids(daemon)
    r = daemon.cli("run", "--count", "6", "busybox", "sh", "-c", "echo out-$HOSTNAME; exit 3", timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)  # not every exit code was 0
    _, _, _, codes = summary(r.stdout)
    assert codes == "3 x6"
    made = all_ids(daemon) - before
    assert len(made) == 6
    try:
        for cid in made:
            c = json.loads(daemon.cli("inspect", cid).stdout)[0]
            assert c["State"]["Status"] == "exited" and c["State"]["ExitCode"] == 3
            logs = daemon.cli("logs", cid).stdout
            assert logs.strip() == "out-" + c["Config"]["Hostname"], logs
    finally:
        daemon.cli("rm", *made)


def test_api_batch_returns_every_latency(daemon):
    st, body = daemon.api("POST", "/berth/containers/run?count=5&parallel=2&remove=1",
                          {"Image": "busybox", "Cmd": ["true"]}, timeout=120)
    assert st == 200, body
    assert body["Count"] == 5 and body["Started"] == 5 and body["Failed"] == 0
    assert len(body["LatenciesMs"]) == 5 and all(l > 0 for l in body["LatenciesMs"])
    assert body["ExitCodes"] == {"0": 5}
    assert body["StartLatencyMs"]["P99"] == max(body["LatenciesMs"])
    assert "Ids" not in body
    st, body = daemon.api("POST", "/berth/containers/run?count=2", {"Image": "busybox", "Cmd": ["true"]})
    assert st == 200 and len(body["Ids"]) == 2
    daemon.cli("rm", *body["Ids"])


def test_open_loop_submits_on_schedule(daemon):
    before = all_ids(daemon)
    # 20 at 100/s: the second is due when the first has run, the last 18
    # intervals (0.18 s) after that, whatever the others are doing.
    st, body = daemon.api("POST", "/berth/containers/run?count=20&rate=100&remove=1",
                          {"Image": "busybox", "Cmd": ["sh", "-c", "exit 4"]}, timeout=120)
    assert st == 200, body
    assert body["Started"] == 20 and body["Failed"] == 0
    assert body["ExitCodes"] == {"4": 20}
    assert len(body["LatenciesMs"]) == 20
    assert body["RunningSeconds"] >= 0.18
    assert body["FromPool"] == 0
    assert all_ids(daemon) == before
    r = daemon.cli("run", "--count", "6", "--rate", "50", "--rm", "busybox", "true")
    assert r.returncode == 0, r.stderr
    assert "6 containers started" in r.stdout


def test_batch_errors(daemon):
    before = all_ids(daemon)
    r = daemon.cli("run", "--count", "3", "no-such-image", "true")
    assert r.returncode == 125 and "No such image" in r.stderr
    r = daemon.cli("run", "--count", "3", "--name", "x", "busybox", "true")
    assert r.returncode == 125 and "--name cannot be used with --count" in r.stderr
    r = daemon.cli("run", "--count", "0", "busybox", "true")
    assert r.returncode == 125
    r = daemon.cli("run", "--parallel", "2", "busybox", "true")
    assert r.returncode == 125 and "--parallel needs --count" in r.stderr
    r = daemon.cli("run", "--rate", "10", "busybox", "true")
    assert r.returncode == 125 and "--rate needs --count" in r.stderr
    r = daemon.cli("run", "--count", "3", "--rate", "10", "--parallel", "2", "busybox", "true")
    assert r.returncode == 125 and "--parallel and --rate exclude each other" in r.stderr
    st, body = daemon.api("POST", "/berth/containers/run?count=abc", {"Image": "busybox", "Cmd": ["true"]})
    assert st == 400 and "invalid count" in body["message"]
    st, body = daemon.api("POST", "/berth/containers/run?count=3&rate=-1", {"Image": "busybox", "Cmd": ["true"]})
    assert st == 400 and "invalid rate" in body["message"]
    assert all_ids(daemon) == before
    # The first container failing to start fails the batch once: the rest
    # are never created; the failed one stays "created", as after docker run.
    r = daemon.cli("run", "--count", "4", "busybox", "no-such-command")
    assert r.returncode == 125 and "executable file not found" in r.stderr
    left = all_ids(daemon) - before
    assert len(left) == 1
    daemon.cli("rm", "-f", *left)


def test_each_container_runs_in_its_own_cgroup_with_its_limits(daemon):
    """A batch's container with Docker's defaults gets its cgroup with its
    directories (create_container's starts_next); one with a limit gets it
    at its start, as any other. Either way each runs in the cgroup named by
    its id, in every hierarchy, with the limits asked for."""
    import os
    import threading
    from conftest import cgroup_parents
    for flags, limit in (((), None), (("--memory", "48m"), str(48 << 20))):
        before = all_ids(daemon)
        done = []
        t = threading.Thread(target=lambda: done.append(
            daemon.cli("run", "--count", "3", "--parallel", "3", *flags, "busybox", "sleep", "3", timeout=120)))
        t.start()
        try:
            deadline = time.time() + 60
            running = set()
            while time.time() < deadline and len(running) < 3:
                running = set(daemon.cli("ps", "-q", "--no-trunc").stdout.split()) - before
                time.sleep(0.05)
            assert len(running) == 3, running
            for cid in running:
                pid = json.loads(daemon.cli("inspect", cid).stdout)[0]["State"]["Pid"]
                for parent in cgroup_parents(daemon.root):
                    with open(os.path.join(parent, cid, "cgroup.procs")) as f:
                        assert str(pid) in f.read().split(), parent
                    knob = os.path.join(parent, cid, "memory.limit_in_bytes")
                    if os.path.exists(knob):
                        with open(knob) as f:
                            got = f.read().strip()
                        assert (got == limit) if limit else int(got) > (1 << 40), (flags, got)
        finally:
            t.join()
        assert done and done[0].returncode == 0, (done[0].stdout, done[0].stderr) if done else None
        made = all_ids(daemon) - before
        assert len(made) == 3
        daemon.cli("rm", *made)


def spare_cgroup_names(daemon):
    """64-hex directories in the data root's first v1 cgroup parent that are
    no container's: spare cgroups (engine/cgroup/manager.cc), or None on a
    host without a v1 hierarchy (cgroup2 cannot rename: no spares)."""
    import os
    from conftest import cgroup_parents
    # cgroup2 directories have cgroup.controllers; v1 ones do not.
    v1 = [p for p in cgroup_parents(daemon.root)
          if not os.path.exists(os.path.join(os.path.dirname(p), "cgroup.controllers"))]
    if not v1:
        return None
    containers = all_ids(daemon)
    return {n for n in os.listdir(v1[0])
            if len(n) == 64 and all(ch in "0123456789abcdef" for ch in n) and n not in containers}


def test_a_batch_container_takes_a_spare_cgroup_as_its_id(daemon):
    """A removed container's cgroups with Docker's defaults are kept, named
    by a fresh container id; a batch's next container takes that id, so its
    cgroups are renamed once in its life (at its removal), not twice."""
    r = daemon.cli("run", "--count", "6", "--parallel", "3", "--rm", "busybox", "true", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    spares = spare_cgroup_names(daemon)
    if spares is None:
        import pytest
        pytest.skip("no v1 cgroup hierarchy on this host: cgroup2 keeps no spares")
    assert spares, "removed containers with Docker's defaults left no spare"
    st, listed = daemon.api("GET", "/berth/spares")
    assert st == 200 and set(listed["Cgroups"]) == spares, (listed, spares)
    # Removed with their cgroups, their directories went under the same names.
    assert set(listed["Directories"]) & spares, listed
    assert len(spares) >= 2, spares
    before = all_ids(daemon)
    # Both created while the first still runs: neither can take a spare
    # its predecessor left (an exited container's cgroup is kept too).
    r = daemon.cli("run", "--count", "2", "--parallel", "2", "busybox", "sh", "-c",
                   "cat /etc/hostname; grep -c $(hostname) /etc/hosts; sleep 1", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    made = all_ids(daemon) - before
    assert len(made) == 2
    assert made <= spares, (made, spares)
    for cid in made:
        info = json.loads(daemon.cli("inspect", cid).stdout)[0]
        assert info["State"]["ExitCode"] == 0 and info["Config"]["Hostname"] == cid[:12], info["Config"]
        # Its init files are its own (written when the spare was kept).
        assert daemon.cli("logs", cid).stdout == cid[:12] + "\n1\n", daemon.cli("logs", cid).stdout
    daemon.cli("rm", *made)


def test_a_crashed_daemons_spares_and_unfinished_creates_are_cleaned_up(fresh):
    """After a SIGKILL the next daemon removes the spare cgroups the killed
    one kept (they look like containers' cgroups: its sweep of stale cgroups
    knows they are no container's), and drops the record of a batch's
    create that did not finish (queued before its directory was made)."""
    import os
    import signal
    import sqlite3
    r = fresh.cli("run", "--count", "3", "--parallel", "1", "--rm", "busybox", "true", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    spares = spare_cgroup_names(fresh)
    fresh.stop(signal.SIGKILL)
    # A record whose create was cut short: no directory.
    ghost = "ab" * 32
    doc = {"id": ghost, "name": "ghost", "image_ref": "busybox", "image_id": "sha256:" + "0" * 64,
           "created": 1, "path": "true", "args": [], "chain_ids": [], "status": "created", "pid": 0,
           "exit_code": 0, "error": "", "started": 0, "restart_count": 0, "finished": 0, "oom_killed": False,
           "paused": False, "manual_stop": False, "config": {}, "host_config": {}}
    db = sqlite3.connect(os.path.join(fresh.root, "metadata.db"))
    db.execute("INSERT INTO objects(kind, key, doc) VALUES ('container', ?, ?)", (ghost, json.dumps(doc)))
    db.commit()
    db.close()
    assert not os.path.exists(os.path.join(fresh.root, "containers", ghost))
    fresh.start()
    st, _ = fresh.api("GET", "/containers/%s/json" % ghost)
    assert st == 404
    assert "ghost" not in fresh.cli("ps", "-a", "--format", "{{.Names}}").stdout.split()
    if spares is not None:
        assert spares, "the killed daemon kept no spare"
        deadline = time.time() + 20
        while time.time() < deadline and spare_cgroup_names(fresh) & spares:
            time.sleep(0.1)
        assert not spare_cgroup_names(fresh) & spares
    fresh.stop()
    db = sqlite3.connect(os.path.join(fresh.root, "metadata.db"))
    left = db.execute("SELECT count(*) FROM objects WHERE kind = 'container' AND key = ?", (ghost,)).fetchone()[0]
    db.close()
    assert left == 0
