"""The daemon: restart keeps state, one daemon per data root, CLI autostart,
containers outlive a killed daemon."""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BERTH, Daemon, daemon_with_busybox


def test_restart_keeps_images_containers_exit_codes_logs(fresh):
    d = fresh
    cid = d.cli("run", "-d", "--name", "persisted", "busybox", "sh", "-c", "echo kept; echo err >&2; exit 42").stdout.strip()
    assert d.cli("wait", cid).stdout.strip() == "42"
    d.stop()
    d.start()
    assert "busybox" in d.cli("images").stdout
    info = json.loads(d.cli("inspect", "persisted").stdout)[0]
    assert info["Id"] == cid and info["State"]["ExitCode"] == 42 and info["State"]["Status"] == "exited"
    logs = d.cli("logs", "persisted")
    assert logs.stdout == "kept\n" and logs.stderr == "err\n"
    assert d.cli("run", "--rm", "busybox", "echo", "after-restart").stdout == "after-restart\n"


def test_containers_survive_daemon_sigkill(fresh):
    d = fresh
    cid = d.cli("run", "-d", "busybox", "sh", "-c", "sleep 1; echo late; exit 3").stdout.strip()
    running = d.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    d.stop(signal.SIGKILL)
    time.sleep(1.5)  # the first container exits while the daemon is away
    d.start()
    info = json.loads(d.cli("inspect", cid).stdout)[0]
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 3
    assert d.cli("logs", cid).stdout == "late\n"
    info = json.loads(d.cli("inspect", running).stdout)[0]
    assert info["State"]["Running"] is True
    assert d.cli("rm", "-f", running).returncode == 0


