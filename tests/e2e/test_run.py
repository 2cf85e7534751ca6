"""berth run end to end through the berth CLI: output, exit codes, flags."""
import json
import os
import signal
import tarfile
import threading
import time

import pytest

from conftest import container_dirs, import_path_search_image, make_busybox_tar, monitor_children


def test_echo_hello(daemon):
    r = daemon.cli("run", "--rm", "busybox", "echo", "hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"


def test_exit_code(daemon):
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "exit 7")
    assert r.returncode == 7


def test_killed_by_sigkill_reports_137(daemon):
    # PID 1 cannot SIGKILL itself (the kernel ignores it): kill from outside.
    cid = daemon.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    st, _ = daemon.api("POST", "/containers/%s/kill?signal=KILL" % cid)
    assert st == 204
    assert daemon.cli("wait", cid).stdout.strip() == "137"
    # A process that is not PID 1 killed by SIGKILL: its shell reports 137 too.
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "sh -c 'kill -9 $$'; exit $?")
    assert r.returncode == 137
    daemon.cli("rm", cid)


def test_stderr_is_separate(daemon):
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"


def test_command_not_found_is_127(daemon):
    r = daemon.cli("run", "--rm", "busybox", "nosuchcommand")
    assert r.returncode == 127
    assert "executable file not found" in r.stderr


def test_command_not_executable_is_126(daemon):
    r = daemon.cli("run", "--rm", "busybox", "/etc/passwd")
    assert r.returncode == 126
    assert "permission denied" in r.stderr


def test_unknown_image_is_125(daemon):
    r = daemon.cli("run", "--rm", "nosuchimage:1", "true")
    assert r.returncode == 125
    assert "nosuchimage" in r.stderr


def test_bad_flag_is_125(daemon):
    r = daemon.cli("run", "--no-such-flag", "busybox", "true")
    assert r.returncode == 125
    assert "no-such-flag" in r.stderr


def test_flags(daemon, tmp_path):
    envfile = tmp_path / "env"
    envfile.write_text("FROMFILE=yes\n# comment\n")
    r = daemon.cli("run", "--rm", "-e", "A=1", "--env-file", str(envfile), "-w", "/tmp/work", "-u", "app",
                   "--hostname", "boxy", "busybox", "sh", "-c",
                   'echo "$A $FROMFILE $(pwd) $(id -u):$(id -g) $(hostname) $HOME"')
    assert r.returncode == 0, r.stderr
    assert r.stdout == "1 yes /tmp/work 1000:1000 boxy /home/app\n"


def test_entrypoint_and_user_numeric(daemon):
    r = daemon.cli("run", "--rm", "--entrypoint", "/bin/echo", "-u", "4242:50", "busybox", "via", "entrypoint")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "via entrypoint\n"
    r = daemon.cli("run", "--rm", "-u", "4242:50", "busybox", "id")
    assert "uid=4242" in r.stdout and "gid=50" in r.stdout


def test_unknown_user_fails(daemon):
    r = daemon.cli("run", "--rm", "-u", "nosuchuser", "busybox", "true")
    assert r.returncode != 0
    assert "nosuchuser" in r.stderr


def test_init_layer_and_the_shared_mount_points(daemon):
    """A container's init layer holds only etc/hostname, etc/hosts and its own
    etc/resolv.conf; /dev, /proc and /sys come from the shared mount points
    layer (busybox has none of them). A write to one container's
    /etc/resolv.conf, inside it or through its ResolvConfPath, stays in that
    container."""
    ids = []
    try:
        for name in ("e2e-init-a", "e2e-init-b"):
            r = daemon.cli("run", "-d", "--name", name, "busybox", "sleep", "30")
            assert r.returncode == 0, r.stderr
            ids.append(r.stdout.strip())
        inits = [os.path.join(daemon.root, "containers", i, "init") for i in ids]
        for d in inits:
            assert sorted(os.listdir(d)) == ["etc"]
            assert sorted(os.listdir(os.path.join(d, "etc"))) == ["hostname", "hosts", "resolv.conf"]
        a, b = (os.stat(os.path.join(d, "etc/resolv.conf")) for d in inits)
        assert a.st_ino != b.st_ino and a.st_nlink == b.st_nlink == 1
        assert sorted(os.listdir(os.path.join(daemon.root, "init/mountpoints"))) == ["dev", "proc", "sys"]
        with open("/etc/resolv.conf") as f:
            host = [l for l in f.read().splitlines()
                    if not (l.strip().startswith("nameserver") and (" 127." in l or " ::1" in l))]
        r = daemon.cli("exec", "e2e-init-a", "sh", "-c",
                       "cat /etc/resolv.conf; echo options ndots:9 >> /etc/resolv.conf; ls -d /dev/null /proc/1 /sys/kernel")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[:len(host)] == host
        r = daemon.cli("exec", "e2e-init-b", "cat", "/etc/resolv.conf", "/etc/hostname")
        assert r.returncode == 0, r.stderr
        assert "ndots:9" not in r.stdout and r.stdout.splitlines()[-1] == ids[1][:12]
        with open(os.path.join(inits[1], "etc/resolv.conf")) as f:
            assert "ndots:9" not in f.read()
        # Rewritten in place on the host, as cri-dockerd does with ResolvConfPath.
        path = json.loads(daemon.cli("inspect", "e2e-init-a").stdout)[0]["ResolvConfPath"]
        with open(path, "a") as f:
            f.write("options rotate\n")
        r = daemon.cli("exec", "e2e-init-b", "cat", "/etc/resolv.conf")
        assert r.returncode == 0 and "rotate" not in r.stdout, r.stdout
    finally:
        for i in ids:
            daemon.cli("rm", "-f", i)


