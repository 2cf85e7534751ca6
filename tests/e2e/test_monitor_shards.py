"""Monitor shards: with a shard size of 5 (BERTH_MONITOR_SHARD_SIZE), 12
containers spread over at least 3 monitor processes, each the parent of its
containers; every shard is controllable, survives a SIGKILLed daemon with the
exits that happen meanwhile, and is re-attached by the next daemon. And the
monitor's descriptors per idle container: its two output pipes, no pidfd, no
log file kept open beyond the open-log cache."""
import json
import os
import signal
import subprocess
import tempfile
import time

from conftest import BERTH, Daemon, children, exit_records, make_busybox_tar, monitor_children, proc_stat


def state(d, cid):
    return json.loads(d.cli("inspect", cid).stdout)[0]["State"]


def wait_for(cond, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def parent_shard(d, cid, monitors):
    """The shard whose monitor is the parent of the container's process."""
    pid = state(d, cid)["Pid"]
    st = proc_stat(pid)
    assert st is not None, "container %s: no process %d" % (cid[:12], pid)
    by_pid = {p: k for k, p in monitors.items()}
    assert st[1] in by_pid, "container %s: parent %d is no monitor of %s" % (cid[:12], st[1], monitors)
    return by_pid[st[1]]


def fds(pid):
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return out


def test_shards_spread_survive_daemon_sigkill_and_reattach():
    base = tempfile.mkdtemp(prefix="berth-e2e-shards-")
    d = Daemon(base, env={"BERTH_MONITOR_SHARD_SIZE": "5"})
    try:
        d.start()
        assert d.cli("import", make_busybox_tar(os.path.join(base, "b.tar")), "busybox").returncode == 0
        # One container per shard (placement fills shard 0 first, then 1,
        # then 2) waits for /tmp/go, then exits with its own code.
        leavers = {2: 21, 7: 22, 11: 23}
        ids = []
        for i in range(12):
            if i in leavers:
                cmd = "echo start-%d; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo bye-%d; exit %d" % (
                    i, i, leavers[i])
            else:
                cmd = "echo hello-%d; exec sleep 300" % i
            r = d.cli("run", "-d", "busybox", "sh", "-c", cmd)
            assert r.returncode == 0, r.stderr
            ids.append(r.stdout.strip())
        monitors = d.monitor_pids()
        assert len(monitors) >= 3, monitors
        assert all(proc_stat(p) is not None for p in monitors.values()), monitors
        shard = {cid: parent_shard(d, cid, monitors) for cid in ids}
        per_shard = {}
        for cid in ids:
            per_shard.setdefault(shard[cid], []).append(cid)
        assert len(per_shard) >= 3, per_shard
        assert all(len(v) <= 5 for v in per_shard.values()), per_shard
        assert {shard[ids[i]] for i in leavers} == set(per_shard), "a leaver on every shard"
        for k, pid in monitors.items():
            zygotes, others = monitor_children(pid)
            assert zygotes and len(others) == len(per_shard.get(k, [])), (k, children(pid))
        survivors = [c for i, c in enumerate(ids) if i not in leavers]

        # exec and logs on every shard, before the crash.
        for k, cids in per_shard.items():
            cid = next(c for c in cids if c in survivors)
            r = d.cli("exec", cid, "sh", "-c", "echo in-%d; exit 3" % k)
            assert (r.returncode, r.stdout) == (3, "in-%d\n" % k), r.stderr
            assert d.cli("logs", cid).stdout == "hello-%d\n" % ids.index(cid)

        # The daemon dies; the leavers exit while it is away.
        leaver_pids = {i: state(d, ids[i])["Pid"] for i in leavers}
        d.stop(signal.SIGKILL)
        for i, pid in leaver_pids.items():
            with open("/proc/%d/root/tmp/go" % pid, "w"):
                pass
        for i, pid in leaver_pids.items():
            # Reaped by its monitor (not a zombie left behind).
            wait_for(lambda: proc_stat(pid) is None, "leaver %d to be reaped" % i)
        # Reaped first, recorded (the journal's group commit) right after.
        want = sorted(ids[i] for i in leavers)
        wait_for(lambda: sorted(exit_records(d.root)) == want, "the exit records")

        d.start()
        assert d.monitor_pids() == monitors  # the same monitors, every one re-attached
        st, listed = d.api("GET", "/containers/json")
        assert st == 200
        assert sorted(c["Id"] for c in listed) == sorted(survivors)
        for i, code in leavers.items():
            info = state(d, ids[i])
            assert info["Status"] == "exited" and info["ExitCode"] == code, info
            assert info["FinishedAt"] != "0001-01-01T00:00:00Z"
            assert d.cli("logs", ids[i]).stdout == "start-%d\nbye-%d\n" % (i, i)
        wait_for(lambda: exit_records(d.root) == {}, "every exit record acknowledged")

        # Every shard's survivors are controllable: exec, logs, stop, kill.
        for k, cids in sorted(per_shard.items()):
            alive = [c for c in cids if c in survivors]
            r = d.cli("exec", alive[0], "sh", "-c", "echo again-%d; exit 5" % k)
            assert (r.returncode, r.stdout) == (5, "again-%d\n" % k), r.stderr
            assert d.cli("logs", alive[0]).stdout == "hello-%d\n" % ids.index(alive[0])
            assert d.cli("stop", "-t", "1", alive[-1]).returncode == 0
            assert state(d, alive[-1])["Status"] == "exited"
            if len(alive) == 1:
                # Started again (on whichever shard has room), then killed.
                assert d.cli("start", alive[0]).returncode == 0
                parent_shard(d, alive[0], monitors)
            st, _ = d.api("POST", "/containers/%s/kill?signal=KILL" % alive[0])
            assert st == 204
            assert d.cli("wait", alive[0]).stdout.strip() == "137"

        for cid in ids:
            assert d.api("DELETE", "/containers/%s?force=1" % cid)[0] == 204
        for k, pid in monitors.items():
            wait_for(lambda: monitor_children(pid)[1] == [], "shard %d to keep only its zygotes" % k)
            assert [s for _, s in children(pid) if s == "Z"] == []  # no zombie
        wait_for(lambda: exit_records(d.root) == {}, "no exit record left")
    finally:
        d.teardown()


def test_idle_container_costs_the_monitor_two_descriptors():
    base = tempfile.mkdtemp(prefix="berth-e2e-shardfd-")
    # A small open-log cache, so that the test needs few containers to show
    # that idle ones hold no log file open.
    d = Daemon(base, env={"BERTH_MONITOR_OPEN_LOGS": "4"})
    try:
        d.start()
        assert d.cli("import", make_busybox_tar(os.path.join(base, "b.tar")), "busybox").returncode == 0
        first = d.cli("run", "-d", "busybox", "sh", "-c", "echo first; exec sleep 300").stdout.strip()
        # A rotating log (an entry is about 80 bytes: a rotation every two).
        rot = d.cli("run", "-d", "--log-opt", "max-size=150", "--log-opt", "max-file=20", "busybox", "sh", "-c",
                    "for i in 1 2 3 4 5; do echo line-$i; done; exec sleep 300").stdout.strip()
        wait_for(lambda: d.cli("logs", rot).stdout.endswith("line-5\n"), "the rotating log")
        monitor = d.monitor_pid()
        before = fds(monitor)
        n = 24
        ids = []
        for i in range(n):
            r = d.cli("run", "-d", "busybox", "sh", "-c", "echo hi-%d; exec sleep 300" % i)
            assert r.returncode == 0, r.stderr
            ids.append(r.stdout.strip())
        for i, cid in enumerate(ids):
            assert d.cli("logs", cid).stdout == "hi-%d\n" % i
        after = fds(monitor)
        grown = len(after) - len(before)
        pipes = sum(1 for f in after if f.startswith("pipe:")) - sum(1 for f in before if f.startswith("pipe:"))
        logs = [f for f in after if f.endswith("-json.log")]
        assert pipes == 2 * n, (before, after)  # stdout and stderr of each
        assert len(logs) <= 4, logs  # the open-log cache, no more
        assert grown <= 2 * n + 4 - 2, (before, after)  # two logs were open before
        assert not [f for f in after if "pidfd" in f], after  # no pidfd kept per container
        rot_log = json.loads(d.cli("inspect", rot).stdout)[0]["LogPath"]
        assert rot_log not in after and first + "-json.log" not in "".join(after)  # closed by the cache
        assert os.path.exists(rot_log + ".1")  # it has rotated
        # A log closed by the cache is reopened where it ended: output of the
        # first container, written now, follows its first line.
        r = d.cli("exec", first, "sh", "-c", "echo later > /proc/1/fd/1")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: d.cli("logs", first).stdout == "first\nlater\n", "the first container's second line")
        # Reopened after rotations, the rotating log goes on with its offsets:
        # every line once, in order, and the daemon's follow sees the new ones.
        follow = subprocess.Popen([BERTH, "-H", d.host, "--data-root", d.root, "--no-autostart", "logs", "-f", rot],
                                  stdout=subprocess.PIPE, text=True)
        try:
            r = d.cli("exec", rot, "sh", "-c", "for i in 6 7 8 9 10; do echo line-$i > /proc/1/fd/1; done")
            assert r.returncode == 0, r.stderr
            want = "".join("line-%d\n" % i for i in range(1, 11))
            wait_for(lambda: d.cli("logs", rot).stdout == want, "the rotating log's new lines")
        finally:
            assert d.cli("stop", "-t", "1", rot).returncode == 0
            out, _ = follow.communicate(timeout=20)
        assert out == want, out
        assert len([f for f in fds(monitor) if f.endswith("-json.log")]) <= 4
    finally:
        d.teardown()