def test_second_daemon_on_same_root_is_refused(fresh):
    r = subprocess.run([BERTH, "daemon", "-H", "unix://" + fresh.base + "/other.sock", "--data-root", fresh.root],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "owns the data root" in r.stderr
    assert fresh.cli("version").returncode == 0


def test_bad_daemon_flag():
    r = subprocess.run([BERTH, "daemon", "--no-such-flag"], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "no-such-flag" in r.stderr


def test_cli_autostarts_a_daemon(tmp_path):
    base = str(tmp_path)
    d = Daemon(base)  # not started: the CLI starts it
    try:
        env = dict(os.environ)
        env.pop("BERTH_HOST", None)
        r = subprocess.run([BERTH, "-H", d.host, "--data-root", d.root, "version"],
                           capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        assert "started" in r.stderr and d.root in r.stderr
        assert os.path.exists(os.path.join(d.root, "berth.pid"))
        r = d.cli("version")  # --no-autostart: the same daemon answers
        assert r.returncode == 0
    finally:
        pid = None
        try:
            with open(os.path.join(d.root, "berth.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pass
        if pid:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                assert d.root.encode() in f.read()
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not os.path.exists("/proc/%d" % pid):
                    break
                time.sleep(0.05)
        d.teardown()


def test_no_autostart_refuses(tmp_path):
    r = subprocess.run([BERTH, "-H", "unix://%s/none.sock" % tmp_path, "--data-root", str(tmp_path / "r"),
                        "--no-autostart", "ps"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "Cannot connect" in r.stderr


def test_restart_policies_at_daemon_start(fresh):
    # Docker's restore: `always` comes back even after a manual stop;
    # `unless-stopped` does not; `on-failure` comes back after a failure;
    # `no` and never-started containers stay as they are.
    d = fresh
    ids = {}
    for name, policy, cmd in [("always", "always", "sleep 300"), ("unless", "unless-stopped", "sleep 300"),
                              ("never", "no", "sleep 300")]:
        ids[name] = d.cli("run", "-d", "--name", name, "--restart", policy, "busybox", *cmd.split()).stdout.strip()
        assert d.cli("stop", "-t", "0", name).returncode == 0
    ids["failed"] = d.cli("run", "-d", "--name", "failed", "--restart", "on-failure:5", "busybox", "sh", "-c",
                          "test -e /tmp/ran && exec sleep 300; touch /tmp/ran; exit 1").stdout.strip()
    deadline = time.time() + 10
    while time.time() < deadline:  # the policy restarts it once, then it keeps running
        info = json.loads(d.cli("inspect", "failed").stdout)[0]
        if info["RestartCount"] >= 1 and info["State"]["Running"]:
            break
        time.sleep(0.1)
    assert d.cli("stop", "-t", "0", "failed").returncode == 0
    assert d.cli("create", "--name", "created", "--restart", "always", "busybox", "true").returncode == 0
    d.stop()
    d.start()
    deadline = time.time() + 10
    state = {}
    while time.time() < deadline:
        state = {n: json.loads(d.cli("inspect", n).stdout)[0]["State"]["Status"]
                 for n in ("always", "unless", "never", "failed", "created")}
        if state["always"] == "running":
            break
        time.sleep(0.1)
    assert state == {"always": "running", "unless": "exited", "never": "exited", "failed": "exited",
                     "created": "created"}
    # The user's stop sticks for on-failure too; the always container runs again.
    assert d.cli("rm", "-f", "always").returncode == 0


FIFO_RESET = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK


def _threads(pid):
    return sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))


def _children(pid):
    out = []
    for t in _threads(pid):
        with open("/proc/%d/task/%d/children" % (pid, t)) as f:
            out += [int(x) for x in f.read().split()]
    return out


def _comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def _policies(d, cid):
    """Scheduling policy (with SCHED_RESET_ON_FORK) of: the daemon's loop
    thread (its main thread), its other threads, the monitor, its zygotes,
    the container's process and a process exec'd into it."""
    mon = d.monitor_pid()
    zygotes = [p for p in _children(mon) if _comm(p) == "berth-zygote"]
    assert zygotes, "no zygote under monitor %d" % mon
    pid = json.loads(d.cli("inspect", cid).stdout)[0]["State"]["Pid"]
    ex = d.cli("exec", cid, "sh", "-c", "grep -E '^policy' /proc/$$/sched")  # the exec'd shell's own
    assert ex.returncode == 0, ex.stderr
    return {
        "loop": os.sched_getscheduler(d.proc.pid),
        "loop_priority": os.sched_getparam(d.proc.pid).sched_priority,
        "daemon_threads": {os.sched_getscheduler(t) for t in _threads(d.proc.pid) if t != d.proc.pid},
        "monitor": os.sched_getscheduler(mon),
        "monitor_threads": {os.sched_getscheduler(t) for t in _threads(mon) if t != mon},
        "zygotes": {os.sched_getscheduler(z) for z in zygotes},
        "container": os.sched_getscheduler(pid),
        "exec": int(ex.stdout.split(":")[1]),
    }


def test_the_control_path_runs_sched_fifo_and_nothing_it_starts_inherits_it(fresh):
    cid = fresh.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    p = _policies(fresh, cid)
    assert p["loop"] == FIFO_RESET and p["loop_priority"] == 1
    assert p["monitor"] == FIFO_RESET and p["zygotes"] == {FIFO_RESET}
    # Workers, the database writer, the monitor's closer thread, the
    # containers and their execs: ordinary tasks.
    assert p["daemon_threads"] <= {os.SCHED_OTHER} and p["daemon_threads"]
    assert p["monitor_threads"] <= {os.SCHED_OTHER}
    assert p["container"] == os.SCHED_OTHER and p["exec"] == os.SCHED_OTHER
    assert fresh.cli("rm", "-f", cid).returncode == 0


def test_control_priority_zero_leaves_everything_to_the_ordinary_scheduler():
    gen = daemon_with_busybox("berth-e2e-prio-", args=["--control-priority", "0"])
    d = next(gen)
    try:
        cid = d.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
        p = _policies(d, cid)
        assert p["loop"] == p["monitor"] == p["container"] == p["exec"] == os.SCHED_OTHER
        assert p["zygotes"] == {os.SCHED_OTHER}
        assert d.cli("rm", "-f", cid).returncode == 0
    finally:
        gen.close()


@pytest.mark.parametrize("value", ["100", "-1", "x", ""])
def test_bad_control_priority_is_refused(value):
    r = subprocess.run([BERTH, "daemon", "--control-priority", value], capture_output=True, text=True, timeout=20)
    assert r.returncode == 125 and "invalid control priority" in r.stderr


def test_a_container_flooding_its_output_takes_the_monitor_off_real_time(fresh):
    """The monitor is real-time for the start path's wake-ups, not for bulk
    work: one that a container's output keeps busy goes back to
    SCHED_OTHER (base/sched.h, control_priority_governor), and returns once
    quiet, at its next turn."""
    mon = fresh.monitor_pid()
    assert os.sched_getscheduler(mon) == FIFO_RESET
    cid = fresh.cli("run", "-d", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
                    "busybox", "yes").stdout.strip()
    try:
        deadline = time.time() + 20
        while time.time() < deadline and os.sched_getscheduler(mon) != os.SCHED_OTHER:
            time.sleep(0.05)
        assert os.sched_getscheduler(mon) == os.SCHED_OTHER
    finally:
        assert fresh.cli("rm", "-f", cid).returncode == 0
    deadline = time.time() + 20
    while time.time() < deadline and os.sched_getscheduler(mon) != FIFO_RESET:
        assert fresh.cli("run", "--rm", "busybox", "true").returncode == 0  # a turn of the monitor's loop
        time.sleep(0.2)
    assert os.sched_getscheduler(mon) == FIFO_RESET
