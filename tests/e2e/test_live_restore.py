"""Live-restore: containers outlive a SIGKILLed daemon (the monitor is their
parent), exits that happen while it is away are recorded with their real
codes, and the restarted daemon controls the survivors."""
import json
import os
import signal
import tempfile
import time

import pytest

from conftest import Daemon, children, exit_records, make_busybox_tar, monitor_children


def test_fifty_containers_survive_daemon_sigkill():
    base = tempfile.mkdtemp(prefix="berth-e2e-restore-")
    d = Daemon(base)
    try:
        d.start()
        assert d.cli("import", make_busybox_tar(os.path.join(base, "b.tar")), "busybox").returncode == 0
        survivors, leavers = [], {}
        for i in range(45):
            survivors.append(d.cli("run", "-d", "busybox", "sleep", "300").stdout.strip())
        for i in range(5):
            cid = d.cli("run", "-d", "busybox", "sh", "-c", "sleep 2; echo bye-%d; exit %d" % (i, 10 + i)).stdout.strip()
            leavers[cid] = 10 + i
        assert all(len(c) == 64 for c in survivors + list(leavers))
        monitor = d.monitor_pid()
        d.stop(signal.SIGKILL)
        time.sleep(3)  # the five exit while no daemon is there
        d.start()
        assert d.monitor_pid() == monitor  # the same monitor, re-attached
        st, listed = d.api("GET", "/containers/json")
        assert sorted(c["Id"] for c in listed) == sorted(survivors)
        for cid, code in leavers.items():
            info = json.loads(d.cli("inspect", cid).stdout)[0]["State"]
            assert info["Status"] == "exited" and info["ExitCode"] == code, info
            assert info["FinishedAt"] != "0001-01-01T00:00:00Z"
            assert d.cli("logs", cid).stdout == "bye-%d\n" % (code - 10)
        # The survivors are controllable: exec into one, stop one, follow
        # the logs of one, kill one and wait for it, remove the rest.
        r = d.cli("exec", survivors[1], "sh", "-c", "echo inside; exit 4")
        assert (r.returncode, r.stdout) == (4, "inside\n"), r.stderr
        assert d.cli("stop", "-t", "1", survivors[2]).returncode == 0
        assert json.loads(d.cli("inspect", survivors[2]).stdout)[0]["State"]["Status"] == "exited"
        assert d.cli("logs", "-f", survivors[2], timeout=10).returncode == 0

        st, _ = d.api("POST", "/containers/%s/kill?signal=KILL" % survivors[0])
        assert st == 204
        assert d.cli("wait", survivors[0]).stdout.strip() == "137"
        for cid in survivors:
            assert d.api("DELETE", "/containers/%s?force=1" % cid)[0] == 204
        time.sleep(0.5)
        assert [s for _, s in children(monitor) if s == "Z"] == []  # no zombie
        assert monitor_children(monitor)[1] == []  # only the zygotes are left
        assert exit_records(d.root) == {}  # every exit acknowledged
    finally:
        d.teardown()


def test_a_start_right_before_a_crash_is_running_after_it(fresh):
    # A start's "running" record is committed lazily (with the next prompt
    # write, or within 5 ms: engine::wake_db_later); a daemon killed before
    # that learns it from the monitor, which runs the container.
    d = fresh
    ids = []
    for _ in range(5):
        st, made = d.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["sleep", "300"]})
        assert st == 201, made
        assert d.api("POST", "/containers/%s/start" % made["Id"])[0] == 204
        ids.append(made["Id"])
    d.stop(signal.SIGKILL)  # at once
    d.start()
    pids = {pid for pid, _ in children(d.monitor_pid())}
    for cid in ids:
        state = json.loads(d.cli("inspect", cid).stdout)[0]["State"]
        assert state["Status"] == "running" and state["Pid"] in pids, state
    st, _ = d.api("POST", "/containers/%s/kill?signal=KILL" % ids[0])
    assert st == 204
    assert d.cli("wait", ids[0]).stdout.strip() == "137"
    for cid in ids:
        assert d.api("DELETE", "/containers/%s?force=1" % cid)[0] == 204