def test_losing_one_shard_judges_only_its_containers():
    base = tempfile.mkdtemp(prefix="berth-e2e-shardloss-")
    d = Daemon(base, env={"BERTH_MONITOR_SHARD_SIZE": "2"})
    orphans = []
    try:
        d.start()
        assert d.cli("import", make_busybox_tar(os.path.join(base, "b.tar")), "busybox").returncode == 0
        ids = [d.cli("run", "-d", "busybox", "sleep", "300").stdout.strip() for _ in range(4)]
        monitors = d.monitor_pids()
        shard = {cid: parent_shard(d, cid, monitors) for cid in ids}
        assert sorted(shard.values()) == [0, 0, 1, 1], shard
        gone = [c for c in ids if shard[c] == 1]
        kept = [c for c in ids if shard[c] == 0]
        orphans = [state(d, c)["Pid"] for c in gone]
        # Shard 1's monitor dies (its containers outlive it, orphaned): the
        # daemon starts a new one and marks only shard 1's containers lost.
        os.kill(monitors[1], signal.SIGKILL)
        wait_for(lambda: d.monitor_pids().get(1) not in (None, monitors[1]) and
                 all(state(d, c)["Status"] == "exited" for c in gone), "shard 1 to be replaced")
        for c in gone:
            info = state(d, c)
            assert info["ExitCode"] == 255 and "lost track" in info["Error"], info
        for c in kept:
            assert state(d, c)["Status"] == "running"
            r = d.cli("exec", c, "echo", "still")
            assert (r.returncode, r.stdout) == (0, "still\n"), r.stderr
        assert d.monitor_pids()[0] == monitors[0]
        # The new shard 1 takes the next container (shard 0 is full).
        r = d.cli("run", "-d", "busybox", "sleep", "300")
        assert r.returncode == 0, r.stderr
        assert parent_shard(d, r.stdout.strip(), d.monitor_pids()) == 1
        assert d.cli("kill", r.stdout.strip()).returncode == 0
        assert d.cli("wait", r.stdout.strip()).stdout.strip() == "137"
    finally:
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)  # the orphans of the monitor this test killed
            except OSError:
                pass
        d.teardown()
