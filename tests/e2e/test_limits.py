"""Resource limits end to end: the flags, Docker's checks and warnings, the
cgroup knobs the kernel reads (v1 on this hybrid machine, cgroup2 names on a
unified host), and OOM reporting."""
import json
import os
import time

from conftest import UnixHTTPConnection, cgroup_parents, container_dirs

MiB = 1 << 20
UNIFIED = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
BLKIO_WARNING = "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."


def inspect(daemon, ref):
    r = daemon.cli("inspect", ref)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def knob(daemon, cid, name):
    """A file of the container's cgroup, from whichever hierarchy has it."""
    for parent in cgroup_parents(daemon.root):
        path = os.path.join(parent, cid, name)
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip()
    return None


def container_ids(daemon):
    return sorted(daemon.cli("ps", "-a", "-q", "--no-trunc").stdout.split())


def test_memory_limit_exceeded_is_oom_killed(daemon):
    # dd as PID 1 fills a 64 MiB buffer; swap equal to memory leaves no way out.
    r = daemon.cli("run", "--name", "e2e-oom", "-m", "16m", "--memory-swap", "16m", "busybox",
                   "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
    try:
        assert r.returncode == 137, (r.returncode, r.stderr)
        info = inspect(daemon, "e2e-oom")
        assert info["State"]["OOMKilled"] is True
        assert info["State"]["ExitCode"] == 137
        assert info["HostConfig"]["Memory"] == 16 * MiB
        assert info["HostConfig"]["MemorySwap"] == 16 * MiB
        # The flag is durable: a restarted daemon still reports it.
        daemon.stop()
        daemon.start()
        assert inspect(daemon, "e2e-oom")["State"]["OOMKilled"] is True
        # A run within the limit is not OOM-killed, and a new start clears the flag.
        r = daemon.cli("start", "-a", "e2e-oom")
        assert r.returncode == 137
        ok = daemon.cli("run", "--name", "e2e-no-oom", "-m", "16m", "busybox", "true")
        assert ok.returncode == 0, ok.stderr
        info = inspect(daemon, "e2e-no-oom")
        assert info["State"]["OOMKilled"] is False
        assert info["HostConfig"]["MemorySwap"] == 32 * MiB  # Docker's default: twice the memory
    finally:
        daemon.cli("rm", "-f", "e2e-oom", "e2e-no-oom")


def test_oom_event_while_the_container_runs(daemon):
    # A child is OOM-killed; the container's own process survives. The kernel
    # pushes the OOM (v1 eventfd / cgroup2 memory.events): `oom` is emitted
    # and OOMKilled set while the container still runs, and only once.
    since = "%.9f" % time.time()
    r = daemon.cli("run", "-d", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c",
                   "dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived; sleep 300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        deadline = time.time() + 10
        actions = []
        while time.time() < deadline and "oom" not in actions:
            until = "%.9f" % (time.time() + 0.1)
            conn = UnixHTTPConnection(daemon.sock)
            conn.request("GET", "/v1.41/events?since=%s&until=%s" % (since, until))
            actions = [json.loads(l)["Action"] for l in conn.getresponse().read().decode().splitlines() if l.strip()
                       if json.loads(l)["Actor"]["ID"] == cid]
            conn.close()
        assert actions.count("oom") == 1, actions
        assert "die" not in actions
        info = inspect(daemon, cid)
        assert info["State"]["Running"] is True and info["State"]["OOMKilled"] is True
        deadline = time.time() + 10
        while "survived" not in daemon.cli("logs", cid).stdout and time.time() < deadline:
            time.sleep(0.1)
        assert "survived" in daemon.cli("logs", cid).stdout
        assert daemon.cli("stop", "-t", "0", cid).returncode == 0
        conn = UnixHTTPConnection(daemon.sock)
        conn.request("GET", "/v1.41/events?since=%s&until=%s" % (since, "%.9f" % (time.time() + 0.1)))
        actions = [json.loads(l)["Action"] for l in conn.getresponse().read().decode().splitlines() if l.strip()
                   if json.loads(l)["Actor"]["ID"] == cid]
        conn.close()
        assert actions.count("oom") == 1 and "die" in actions  # not reported twice at the exit
    finally:
        daemon.cli("rm", "-f", cid)


def test_limits_are_written_where_the_kernel_reads_them(daemon):
    r = daemon.cli("run", "-d", "-m", "32m", "--memory-swap", "64m", "--memory-reservation", "20m", "--cpus", "0.5",
                   "-c", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "20",
                   "busybox", "sleep", "30")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        if UNIFIED:
            assert knob(daemon, cid, "memory.max") == str(32 * MiB)
            assert knob(daemon, cid, "memory.swap.max") == str(32 * MiB)  # swap alone
            assert knob(daemon, cid, "memory.low") == str(20 * MiB)
            assert knob(daemon, cid, "cpu.max") == "50000 100000"
            assert knob(daemon, cid, "cpu.weight") == "20"  # runc's conversion of 512 shares
        else:
            assert knob(daemon, cid, "memory.limit_in_bytes") == str(32 * MiB)
            if knob(daemon, cid, "memory.memsw.limit_in_bytes") is not None:
                assert knob(daemon, cid, "memory.memsw.limit_in_bytes") == str(64 * MiB)
            assert knob(daemon, cid, "memory.soft_limit_in_bytes") == str(20 * MiB)
            assert knob(daemon, cid, "cpu.cfs_period_us") == "100000"
            assert knob(daemon, cid, "cpu.cfs_quota_us") == "50000"
            assert knob(daemon, cid, "cpu.shares") == "512"
        assert knob(daemon, cid, "cpuset.cpus") == "0"
        assert knob(daemon, cid, "cpuset.mems") == "0"
        assert knob(daemon, cid, "pids.max") == "20"
        hc = inspect(daemon, cid)["HostConfig"]
        assert (hc["Memory"], hc["MemorySwap"], hc["MemoryReservation"]) == (32 * MiB, 64 * MiB, 20 * MiB)
        assert (hc["NanoCpus"], hc["CpuShares"], hc["CpusetCpus"], hc["CpusetMems"], hc["PidsLimit"]) == \
            (500000000, 512, "0", "0", 20)
    finally:
        daemon.cli("rm", "-f", cid)


def test_pids_limit_stops_a_fork_loop(daemon):
    loop = "i=0; while [ $i -lt 50 ]; do sleep 2 & i=$((i+1)); done; echo spawned"
    # The loop itself works without a limit (the sleeps die with PID 1).
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", loop)
    assert r.returncode == 0 and r.stdout == "spawned\n", r.stderr
    r = daemon.cli("run", "--rm", "--pids-limit", "20", "busybox", "sh", "-c", loop)
    assert r.returncode != 0
    assert "can't fork" in r.stderr or "Resource temporarily unavailable" in r.stderr, r.stderr
    assert "spawned" not in r.stdout


def blkio_weight_supported(daemon):
    # Docker's test on v1: blkio.weight (CFQ's), not BFQ's blkio.bfq.weight.
    names = ("blkio.weight", "io.weight", "io.bfq.weight")
    parents = cgroup_parents(daemon.root)
    return any(os.path.exists(os.path.join(p, n)) for p in parents for n in names)


def test_blkio_weight_warns_where_the_kernel_lacks_it_and_runs(daemon):
    daemon.cli("run", "--rm", "busybox", "true")  # makes sure berth's parent cgroups exist
    supported = blkio_weight_supported(daemon)
    r = daemon.cli("run", "--rm", "--blkio-weight", "300", "busybox", "echo", "ran")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ran\n"
    assert ("WARNING: " + BLKIO_WARNING in r.stderr) == (not supported), r.stderr
    # The API reports it in the create answer, and the weight is discarded as Docker does.
    st, body = daemon.api("POST", "/containers/create", body={
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"BlkioWeight": 300}})
    assert st == 201, body
    try:
        assert isinstance(body["Warnings"], list)
        if not supported:
            assert body["Warnings"] == [BLKIO_WARNING]
            assert inspect(daemon, body["Id"])["HostConfig"]["BlkioWeight"] == 0
        else:
            assert inspect(daemon, body["Id"])["HostConfig"]["BlkioWeight"] == 300
    finally:
        daemon.api("DELETE", "/containers/" + body["Id"])


def test_invalid_limits_are_refused_and_leave_nothing(daemon):
    before = container_ids(daemon)
    dirs_before = sorted(container_dirs(daemon))
    cases = [
        (["-m", "1k"], "Minimum memory limit allowed is 6MB"),
        (["--cpus", "99"], "Range of CPUs is from 0.01 to {0}.00, as there are only {0} CPUs available".format(
            len(os.sched_getaffinity(0)))),
        (["-m", "16m", "--memory-swap", "8m"], "Minimum memoryswap limit should be larger than memory limit"),
        (["--memory-swap", "32m"], "You should always set the Memory limit when using Memoryswap limit"),
        (["-m", "16m", "--memory-reservation", "32m"], "Minimum memory limit can not be less than memory reservation"),
        (["--cpuset-cpus", "0-x"], "Invalid value 0-x for cpuset cpus"),
        (["--cpuset-cpus", "999"], "Requested CPUs are not available"),
        (["--cpus", "lots"], "failed to parse lots as a rational number"),
        (["-m", "12x"], "invalid size"),
    ]
    for args, message in cases:
        r = daemon.cli("run", "--rm", *args, "busybox", "true")
        assert r.returncode == 125, (args, r.returncode, r.stderr)
        assert message in r.stderr, (args, r.stderr)
    assert container_ids(daemon) == before
    assert sorted(container_dirs(daemon)) == dirs_before


def test_limits_through_the_api(daemon):
    hc = {"Memory": 32 * MiB, "MemoryReservation": 16 * MiB, "NanoCpus": 1000000000, "CpuShares": 1,
          "CpusetCpus": "0", "PidsLimit": 30}
    st, body = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["true"], "HostConfig": hc})
    assert st == 201, body
    try:
        got = inspect(daemon, body["Id"])["HostConfig"]
        assert got["Memory"] == 32 * MiB and got["MemorySwap"] == 64 * MiB
        assert got["MemoryReservation"] == 16 * MiB and got["NanoCpus"] == 1000000000
        assert got["CpuShares"] == 2  # clamped to the kernel's minimum, as Docker does
        assert got["CpusetCpus"] == "0" and got["PidsLimit"] == 30
        st, _ = daemon.api("POST", "/containers/%s/start" % body["Id"])
        assert st == 204
        st, res = daemon.api("POST", "/containers/%s/wait" % body["Id"])
        assert st == 200 and res["StatusCode"] == 0
    finally:
        daemon.api("DELETE", "/containers/%s?force=1" % body["Id"])
    st, body = daemon.api("POST", "/containers/create", body={
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": "lots"}})
    assert st == 400 and "Memory" in body["message"]
