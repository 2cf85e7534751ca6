"""Devices end to end: --privileged, --device, --device-cgroup-rule, and the
device cgroup every container gets (Docker's default allowlist, a BPF
program on this host's cgroup2 hierarchy). Each observed from inside the
container; each refusal a clear error and a non-zero exit."""
import json
import os
import stat

import pytest

# A host device that a default container does not get (it exists on any
# Linux host with the loop driver; the test machine has it).
HOST_ONLY_DEVICE = "/dev/loop-control"


def run(daemon, *args, flags=()):
    return daemon.cli("run", "--rm", *flags, "busybox", *args)


def sh(daemon, script, flags=()):
    r = run(daemon, "sh", "-c", script, flags=flags)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def container_ids(daemon):
    return sorted(daemon.cli("ps", "-a", "-q", "--no-trunc").stdout.split())


def probe_caps(daemon, flags=()):
    facts = dict(line.split("=", 1) for line in run(daemon, "/probe", flags=flags).stdout.splitlines() if "=" in line)
    return int(facts["CapEff"], 16), int(facts["CapBnd"], 16)


def all_caps_mask():
    """Every capability the daemon may give: its bounding set (the test's; root here may lack
    CAP_SYS_RESOURCE), as moby's GetAllCapabilities."""
    for line in open("/proc/self/status"):
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)


@pytest.fixture(autouse=True)
def host_device():
    if not os.path.exists(HOST_ONLY_DEVICE):
        pytest.fail("%s is missing on this host: the privileged checks need it" % HOST_ONLY_DEVICE)


# --privileged

def test_privileged_mounts_a_tmpfs_the_default_cannot(daemon):
    out = sh(daemon, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo hi > /mnt/t/f && cat /mnt/t/f && "
                     "grep ' /mnt/t ' /proc/mounts", ("--privileged",))
    assert out.splitlines()[0] == "hi"
    assert " tmpfs " in out.splitlines()[1]
    r = run(daemon, "sh", "-c", "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t")
    assert r.returncode != 0
    assert "permission denied" in r.stderr.lower() or "not permitted" in r.stderr, r.stderr


def test_privileged_sees_host_devices_the_default_does_not(daemon):
    st = os.stat(HOST_ONLY_DEVICE)
    out = sh(daemon, "stat -c '%F %t:%T %a' " + HOST_ONLY_DEVICE + " && ls /dev", ("--privileged",))
    first, listing = out.splitlines()[0], out.splitlines()[1:]
    assert first == "character special file %x:%x %o" % (os.major(st.st_rdev), os.minor(st.st_rdev),
                                                          stat.S_IMODE(st.st_mode))
    # Every device directly under the host's /dev, but console and ptmx
    # (the container's own devpts symlink), as containerd's HostDevices.
    host = sorted(n for n in os.listdir("/dev")
                  if n not in ("console", "ptmx") and (stat.S_ISCHR(os.lstat("/dev/" + n).st_mode)
                                                       or stat.S_ISBLK(os.lstat("/dev/" + n).st_mode)))
    missing = [n for n in host if n not in listing]
    assert not missing, missing
    # The privileged container can use it: /dev/loop-control answers an ioctl-free open.
    sh(daemon, "exec 3<>" + HOST_ONLY_DEVICE, ("--privileged",))
    r = run(daemon, "ls", HOST_ONLY_DEVICE)
    assert r.returncode != 0 and "No such file or directory" in r.stderr
    default_devs = sh(daemon, "ls /dev").split()
    assert "loop-control" not in default_devs and len(default_devs) < len(listing), default_devs


def test_privileged_has_every_capability(daemon):
    eff, bnd = probe_caps(daemon, ("--privileged",))
    assert eff == all_caps_mask() and bnd == all_caps_mask()
    # moby ignores --cap-drop for a privileged container.
    eff, _ = probe_caps(daemon, ("--privileged", "--cap-drop", "ALL"))
    assert eff == all_caps_mask()
    eff, _ = probe_caps(daemon)
    assert eff != all_caps_mask()


def test_privileged_sys_and_proc_sys_writable_nothing_masked(daemon):
    flags = ("--privileged",)
    mounts = {}
    for line in sh(daemon, "cat /proc/mounts", flags).splitlines():
        _, point, fstype, opts = line.split()[:4]
        mounts[point] = (fstype, opts.split(","))
    assert "rw" in mounts["/sys"][1]
    assert "/proc/sys" not in mounts and "/proc/kcore" not in mounts and "/sys/firmware" not in mounts
    # A namespaced sysctl written through /proc/sys.
    assert sh(daemon, "echo 1 > /proc/sys/kernel/shm_rmid_forced && cat /proc/sys/kernel/shm_rmid_forced",
              flags).strip() == "1"
    r = run(daemon, "sh", "-c", "echo 1 > /proc/sys/kernel/shm_rmid_forced")
    assert r.returncode != 0 and "Read-only file system" in r.stderr


