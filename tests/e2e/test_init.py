"""run --init: a tiny init as PID 1 that forwards signals and reaps zombies (issue 3)."""
import json
import time



def test_init_is_pid1_and_exit_code_passes(daemon):
    r = daemon.cli("run", "--rm", "--init", "busybox", "sh", "-c",
                   "tr '\\0' ' ' < /proc/1/cmdline; echo; exit 3")
    assert r.returncode == 3, r.stderr
    assert r.stdout.startswith("/sbin/docker-init -- sh -c")


def test_init_reaps_orphans(daemon):
    # The subshell exits at once; its sleep is orphaned to PID 1 and must be
    # reaped when it ends.
    script = "(sleep 0.2 &); sleep 1; ps -o stat,comm | grep -c '^ *Z' || true"
    r = daemon.cli("run", "--rm", "--init", "busybox", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


def test_init_forwards_signals(daemon):
    # sleep as PID 1 ignores SIGTERM (no handler); behind the init it dies of it.
    cid = daemon.cli("run", "-d", "--init", "busybox", "sleep", "300").stdout.strip()
    # Signals reach the init once it has set itself up, which it has done
    # by the time its child runs (tini has the same window).
    deadline = time.time() + 10
    while "sleep 300" not in daemon.cli("top", cid).stdout and time.time() < deadline:
        time.sleep(0.05)
    t = time.time()
    r = daemon.cli("stop", "-t", "10", cid)
    assert r.returncode == 0, r.stderr
    assert time.time() - t < 5
    state = json.loads(daemon.cli("inspect", cid).stdout)[0]["State"]
    assert state["ExitCode"] == 143
    daemon.cli("rm", cid)


def test_docker_cli_run_init(daemon, docker):
    r = docker("run", "--rm", "--init", "busybox", "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; exit 4")
    assert r.returncode == 4
    assert r.stdout.startswith("/sbin/docker-init --")
