"""Warm pools (`berth pool`, /berth/pools, engine/pool.cc): sandboxes
prepared ahead of any request, parked as children of the monitor in their
own cgroups. A create whose sandbox would be exactly the prepared one takes
a ready sandbox (the container's id is the sandbox's); every other create
starts cold. Each test here sets its own pool and removes it."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BERTH, cgroup_parents, children, daemon_with_busybox, exit_records, container_dirs, import_path_search_image
from ptyrun import PtySession

MiB = 1 << 20
DEFAULT_CAPS = "00000000a80425fb"  # Docker's default capability set


# Helpers ----------------------------------------------------------------------

def cgroup_name(d):
    return "berth-" + hashlib.sha256(d.root.encode()).hexdigest()[:8]


def sandbox_procs(d):
    """{id: pid} of the monitor's children that sit in a container cgroup
    (<parent>/berth-<hash>/<id>) of this data root: parked sandboxes and
    running containers."""
    out = {}
    mon = d.monitor_pid()
    if not mon:
        return out
    marker = "/" + cgroup_name(d) + "/"
    for pid, _ in children(mon):
        try:
            with open("/proc/%d/cgroup" % pid) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            path = line.split(":", 2)[2]
            if marker in path:
                cid = path.split(marker, 1)[1].split("/")[0]
                if len(cid) == 64:
                    out[cid] = pid
                    break
    return out


def container_ids(d):
    r = d.cli("ps", "-a", "-q", "--no-trunc")
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def ready_ids(d):
    """The parked sandboxes no container has taken yet."""
    procs = sandbox_procs(d)
    taken = container_ids(d)
    return {cid: pid for cid, pid in procs.items() if cid not in taken}


def pools(d):
    st, body = d.api("GET", "/berth/pools")
    assert st == 200, body
    return {p["Image"]: p for p in body}


def pool(d, image="busybox"):
    return pools(d).get(image)


def taken(d, image="busybox"):
    return pool(d, image)["Taken"]


def set_pool(d, size, image="busybox"):
    r = d.cli("pool", "set", image, str(size), "--wait", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip() == "%s: %d of %d ready" % (image, size, size), r.stdout
    p = pool(d, image)
    assert p["Size"] == size and p["Ready"] == size, p
    wait_full(d, size, image)  # the sandboxes of a pool removed before are gone too
    return p


def remove_pool(d, image="busybox"):
    if pool(d, image) is not None:
        r = d.cli("pool", "rm", image)
        assert r.returncode == 0, r.stderr
    # Its parked children are killed, their directories removed.
    assert wait_until(lambda: ready_ids(d) == {}), ready_ids(d)


def sandbox_cgroups(d, cid):
    return [os.path.join(parent, cid) for parent in cgroup_parents(d.root)]


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(pred, timeout=5.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def assert_sandbox_gone(d, cid, pid):
    assert wait_until(lambda: not alive(pid)), "parked process %d of %s still alive" % (pid, cid)
    assert wait_until(lambda: not any(os.path.exists(p) for p in sandbox_cgroups(d, cid))), \
        [p for p in sandbox_cgroups(d, cid) if os.path.exists(p)]
    assert wait_until(lambda: not os.path.exists(os.path.join(d.root, "containers", cid))), cid


def assert_no_leaks(d):
    """Every directory in <root>/containers and every container cgroup is a
    container's or a ready sandbox's, or a spare (a cgroup and directory kept
    for later containers, named by a fresh container id: GET /berth/spares);
    every exit is acknowledged."""
    def leaks():
        known = container_ids(d) | set(ready_ids(d))
        st, spares = d.api("GET", "/berth/spares")
        assert st == 200, spares
        out = [n for n in container_dirs(d) if n not in known]
        ok = known | set(spares["Cgroups"])
        for parent in cgroup_parents(d.root):
            out += [os.path.join(parent, n) for n in os.listdir(parent)
                    if len(n) == 64 and os.path.isdir(os.path.join(parent, n)) and n not in ok]
        return out
    assert wait_until(lambda: leaks() == []), leaks()
    assert wait_until(lambda: exit_records(d.root) == {}), exit_records(d.root)


def wait_full(d, size, image="busybox", timeout=10):
    assert wait_until(lambda: pool(d, image)["Ready"] == size and len(ready_ids(d)) == size, timeout), \
        (pool(d, image), ready_ids(d))


@pytest.fixture
def pooled(daemon):
    """The module's daemon with no pool left behind by the test."""
    remove_pool(daemon)
    try:
        yield daemon
        assert_no_leaks(daemon)
    finally:
        remove_pool(daemon)


def pooled_run(d, *args, input=None, timeout=60):
    """`berth run ARGS`, asserting that it took one sandbox of the busybox pool
    (once one is ready: the pool refills in the daemon's quiet time)."""
    assert wait_until(lambda: pool(d)["Ready"] > 0, 10), pool(d)
    before = taken(d)
    r = d.cli("run", *args, input=input, timeout=timeout)
    assert taken(d) == before + 1, ("not served from the pool", args, pool(d))
    return r


def cold_run(d, *args, input=None, timeout=60):
    """`berth run ARGS`, asserting that no sandbox was taken (the ready ones stay)."""
    before, ready = taken(d), set(ready_ids(d))
    r = d.cli("run", *args, input=input, timeout=timeout)
    assert taken(d) == before, ("served from the pool", args, pool(d))
    assert ready <= set(ready_ids(d)), "a ready sandbox went"
    return r


def berth_argv(d, *args):
    return [BERTH, "-H", d.host, "--data-root", d.root, "--no-autostart"] + list(args)


# Tests ------------------------------------------------------------------------

def test_set_fills_and_rm_removes(pooled):
    d = pooled
    set_pool(d, 4)
    out = d.cli("pool", "ls")
    assert out.returncode == 0, out.stderr
    rows = [l.split() for l in out.stdout.splitlines()]
    assert rows[0][:6] == ["IMAGE", "SIZE", "READY", "PREPARING", "TAKEN", "FAILED"]
    assert rows[1][:3] == ["busybox", "4", "4"], out.stdout
    p = pool(d)
    assert p["Image"] == "busybox" and p["ImageID"].startswith("sha256:") and p["Failed"] == 0 and p["LastError"] == ""
    ready = ready_ids(d)
    assert len(ready) == 4, ready
    for cid, pid in ready.items():
        # Parked: a child of the monitor, in the sandbox's cgroup in every
        # hierarchy, with its directory and nothing of the image running.
        for path in sandbox_cgroups(d, cid):
            with open(os.path.join(path, "cgroup.procs")) as f:
                assert str(pid) in f.read().split(), path
        assert os.path.isdir(os.path.join(d.root, "containers", cid))
        assert alive(pid)
        # A clone of the zygote (berth-zygote, next to berth): nothing of
        # the image has been exec'd yet.
        assert os.path.basename(os.readlink("/proc/%d/exe" % pid)) == "berth-zygote"
        with open("/proc/%d/status" % pid) as f:
            assert "\nNSpid:\t%d\t1\n" % pid in f.read()  # pid 1 of its own pid namespace
    assert container_ids(d).isdisjoint(ready)  # no container record for a sandbox
    st, info = d.api("GET", "/info")
    assert st == 200 and info["Containers"] == len(container_ids(d)), info["Containers"]
    for cid in ready:
        assert d.api("GET", "/containers/%s/json" % cid)[0] == 404

    r = d.cli("pool", "rm", "busybox")
    assert (r.returncode, r.stdout) == (0, "busybox\n"), r.stderr
    assert pools(d) == {}
    for cid, pid in ready.items():
        assert_sandbox_gone(d, cid, pid)
    assert ready_ids(d) == {}
    # Set again, then removed with a size of 0.
    set_pool(d, 2)
    ready = ready_ids(d)
    r = d.cli("pool", "set", "busybox", "0")
    assert (r.returncode, r.stdout) == (0, "busybox: 0 of 0 ready\n"), r.stderr
    assert pools(d) == {}
    for cid, pid in ready.items():
        assert_sandbox_gone(d, cid, pid)
    # Set again, then removed through the API: 204.
    set_pool(d, 2)
    ready = ready_ids(d)
    st, _ = d.api("DELETE", "/berth/pools/busybox")
    assert st == 204
    for cid, pid in ready.items():
        assert_sandbox_gone(d, cid, pid)