def test_privileged_inspect(daemon):
    r = daemon.cli("create", "--privileged", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        hc = json.loads(daemon.cli("inspect", cid).stdout)[0]["HostConfig"]
        assert hc["Privileged"] is True
        assert hc["MaskedPaths"] is None and hc["ReadonlyPaths"] is None
    finally:
        daemon.cli("rm", "-f", cid)


# The default device cgroup

def test_default_container_cannot_open_a_block_device_it_made(daemon):
    # CAP_MKNOD and "b *:* m" let it make the node; the device cgroup refuses the open.
    assert run(daemon, "/probe", "mknod-block", "/blk").stdout.split() == ["mknod=ok", "open=EPERM"]
    assert sh(daemon, "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c"
              ).split() == ["4", "4"]
    # A char device outside the allowlist, made with mknod: refused too.
    r = run(daemon, "sh", "-c", "mknod /dev/lc c 10 237 && exec 3<>/dev/lc")
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r.stderr


# --device

def test_device_mapped_to_another_path(daemon):
    out = sh(daemon, "stat -c '%F %t:%T' /dev/mynull && echo hello > /dev/mynull && echo written",
             ("--device", "/dev/null:/dev/mynull"))
    assert out.split("\n")[:2] == ["character special file 1:3", "written"]


def test_device_under_a_tmpfs_target_is_not_hidden(daemon):
    # Nodes are made after the binds and tmpfs mounts, as runc does (the
    # tmpfs is nodev, as Docker's --tmpfs: the node is there, not usable).
    r = daemon.cli("run", "--rm", "--tmpfs", "/devs", "--device", "/dev/null:/devs/mynull", "busybox", "sh", "-c",
                   "stat -c '%F %t:%T' /devs/mynull")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "character special file 1:3", r.stdout


def test_device_permissions_limit_access(daemon):
    # r alone: a read-only open works, a write open is refused by the device cgroup.
    script = "exec 3<%s && echo read-ok && exec 4>%s && echo write-ok" % ("/dev/lc", "/dev/lc")
    r = run(daemon, "sh", "-c", script, flags=("--device", HOST_ONLY_DEVICE + ":/dev/lc:r"))
    assert r.stdout.split() == ["read-ok"] and "Operation not permitted" in r.stderr, (r.stdout, r.stderr)
    assert sh(daemon, script, ("--device", HOST_ONLY_DEVICE + ":/dev/lc:rw")).split() == ["read-ok", "write-ok"]
    # Without m the container cannot make another node of it; with m it can.
    r = run(daemon, "sh", "-c", "mknod /dev/lc2 c 10 237", flags=("--device", HOST_ONLY_DEVICE + ":/dev/lc:rw"))
    assert r.returncode == 0, r.stderr  # Docker's defaults allow mknod of any char device
    # Docker's defaults stay on top of a mapping: /dev/null (1:3) is rwm whatever the mapping says.
    flags = ("--device", "/dev/null:/dev/mynull:r")
    assert run(daemon, "/probe", "write", "/dev/mynull", flags=flags).stdout.strip() == "write=ok"


def test_device_host_only_node_and_nested_path(daemon):
    st = os.stat(HOST_ONLY_DEVICE)
    out = sh(daemon, "stat -c '%F %t:%T %a %u:%g' /dev/x/lc && exec 3<>/dev/x/lc && echo opened",
             ("--device", HOST_ONLY_DEVICE + ":/dev/x/lc"))
    assert out.splitlines() == ["character special file %x:%x %o %d:%d" % (
        os.major(st.st_rdev), os.minor(st.st_rdev), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), "opened"]


def test_device_directory_gives_every_device_below(daemon, tmp_path):
    d = tmp_path / "devs"
    (d / "sub").mkdir(parents=True)
    os.mknod(str(d / "n"), 0o620 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(str(d / "sub" / "z"), 0o640 | stat.S_IFCHR, os.makedev(1, 5))
    os.chmod(str(d / "n"), 0o620)
    os.chmod(str(d / "sub" / "z"), 0o640)
    (d / "plain").write_text("not a device")
    out = sh(daemon, "ls -R /devs; stat -c '%n %t:%T %a' /devs/n /devs/sub/z; echo x > /devs/n && echo ok",
             ("--device", "%s:/devs" % d))
    assert "/devs/n 1:3 620" in out and "/devs/sub/z 1:5 640" in out and out.rstrip().endswith("ok")
    assert "plain" not in out


def test_device_errors(daemon, tmp_path):
    before = container_ids(daemon)
    plain = tmp_path / "plain"
    plain.write_text("x")
    for flag, message in [
        ("/dev/null:/dev/x:rwx", 'invalid argument "/dev/null:/dev/x:rwx" for "--device" flag: bad mode specified: rwx'),
        ("/dev/null:relative", "relative is not an absolute path"),
        ("a:b:c:d", "bad format for path: a:b:c:d"),
    ]:
        r = run(daemon, "true", flags=("--device", flag))
        assert r.returncode == 125, (flag, r.returncode, r.stderr)
        assert message in r.stderr, (flag, r.stderr)
    assert container_ids(daemon) == before
    # Gathered at start, as Docker does: the container is created, the start fails.
    r = daemon.cli("run", "--rm", "--device", str(plain), "busybox", "true")
    assert r.returncode == 125, (r.returncode, r.stderr)
    assert 'error gathering device information while adding custom device "%s": not a device node' % plain in r.stderr
    r = daemon.cli("run", "--rm", "--device", "/dev/berth-missing", "busybox", "true")
    assert r.returncode == 127, (r.returncode, r.stderr)  # docker's exit code for "no such file or directory"
    assert ('error gathering device information while adding custom device "/dev/berth-missing": '
            'no such file or directory') in r.stderr
    # The API checks what a client other than the CLI may send.
    body = {"Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                                        "CgroupPermissions": "rwq"}]}}
    status, answer = daemon.api("POST", "/containers/create", body)
    assert status == 400 and "bad mode specified: rwq" in answer["message"], (status, answer)


def test_device_inspect_and_update_refusal(daemon):
    r = daemon.cli("create", "--device", "/dev/null:/dev/mynull:rw", "--device", "/dev/zero",
                   "--device-cgroup-rule", "c 1:3 mr", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        hc = json.loads(daemon.cli("inspect", cid).stdout)[0]["HostConfig"]
        assert hc["Devices"] == [
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"},
            {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/zero", "CgroupPermissions": "rwm"}]
        assert hc["DeviceCgroupRules"] == ["c 1:3 mr"]
        assert hc["Privileged"] is False
        assert hc["MaskedPaths"] and hc["ReadonlyPaths"]
        status, answer = daemon.api("POST", "/containers/%s/update" % cid,
                                    {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n",
                                                  "CgroupPermissions": "rwm"}]})
        assert status == 400 and "Devices is not supported yet" in answer["message"], (status, answer)
    finally:
        daemon.cli("rm", "-f", cid)


# --device-cgroup-rule

def test_device_cgroup_rule_allows_a_node_made_with_mknod(daemon):
    script = "mknod /dev/lc c 10 237 && exec 3<>/dev/lc && echo opened"
    assert sh(daemon, script, ("--device-cgroup-rule", "c 10:237 rw")).strip() == "opened"
    # Only what the rule grants: read alone refuses a read-write open.
    r = run(daemon, "sh", "-c", script, flags=("--device-cgroup-rule", "c 10:237 r"))
    assert r.returncode != 0 and "Operation not permitted" in r.stderr
    # A wildcard minor; the block device 8:0 is absent here (ENXIO), no longer EPERM.
    out = run(daemon, "/probe", "mknod-block", "/blk", flags=("--device-cgroup-rule", "b 8:* rwm")).stdout.split()
    assert out[0] == "mknod=ok" and out[1] in ("open=ok", "open=ENXIO"), out


def test_device_cgroup_rule_errors(daemon):
    before = container_ids(daemon)
    for rule in ("c 1:3", "x 1:3 rwm", "c 1-3 rwm", "c 1:3 rwx", "c a:3 r"):
        r = run(daemon, "true", flags=("--device-cgroup-rule", rule))
        assert r.returncode == 125, (rule, r.returncode, r.stderr)
        assert "invalid device cgroup format '%s'" % rule in r.stderr, r.stderr
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"DeviceCgroupRules": ["c 1:3 rwx"]}}
    status, answer = daemon.api("POST", "/containers/create", body)
    assert status == 400 and "invalid device cgroup rule format: 'c 1:3 rwx'" in answer["message"], answer
    body["HostConfig"]["DeviceCgroupRules"] = ["c 99999999999:3 rwm"]
    status, answer = daemon.api("POST", "/containers/create", body)
    assert status == 400 and "invalid major value in device cgroup rule format" in answer["message"], answer
    assert container_ids(daemon) == before


def test_many_starts_of_one_rule_set(daemon):
    # The program of a rule set is loaded once; later starts only attach it.
    for _ in range(3):
        assert sh(daemon, "mknod /dev/lc c 10 237 && exec 3<>/dev/lc && echo opened",
                  ("--device-cgroup-rule", "c 10:237 rwm")).strip() == "opened"


# The real docker CLI

def test_docker_cli_privileged_and_device(daemon, docker):
    r = docker("run", "--rm", "--privileged", "busybox", "sh", "-c",
               "mkdir /m && mount -t tmpfs none /m && ls " + HOST_ONLY_DEVICE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == HOST_ONLY_DEVICE
    r = docker("run", "--rm", "--device", "/dev/null:/dev/mynull", "busybox", "sh", "-c",
               "stat -c '%t:%T' /dev/mynull && echo x > /dev/mynull && echo ok")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1:3", "ok"]
    r = docker("run", "--rm", "--device", HOST_ONLY_DEVICE + ":/dev/lc:r", "busybox", "sh", "-c",
               "exec 3</dev/lc && echo read-ok && exec 4>/dev/lc")
    assert r.returncode != 0 and r.stdout.split() == ["read-ok"], (r.stdout, r.stderr)
    r = docker("run", "--rm", "--device-cgroup-rule", "c 10:237 rw", "busybox", "sh", "-c",
               "mknod /dev/lc c 10 237 && exec 3<>/dev/lc && echo opened")
    assert r.returncode == 0 and r.stdout.strip() == "opened", r.stderr