def test_detached_logs_wait_inspect_rm(daemon):
    r = daemon.cli("run", "-d", "--name", "e2e-detached", "-l", "team=berth", "busybox", "sh", "-c",
                   "echo one; echo two >&2; sleep 0.3; exit 5")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    w = daemon.cli("wait", "e2e-detached")
    assert w.stdout.strip() == "5"
    logs = daemon.cli("logs", "e2e-detached")
    assert logs.stdout == "one\n" and logs.stderr == "two\n"
    info = json.loads(daemon.cli("inspect", "e2e-detached").stdout)[0]
    assert info["Id"] == cid
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 5
    assert info["Config"]["Labels"]["team"] == "berth"
    assert info["GraphDriver"]["Name"] == "overlay2"
    lower = info["GraphDriver"]["Data"]["LowerDir"].split(":")
    # The container's init layer, the shared mount points layer, busybox.
    assert lower[0].endswith("/init") and lower[1] == daemon.root + "/init/mountpoints" and len(lower) == 3
    ps = daemon.cli("ps", "-a", "-q")
    assert cid[:12] in ps.stdout.split()
    assert daemon.cli("rm", "e2e-detached").returncode == 0
    assert daemon.cli("inspect", "e2e-detached").returncode != 0
    assert not os.path.exists(os.path.join(daemon.root, "containers", cid))
    from conftest import cgroup_parents
    parents = cgroup_parents(daemon.root)
    assert parents
    for parent in parents:
        assert not os.path.exists(os.path.join(parent, cid)), parent