def dying_memory_cgroups(d):
    """Removed memory cgroups the kernel still keeps: the host's count
    (/proc/cgroups, dying ones included) less the live ones (the host's
    cgroups are not all visible here, but only this daemon's change)."""
    with open("/proc/cgroups") as f:
        total = next(int(l.split()[2]) for l in f if l.startswith("memory\t"))
    live = 0
    for parent in cgroup_parents(d.root):
        if os.path.exists(os.path.join(parent, "memory.stat")):  # v1 memory, or cgroup2 with it
            live += sum(1 for _ in os.walk(parent))
    return total - live


@pytest.fixture
def on_fresh_ext4(tmp_path):
    """A daemon whose data root is on an ext4 filesystem of its own, just
    made: a block a new directory gets has never been in the page cache
    (on a used filesystem it may be, charged to whoever read it first)."""
    img, mnt = tmp_path / "fs.img", tmp_path / "mnt"
    subprocess.run(["truncate", "-s", "256M", str(img)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True)
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], check=True)
    try:
        yield from daemon_with_busybox("berth-e2e-ext4-", dir=str(mnt))
    finally:
        # The killed monitor's namespaces go with its exit, just after.
        assert wait_until(lambda: subprocess.run(["umount", str(mnt)]).returncode == 0, timeout=20), \
            "the test filesystem stayed busy"  # umount frees the loop device too (autoclear)


@pytest.mark.parametrize("how", ["pooled", "cold"])
def test_containers_leave_no_dying_memory_cgroup(on_fresh_ext4, how):
    # Making an overlay makes its work directory: a new ext4 block, in the
    # page cache charged to the maker's memory cgroup. Made in the
    # container's (a child placed there before it), that page kept the
    # cgroup as a dying one after its removal, until memory pressure. The
    # zygote makes a sandbox's; a cold child joins its memory cgroup once it
    # has made its own (on cgroup2, the zygote makes it).
    d = on_fresh_ext4
    n = 40
    before = dying_memory_cgroups(d)
    if how == "pooled":
        set_pool(d, n)
        remove_pool(d)
    else:
        # All at once: each needs a block of its own.
        st, out = d.api("POST", "/berth/containers/run?count=%d&parallel=%d&remove=1" % (n, n),
                        body={"Image": "busybox", "Cmd": ["sleep", "1"], "HostConfig": {"NetworkMode": "none"}},
                        timeout=120)
        assert st == 200 and out["FromPool"] == 0 and not out["Errors"], out
        assert out["ExitCodes"] == {"0": n}, out
    # Their cgroups are removed or kept as spares, which the daemon
    # removes at its exit; a dying cgroup is freed asynchronously (RCU,
    # then a work item).
    d.stop()
    assert wait_until(lambda: dying_memory_cgroups(d) <= before + n // 8, timeout=20), (
        before, dying_memory_cgroups(d))


def test_a_sandbox_is_no_container(pooled):
    d = pooled
    set_pool(d, 3)
    ready = ready_ids(d)
    since = "%.9f" % time.time()
    st, listed = d.api("GET", "/containers/json?all=1")
    assert st == 200 and set(c["Id"] for c in listed).isdisjoint(ready), listed
    for cid in list(ready)[:2]:
        for ref in (cid, cid[:12]):
            assert d.api("GET", "/containers/%s/json" % ref)[0] == 404
            r = d.cli("rm", "-f", ref)
            assert r.returncode != 0 and "No such container" in r.stderr, r.stderr
            for args in (("start", ref), ("kill", ref), ("exec", ref, "true"), ("logs", ref)):
                r = d.cli(*args)
                assert r.returncode != 0 and "No such container" in r.stderr, (args, r.stderr)
    st, body = d.api("POST", "/containers/prune")
    assert st == 200, body
    st, df = d.api("GET", "/system/df")
    assert st == 200 and set(c["Id"] for c in df.get("Containers") or []).isdisjoint(ready), df
    # Every sandbox is still there, still parked, at the zygote's nice (0
    # here) again after its setup at 19 (INSIDE compares its container's
    # with a cold start's).
    assert ready_ids(d) == ready and pool(d)["Ready"] == 3
    assert all(alive(pid) for pid in ready.values())
    for pid in ready.values():
        with open("/proc/%d/stat" % pid) as f:
            assert f.read().rsplit(")", 1)[1].split()[16] == "0", pid
    r = d.cli("events", "--since", since, "--until", "%.9f" % (time.time() + 0.3), timeout=20)
    assert r.returncode == 0 and not any(cid in r.stdout for cid in ready), r.stdout


