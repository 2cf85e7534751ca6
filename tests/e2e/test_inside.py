"""What a container sees, checked from inside with the static probe."""
import os
import subprocess
import tempfile

import pytest

from conftest import Daemon, make_busybox_tar, PROBE

DOCKER_CAPS = 0x00000000a80425fb


def facts(text):
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def probe(daemon, *args, flags=()):
    r = daemon.cli("run", "--rm", *flags, "busybox", "/probe", *args)
    assert r.returncode == 0, r.stderr
    return facts(r.stdout)


def test_pid_hostname_caps(daemon):
    f = probe(daemon, flags=("--hostname", "probe-host"))
    assert f["pid"] == "1"
    assert f["hostname"] == "probe-host"
    for k in ("CapBnd", "CapPrm", "CapEff"):
        assert int(f[k], 16) == DOCKER_CAPS, k
    assert int(f["CapInh"], 16) == 0 and int(f["CapAmb"], 16) == 0
    assert f["NoNewPrivs"] == "0"
    assert f["uid"] == "0"


def test_default_hostname_is_short_id(daemon):
    r = daemon.cli("run", "-d", "busybox", "hostname")
    cid = r.stdout.strip()
    daemon.cli("wait", cid)
    assert daemon.cli("logs", cid).stdout.strip() == cid[:12]
    daemon.cli("rm", cid)


def test_cap_add_drop(daemon):
    f = probe(daemon, flags=("--cap-drop", "ALL", "--cap-add", "NET_ADMIN"))
    assert int(f["CapEff"], 16) == 1 << 12
    f = probe(daemon, flags=("--cap-drop", "chown",))
    assert int(f["CapEff"], 16) == DOCKER_CAPS & ~1
    # ALL is what the daemon holds: its bounding set (root here lacks
    # CAP_SYS_RESOURCE), never a capability the kernel would refuse.
    with open("/proc/self/status") as st:
        host_bnd = int([l.split()[1] for l in st if l.startswith("CapBnd:")][0], 16)
    f = probe(daemon, flags=("--cap-add", "ALL", "--cap-drop", "kill"))
    assert int(f["CapEff"], 16) == host_bnd & ~(1 << 5)


def test_non_root_user_has_no_effective_caps(daemon):
    f = probe(daemon, flags=("-u", "app"))
    assert f["uid"] == "1000"
    assert int(f["CapEff"], 16) == 0
    assert int(f["CapBnd"], 16) == DOCKER_CAPS


def test_cgroup_is_root_everywhere(daemon):
    f = probe(daemon)
    lines = f["cgroup"].split(";")
    assert lines and all(l.endswith(":/") for l in lines), lines


def test_namespaces_differ_from_host(daemon):
    f = probe(daemon)
    for ns in ("mnt", "pid", "uts", "ipc", "net", "cgroup"):
        host = os.readlink("/proc/self/ns/" + ns)
        assert f["ns_" + ns] != host, ns
    assert f["ns_user"] == os.readlink("/proc/self/ns/user")


def test_host_network_shares_net_namespace(daemon):
    f = probe(daemon, flags=("--network", "host"))
    assert f["ns_net"] == os.readlink("/proc/self/ns/net")
    assert f["ns_mnt"] != os.readlink("/proc/self/ns/mnt")


def test_masked_and_readonly_paths(daemon):
    for masked in ("/proc/kcore", "/proc/timer_list", "/proc/keys"):
        if os.path.exists(masked):
            f = probe(daemon, "read", masked)
            assert f["read"] == "ok" and f["bytes"] == "0", masked
    f = probe(daemon, "write", "/proc/sys/kernel/hostname")
    assert f["write"] == "EROFS"
    if os.path.exists("/proc/sysrq-trigger"):
        f = probe(daemon, "write", "/proc/sysrq-trigger")
        assert f["write"] == "EROFS"
    r = daemon.cli("run", "--rm", "busybox", "ls", "/sys/firmware")
    assert r.stdout.strip() == ""
    f = probe(daemon, "write", "/sys/kernel/uevent_helper")
    assert f["write"] in ("EROFS", "ENOENT")


def test_block_device_mknod_allowed_open_denied(daemon):
    f = probe(daemon, "mknod-block", "/blockdev")
    assert f["mknod"] == "ok"
    assert f["open"] == "EPERM"


def test_dev_nodes(daemon):
    r = daemon.cli("run", "--rm", "busybox", "sh", "-c",
                   "echo x > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/pts/ptmx /dev/shm /dev/mqueue >/dev/null && echo ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["4", "ok"]


def test_writes_land_in_upper_dir_only(daemon):
    cid = daemon.cli("run", "-d", "busybox", "sh", "-c", "echo data > /written && rm /bin/true").stdout.strip()
    assert daemon.cli("wait", cid).stdout.strip() == "0"
    import json
    info = json.loads(daemon.cli("inspect", cid).stdout)[0]
    upper = info["GraphDriver"]["Data"]["UpperDir"]
    lowers = info["GraphDriver"]["Data"]["LowerDir"].split(":")
    with open(os.path.join(upper, "written")) as f:
        assert f.read() == "data\n"
    st = os.lstat(os.path.join(upper, "bin/true"))
    assert (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0  # overlay whiteout
    for l in lowers:
        assert not os.path.exists(os.path.join(l, "written"))
    assert os.path.lexists(os.path.join(lowers[-1], "bin/true"))
    r = daemon.cli("run", "--rm", "busybox", "ls", "/written")
    assert r.returncode != 0
    daemon.cli("rm", cid)


def test_shared_root_mount_host():
    """systemd hosts make / shared; the runtime must make its tree private."""
    base = tempfile.mkdtemp(prefix="berth-e2e-shared-")
    d = Daemon(base, wrap=["unshare", "--mount", "--propagation", "unchanged", "sh", "-c",
                           'mount --make-rshared / && exec "$@"', "sh"])
    try:
        d.start()
        tar = make_busybox_tar(os.path.join(base, "b.tar"), [(PROBE, "/probe")])
        assert d.cli("import", tar, "busybox").returncode == 0
        r = d.cli("run", "--rm", "busybox", "/probe")
        assert r.returncode == 0, r.stderr
        assert facts(r.stdout)["pid"] == "1"
        r = d.cli("run", "--rm", "busybox", "echo", "shared-ok")
        assert r.stdout == "shared-ok\n"
        # Nothing of the container's mounts leaked into the host's table.
        with open("/proc/self/mountinfo") as f:
            assert d.root not in f.read()
    finally:
        d.teardown()
