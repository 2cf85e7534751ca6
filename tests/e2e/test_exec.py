"""exec, TTYs, attach and detach keys (issue 3): the berth CLI, the docker
CLI and docker-py, with -it driven through a real pseudo-terminal."""
import json
import os
import time

import pytest

from conftest import BERTH, UnixHTTPConnection
from ptyrun import PtySession
from test_docker_clients import DOCKER


def inspect(daemon, ref):
    r = daemon.cli("inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def sleeper(daemon, *extra):
    r = daemon.cli("run", "-d", *extra, "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def berth_argv(daemon, *args):
    return [BERTH, "-H", daemon.host, "--data-root", daemon.root, "--no-autostart"] + list(args)


def test_exec_output_and_exit_code(daemon):
    cid = sleeper(daemon)
    r = daemon.cli("exec", cid, "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = daemon.cli("exec", cid, "sh", "-c", "echo out; echo err >&2; exit 5")
    assert r.returncode == 5
    assert r.stdout == "out\n" and r.stderr == "err\n"
    daemon.cli("rm", "-f", cid)


def test_exec_env_user_workdir(daemon):
    cid = sleeper(daemon, "-e", "BASE=1")
    r = daemon.cli("exec", "-e", "FOO=bar", "-u", "1000:1001", "-w", "/tmp/wd", cid,
                   "sh", "-c", "echo $FOO $BASE $(id -u) $(id -g) $(pwd) $HOSTNAME")
    assert r.returncode == 0, r.stderr
    hostname = inspect(daemon, cid)["Config"]["Hostname"]
    assert r.stdout.split() == ["bar", "1", "1000", "1001", "/tmp/wd", hostname]
    daemon.cli("rm", "-f", cid)


def test_exec_joins_the_container(daemon):
    cid = sleeper(daemon, "--cap-drop", "NET_RAW")
    script = ("cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; "
              "for n in mnt net uts ipc cgroup; do readlink /proc/self/ns/$n; readlink /proc/1/ns/$n; done; "
              "cat /proc/self/cgroup | md5sum; cat /proc/1/cgroup | md5sum; "
              "grep CapBnd /proc/self/status; grep CapBnd /proc/1/status; echo $$")
    r = daemon.cli("exec", cid, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].strip() == "sleep 300"
    assert lines[1] == inspect(daemon, cid)["Config"]["Hostname"]
    ns = lines[2:12]
    for i in range(0, 10, 2):
        assert ns[i] == ns[i + 1], ns
    assert lines[12] == lines[13]  # same cgroups
    assert lines[14] == lines[15]  # same bounding set (NET_RAW dropped in both)
    assert int(lines[16]) < 100   # a small pid: inside the container's pid namespace
    # The host's view: the exec'd process is in the container's cgroup.
    pid = inspect(daemon, cid)["State"]["Pid"]
    assert pid > 0
    daemon.cli("rm", "-f", cid)


def test_exec_stdin_detach_and_errors(daemon):
    cid = sleeper(daemon)
    r = daemon.cli("exec", "-i", cid, "sh", "-c", "cat; echo done", input="line1\nline2\n")
    assert (r.returncode, r.stdout) == (0, "line1\nline2\ndone\n"), r.stderr
    r = daemon.cli("exec", "-d", cid, "sh", "-c", "sleep 0.2; echo ran > /tmp/detached")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    deadline = time.time() + 10
    while time.time() < deadline:
        if daemon.cli("exec", cid, "cat", "/tmp/detached").stdout == "ran\n":
            break
        time.sleep(0.1)
    assert daemon.cli("exec", cid, "cat", "/tmp/detached").stdout == "ran\n"
    r = daemon.cli("exec", cid, "nosuchcommand")
    assert r.returncode == 127 and "executable file not found" in (r.stdout + r.stderr)
    r = daemon.cli("exec", cid, "/etc/hostname")
    assert r.returncode == 126
    r = daemon.cli("exec", "nosuchcontainer", "true")
    assert r.returncode == 1 and "No such container" in r.stderr
    daemon.cli("stop", "-t", "0", cid)
    r = daemon.cli("exec", cid, "true")
    assert r.returncode == 1 and "is not running" in r.stderr
    daemon.cli("rm", "-f", cid)


def test_exec_api_inspect_and_events(daemon):
    since = "%.9f" % time.time()
    cid = sleeper(daemon)
    st, body = daemon.api("POST", "/containers/%s/exec" % cid,
                          {"Cmd": ["sh", "-c", "sleep 1; exit 3"], "AttachStdout": True})
    assert st == 201, body
    eid = body["Id"]
    st, info = daemon.api("GET", "/exec/%s/json" % eid)
    assert st == 200 and info["Running"] is False and info["ExitCode"] is None
    assert info["ContainerID"] == cid and info["ProcessConfig"]["entrypoint"] == "sh"
    st, _ = daemon.api("POST", "/exec/%s/start" % eid, {"Detach": True})
    assert st == 200
    st, info = daemon.api("GET", "/exec/%s/json" % eid)
    assert info["Running"] is True and info["Pid"] > 0
    assert inspect(daemon, cid)["ExecIDs"] == [eid]
    st, body = daemon.api("POST", "/exec/%s/start" % eid, {"Detach": True})
    assert st == 409
    deadline = time.time() + 10
    while info["Running"] and time.time() < deadline:
        time.sleep(0.1)
        info = daemon.api("GET", "/exec/%s/json" % eid)[1]
    assert info["Running"] is False and info["ExitCode"] == 3
    assert inspect(daemon, cid)["ExecIDs"] is None
    st, body = daemon.api("POST", "/containers/%s/exec" % cid, {"Cmd": []})
    assert st == 400
    st, body = daemon.api("GET", "/exec/nosuch/json")
    assert st == 404
    until = "%.9f" % (time.time() + 0.2)
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/events?since=%s&until=%s" % (since, until))
    evs = [json.loads(x) for x in conn.getresponse().read().decode().splitlines() if x.strip()]
    conn.close()
    actions = [e["Action"] for e in evs if e["Actor"]["ID"] == cid]
    assert "exec_create: sh -c sleep 1; exit 3" in actions
    assert "exec_start: sh -c sleep 1; exit 3" in actions
    assert "exec_die" in actions
    daemon.cli("rm", "-f", cid)


def test_exec_it_through_a_pty(daemon):
    cid = sleeper(daemon)
    s = PtySession(berth_argv(daemon, "exec", "-it", cid, "sh"), rows=33, cols=101)
    try:
        assert s.read_until(b"# "), s.output
        s.type("stty size; tty; echo sum-$((40+2))\n")
        assert s.read_until(b"sum-42"), s.output
        assert b"33 101" in s.output
        assert b"/dev/pts/" in s.output
        s.resize(40, 120)
        time.sleep(0.5)
        s.type("stty size\n")
        assert s.read_until(b"40 120"), s.output
        s.type("exit 3\n")
        assert s.wait() == 3
    finally:
        s.close()
    daemon.cli("rm", "-f", cid)


def test_run_it_detach_and_attach(daemon):
    s = PtySession(berth_argv(daemon, "run", "-it", "--name", "ttybox", "busybox", "sh"))
    try:
        assert s.read_until(b"# "), s.output
        s.type("echo in-$((1+1))\n")
        assert s.read_until(b"in-2"), s.output
        s.type(b"\x10\x11")  # ctrl-p ctrl-q
        assert s.wait(10) == 0
    finally:
        s.close()
    state = inspect(daemon, "ttybox")["State"]
    assert state["Running"] is True
    assert inspect(daemon, "ttybox")["Config"]["Tty"] is True
    # The log of a tty container holds what the terminal showed.
    assert "in-2" in daemon.cli("logs", "ttybox").stdout
    a = PtySession(berth_argv(daemon, "attach", "ttybox"))
    try:
        a.type("\n")
        assert a.read_until(b"# "), a.output
        a.type("exit 4\n")
        assert a.wait() == 4
    finally:
        a.close()
    assert inspect(daemon, "ttybox")["State"]["ExitCode"] == 4
    daemon.cli("rm", "-f", "ttybox")


def test_run_it_rm_exit_code(daemon):
    s = PtySession(berth_argv(daemon, "run", "-it", "--rm", "busybox", "sh"))
    try:
        assert s.read_until(b"# "), s.output
        s.type("tty; exit 6\n")
        assert s.wait() == 6
        assert b"/dev/pts/0" in s.output
    finally:
        s.close()


def test_docker_cli_exec(daemon, docker):
    cid = sleeper(daemon)
    r = docker("exec", cid, "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = docker("exec", "-e", "A=b", "-u", "nobody", cid, "sh", "-c", "echo $A $(id -un); exit 5")
    assert r.returncode == 5 and r.stdout == "b nobody\n", r.stderr
    r = docker("exec", "-i", cid, "cat", input="piped\n")
    assert r.stdout == "piped\n", r.stderr
    daemon.cli("rm", "-f", cid)


def test_docker_cli_exec_it_and_run_it(daemon, docker):
    cid = sleeper(daemon)
    env = dict(os.environ, DOCKER_HOST=daemon.host)
    s = PtySession([DOCKER, "exec", "-it", cid, "sh"], env=env, rows=30, cols=90)
    try:
        assert s.read_until(b"# "), s.output
        s.type("stty size; echo hi-from-tty\n")
        assert s.read_until(b"hi-from-tty\r\n"), s.output
        assert b"30 90" in s.output
        s.type("exit 4\n")
        assert s.wait() == 4
    finally:
        s.close()
    daemon.cli("rm", "-f", cid)
    s = PtySession([DOCKER, "run", "-it", "--rm", "busybox", "sh"], env=env)
    try:
        assert s.read_until(b"# "), s.output
        s.type("echo hi-from-run-it\n")
        assert s.read_until(b"hi-from-run-it\r\n"), s.output
        s.type("exit 2\n")
        assert s.wait() == 2
    finally:
        s.close()


def test_docker_sdk_exec_run(daemon):
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=daemon.host)
    c = client.containers.run("busybox", "sleep 300", detach=True)
    try:
        code, out = c.exec_run("sh -c 'echo sdk; exit 7'")
        assert (code, out) == (7, b"sdk\n")
        code, out = c.exec_run(["sh", "-c", "echo $X; pwd"], environment={"X": "y"}, workdir="/etc")
        assert (code, out) == (0, b"y\n/etc\n")
        code, (out, err) = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
        assert (out, err) == (b"o\n", b"e\n")
    finally:
        c.remove(force=True)