def test_rm_running_needs_force(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    r = daemon.cli("rm", cid)
    assert r.returncode != 0 and "running" in r.stderr
    ps = daemon.cli("ps", "-q")
    assert cid[:12] in ps.stdout.split()
    assert daemon.cli("rm", "-f", cid).returncode == 0
    assert cid[:12] not in daemon.cli("ps", "-a", "-q").stdout.split()


def test_create_then_start_attached(daemon):
    cid = daemon.cli("create", "busybox", "sh", "-c", "echo started; exit 2").stdout.strip()
    assert len(cid) == 64
    r = daemon.cli("start", "-a", cid)
    assert r.stdout == "started\n"
    assert r.returncode == 2
    daemon.cli("rm", cid)


def test_failed_create_leaves_nothing(daemon):
    before = sorted(container_dirs(daemon))
    r = daemon.cli("create", "nosuchimage", "true")
    assert r.returncode == 125
    r = daemon.cli("create", "--name", "bad name!", "busybox", "true")
    assert r.returncode == 125
    r = daemon.cli("create", "--cap-add", "NOT_A_CAP", "busybox", "true")
    assert r.returncode == 125 and "capability" in r.stderr.lower()
    assert sorted(container_dirs(daemon)) == before


def test_network_none_has_only_lo_and_host_shares(daemon):
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "ls /sys/class/net")
    assert r.stdout.split() == ["lo"]
    r = daemon.cli("run", "--rm", "busybox", "cat", "/sys/class/net/lo/operstate")
    assert r.returncode == 0
    host_ifaces = sorted(os.listdir("/sys/class/net"))
    r = daemon.cli("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert sorted(r.stdout.split()) == host_ifaces


def test_images_and_rmi(daemon, tmp_path):
    from conftest import make_busybox_tar
    tar = make_busybox_tar(str(tmp_path / "b.tar"))
    r = daemon.cli("import", tar, "second:v1")
    assert r.returncode == 0, r.stderr
    out = daemon.cli("images").stdout
    assert "second" in out and "v1" in out and "busybox" in out
    r = daemon.cli("rmi", "second:v1")
    assert r.returncode == 0, r.stderr
    assert "Untagged: second:v1" in r.stdout
    repos = [l.split()[0] for l in daemon.cli("images").stdout.splitlines()[1:]]
    assert "second" not in repos and "busybox" in repos
    r = daemon.cli("rmi", "second:v1")
    assert r.returncode != 0 and "No such image" in r.stderr


def test_cgroup_exists_while_running(daemon):
    from conftest import cgroup_parents
    cid = daemon.cli("run", "-d", "busybox", "sleep", "60").stdout.strip()
    info = json.loads(daemon.cli("inspect", cid).stdout)[0]
    pid = info["State"]["Pid"]
    for parent in cgroup_parents(daemon.root):
        with open(os.path.join(parent, cid, "cgroup.procs")) as f:
            assert str(pid) in f.read().split(), parent
    daemon.cli("rm", "-f", cid)


def test_compressed_import_and_version_info(daemon, tmp_path):
    import subprocess
    from conftest import make_busybox_tar
    tar = make_busybox_tar(str(tmp_path / "c.tar"))
    for tool, ext in (("gzip", ".gz"), ("zstd", ".zst")):
        subprocess.run([tool, "-k", "-q", tar], check=True)
        r = daemon.cli("import", tar + ext, "compressed:" + tool)
        assert r.returncode == 0, r.stderr
        assert daemon.cli("run", "--rm", "compressed:" + tool, "echo", tool).stdout == tool + "\n"
        daemon.cli("rmi", "compressed:" + tool)
    r = daemon.cli("import", str(tmp_path / "missing.tar"), "x:1")
    assert r.returncode != 0
    r = daemon.cli("version")
    assert r.returncode == 0 and "1.41" in r.stdout
    r = daemon.cli("info")
    assert r.returncode == 0 and "overlay2" in r.stdout


def test_rmi_removes_unused_layers(daemon, tmp_path):
    from conftest import make_busybox_tar
    tar = make_busybox_tar(str(tmp_path / "u.tar"), [("/etc/hostname", "/unique-" + tmp_path.name)])
    assert daemon.cli("import", tar, "unique:1").returncode == 0
    insp = json.loads(daemon.cli("inspect", "unique:1").stdout)[0]
    layer = insp["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isdir(layer)
    cid = daemon.cli("create", "unique:1", "true").stdout.strip()
    r = daemon.cli("rmi", "unique:1")
    assert r.returncode != 0 and "is using" in r.stderr
    daemon.cli("rm", cid)
    r = daemon.cli("rmi", "unique:1")
    assert r.returncode == 0 and "Deleted: sha256:" in r.stdout
    assert not os.path.exists(layer)
    base = json.loads(daemon.cli("inspect", "busybox").stdout)[0]["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isdir(base)


def test_image_cmd_and_env_defaults(daemon, tmp_path):
    from conftest import make_busybox_tar
    tar = make_busybox_tar(str(tmp_path / "d.tar"))
    r = daemon.cli("import", "-c", 'CMD ["sh", "-c", "echo $GREETING from $(pwd)"]', "-c", "ENV GREETING=hi",
                   "-c", "WORKDIR /tmp", tar, "defaults:1")
    assert r.returncode == 0, r.stderr
    assert daemon.cli("run", "--rm", "defaults:1").stdout == "hi from /tmp\n"
    assert daemon.cli("run", "--rm", "-e", "GREETING=yo", "defaults:1").stdout == "yo from /tmp\n"
    assert daemon.cli("run", "--rm", "defaults:1", "echo", "override").stdout == "override\n"
    daemon.cli("rmi", "defaults:1")


def test_interactive_stdin(daemon):
    r = daemon.cli("run", "-i", "--rm", "busybox", "sh", "-c", "read a; echo got:$a", input="line\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "got:line\n"
    data = "0123456789" * 300000
    r = daemon.cli("run", "-i", "--rm", "busybox", "wc", "-c", input=data)
    assert r.stdout.strip() == str(len(data))


def test_a_removed_containers_untouched_directory_serves_the_next(daemon):
    """A removed container's untouched directory is kept (a spare) and taken
    by the next create, with its own init files; one the container wrote
    into is deleted."""
    r = daemon.cli("run", "-d", "busybox", "true")
    assert r.returncode == 0, r.stderr
    first = r.stdout.strip()
    assert daemon.cli("wait", first).stdout.strip() == "0"
    root = os.path.join(daemon.root, "containers")

    def spares():
        return {n for n in os.listdir(root) if n.startswith(".spare-")}
    upper = os.stat(os.path.join(root, first, "upper")).st_ino
    before = spares()
    assert daemon.cli("rm", first).returncode == 0
    assert not os.path.exists(os.path.join(root, first))
    kept = spares() - before
    assert len(kept) == 1, (before, spares())
    r = daemon.cli("create", "--hostname", "second", "busybox", "cat", "/etc/hostname", "/etc/hosts")
    assert r.returncode == 0, r.stderr
    second = r.stdout.strip()
    try:
        assert not kept & spares()  # taken
        assert os.stat(os.path.join(root, second, "upper")).st_ino == upper
        r = daemon.cli("start", "-a", second)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("second\n") and "127.0.1.1\tsecond\n" in r.stdout, r.stdout
        assert os.listdir(os.path.join(daemon.root, "containers", second, "upper")) == []
    finally:
        daemon.cli("rm", "-f", second)
    # Written into: not kept.
    r = daemon.cli("run", "-d", "busybox", "sh", "-c", "echo secret > /leftover")
    assert r.returncode == 0, r.stderr
    third = r.stdout.strip()
    assert daemon.cli("wait", third).stdout.strip() == "0"
    before = spares()
    assert daemon.cli("rm", third).returncode == 0
    assert not os.path.exists(os.path.join(root, third))
    assert spares() == before  # deleted, not kept
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c", "cat /leftover || echo none")
    assert (r.returncode, r.stdout) == (0, "none\n"), (r.stdout, r.stderr)


def clean_start_problems(d):
    """What a container's process inherited that it should not have: ignored
    or blocked signals (the monitor ignores SIGPIPE, SIGHUP and SIGINT; its
    zygote forks every container) or the zygote's own environment
    (GLIBC_TUNABLES)."""
    problems = []
    r = d.cli("run", "--rm", "busybox", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    status = dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)
    for field in ("SigIgn", "SigBlk"):
        if int(status[field], 16) != 0:
            problems.append("%s %s" % (field, status[field]))
    r = d.cli("run", "--rm", "busybox", "env")
    assert r.returncode == 0, r.stderr
    problems += [line for line in r.stdout.splitlines() if line.startswith("GLIBC_TUNABLES")]
    return problems


def test_the_process_starts_with_default_signals_and_its_own_environment(daemon):
    assert clean_start_problems(daemon) == []


def zygotes(d):
    """The pids of the zygotes of a daemon's monitors."""
    return [z for mon in d.monitor_pids().values() for z in monitor_children(mon)[0]]


def resident_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1])
    raise AssertionError("no Rss in smaps_rollup of %d" % pid)


def test_cold_starts_leave_nothing_in_the_zygote(daemon):
    # A cold container's init runs in the zygote's memory until its execve
    # (runtime::child_heap): what it allocated there must not stay behind.
    # Failed starts too (the error paths allocate the most).
    def batch(n):
        r = daemon.cli("run", "--count", str(n), "--rm", "busybox", "true", timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def failed(n):
        for _ in range(n):
            r = daemon.cli("run", "--rm", "busybox", "no-such-command")
            assert r.returncode == 127 and "executable file not found" in r.stderr, r.stderr

    batch(60)
    failed(10)
    both = zygotes(daemon)
    assert both
    before = sum(resident_kib(z) for z in both)
    assert "exit codes: 0 x300" in batch(300)
    failed(50)
    assert sorted(zygotes(daemon)) == sorted(both)
    grown = sum(resident_kib(z) for z in both) - before
    # What a start's process still holds at its execve is about 700 bytes
    # (measured: kept in the zygote's heap, 300 starts grew it by 200 KiB);
    # from the arena, nothing.
    assert grown < 64, "the zygotes grew by %d KiB over 350 starts" % grown


def busybox_variant(daemon, tmp_path, tag, fifos=(), dirs=()):
    """busybox with FIFOs at the paths `fifos` (replacing what is there) and
    the directories `dirs` added, imported as `tag`."""
    tar = make_busybox_tar(str(tmp_path / "bb.tar"))
    out = str(tmp_path / (tag + ".tar"))
    with tarfile.open(tar) as src, tarfile.open(out, "w") as dst:
        for m in src.getmembers():
            if m.name.lstrip("./") not in fifos:
                dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        for path in fifos:
            fifo = tarfile.TarInfo(path)
            fifo.type, fifo.mode = tarfile.FIFOTYPE, 0o644
            dst.addfile(fifo)
        for path in dirs:
            d = tarfile.TarInfo(path)
            d.type, d.mode = tarfile.DIRTYPE, 0o755
            dst.addfile(d)
    r = daemon.cli("import", out, tag)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("fifo, run_args, message", [
    ("etc/passwd", [], "/etc/passwd is not a regular file"),
    ("sbin/docker-init", ["--init"], "docker-init"),
])
def test_a_fifo_the_child_would_open_is_refused_without_a_hang(daemon, tmp_path, fifo, run_args, message):
    # A cold start's child reads /etc/passwd and makes the --init mount
    # point while the zygote waits for it: a FIFO there must not stop every
    # later start.
    busybox_variant(daemon, tmp_path, "fifo-image", fifos=[fifo])
    try:
        r = daemon.cli("run", "--rm", *run_args, "fifo-image", "true", timeout=30)
        assert r.returncode != 0 and message in r.stderr, (r.stdout, r.stderr)
        r = daemon.cli("run", "--rm", "busybox", "echo", "next")
        assert (r.returncode, r.stdout) == (0, "next\n"), r.stderr
    finally:
        daemon.cli("rmi", "fifo-image")


def test_a_new_volume_filled_from_thousands_of_image_directories(daemon, tmp_path):
    # Filling a new named volume copies the image's directory, a walk of any
    # size: not in the zygote's memory (its child's arena held about 2,000
    # directory streams), and the zygote does not wait for it.
    busybox_variant(daemon, tmp_path, "many-dirs", dirs=["data"] + ["data/d%04d" % i for i in range(3000)])
    try:
        r = daemon.cli("run", "--rm", "-v", "many-dirs-vol:/data", "many-dirs", "sh", "-c", "ls /data | wc -l",
                       timeout=120)
        assert (r.returncode, r.stdout.strip()) == (0, "3000"), (r.stdout, r.stderr)
    finally:
        daemon.cli("volume", "rm", "many-dirs-vol")
        daemon.cli("rmi", "many-dirs")


def test_a_zygote_that_dies_mid_batch_is_replaced_and_nothing_hangs(fresh):
    # The monitor asks its zygotes without waiting; a zygote killed with
    # starts in flight fails them ("zygote is gone"), later starts go to the
    # other zygote until a new one serves.
    d = fresh
    d.cli("run", "--rm", "busybox", "true")
    before = zygotes(d)
    out = {}

    def batch():
        out["r"] = d.cli("run", "--count", "150", "--parallel", "2", "--rm", "busybox", "true", timeout=300)

    t = threading.Thread(target=batch)
    t.start()
    time.sleep(0.5)
    os.kill(before[0], signal.SIGKILL)
    t.join(300)
    assert not t.is_alive()
    r = out["r"]
    assert r.returncode == 0 or "zygote is gone" in r.stderr + r.stdout, (r.stdout, r.stderr)
    deadline = time.time() + 10
    while len(zygotes(d)) != len(before) and time.time() < deadline:
        time.sleep(0.05)
    after = zygotes(d)
    assert len(after) == len(before) and before[0] not in after, (before, after)
    r = d.cli("run", "--rm", "busybox", "echo", "still")
    assert (r.returncode, r.stdout) == (0, "still\n"), r.stderr
    r = d.cli("run", "--count", "20", "--parallel", "2", "--rm", "busybox", "true", timeout=120)
    assert r.returncode == 0 and "exit codes: 0 x20" in r.stdout, (r.stdout, r.stderr)


def test_a_cold_start_runs_what_the_search_along_path_finds(daemon, tmp_path):
    """A pristine container's command is looked up along PATH once per
    image (engine::told_command) and the next cold starts are told where
    it is: they run what their own search would find. A container whose
    rootfs was written (cp into it before its start) or that mounts over a
    PATH directory is never told; nor another user, who may not search
    every directory."""
    cases = import_path_search_image(daemon, tmp_path, "coldpath:1")
    try:
        for flags, command, want in cases:
            for _ in range(3):  # the first searches itself; the next ones are told
                r = daemon.cli("run", "--rm", *flags, "coldpath:1", command)
                assert (r.returncode, r.stdout) == (0, want), (command, r.stderr)
                time.sleep(0.1)  # the lookup's answer, for the next start
        r = daemon.cli("run", "--rm", "coldpath:1", "no-such-command")
        assert r.returncode == 127 and 'exec: "no-such-command": executable file not found in $PATH' in r.stderr
        # Written before its first start: its own search finds the new one.
        cid = daemon.cli("create", "coldpath:1", "which-one").stdout.strip()
        try:
            sbin = tmp_path / "sbin"  # before /usr/local/bin along PATH; not in the image
            sbin.mkdir()
            (sbin / "which-one").write_text("#!/bin/sh\necho copied\n")
            (sbin / "which-one").chmod(0o755)
            r = daemon.cli("cp", str(sbin), cid + ":/usr/local/sbin")
            assert r.returncode == 0, r.stderr
            assert daemon.cli("start", "-a", cid).stdout == "copied\n"
        finally:
            daemon.cli("rm", "-f", cid)
        # A bind over a directory along PATH.
        bound = tmp_path / "bound"
        bound.mkdir()
        (bound / "which-one").write_text("#!/bin/sh\necho bound\n")
        (bound / "which-one").chmod(0o755)
        r = daemon.cli("run", "--rm", "-v", "%s:/usr/local/sbin:ro" % bound, "coldpath:1", "which-one")
        assert (r.returncode, r.stdout) == (0, "bound\n"), r.stderr
        r = daemon.cli("run", "--rm", "--tmpfs", "/usr/local/bin", "coldpath:1", "which-one")
        assert (r.returncode, r.stdout) == (0, "bin\n"), r.stderr
        # Another user.
        r = daemon.cli("run", "--rm", "-u", "app", "coldpath:1", "which-one")
        assert (r.returncode, r.stdout) == (0, "local\n"), r.stderr
    finally:
        daemon.cli("rmi", "coldpath:1")


def test_a_cold_start_resolves_its_user_from_what_its_rootfs_has(daemon, tmp_path):
    """A pristine container's /etc/passwd and /etc/group are read once per
    image by the daemon and given to the next cold starts' children
    (engine::told_accounts): they resolve users as their own reading would.
    A container whose files were written before its start (cp), or that
    binds its own, resolves from those."""
    def run(*args):
        r = daemon.cli("run", "--rm", *args)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    for _ in range(3):  # the first reads itself; the next ones are told
        assert run("-u", "app", "busybox", "sh", "-c", "id -u; id -G") == ["1000", "1000", "50"]
        assert run("busybox", "sh", "-c", "id -u; echo $HOME") == ["0", "/root"]
        time.sleep(0.1)  # the daemon's reading, for the next start
    r = daemon.cli("run", "--rm", "-u", "nosuchuser", "busybox", "true")
    assert r.returncode != 0 and "nosuchuser" in r.stderr
    # Written before its first start.
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\napp:x:2000:2000:app:/home/app:/bin/sh\n")
    cid = daemon.cli("create", "-u", "app", "busybox", "id", "-u").stdout.strip()
    try:
        r = daemon.cli("cp", str(passwd), cid + ":/etc/passwd")
        assert r.returncode == 0, r.stderr
        assert daemon.cli("start", "-a", cid).stdout.split() == ["2000"]
    finally:
        daemon.cli("rm", "-f", cid)
    # A bind of its own.
    assert run("-v", "%s:/etc/passwd:ro" % passwd, "-u", "app", "busybox", "id", "-u") == ["2000"]


def test_a_large_passwd_is_read_by_the_child_not_carried_in_each_start(daemon, tmp_path):
    """Account files are told only up to 32 KiB (every start message
    carries them, and a message is at most 256 KiB): a larger one the
    child reads itself, start after start."""
    passwd = tmp_path / "passwd"
    filler = "".join("user%d:x:%d:%d::/home/user%d:/bin/sh\n" % (i, 2000 + i, 2000 + i, i) for i in range(8000))
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n" + filler)
    assert passwd.stat().st_size > 300 << 10
    tar = make_busybox_tar(str(tmp_path / "bigpasswd.tar"), [(str(passwd), "/etc/passwd")])
    assert daemon.cli("import", tar, "bigpasswd:1").returncode == 0
    try:
        for _ in range(3):
            r = daemon.cli("run", "--rm", "-u", "user7999", "bigpasswd:1", "id", "-u")
            assert (r.returncode, r.stdout) == (0, "9999\n"), r.stderr
            time.sleep(0.1)  # the daemon's reading, for the next start
    finally:
        daemon.cli("rmi", "bigpasswd:1")