def test_pooled_run_behaves_like_a_cold_one(pooled):
    d = pooled
    set_pool(d, 3)
    ready = set(ready_ids(d))
    r = pooled_run(d, "--rm", "busybox", "sh", "-c", "echo hi; cat /etc/hostname; hostname")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "hi" and len(lines) == 3 and lines[1] == lines[2], r.stdout
    # The hostname is the container's short id, which is a former sandbox's.
    assert [cid for cid in ready if cid[:12] == lines[1]], (lines[1], ready)

    r = pooled_run(d, "--rm", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr
    r = pooled_run(d, "--rm", "-e", "FOO=bar baz", "busybox", "sh", "-c", 'echo "$FOO"')
    assert (r.returncode, r.stdout) == (0, "bar baz\n"), r.stderr
    r = pooled_run(d, "--rm", "--user", "nobody", "busybox", "id")
    assert r.returncode == 0 and r.stdout.startswith("uid=65534(nobody) gid=65534("), (r.stdout, r.stderr)
    r = pooled_run(d, "--rm", "-w", "/tmp", "busybox", "pwd")
    assert (r.returncode, r.stdout) == (0, "/tmp\n"), r.stderr
    r = pooled_run(d, "--rm", "--name", "pooled-named", "--label", "k=v", "--entrypoint", "echo", "busybox", "ep")
    assert (r.returncode, r.stdout) == (0, "ep\n"), r.stderr
    r = pooled_run(d, "--rm", "busybox", "no-such-command")
    assert r.returncode == 127 and "executable file not found" in r.stderr, (r.returncode, r.stderr)

    r = pooled_run(d, "--rm", "busybox", "grep", "-E", "^(CapEff|CapBnd|Seccomp|Seccomp_filters|NoNewPrivs):",
                   "/proc/self/status")
    assert r.returncode == 0, r.stderr
    status = dict(re.split(r":\s*", l, 1) for l in r.stdout.splitlines())
    assert status["CapEff"] == DEFAULT_CAPS and status["CapBnd"] == DEFAULT_CAPS, status
    # Two filters: the profile (with setns let through while the sandbox
    # waited outside its network namespace) and one that refuses setns again
    # from the claim on (engine/seccomp.h, netns_entry_profiles_of).
    assert status["Seccomp"] == "2" and status["Seccomp_filters"] == "2", status
    assert status["NoNewPrivs"] == "0", status
    r = pooled_run(d, "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs",
                   "/proc/self/status")
    assert r.returncode == 0 and r.stdout.split() == ["NoNewPrivs:", "1"], (r.stdout, r.stderr)
    # The seccomp filter is in force: a syscall the default profile denies.
    r = pooled_run(d, "--rm", "--user", "nobody", "busybox", "sh", "-c", "unshare -U true; echo rc=$?")
    assert r.returncode == 0 and "rc=0" not in r.stdout, (r.stdout, r.stderr)

    # Process settings: rlimits, supplementary groups.
    r = pooled_run(d, "--rm", "--ulimit", "nofile=100:200", "--group-add", "50", "busybox",
                   "sh", "-c", "ulimit -n; ulimit -Hn; id -G")
    assert (r.returncode, r.stdout) == (0, "100\n200\n0 50\n"), (r.stdout, r.stderr)

    # stdin.
    r = pooled_run(d, "-i", "--rm", "busybox", "cat", input="data\nmore\n")
    assert (r.returncode, r.stdout) == (0, "data\nmore\n"), r.stderr

    # Logs of a container that stays: stdout and stderr both.
    ready = set(ready_ids(d))
    since = "%.9f" % time.time()
    r = pooled_run(d, "-d", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 7")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready
        assert d.cli("wait", cid).stdout.strip() == "7"
        logs = d.cli("logs", cid)
        assert (logs.stdout, logs.stderr) == ("to-out\n", "to-err\n")
        info = json.loads(d.cli("inspect", cid).stdout)[0]
        assert info["Config"]["Hostname"] == cid[:12]
        assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 7
    finally:
        d.cli("rm", "-f", cid)
    # Its events are a cold container's.
    r = d.cli("events", "--since", since, "--until", "%.9f" % (time.time() + 0.5), "--filter", "container=" + cid,
              "--format", "{{.Action}}", timeout=20)
    assert r.returncode == 0, r.stderr
    actions = r.stdout.split()
    lifecycle = ["create", "start", "die", "destroy"]
    assert [a for a in actions if a in lifecycle] == lifecycle, actions

    # A terminal.
    before = taken(d)
    s = PtySession(berth_argv(d, "run", "-it", "--rm", "busybox", "sh"), rows=31, cols=97)
    try:
        assert s.read_until(b"# "), s.output
        s.type("tty; stty size; hostname; exit 6\n")
        assert s.wait() == 6, s.output
        assert b"/dev/pts/0" in s.output and b"31 97" in s.output, s.output
    finally:
        s.close()
    assert taken(d) == before + 1


INSIDE = ("awk '{print $5, $9, $6}' /proc/self/mountinfo; ls -l /dev | awk '{print $1, $NF}'; ulimit -a; "
          "env | sort; grep -E '^(Cap|Seccomp:|NoNewPrivs|Uid|Gid|Groups)' /proc/self/status; "
          "cat /proc/self/oom_score_adj; id; umask; ls /sys/fs/cgroup; ls /proc/sys/net/ipv4 | wc -l; "
          "cat /etc/hosts /etc/resolv.conf /etc/hostname; echo host=$(hostname); ls -a /; ls /proc/1/ns | wc -l; "
          "awk '{print \"nice\", $19}' /proc/self/stat; ls /sys/class/net; awk 'NR > 2 {print $1}' /proc/net/dev; "
          "ip -o link | awk '{print $2}'")


def test_the_inside_of_a_pooled_container_is_the_inside_of_a_cold_one(pooled):
    d = pooled

    def inside(*flags):
        r = d.cli("run", "-d", *flags, "busybox", "sh", "-c", INSIDE)
        assert r.returncode == 0, r.stderr
        cid = r.stdout.strip()
        try:
            assert d.cli("wait", cid).stdout.strip() == "0"
            out = d.cli("logs", cid).stdout
        finally:
            d.cli("rm", "-f", cid)
        return cid, out.replace(cid[:12], "<id>")

    for flags in ((), ("--user", "nobody", "-w", "/tmp", "-e", "A=1"), ("-m", "32m", "--pids-limit", "50")):
        cold_id, cold = inside(*flags)
        set_pool(d, 1)
        before = taken(d)
        warm_id, warm = inside(*flags)
        assert taken(d) == before + 1, pool(d)
        remove_pool(d)
        assert warm == cold, (flags, [l for l in warm.splitlines() if l not in cold.splitlines()],
                              [l for l in cold.splitlines() if l not in warm.splitlines()])


def test_a_pooled_process_starts_with_default_signals_and_its_own_environment(pooled):
    from test_run import clean_start_problems
    set_pool(pooled, 2)
    before = taken(pooled)
    assert clean_start_problems(pooled) == []
    assert taken(pooled) == before + 2, pool(pooled)
    remove_pool(pooled)


def test_limits_are_applied_to_a_pooled_sandbox(pooled):
    d = pooled
    set_pool(d, 3)
    ready = set(ready_ids(d))
    before = taken(d)
    r = d.cli("run", "-d", "-m", "64m", "--cpu-shares", "512", "--pids-limit", "33", "busybox", "sleep", "30")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready and taken(d) == before + 1

        def knob(name):
            for path in sandbox_cgroups(d, cid):
                if os.path.exists(os.path.join(path, name)):
                    with open(os.path.join(path, name)) as f:
                        return f.read().strip()
            return None
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            assert knob("memory.max") == str(64 * MiB)
        else:
            assert knob("memory.limit_in_bytes") == str(64 * MiB)
            assert knob("cpu.shares") == "512"
        assert knob("pids.max") == "33"
        info = json.loads(d.cli("inspect", cid).stdout)[0]
        assert info["HostConfig"]["Memory"] == 64 * MiB and info["HostConfig"]["PidsLimit"] == 33
        st, stats = d.api("GET", "/containers/%s/stats?stream=0" % cid)
        assert st == 200 and stats["memory_stats"]["limit"] == 64 * MiB, stats
        assert stats["pids_stats"]["current"] == 1, stats
        r = d.cli("update", "-m", "128m", "--memory-swap", "256m", "--pids-limit", "44", cid)
        assert r.returncode == 0, r.stderr
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            assert knob("memory.max") == str(128 * MiB)
        else:
            assert knob("memory.limit_in_bytes") == str(128 * MiB)
        assert knob("pids.max") == "44"
        # The container's process is in that cgroup.
        pid = info["State"]["Pid"]
        with open("/proc/%d/cgroup" % pid) as f:
            assert "/%s/%s" % (cgroup_name(d), cid) in f.read()
    finally:
        d.cli("rm", "-f", cid)
    # CPU placement and quota, seen from inside; a memory limit enforced.
    r = pooled_run(d, "--rm", "--cpuset-cpus", "0", "--cpus", "0.5", "busybox", "grep", "Cpus_allowed_list",
                   "/proc/self/status")
    assert r.returncode == 0 and r.stdout.split() == ["Cpus_allowed_list:", "0"], (r.stdout, r.stderr)
    ready = set(ready_ids(d))
    r = pooled_run(d, "-m", "16m", "--memory-swap", "16m", "busybox", "dd", "if=/dev/zero", "of=/dev/null",
                   "bs=64M", "count=1")
    made = container_ids(d)
    try:
        assert r.returncode == 137, (r.returncode, r.stderr)
        assert len(made) == 1 and made <= ready, made
        state = json.loads(d.cli("inspect", made.pop()).stdout)[0]["State"]
        assert state["OOMKilled"] is True and state["ExitCode"] == 137, state
    finally:
        d.cli("rm", "-f", *container_ids(d))


@pytest.mark.parametrize("flags,command,check", [
    (["--hostname", "foo"], ["hostname"], lambda out: out == "foo\n"),
    (["-v", "poolvol:/data"], ["sh", "-c", "echo v > /data/f && cat /data/f && grep -c ' /data ' /proc/mounts"],
     lambda out: out == "v\n1\n"),
    (["--mount", "type=bind,source=/etc,target=/mnt,readonly"], ["cat", "/mnt/hostname"],
     lambda out: out == open("/etc/hostname").read()),
    (["--device", "/dev/null:/dev/xnull"], ["sh", "-c", "echo x > /dev/xnull && echo ok"], lambda out: out == "ok\n"),
    (["-v", "/etc:/mnt:ro"], ["cat", "/mnt/hostname"], lambda out: out == open("/etc/hostname").read()),
    (["--cap-add", "SYS_ADMIN"], ["grep", "CapEff", "/proc/self/status"],
     lambda out: out.split()[1] == "00000000a82425fb"),
    (["--cap-drop", "ALL"], ["grep", "CapEff", "/proc/self/status"], lambda out: out.split()[1] == "0000000000000000"),
    (["--security-opt", "seccomp=unconfined"], ["grep", "^Seccomp:", "/proc/self/status"],
     lambda out: out.split()[1] == "0"),
    (["--security-opt", "seccomp=@PROFILE@"], ["sh", "-c", "mkdir /tmp/x 2>/dev/null; echo rc=$?"],
     lambda out: out == "rc=1\n"),
    (["--init"], ["cat", "/proc/1/cmdline"], lambda out: "sh" not in out.split("\0")[0] and out != ""),
    (["--read-only"], ["sh", "-c", "touch /x 2>/dev/null; echo rc=$?"], lambda out: out == "rc=1\n"),
    (["--tmpfs", "/scratch"], ["sh", "-c", "grep ' /scratch ' /proc/mounts | cut -d' ' -f3"],
     lambda out: out == "tmpfs\n"),
    (["--shm-size", "8m"], ["sh", "-c", "df -k /dev/shm | tail -1 | awk '{print $2}'"], lambda out: out == "8192\n"),
    (["--sysctl", "net.ipv4.ip_forward=1"], ["cat", "/proc/sys/net/ipv4/ip_forward"], lambda out: out == "1\n"),
    (["--privileged"], ["grep", "CapEff", "/proc/self/status"], lambda out: out.split()[1] != "00000000a80425fb"),
    (["--network", "host"], ["ls", "/sys/class/net"],
     lambda out: sorted(out.split()) == sorted(os.listdir("/sys/class/net"))),
], ids=["hostname", "volume", "mount", "device", "bind", "cap-add", "cap-drop", "seccomp-unconfined",
        "seccomp-profile", "init", "read-only", "tmpfs", "shm-size", "sysctl", "privileged", "network-host"])
def test_a_config_the_pool_does_not_fit_starts_cold(pooled, flags, command, check, tmp_path):
    d = pooled
    if "seccomp=@PROFILE@" in flags:
        profile = tmp_path / "deny-mkdir.json"
        profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
        flags = [f.replace("@PROFILE@", str(profile)) for f in flags]
    set_pool(d, 2)
    try:
        r = cold_run(d, "--rm", *flags, "busybox", *command)
    finally:
        if "poolvol:/data" in flags:
            d.cli("volume", "rm", "poolvol")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert check(r.stdout), r.stdout
    # The pool still serves a plain run afterwards.
    r = pooled_run(d, "--rm", "busybox", "echo", "plain")
    assert (r.returncode, r.stdout) == (0, "plain\n"), r.stderr


def test_pooled_container_lifecycle(pooled):
    d = pooled
    set_pool(d, 3)
    ready = ready_ids(d)
    r = d.cli("run", "-d", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready
        info = json.loads(d.cli("inspect", cid).stdout)[0]
        pid = info["State"]["Pid"]
        assert info["State"]["Running"] and pid == ready[cid]  # the parked child, now the container
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert f.read() == b"sleep\x00300\x00"
        r = d.cli("exec", cid, "sh", "-c", "hostname; ls /proc | grep -c '^[0-9]'")
        assert r.returncode == 0 and r.stdout.split()[0] == cid[:12], (r.stdout, r.stderr)
        ps = d.cli("top", cid)
        assert ps.returncode == 0 and "sleep 300" in ps.stdout, (ps.stdout, ps.stderr)
        assert d.cli("pause", cid).returncode == 0
        assert json.loads(d.cli("inspect", cid).stdout)[0]["State"]["Status"] == "paused"
        assert d.cli("unpause", cid).returncode == 0
        r = d.cli("stop", "-t", "1", cid)
        assert r.returncode == 0, r.stderr
        state = json.loads(d.cli("inspect", cid).stdout)[0]["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 137, state
        assert not alive(pid)
    finally:
        d.cli("rm", "-f", cid)
    assert wait_until(lambda: not any(os.path.exists(p) for p in sandbox_cgroups(d, cid)))
    assert not os.path.exists(os.path.join(d.root, "containers", cid))
    # Auto-removed by the daemon (-d --rm).
    ready = ready_ids(d)
    r = d.cli("run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.2")
    cid = r.stdout.strip()
    assert r.returncode == 0 and cid in ready, r.stderr
    assert wait_until(lambda: cid not in container_ids(d))
    assert_sandbox_gone(d, cid, ready[cid])
    # rm -f of a running pooled container.
    r = d.cli("run", "-d", "busybox", "sleep", "300")
    cid = r.stdout.strip()
    assert r.returncode == 0 and taken(d) == 3, (r.stderr, pool(d))
    pid = json.loads(d.cli("inspect", cid).stdout)[0]["State"]["Pid"]
    assert d.cli("rm", "-f", cid).returncode == 0
    assert_sandbox_gone(d, cid, pid)


def test_a_ready_sandbox_that_dies_is_replaced(pooled):
    d = pooled
    set_pool(d, 3)
    ready = ready_ids(d)
    victim, pid = sorted(ready.items())[0]
    os.kill(pid, signal.SIGKILL)  # a child of our own daemon's monitor
    assert_sandbox_gone(d, victim, pid)
    wait_full(d, 3)
    assert victim not in ready_ids(d)
    # The pool still serves, never the dead one.
    r = pooled_run(d, "--rm", "busybox", "hostname")
    assert r.returncode == 0 and r.stdout.strip() != victim[:12], (r.stdout, r.stderr)


def test_a_failed_pooled_start_can_be_retried(pooled):
    d = pooled
    set_pool(d, 3)
    ready = set(ready_ids(d))
    before = container_ids(d)
    r = d.cli("run", "busybox", "no-such-command")
    assert r.returncode == 127 and "executable file not found" in r.stderr, (r.returncode, r.stderr)
    made = container_ids(d) - before
    assert len(made) == 1
    cid = made.pop()
    try:
        assert cid in ready
        state = json.loads(d.cli("inspect", cid).stdout)[0]["State"]
        assert state["Status"] == "created" and state["ExitCode"] == 127, state
        # Started again (cold): the same error, not a leftover of the sandbox.
        r = d.cli("start", cid)
        assert r.returncode != 0 and "executable file not found" in r.stderr, (r.returncode, r.stderr)
    finally:
        assert d.cli("rm", "-f", cid).returncode == 0
    assert wait_until(lambda: not any(os.path.exists(p) for p in sandbox_cgroups(d, cid)))
    assert not os.path.exists(os.path.join(d.root, "containers", cid))


def test_pools_are_per_image_and_the_image_config_applies(pooled):
    d = pooled
    tar = os.path.join(d.base, "busybox.tar")
    r = d.cli("import", "-c", "ENV X=from-image", "-c", "USER app", "-c", "WORKDIR /home/app",
              "-c", 'CMD ["sh", "-c", "echo $X $(id -un) $(pwd) $(hostname)"]', tar, "configured:1")
    assert r.returncode == 0, r.stderr
    try:
        set_pool(d, 2)
        # Not busybox: the busybox pool does not serve it.
        r = cold_run(d, "--rm", "configured:1")
        assert r.returncode == 0 and r.stdout.split()[:3] == ["from-image", "app", "/home/app"], (r.stdout, r.stderr)
        r = d.cli("pool", "set", "configured:1", "2", "--wait")
        assert (r.returncode, r.stdout) == (0, "configured:1: 2 of 2 ready\n"), r.stderr
        assert sorted(pools(d)) == ["busybox", "configured:1"]
        ready = set(ready_ids(d))
        assert len(ready) == 4
        before = taken(d, "configured:1")
        r = d.cli("run", "--rm", "configured:1")
        assert r.returncode == 0, r.stderr
        x, user, wd, host = r.stdout.split()
        assert (x, user, wd) == ("from-image", "app", "/home/app"), r.stdout
        assert [c for c in ready if c[:12] == host], (host, ready)
        assert taken(d, "configured:1") == before + 1 and taken(d) == 0
        # Overridden at the run.
        r = d.cli("run", "--rm", "-u", "root", "-w", "/", "-e", "X=from-run", "configured:1")
        assert r.returncode == 0 and r.stdout.split()[:3] == ["from-run", "root", "/"], (r.stdout, r.stderr)
        assert taken(d, "configured:1") == before + 2
        # Removing by image id works too.
        image_id = pools(d)["configured:1"]["ImageID"]
        r = d.cli("pool", "rm", image_id)
        assert r.returncode == 0, r.stderr
        assert sorted(pools(d)) == ["busybox"]
        assert wait_until(lambda: len(ready_ids(d)) == 2), ready_ids(d)
    finally:
        if pool(d, "configured:1") is not None:
            d.cli("pool", "rm", "configured:1")
        wait_until(lambda: len(ready_ids(d)) <= 2)
        assert d.cli("rmi", "configured:1").returncode == 0


def test_a_claim_runs_what_the_search_along_path_finds(pooled, tmp_path):
    """A pool looks a claim's command up along PATH once, in the image's
    layers, and tells its next claims where it is (their children skip the
    search): they run what a cold start of the same container runs."""
    d = pooled
    cases = import_path_search_image(d, tmp_path, "pathy:1")
    try:
        for flags, command, want in cases:
            r = d.cli("run", "--rm", *flags, "pathy:1", command)
            assert (r.returncode, r.stdout) == (0, want), (command, r.stderr)
        r = d.cli("pool", "set", "pathy:1", "4", "--wait")
        assert r.returncode == 0, r.stderr
        for i, (flags, command, want) in enumerate(cases):
            # The first claim searches and the pool looks the command up
            # meanwhile; the claims after it are told.
            for _ in range(3):
                assert wait_until(lambda: pool(d, "pathy:1")["Ready"] > 0, 10), pool(d, "pathy:1")
                before = taken(d, "pathy:1")
                r = d.cli("run", "--rm", *flags, "pathy:1", command)
                assert (r.returncode, r.stdout) == (0, want), (command, r.stderr)
                assert taken(d, "pathy:1") == before + 1, pool(d, "pathy:1")
                wait_until(lambda: pool(d, "pathy:1")["Commands"] == i + 1, 5)
            assert pool(d, "pathy:1")["Commands"] == i + 1, pool(d, "pathy:1")
        # Not along PATH: nothing is known, and the claim's child says so
        # as a cold start's does.
        for _ in range(2):
            r = d.cli("run", "--rm", "pathy:1", "no-such-command")
            assert r.returncode == 127, r.stderr
            assert 'exec: "no-such-command": executable file not found in $PATH' in r.stderr, r.stderr
        # Another user may not search every directory: never told.
        r = d.cli("run", "--rm", "-u", "app", "pathy:1", "which-one")
        assert (r.returncode, r.stdout) == (0, "local\n"), r.stderr
        assert pool(d, "pathy:1")["Commands"] == len(cases), pool(d, "pathy:1")
    finally:
        if pool(d, "pathy:1") is not None:
            d.cli("pool", "rm", "pathy:1")
        wait_until(lambda: len(ready_ids(d)) == 0)
        assert d.cli("rmi", "pathy:1").returncode == 0


def test_created_but_never_started(pooled):
    d = pooled
    set_pool(d, 3)
    ready = ready_ids(d)
    r = d.cli("create", "busybox", "echo", "never")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert cid in ready
    pid = ready[cid]
    assert alive(pid) and sandbox_procs(d).get(cid) == pid  # still parked
    info = json.loads(d.cli("inspect", cid).stdout)[0]
    assert info["State"]["Status"] == "created" and info["Config"]["Hostname"] == cid[:12]
    assert info["State"]["Pid"] == 0 and not info["State"]["Running"], info["State"]
    assert cid in container_ids(d) and d.cli("ps", "-q", "--no-trunc").stdout.split().count(cid) == 0
    r = d.cli("rm", cid)
    assert r.returncode == 0, r.stderr
    assert_sandbox_gone(d, cid, pid)
    assert cid not in container_ids(d)

    # Its parked child dies before the start: the start is a cold one.
    wait_full(d, 3)
    ready = ready_ids(d)
    r = d.cli("create", "busybox", "sh", "-c", "echo cold-$(hostname)")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready
        os.kill(ready[cid], signal.SIGKILL)  # a child of our own daemon's monitor
        assert wait_until(lambda: not alive(ready[cid]))
        time.sleep(0.3)
        r = d.cli("start", "-a", cid)
        assert (r.returncode, r.stdout) == (0, "cold-%s\n" % cid[:12]), r.stderr
    finally:
        d.cli("rm", "-f", cid)

    # Stop and kill of a created one, as Docker: a no-op, an error; it stays parked.
    wait_full(d, 3)
    ready = ready_ids(d)
    r = d.cli("create", "busybox", "echo", "still")
    cid = r.stdout.strip()
    try:
        assert r.returncode == 0 and cid in ready, r.stderr
        assert d.cli("stop", cid).returncode == 0
        r = d.cli("kill", cid)
        assert r.returncode != 0 and "is not running" in r.stderr, r.stderr
        assert alive(ready[cid])
        r = d.cli("start", "-a", cid)
        assert (r.returncode, r.stdout) == (0, "still\n"), r.stderr
    finally:
        d.cli("rm", "-f", cid)

    # Created with -i, started attached with stdin.
    wait_full(d, 3)
    ready = ready_ids(d)
    r = d.cli("create", "-i", "busybox", "sh", "-c", "cat; echo end")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready
        r = d.cli("start", "-ai", cid, input="typed\n")
        assert (r.returncode, r.stdout) == (0, "typed\nend\n"), r.stderr
    finally:
        d.cli("rm", "-f", cid)

    # Created now, started later: the parked child runs it.
    wait_full(d, 3)
    ready = ready_ids(d)
    r = d.cli("create", "-e", "X=late", "busybox", "sh", "-c", 'echo "$X-$(hostname)"; exit 2')
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready
        time.sleep(0.5)
        r = d.cli("start", "-a", cid)
        assert (r.returncode, r.stdout) == (2, "late-%s\n" % cid[:12]), r.stderr
        assert not alive(ready[cid])
        info = json.loads(d.cli("inspect", cid).stdout)[0]
        assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 2
    finally:
        d.cli("rm", "-f", cid)
    assert wait_until(lambda: not any(os.path.exists(p) for p in sandbox_cgroups(d, cid)))
    assert not os.path.exists(os.path.join(d.root, "containers", cid))

    # The pool removed between the create and the start: the container keeps
    # its sandbox.
    wait_full(d, 3)
    ready = ready_ids(d)
    r = d.cli("create", "busybox", "echo", "kept")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready
        remove_pool(d)
        assert alive(ready[cid])
        r = d.cli("start", "-a", cid)
        assert (r.returncode, r.stdout) == (0, "kept\n"), r.stderr
    finally:
        d.cli("rm", "-f", cid)


def test_cp_into_a_created_pooled_container(pooled):
    """cp into a created container writes its upper directory from outside:
    its parked sandbox (whose overlay is live on that directory) is given up
    first, and the start is a cold one that sees the file."""
    d = pooled
    set_pool(d, 3)
    ready = ready_ids(d)
    r = d.cli("create", "busybox", "cat", "/copied")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    src = os.path.join(d.base, "copied-into-pooled")
    with open(src, "w") as f:
        f.write("payload\n")
    try:
        assert cid in ready
        r = d.cli("cp", src, cid + ":/copied")
        assert r.returncode == 0, r.stderr
        assert wait_until(lambda: not alive(ready[cid]), 5)
        r = d.cli("start", "-a", cid)
        assert (r.returncode, r.stdout) == (0, "payload\n"), r.stderr
    finally:
        d.cli("rm", "-f", cid)


def test_second_start_of_a_pooled_container_is_cold_and_works(pooled):
    d = pooled
    set_pool(d, 3)
    ready = set(ready_ids(d))
    r = d.cli("run", "-d", "busybox", "sh", "-c", "echo run-$(hostname); exit 4")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        assert cid in ready
        assert d.cli("wait", cid).stdout.strip() == "4"
        before = taken(d)
        r = d.cli("start", "-a", cid)
        assert (r.returncode, r.stdout) == (4, "run-%s\n" % cid[:12]), r.stderr
        assert taken(d) == before
        r = d.cli("start", "-a", cid)
        assert (r.returncode, r.stdout) == (4, "run-%s\n" % cid[:12]), r.stderr
        assert d.cli("logs", cid).stdout == ("run-%s\n" % cid[:12]) * 3
        r = d.cli("rm", cid)
        assert r.returncode == 0, r.stderr
    finally:
        d.cli("rm", "-f", cid)
    # Restarted by its policy after a pooled first start.
    ready = set(ready_ids(d))
    r = d.cli("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 1")
    cid = r.stdout.strip()
    try:
        assert r.returncode == 0 and cid in ready, r.stderr

        def state():
            return json.loads(d.cli("inspect", cid).stdout)[0]
        assert wait_until(lambda: state()["RestartCount"] == 2 and state()["State"]["Status"] == "exited", 20), \
            state()["State"]
        assert state()["State"]["ExitCode"] == 1
        assert d.cli("logs", cid).stdout == "try\n" * 3
    finally:
        d.cli("rm", "-f", cid)
    # A restart of a running pooled container is cold too.
    ready = set(ready_ids(d))
    r = d.cli("run", "-d", "busybox", "sleep", "30")
    cid = r.stdout.strip()
    try:
        assert r.returncode == 0 and cid in ready, r.stderr
        r = d.cli("restart", "-t", "1", cid)
        assert r.returncode == 0, r.stderr
        r = d.cli("exec", cid, "hostname")
        assert (r.returncode, r.stdout) == (0, cid[:12] + "\n"), r.stderr
    finally:
        d.cli("rm", "-f", cid)


def test_pool_refills(pooled):
    d = pooled
    set_pool(d, 5)
    first = set(ready_ids(d))
    before = taken(d)
    for i in range(3):
        r = d.cli("run", "--rm", "busybox", "true")
        assert r.returncode == 0, r.stderr
    assert taken(d) == before + 3
    wait_full(d, 5)
    now = set(ready_ids(d))
    assert len(first & now) == 2 and len(now - first) == 3, (first, now)
    p = pool(d)
    assert p["Failed"] == 0 and p["Preparing"] == 0, p
    # Shrinking drops the extra sandboxes; growing prepares more.
    r = d.cli("pool", "set", "busybox", "2")
    assert r.returncode == 0, r.stderr
    wait_full(d, 2)
    gone = now - set(ready_ids(d))
    assert len(gone) == 3
    for cid in gone:
        assert wait_until(lambda: not os.path.exists(os.path.join(d.root, "containers", cid)))
    set_pool(d, 6)
    wait_full(d, 6)


def test_concurrent_runs_share_the_pool(pooled):
    d = pooled
    set_pool(d, 5)
    ready = set(ready_ids(d))
    before = taken(d)
    procs = [subprocess.Popen(berth_argv(d, "run", "--rm", "busybox", "sh", "-c", "hostname; exit %d" % i),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(12)]
    outs = []
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=60)
        assert p.returncode == i, (i, p.returncode, err)
        outs.append(out.strip())
    assert len(set(outs)) == 12  # twelve containers, twelve hostnames
    from_pool = [h for h in outs if any(c[:12] == h for c in ready)]
    assert len(from_pool) == 5, (outs, ready)  # every ready one served exactly one
    assert 5 <= taken(d) - before <= 12
    wait_full(d, 5)


def test_removed_while_filling(pooled):
    d = pooled
    filler = subprocess.Popen(berth_argv(d, "pool", "set", "busybox", "300", "--wait"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: (pool(d) or {}).get("Ready", 0) >= 5, 20), pool(d)
        p = pool(d)
        assert p["Ready"] < 300, p
        r = d.cli("pool", "rm", "busybox")
        assert r.returncode == 0, r.stderr
        out, err = filler.communicate(timeout=30)
    finally:
        if filler.poll() is None:
            filler.kill()
            filler.wait()
    assert filler.returncode != 0 and "the warm pool was removed meanwhile" in err, (out, err)
    assert pools(d) == {}
    # Every sandbox, the ready ones and those in preparation, goes.
    assert wait_until(lambda: ready_ids(d) == {} and
                      set(container_dirs(d)) <= container_ids(d), 10), \
        (ready_ids(d), container_dirs(d))
    r = d.cli("run", "--rm", "busybox", "echo", "cold")
    assert (r.returncode, r.stdout) == (0, "cold\n"), r.stderr
    # Set and removed in quick succession, then set for good.
    for _ in range(5):
        assert d.cli("pool", "set", "busybox", "5").returncode == 0
        assert d.cli("pool", "rm", "busybox").returncode == 0
    set_pool(d, 3)
    assert pool(d)["Failed"] == 0, pool(d)


def test_errors(pooled):
    d = pooled
    r = d.cli("pool", "set", "no-such-image", "3")
    assert r.returncode != 0 and "No such image: no-such-image" in r.stderr, (r.stdout, r.stderr)
    st, body = d.api("POST", "/berth/pools", {"Image": "no-such-image", "Size": 3})
    assert st == 404 and "No such image" in body["message"], body
    for size in (-1, 20001, 10 ** 12):
        st, body = d.api("POST", "/berth/pools", {"Image": "busybox", "Size": size})
        assert st == 400 and "invalid pool size" in body["message"], (size, body)
    st, body = d.api("POST", "/berth/pools", {"Image": "busybox", "Size": "3"})
    assert st == 400, body
    st, body = d.api("POST", "/berth/pools", {"Size": 3})
    assert st == 400 and "Image is required" in body["message"], body
    r = d.cli("pool", "set", "busybox", "-1")
    assert r.returncode != 0 and "0 or more" in r.stderr, (r.stdout, r.stderr)
    r = d.cli("pool", "set", "busybox", "999999")
    assert r.returncode != 0 and "invalid pool size" in r.stderr, (r.stdout, r.stderr)
    assert pools(d) == {}
    r = d.cli("pool", "rm", "busybox")
    assert r.returncode != 0 and "no warm pool for image busybox" in r.stderr, (r.stdout, r.stderr)
    st, body = d.api("DELETE", "/berth/pools/busybox")
    assert st == 404, body

    set_pool(d, 2)
    r = d.cli("rmi", "busybox")
    assert r.returncode != 0 and "berth pool rm busybox" in r.stderr, (r.stdout, r.stderr)
    st, body = d.api("DELETE", "/images/busybox")
    assert st == 409 and "berth pool rm" in body["message"], body
    st, body = d.api("DELETE", "/images/busybox?force=1")
    assert st == 409 and "berth pool rm" in body["message"], body
    assert d.api("GET", "/images/busybox/json")[0] == 200
    assert pool(d)["Ready"] == 2


def test_batch_from_the_pool(pooled):
    d = pooled
    set_pool(d, 20)
    before = taken(d)
    r = d.cli("run", "--count", "20", "--rm", "busybox", "true", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    m = re.search(r"from a warm pool: (\d+) \(all running after ([\d.]+) s: ([\d.]+) containers/s\)", r.stdout)
    assert m and m.group(1) == "20", r.stdout
    assert float(m.group(3)) > 0
    assert "exit codes: 0 x20" in r.stdout
    assert taken(d) == before + 20
    assert container_ids(d) == set()

    # Open loop.
    r = d.cli("run", "--count", "40", "--rate", "200", "--rm", "busybox", "true", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert re.search(r"^40 containers started in [\d.]+ s", r.stdout, re.M), r.stdout
    lat = re.search(r"start latency: p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms", r.stdout)
    assert lat and 0 < float(lat.group(1)) <= float(lat.group(2)) <= float(lat.group(3)), r.stdout
    assert "exit codes: 0 x40" in r.stdout
    assert container_ids(d) == set()

    # A pool smaller than the batch: the rest start cold (or from refills).
    r = d.cli("pool", "set", "busybox", "4", "--wait")
    assert r.returncode == 0, r.stderr
    wait_full(d, 4)
    before = taken(d)
    st, body = d.api("POST", "/berth/containers/run?count=16&remove=1",
                     {"Image": "busybox", "Cmd": ["sh", "-c", "exit 9"]}, timeout=120)
    assert st == 200 and body["Started"] == 16 and body["ExitCodes"] == {"9": 16}, body
    assert 4 <= body["FromPool"] <= 16 and taken(d) == before + body["FromPool"], (body, pool(d))
    set_pool(d, 20)

    # The API summary.
    wait_full(d, 20, timeout=20)
    st, body = d.api("POST", "/berth/containers/run?count=5&remove=1", {"Image": "busybox", "Cmd": ["true"]},
                     timeout=120)
    assert st == 200, body
    assert body["Started"] == 5 and body["FromPool"] == 5, body
    assert body["RunningSeconds"] > 0 and body["RunningPerSecond"] > 0, body
    assert body["ExitCodes"] == {"0": 5}
    # Without a pool: none from one.
    remove_pool(d)
    st, body = d.api("POST", "/berth/containers/run?count=3&remove=1", {"Image": "busybox", "Cmd": ["true"]},
                     timeout=120)
    assert st == 200 and body.get("FromPool", 0) == 0 and body["ExitCodes"] == {"0": 3}, body
    r = d.cli("run", "--count", "3", "--rm", "busybox", "true", timeout=120)
    assert r.returncode == 0 and "from a warm pool" not in r.stdout, r.stdout


def ns_held_by(pid):
    """The namespace links ("mnt:[…]", "net:[…]") among the fds of pid."""
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith(("mnt:[", "net:[")):
            out.add(link)
    return out


def sandbox_namespaces(pid):
    """A parked sandbox's mount namespace and the network namespace it will
    enter: it waits in the host's (so that host agents that look at every
    process's network namespace pass it by) and holds its own open."""
    host_net = os.readlink("/proc/self/ns/net")
    assert os.readlink("/proc/%d/ns/net" % pid) == host_net
    own = {link for link in ns_held_by(pid) if link.startswith("net:[")}
    assert len(own) == 1 and host_net not in own, (own, host_net)
    return {os.readlink("/proc/%d/ns/mnt" % pid)} | own


def test_teardown_of_a_removed_pooled_container_yields_to_starts(pooled):
    """The monitor holds a parked sandbox's mount and network namespaces; a
    claim for a container removed at its exit keeps them past the exit, with
    its cgroup, until the daemon has no create or start in flight, then both
    go. Other claims let them go at once (a later start mounts the same
    upper directory)."""
    d = pooled
    mon = d.monitor_pid()
    set_pool(d, 2)
    procs = sandbox_procs(d)
    assert len(procs) == 2, procs
    ns = {cid: sandbox_namespaces(pid) for cid, pid in procs.items()}
    for cid in procs:
        assert ns[cid] <= ns_held_by(mon), (ns[cid], ns_held_by(mon))

    # A claim without removal at exit: not held past the claim, and the
    # container runs in the network namespace its sandbox held.
    r = d.cli("run", "-d", "busybox", "sleep", "30")
    assert r.returncode == 0, r.stderr
    kept = r.stdout.strip()
    try:
        assert kept in ns
        running = {os.readlink("/proc/%d/ns/%s" % (procs[kept], k)) for k in ("mnt", "net")}
        assert running == ns[kept], (running, ns[kept])
        assert wait_until(lambda: not (ns[kept] & ns_held_by(mon))), ns_held_by(mon)
    finally:
        d.cli("rm", "-f", kept)

    # A --rm claim while a cold batch keeps the daemon busy: its namespaces
    # and cgroup stay until the batch is over.
    wait_full(d, 2)
    procs = sandbox_procs(d)
    ns = {cid: sandbox_namespaces(pid) for cid, pid in procs.items()}
    # (Its own hostname: it starts cold and leaves the pool alone.)
    busy = subprocess.Popen(berth_argv(d, "run", "--count", "1500", "--parallel", "16", "--rm", "--hostname", "busy",
                                       "busybox", "true"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        assert busy.poll() is None, busy.communicate()
        before = taken(d)
        r = d.cli("run", "--rm", "busybox", "true")
        assert r.returncode == 0, r.stderr
        assert taken(d) == before + 1, pool(d)
        gone = [cid for cid in ns if cid not in container_ids(d) and cid not in ready_ids(d)]
        assert len(gone) == 1, (gone, ns)
        cid = gone[0]
        still_busy = busy.poll() is None
        held, cgroups = ns[cid] & ns_held_by(mon), [p for p in sandbox_cgroups(d, cid) if os.path.exists(p)]
        out, err = busy.communicate(timeout=120)
        assert busy.returncode == 0, (out, err)
        assert still_busy, "the cold batch ended before the check: make it longer"
        assert held == ns[cid], (held, ns[cid])
        assert cgroups, "the cgroup went while the daemon was busy"
    finally:
        if busy.poll() is None:
            busy.kill()
            busy.communicate()
    # Quiet again: released, and the cgroup removed after.
    assert wait_until(lambda: not (ns[cid] & ns_held_by(mon)), 5), ns_held_by(mon)
    assert wait_until(lambda: not any(os.path.exists(p) for p in sandbox_cgroups(d, cid)), 5)


def spares(d):
    """The daemon's spare directories (removed containers' untouched ones)."""
    return {n for n in os.listdir(os.path.join(d.root, "containers")) if n.startswith(".spare-")}


def test_a_pooled_sandbox_is_never_kept_as_a_spare_directory(pooled):
    """A created container's sandbox still has its overlay mounted when the
    container is removed (its parked child is killed, not yet reaped): its
    directory is deleted, never kept for another container."""
    d = pooled
    set_pool(d, 2)
    ready = ready_ids(d)
    r = d.cli("create", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert cid in ready
    before = spares(d)
    r = d.cli("rm", cid)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(d.root, "containers", cid))
    assert spares(d) - before == set()  # deleted (a refill may take one meanwhile, never add one)


def test_docker_sdk_is_served_from_the_pool(pooled):
    docker_sdk = pytest.importorskip("docker")
    d = pooled
    set_pool(d, 3)
    ready = set(ready_ids(d))
    client = docker_sdk.DockerClient(base_url=d.host)
    before = taken(d)
    out = client.containers.run("busybox", "sh -c 'echo hi; hostname'", remove=True)
    lines = out.decode().splitlines()
    assert lines[0] == "hi", out
    assert taken(d) == before + 1, pool(d)
    assert [cid for cid in ready if cid[:12] == lines[1]], (lines, ready)
    c = client.containers.run("busybox", "sh -c 'echo detached; exit 5'", detach=True)
    try:
        assert c.wait()["StatusCode"] == 5
        assert c.logs() == b"detached\n"
        assert c.id in ready
    finally:
        c.remove(force=True)
    assert container_ids(d) == set()


def test_docker_cli_is_served_from_the_pool(pooled, docker, tmp_path):
    d = pooled
    set_pool(d, 3)
    ready = set(ready_ids(d))
    before = taken(d)
    r = docker("run", "--rm", "busybox", "hostname")
    assert r.returncode == 0, r.stderr
    assert [c for c in ready if c[:12] == r.stdout.strip()], (r.stdout, ready)
    r = docker("run", "--rm", "-i", "-e", "V=1", "busybox", "sh", "-c", "cat; echo $V; exit 3", input="piped\n")
    assert (r.returncode, r.stdout) == (3, "piped\n1\n"), r.stderr
    assert taken(d) == before + 2, pool(d)
    r = docker("run", "--rm", "--hostname", "h", "busybox", "hostname")
    assert (r.returncode, r.stdout) == (0, "h\n"), r.stderr
    assert taken(d) == before + 2, pool(d)
    # A terminal through the docker CLI.
    env = dict(os.environ, DOCKER_HOST=d.host, DOCKER_CONFIG=str(tmp_path / "docker-config"))
    env.pop("DOCKER_CONTEXT", None)
    s = PtySession([shutil.which("docker"), "run", "-it", "--rm", "busybox", "sh"], env=env)
    try:
        assert s.read_until(b"# "), s.output
        s.type("tty; exit 5\n")
        assert s.wait() == 5, s.output
        assert b"/dev/pts/0" in s.output
    finally:
        s.close()
    assert taken(d) == before + 3, pool(d)


def test_start_right_after_the_parked_child_died(pooled):
    """The parked child of a created container dies just before its start
    (killed, OOM): the start falls back to a cold one, whatever the daemon
    has or has not yet heard of the death."""
    d = pooled
    set_pool(d, 3)
    failures = []
    for i in range(5):
        wait_full(d, 3)
        ready = ready_ids(d)
        r = d.cli("create", "busybox", "echo", "x%d" % i)
        assert r.returncode == 0, r.stderr
        cid = r.stdout.strip()
        try:
            assert cid in ready
            os.kill(ready[cid], signal.SIGKILL)  # a child of our own daemon's monitor
            r = d.cli("start", "-a", cid)
            if (r.returncode, r.stdout) != (0, "x%d\n" % i):
                failures.append((r.returncode, r.stdout, r.stderr.strip()))
        finally:
            d.cli("rm", "-f", cid)
    assert failures == [], failures


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_daemon_restart_discards_the_pool(fresh, sig):
    d = fresh
    set_pool(d, 5)
    monitor = d.monitor_pid()
    # A container running from the pool, and one created from it, not started.
    r = d.cli("run", "-d", "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    running = r.stdout.strip()
    r = d.cli("create", "busybox", "sh", "-c", "echo created-$(hostname)")
    assert r.returncode == 0, r.stderr
    created = r.stdout.strip()
    wait_full(d, 5)
    old = ready_ids(d)
    old_created_pid = sandbox_procs(d)[created]
    assert running in sandbox_procs(d)

    d.stop(sig)
    d.start()
    assert d.monitor_pid() == monitor
    assert pools(d) == {}
    for cid, pid in old.items():
        assert_sandbox_gone(d, cid, pid)
    assert wait_until(lambda: not alive(old_created_pid))
    # Nothing in <root>/containers without a container record.
    records = container_ids(d)
    assert records == {running, created}
    assert wait_until(lambda: set(container_dirs(d)) <= records), \
        container_dirs(d)
    # Of the monitor's children, only the running container is in a container cgroup.
    assert wait_until(lambda: set(sandbox_procs(d)) == {running}), sandbox_procs(d)

    # Containers still run: the survivor, new ones, from a new pool too.
    r = d.cli("exec", running, "echo", "alive")
    assert (r.returncode, r.stdout) == (0, "alive\n"), r.stderr
    r = d.cli("run", "--rm", "busybox", "echo", "after")
    assert (r.returncode, r.stdout) == (0, "after\n"), r.stderr
    set_pool(d, 2)
    r = d.cli("run", "--rm", "busybox", "hostname")
    assert r.returncode == 0 and pool(d)["Taken"] == 1, (r.stdout, r.stderr)
    remove_pool(d)
    assert d.cli("rm", "-f", running).returncode == 0
    assert_no_leaks(d)
    # The one created from the old pool, whose parked child the restart
    # killed, starts cold.
    r = d.cli("start", "-a", created)
    assert (r.returncode, r.stdout) == (0, "created-%s\n" % created[:12]), r.stderr
    assert d.cli("rm", created).returncode == 0
    assert_no_leaks(d)


def test_monitor_lost_with_a_pool(fresh):
    d = fresh
    set_pool(d, 3)
    r = d.cli("create", "busybox", "sh", "-c", "echo created-$(hostname)")
    assert r.returncode == 0, r.stderr
    created = r.stdout.strip()
    wait_full(d, 3)
    monitor = d.monitor_pid()
    old = ready_ids(d)
    old[created] = sandbox_procs(d)[created]
    try:
        os.kill(monitor, signal.SIGKILL)  # the monitor our daemon started
        assert wait_until(lambda: d.monitor_pid() not in (None, monitor), 20), d.monitor_pid()
        # The parked children of the lost monitor do not outlive it.
        for cid, pid in old.items():
            assert wait_until(lambda: not alive(pid)), (cid, pid)
        # The pool refills under the new monitor and serves.
        wait_full(d, 3)
        assert set(ready_ids(d)).isdisjoint(old)
        r = pooled_run(d, "--rm", "busybox", "echo", "after-loss")
        assert (r.returncode, r.stdout) == (0, "after-loss\n"), r.stderr
        # The container created from the lost sandbox starts cold.
        r = d.cli("start", "-a", created)
        assert (r.returncode, r.stdout) == (0, "created-%s\n" % created[:12]), r.stderr
        assert d.cli("rm", created).returncode == 0
        # The lost sandboxes' cgroups and directories go.
        for cid, pid in old.items():
            assert_sandbox_gone(d, cid, pid)
    finally:
        for pid in old.values():
            try:
                os.kill(pid, signal.SIGKILL)  # orphans of the monitor this test killed, if any
            except OSError:
                pass
