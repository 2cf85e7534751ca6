"""The small confinement flags end to end (--read-only, --tmpfs, --shm-size,
--ulimit, --sysctl, --group-add, --security-opt no-new-privileges): each
observed from inside the container, each refusal a clear error with exit
125 and nothing left behind."""
import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

DOCKER = shutil.which("docker")
MiB = 1 << 20


def run(daemon, *args, flags=()):
    return daemon.cli("run", "--rm", *flags, "busybox", *args)


def sh(daemon, script, flags=()):
    r = run(daemon, "sh", "-c", script, flags=flags)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def mounts(daemon, flags=()):
    """{mount point: (fstype, options)} as the container sees them."""
    out = {}
    for line in sh(daemon, "cat /proc/mounts", flags).splitlines():
        dev, point, fstype, opts = line.split()[:4]
        out[point] = (fstype, opts.split(","))
    return out


def container_ids(daemon):
    return sorted(daemon.cli("ps", "-a", "-q", "--no-trunc").stdout.split())


def inspect_host_config(daemon, *flags):
    r = daemon.cli("create", *flags, "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        return json.loads(daemon.cli("inspect", cid).stdout)[0]["HostConfig"]
    finally:
        daemon.cli("rm", "-f", cid)


def refused(daemon, flags, message, args=("true",)):
    before = container_ids(daemon)
    r = daemon.cli("run", "--rm", *flags, "busybox", *args)
    assert r.returncode == 125, (r.returncode, r.stderr)
    assert message in r.stderr, r.stderr
    assert container_ids(daemon) == before
    return r


# --read-only

def test_read_only_root_refuses_writes(daemon):
    r = run(daemon, "touch", "/x", flags=("--read-only",))
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    r = run(daemon, "/probe", "write", "/etc/passwd", flags=("--read-only",))
    assert r.stdout.strip() == "write=EROFS"


def test_read_only_keeps_dev_shm_mqueue_proc_as_docker(daemon):
    m = mounts(daemon, ("--read-only",))
    assert "ro" in m["/"][1]
    for point in ("/dev", "/dev/shm", "/dev/mqueue", "/proc"):
        assert "rw" in m[point][1], point
    assert "ro" in m["/sys"][1]
    sh(daemon, "touch /dev/shm/a /dev/x && echo ok > /dev/shm/a && cat /dev/shm/a", ("--read-only",))
    # Docker mounts /etc/hosts, /etc/hostname and /etc/resolv.conf writable
    # only without --read-only; berth's live in the (now read-only) root.
    r = run(daemon, "sh", "-c", "echo x >> /etc/hosts", flags=("--read-only",))
    assert r.returncode != 0 and "Read-only file system" in r.stderr


def test_read_only_with_missing_workdir_and_tmpfs(daemon):
    out = sh(daemon, "pwd; echo hi > /tmp/f && cat /tmp/f; touch /x 2>/dev/null || echo refused",
             ("--read-only", "--tmpfs", "/tmp", "-w", "/new/dir"))
    assert out.split() == ["/new/dir", "hi", "refused"]


def test_read_only_in_inspect(daemon):
    assert inspect_host_config(daemon, "--read-only")["ReadonlyRootfs"] is True
    assert inspect_host_config(daemon)["ReadonlyRootfs"] is False


def test_read_only_exec_sees_read_only_root(daemon):
    r = daemon.cli("run", "-d", "--read-only", "busybox", "sleep", "30")
    cid = r.stdout.strip()
    try:
        e = daemon.cli("exec", cid, "touch", "/y")
        assert e.returncode != 0 and "Read-only file system" in e.stderr
    finally:
        daemon.cli("rm", "-f", cid)


# --tmpfs

def test_tmpfs_mount_with_size_and_docker_defaults(daemon):
    m = mounts(daemon, ("--tmpfs", "/run:size=1m", "--tmpfs", "/data/cache"))
    fstype, opts = m["/run"]
    assert fstype == "tmpfs"
    assert "size=1024k" in opts
    for o in ("rw", "nosuid", "nodev", "noexec"):
        assert o in opts, (o, opts)
    assert m["/data/cache"][0] == "tmpfs"


def test_tmpfs_size_is_enforced(daemon):
    r = run(daemon, "dd", "if=/dev/zero", "of=/run/big", "bs=1M", "count=2", flags=("--tmpfs", "/run:size=1m"))
    assert r.returncode != 0
    assert "No space left on device" in r.stderr


def test_tmpfs_options_override_defaults(daemon):
    m = mounts(daemon, ("--tmpfs", "/run:exec,mode=700,size=2m,size=3m"))
    opts = m["/run"][1]
    assert "noexec" not in opts and "size=3072k" in opts and "mode=700" in opts
    assert sh(daemon, "cp /bin/busybox /run/busybox && /run/busybox echo ran", ("--tmpfs", "/run:exec")).strip() == "ran"


def test_tmpfs_symlinked_target_stays_in_the_container(daemon, tmp_path):
    # /escape -> /../../../tmp/<host dir>: resolved inside the container's
    # root, the tmpfs lands on the container's /tmp/<name>, never the host's.
    host_dir = tmp_path / "host-target"
    host_dir.mkdir()
    (host_dir / "keep").write_text("host\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        # The same path inside the container, so that the link resolves.
        parts = str(host_dir).strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = tarfile.TarInfo("/".join(parts[:i]))
            d.type = tarfile.DIRTYPE
            d.mode = 0o755
            tar.addfile(d)
        link = tarfile.TarInfo("escape")
        link.type = tarfile.SYMTYPE
        link.linkname = "/../../../.." + str(host_dir)
        tar.addfile(link)
    r = daemon.cli("create", "--tmpfs", "/escape", "busybox", "sh", "-c",
                   "touch /escape/inside && grep ' %s ' /proc/mounts" % host_dir)
    cid = r.stdout.strip()
    try:
        st, _ = daemon.api("PUT", "/containers/%s/archive?path=/" % cid, body=buf.getvalue(),
                           headers={"Content-Type": "application/x-tar"})
        assert st == 200
        r = daemon.cli("start", "-a", cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[:3] == ["tmpfs", str(host_dir), "tmpfs"]
        assert sorted(os.listdir(host_dir)) == ["keep"]
    finally:
        daemon.cli("rm", "-f", cid)


def test_tmpfs_in_inspect(daemon):
    hc = inspect_host_config(daemon, "--tmpfs", "/run:size=1m", "--tmpfs", "/cache")
    assert hc["Tmpfs"] == {"/run": "size=1m", "/cache": ""}


def test_tmpfs_refusals(daemon):
    refused(daemon, ("--tmpfs", "run"), "mount path must be absolute")
    refused(daemon, ("--tmpfs", "/run:bogus"), 'invalid tmpfs option "bogus"')
    refused(daemon, ("--tmpfs", "/run:color=blue"), 'invalid tmpfs option "color=blue"')


# --shm-size

def test_shm_size_default_and_flag(daemon):
    assert "size=65536k" in mounts(daemon)["/dev/shm"][1]
    opts = mounts(daemon, ("--shm-size", "16m"))["/dev/shm"][1]
    assert "size=16384k" in opts
    assert inspect_host_config(daemon)["ShmSize"] == 64 * MiB
    assert inspect_host_config(daemon, "--shm-size", "16m")["ShmSize"] == 16 * MiB


def test_negative_shm_size_is_refused(daemon):
    st, body = daemon.api("POST", "/containers/create",
                          body={"Image": "busybox", "Cmd": ["true"], "HostConfig": {"ShmSize": -1}})
    assert st == 400 and body["message"] == "SHM size can not be less than 0"


# --ulimit

def test_ulimits_seen_inside(daemon):
    out = sh(daemon, "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/limits",
             ("--ulimit", "nofile=1024:2048", "--ulimit", "core=0", "--ulimit", "nproc=300"))
    lines = out.splitlines()
    assert lines[:3] == ["1024", "2048", "0"]
    limits = "\n".join(lines[3:])
    assert any(l.startswith("Max processes") and l.split()[2:4] == ["300", "300"] for l in limits.splitlines())
    assert any(l.startswith("Max open files") and l.split()[3:5] == ["1024", "2048"] for l in limits.splitlines())


def test_ulimit_default_nofile_unchanged(daemon):
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert sh(daemon, "ulimit -Hn").strip() == str(min(hard, 1048576))


def test_ulimit_in_inspect(daemon):
    hc = inspect_host_config(daemon, "--ulimit", "nofile=100:200", "--ulimit", "stack=8192")
    assert hc["Ulimits"] == [{"Name": "nofile", "Hard": 200, "Soft": 100},
                             {"Name": "stack", "Hard": 8192, "Soft": 8192}]


def test_ulimit_refusals(daemon):
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        above = str(hard + 1)
        refused(daemon, ("--ulimit", "nofile=" + above + ":" + above), "above the daemon's own")
    refused(daemon, ("--ulimit", "nosuch=1"), "invalid ulimit type: nosuch")
    refused(daemon, ("--ulimit", "nofile=10:5"), "soft limit must be less than or equal to hard limit")
    refused(daemon, ("--ulimit", "nofile"), "invalid ulimit argument")


# --sysctl

def test_namespaced_sysctls_are_written(daemon):
    with open("/proc/sys/kernel/shmmax") as f:
        host_shmmax = f.read()
    out = sh(daemon, "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward /proc/sys/fs/mqueue/msg_max",
             ("--sysctl", "kernel.shmmax=1234567", "--sysctl", "net.ipv4.ip_forward=1",
              "--sysctl", "fs.mqueue.msg_max=20"))
    assert out.split() == ["1234567", "1", "20"]
    with open("/proc/sys/kernel/shmmax") as f:
        assert f.read() == host_shmmax
    # /proc/sys is still read-only afterwards.
    r = run(daemon, "sh", "-c", "echo 5 > /proc/sys/kernel/shmmax", flags=("--sysctl", "kernel.shmmax=7"))
    assert r.returncode != 0 and "Read-only file system" in r.stderr


def test_sysctls_in_inspect(daemon):
    assert inspect_host_config(daemon, "--sysctl", "kernel.shmmax=99")["Sysctls"] == {"kernel.shmmax": "99"}


def test_sysctl_refusals(daemon):
    refused(daemon, ("--sysctl", "kernel.panic=1"), "sysctl 'kernel.panic=1' is not allowed")
    refused(daemon, ("--sysctl", "vm.swappiness=1"), "is not allowed")
    refused(daemon, ("--sysctl", "net/../../kernel.x=1"), "is not allowed")
    refused(daemon, ("--network", "host", "--sysctl", "net.ipv4.ip_forward=1"),
            "is not allowed in the hosts network namespace")
    refused(daemon, ("--sysctl", "kernel.shmmax"), "is not allowed")


# --group-add

def test_group_add_by_name_and_number(daemon):
    assert sh(daemon, "id -G", ("--group-add", "staff", "--group-add", "4242")).split() == ["0", "50", "4242"]
    # app is already in staff: listed once.
    assert sh(daemon, "id -G", ("-u", "app", "--group-add", "staff", "--group-add", "nogroup")).split() == \
        ["1000", "50", "65534"]
    assert inspect_host_config(daemon, "--group-add", "staff")["GroupAdd"] == ["staff"]


def test_group_add_unknown_name_fails_start(daemon):
    r = run(daemon, "true", flags=("--group-add", "nosuchgroup"))
    assert r.returncode != 0
    assert "Unable to find group nosuchgroup" in r.stderr


# --security-opt

def test_no_new_privileges(daemon):
    def nnp(*opts):
        flags = []
        for o in opts:
            flags += ["--security-opt", o]
        out = sh(daemon, "grep NoNewPrivs /proc/self/status", tuple(flags))
        return out.split()[1]
    assert nnp() == "0"
    assert nnp("no-new-privileges") == "1"
    assert nnp("no-new-privileges=true") == "1"
    assert nnp("no-new-privileges:true") == "1"
    assert nnp("no-new-privileges=false") == "0"
    assert inspect_host_config(daemon, "--security-opt", "no-new-privileges")["SecurityOpt"] == ["no-new-privileges"]


def test_no_new_privileges_applies_to_exec(daemon):
    r = daemon.cli("run", "-d", "--security-opt", "no-new-privileges", "busybox", "sleep", "30")
    cid = r.stdout.strip()
    try:
        e = daemon.cli("exec", cid, "grep", "NoNewPrivs", "/proc/self/status")
        assert e.stdout.split() == ["NoNewPrivs:", "1"], e.stderr
    finally:
        daemon.cli("rm", "-f", cid)


def test_security_opt_refusals(daemon):
    refused(daemon, ("--security-opt", "apparmor=docker-default"), "apparmor is not supported yet")
    refused(daemon, ("--security-opt", "label=type:svirt_apache_t"), "label is not supported yet")
    # What scripts pass to turn them off is accepted: berth applies neither.
    r = daemon.cli("run", "--rm", "--security-opt", "apparmor=unconfined", "--security-opt", "label=disable",
                   "busybox", "true")
    assert r.returncode == 0, r.stderr
    refused(daemon, ("--security-opt", "bogus"), 'invalid --security-opt 1: "bogus"')
    refused(daemon, ("--security-opt", "no-new-privileges=maybe"), "invalid --security-opt 2")


# The docker CLI

# The `docker` fixture (the real CLI against the daemon) is in conftest.py.


def test_docker_cli_read_only_and_tmpfs(docker):
    r = docker("run", "--rm", "--read-only", "--tmpfs", "/run:size=1m", "busybox", "sh", "-c",
               "touch /run/ok && echo wrote; touch /x 2>/dev/null || echo refused; grep ' /run ' /proc/mounts")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["wrote", "refused"]
    assert "tmpfs" in lines[2] and "size=1024k" in lines[2] and "noexec" in lines[2]


def test_docker_cli_limits_sysctl_groups_nnp(docker):
    r = docker("run", "--rm", "--ulimit", "nofile=512:1024", "--sysctl", "kernel.shmmax=4096", "--shm-size", "8m",
               "--group-add", "50", "--security-opt", "no-new-privileges", "busybox", "sh", "-c",
               "ulimit -n; cat /proc/sys/kernel/shmmax; id -G; grep NoNewPrivs /proc/self/status; "
               "grep ' /dev/shm ' /proc/mounts")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "512"
    assert lines[1] == "4096"
    assert lines[2].split() == ["0", "50"]
    assert lines[3].split() == ["NoNewPrivs:", "1"]
    assert "size=8192k" in lines[4]


def test_docker_cli_refusals(docker):
    # Passes the docker CLI's own check; the daemon refuses it.
    r = docker("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true")
    assert r.returncode == 125
    assert "is not allowed in the hosts network namespace" in r.stderr
    r = docker("run", "--rm", "--ulimit", "nofile=100000000:100000000", "busybox", "true")
    assert r.returncode == 125
    assert "above the daemon's own" in r.stderr
