"""--userns-remap: container root is an unprivileged id on the host, layers
stay shared and unpacked once (idmapped, never copied or chowned), owners
and modes of the image survive, opaque directories still hide, exec joins
the user namespace, --userns=host opts out, `default` makes its user."""
import json
import time
import os
import pwd
import random
import subprocess
import tempfile
import uuid

import pytest

from conftest import Daemon, make_busybox_tar
from test_layers import docker_save, layer

SIZE = 65536

OWNERS = [
    ("owners", "dir", {"mode": 0o755}),
    ("owners/root", "file", {"data": b"r\n", "mode": 0o644}),
    ("owners/user", "file", {"data": b"u\n", "mode": 0o640, "uid": 1000, "gid": 1000}),
    ("owners/mixed", "file", {"data": b"m\n", "mode": 0o600, "uid": 33, "gid": 4242}),
    ("owners/userdir", "dir", {"mode": 0o750, "uid": 1000, "gid": 1000}),
    ("owners/suid", "file", {"data": b"#!/bin/sh\n", "mode": 0o4755}),
    ("owners/sgid", "file", {"data": b"#!/bin/sh\n", "mode": 0o2755, "uid": 1000, "gid": 50}),
    ("owners/hard", "hard", {"link": "owners/user"}),
    ("opq", "dir", {"mode": 0o755}), ("opq/old", "file", {"data": b"old\n"}),
    ("gone", "file", {"data": b"gone\n"}),
]
UPPER = [("opq/.wh..wh..opq", "file"), ("opq/new", "file", {"data": b"new\n"}), (".wh.gone", "file")]


def _remove_line(path, line):
    with open(path) as f:
        lines = f.read().splitlines(keepends=True)
    if line in lines:
        lines.remove(line)
        with open(path, "w") as f:
            f.write("".join(lines))


@pytest.fixture(scope="module")
def remap():
    """A user and group made for the module, with subordinate ranges of its own; removed after."""
    name = "bt" + uuid.uuid4().hex[:8]
    start = random.randrange(64, 4096) * SIZE  # far above the ranges useradd hands out
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/bin/false", name],
                   check=True)
    line = "%s:%d:%d\n" % (name, start, SIZE)
    added = []
    try:
        for path in ("/etc/subuid", "/etc/subgid"):
            with open(path, "a") as f:
                f.write(line)
            added.append(path)
        yield name, start
    finally:
        for path in added:
            _remove_line(path, line)
        subprocess.run(["userdel", name], check=False)
        subprocess.run(["groupdel", name], check=False, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def rd(remap):
    """A daemon with --userns-remap USER, busybox and a layered image with many owners."""
    name, start = remap
    base = tempfile.mkdtemp(prefix="berth-e2e-userns-")
    d = Daemon(base, args=["--userns-remap", name])
    try:
        d.start()
        d.start_id = start
        tar = make_busybox_tar(os.path.join(base, "busybox.tar"))
        r = d.cli("import", tar, "busybox:latest")
        assert r.returncode == 0, r.stderr
        with open(tar, "rb") as f:
            bb = f.read()
        path = docker_save(os.path.join(base, "owners.tar"), [bb, layer(OWNERS), layer(UPPER)], "owners:1")
        r = d.cli("load", "-i", path)
        assert r.returncode == 0, r.stderr
        yield d
    finally:
        d.teardown()


def host_dir(tmp_path):
    # The container's root is an unprivileged id on the host: the bind
    # source must be reachable and writable for it (Docker's rule too).
    d = tempfile.mkdtemp(prefix="berth-userns-bind-", dir="/tmp")
    os.chmod(d, 0o777)
    return d


def test_root_inside_is_unprivileged_outside(rd, tmp_path):
    d = host_dir(tmp_path)
    try:
        r = rd.cli("run", "--rm", "-v", d + ":/data", "busybox", "sh", "-c",
                   "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /data/made; mkdir /data/dir")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split("\n")
        assert lines[:2] == ["0", "0"]
        assert lines[2].split() == ["0", str(rd.start_id), str(SIZE)]
        assert lines[3].split() == ["0", str(rd.start_id), str(SIZE)]
        for n in ("made", "dir"):
            st = os.stat(os.path.join(d, n))
            assert (st.st_uid, st.st_gid) == (rd.start_id, rd.start_id)
        # Host root's files are nobody's inside, and not writable by the container's root.
        with open(os.path.join(d, "hostroot"), "w") as f:
            f.write("x")
        os.chmod(os.path.join(d, "hostroot"), 0o644)
        r = rd.cli("run", "--rm", "-v", d + ":/data", "busybox", "sh", "-c",
                   "stat -c %u:%g /data/hostroot; echo y >> /data/hostroot && echo wrote")
        assert r.stdout.split("\n")[0] == "65534:65534"
        assert "wrote" not in r.stdout
        with open(os.path.join(d, "hostroot")) as f:
            assert f.read() == "x"
    finally:
        subprocess.run(["rm", "-rf", d])


def test_rootfs_writes_owned_by_mapped_root(rd):
    r = rd.cli("create", "busybox", "sh", "-c", "echo hi > /written; mkdir /madedir; chown 1000:1000 /madedir")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        r = rd.cli("start", "-a", cid)
        assert r.returncode == 0, r.stderr
        data = json.loads(rd.cli("inspect", cid).stdout)[0]["GraphDriver"]["Data"]
        upper = data["UpperDir"]
        st = os.stat(upper)
        assert (st.st_uid, st.st_gid) == (rd.start_id, rd.start_id)
        st = os.stat(os.path.join(upper, "written"))
        assert (st.st_uid, st.st_gid) == (rd.start_id, rd.start_id)
        st = os.stat(os.path.join(upper, "madedir"))
        assert (st.st_uid, st.st_gid) == (rd.start_id + 1000, rd.start_id + 1000)
        # No other host user passes into the container's directory.
        st = os.stat(os.path.dirname(upper))
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, rd.start_id, 0o710)
    finally:
        rd.cli("rm", "-f", cid)


def test_image_owners_and_modes_inside(rd):
    r = rd.cli("run", "--rm", "owners:1", "sh", "-c", "stat -c '%n %u %g %a %h %i' /owners/* /; ls /opq; cat /gone")
    got = {}
    for line in r.stdout.splitlines():
        n, *rest = line.split()
        got[n] = rest
    assert got["/owners/root"][:3] == ["0", "0", "644"]
    assert got["/owners/user"][:3] == ["1000", "1000", "640"]
    assert got["/owners/mixed"][:3] == ["33", "4242", "600"]
    assert got["/owners/userdir"][:3] == ["1000", "1000", "750"]
    assert got["/owners/suid"][:3] == ["0", "0", "4755"]
    assert got["/owners/sgid"][:3] == ["1000", "50", "2755"]
    assert got["/owners/hard"][3] == "2" and got["/owners/hard"][4] == got["/owners/user"][4]
    assert got["/"][:2] == ["0", "0"]
    # The opaque directory of the upper layer hides the lower content
    # (trusted.overlay.opaque read by an overlay mounted in the initial
    # user namespace), and the whiteout hides /gone.
    assert "new" in r.stdout.split("\n") and "old" not in r.stdout.split("\n")
    assert "No such file" in r.stderr and "gone\n" not in r.stdout


def test_setuid_binary_runs_as_its_owner(rd):
    # A non-root user in the container reads a file of uid 1000 only through it: ids match inside.
    r = rd.cli("run", "--rm", "-u", "1000:1000", "owners:1", "sh", "-c", "cat /owners/user; id -u")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "u\n1000\n"
    r = rd.cli("run", "--rm", "-u", "1001:1001", "owners:1", "cat", "/owners/user")
    assert r.returncode != 0 and "Permission denied" in r.stderr


def _two_remapped_one_host(d):
    """Two remapped containers and one with --userns host, created from
    owners:1: their ids and overlay lower directories."""
    ids = []
    for extra in ([], [], ["--userns", "host"]):
        r = d.cli("create", *extra, "owners:1", "true")
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
    lowers = [json.loads(d.cli("inspect", i).stdout)[0]["GraphDriver"]["Data"]["LowerDir"].split(":") for i in ids]
    return ids, lowers


def test_layers_shared_and_unpacked_once(rd):
    ids, lowers = _two_remapped_one_host(rd)
    try:
        assert lowers[0][1:] == lowers[1][1:] == lowers[2][1:] and len(lowers[0]) == 5  # init, mount points, 3 layers
        layers_dir = os.path.join(rd.root, "layers")
        assert sorted(os.listdir(layers_dir)) == sorted(os.path.basename(p) for p in lowers[0][2:])
        for i in ids:
            r = rd.cli("start", "-a", i)
            assert r.returncode == 0, r.stderr
        # The layers on disk keep the image's own ids: never copied nor chowned.
        owners_layer = [p for p in lowers[0][2:] if os.path.exists(os.path.join(p, "owners"))][0]
        st = os.stat(os.path.join(owners_layer, "owners/user"))
        assert (st.st_uid, st.st_gid) == (1000, 1000)
        st = os.stat(os.path.join(owners_layer, "owners/suid"))
        assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o4755)
        assert sorted(os.listdir(layers_dir)) == sorted(os.path.basename(p) for p in lowers[0][2:])
    finally:
        for i in ids:
            rd.cli("rm", "-f", i)


def test_userns_host_opts_out(rd, tmp_path):
    d = host_dir(tmp_path)
    try:
        r = rd.cli("run", "--rm", "--userns", "host", "-v", d + ":/data", "busybox", "sh", "-c",
                   "cat /proc/self/uid_map; touch /data/f")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["0", "0", "4294967295"]
        st = os.stat(os.path.join(d, "f"))
        assert (st.st_uid, st.st_gid) == (0, 0)
    finally:
        subprocess.run(["rm", "-rf", d])
    r = rd.cli("run", "--rm", "--userns", "private", "busybox", "true")
    assert r.returncode == 125 and "invalid USER mode: private" in r.stderr


def test_exec_joins_the_user_namespace(rd, tmp_path):
    d = host_dir(tmp_path)
    r = rd.cli("run", "-d", "-v", d + ":/data", "busybox", "sleep", "100")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        r = rd.cli("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map; touch /data/byexec; "
                                            "readlink /proc/self/ns/user; readlink /proc/1/ns/user")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split("\n")
        assert lines[0] == "0"
        assert lines[1].split() == ["0", str(rd.start_id), str(SIZE)]
        assert lines[2] == lines[3] and lines[2].startswith("user:[")
        st = os.stat(os.path.join(d, "byexec"))
        assert st.st_uid == rd.start_id
        r = rd.cli("exec", "-u", "1000", cid, "id", "-u")
        assert r.returncode == 0 and r.stdout == "1000\n", r.stderr
    finally:
        rd.cli("rm", "-f", cid)
        subprocess.run(["rm", "-rf", d])


def test_devices_and_host_network(rd):
    r = rd.cli("run", "--rm", "busybox", "sh", "-c",
               "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c; "
               "ls /sys/class/net")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["4", "4", "lo"]
    # The host's network namespace is not the container's user namespace's:
    # /sys is the host's, bound, and shows the host's devices.
    r = rd.cli("run", "--rm", "--network", "host", "busybox", "sh", "-c", "id -u; ls /sys/class/net; "
                                                                          "grep ' /sys ' /proc/mounts")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0] == "0"
    assert set(os.listdir("/sys/class/net")) <= set(r.stdout.split())
    assert " ro," in r.stdout


def test_info_and_privileged(rd):
    status, info = rd.api("GET", "/info")
    assert status == 200
    assert "name=userns" in info["SecurityOptions"]
    # The start-up probe leaves nothing behind.
    assert not [n for n in os.listdir(os.path.join(rd.root, "tmp")) if n.startswith("userns-probe")]
    r = rd.cli("info")
    assert r.returncode == 0 and " Security Options:\n  userns\n  cgroupns\n" in r.stdout, r.stdout
    status, body = rd.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"],
                                                         "HostConfig": {"Privileged": True}})
    assert status == 400 and "incompatible with user namespaces" in body["message"]


def test_bad_remap_refused_at_start(tmp_path):
    d = Daemon(str(tmp_path / "bad"), args=["--userns-remap", "nosuchuser" + uuid.uuid4().hex[:6]])
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "no such user" in str(e.value)
    d.teardown()


def test_default_creates_the_berth_user(tmp_path):
    """`default` makes the berth user and its ranges when missing; what it added is removed after."""
    try:
        pwd.getpwnam("berth")
        had_user = True
    except KeyError:
        had_user = False
    saved = {}
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            saved[path] = f.read()
    d = Daemon(str(tmp_path / "default"), args=["--userns-remap", "default"])
    try:
        d.start()
        tar = make_busybox_tar(str(tmp_path / "bb.tar"))
        assert d.cli("import", tar, "busybox:latest").returncode == 0
        pwd.getpwnam("berth")
        with open("/etc/subuid") as f:
            entries = [l.split(":") for l in f.read().splitlines() if l.startswith("berth:")]
        assert len(entries) == 1 and int(entries[0][2]) >= SIZE
        start = int(entries[0][1])
        r = d.cli("run", "--rm", "busybox", "cat", "/proc/self/uid_map")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["0", str(start), entries[0][2]]
    finally:
        d.teardown()
        for path, text in saved.items():
            with open(path) as f:
                now = f.read()
            if now != text and now.startswith(text):
                with open(path, "w") as f:
                    f.write(text)
        if not had_user:
            subprocess.run(["userdel", "berth"], check=False)
            subprocess.run(["groupdel", "berth"], check=False, stderr=subprocess.DEVNULL)


def test_named_volume_owned_by_mapped_root(rd):
    vol = "uv" + uuid.uuid4().hex[:8]
    try:
        r = rd.cli("run", "--rm", "-v", vol + ":/owners", "owners:1", "sh", "-c",
                   "stat -c '%n %u %g %a' /owners/user /owners/suid; touch /owners/new && echo wrote")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split("\n")
        assert lines[0] == "/owners/user 1000 1000 640"
        assert lines[1] == "/owners/suid 0 0 4755"
        assert lines[2] == "wrote"
        data = os.path.join(rd.root, "volumes", vol, "_data")
        st = os.stat(data)
        assert (st.st_uid, st.st_gid) == (rd.start_id, rd.start_id)
        st = os.stat(os.path.join(data, "user"))
        assert (st.st_uid, st.st_gid) == (rd.start_id + 1000, rd.start_id + 1000)
    finally:
        rd.cli("volume", "rm", vol)


def _tar_owners(raw):
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        return {m.name.rstrip("/"): (m.uid, m.gid) for m in t.getmembers()}


def _one_file_tar(name, data, uid=0, gid=0):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.size, info.uid, info.gid, info.mode = len(data), uid, gid, 0o644
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _run_owners_writer(d):
    """A running owners:1 container that has made /made (root) and /u
    (1000:1000) in its upper layer; returns its id and upper directory."""
    r = d.cli("run", "-d", "owners:1", "sh", "-c", "echo hi > /made; mkdir /u; chown 1000:1000 /u; sleep 100")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    upper = json.loads(d.cli("inspect", cid).stdout)[0]["GraphDriver"]["Data"]["UpperDir"]
    for _ in range(100):
        if os.path.exists(os.path.join(upper, "u")):
            break
        time.sleep(0.05)
    return cid, upper


def test_cp_and_export_in_container_ids(rd):
    """The daemon's views map the host's ids back: export and cp show the
    container's ids, and what cp writes gets the mapped host ids."""
    cid, upper = _run_owners_writer(rd)
    try:
        status, raw = rd.api("GET", "/containers/%s/export" % cid)
        assert status == 200
        owners = _tar_owners(raw)
        assert owners["made"] == (0, 0) and owners["u"] == (1000, 1000)
        assert owners["owners/user"] == (1000, 1000) and owners["owners/mixed"] == (33, 4242)
        assert owners["etc/hosts"] == (0, 0)
        status, raw = rd.api("GET", "/containers/%s/archive?path=/u" % cid)
        assert status == 200 and _tar_owners(raw)["u"] == (1000, 1000)
        # Into the running container (its own overlay): the host's mapped ids.
        status, _ = rd.api("PUT", "/containers/%s/archive?path=/u" % cid, _one_file_tar("live", b"l", 1000, 1000),
                           headers={"Content-Type": "application/x-tar"})
        assert status == 200
        st = os.stat(os.path.join(upper, "u", "live"))
        assert (st.st_uid, st.st_gid) == (rd.start_id + 1000, rd.start_id + 1000)
        r = rd.cli("exec", cid, "stat", "-c", "%u:%g", "/u/live")
        assert r.stdout == "1000:1000\n", r.stderr
        # Into the stopped one (a writable view of its upper directory).
        assert rd.cli("stop", "-t", "0", cid).returncode == 0
        status, _ = rd.api("PUT", "/containers/%s/archive?path=/u" % cid, _one_file_tar("cold", b"c"),
                           headers={"Content-Type": "application/x-tar"})
        assert status == 200
        st = os.stat(os.path.join(upper, "u", "cold"))
        assert (st.st_uid, st.st_gid) == (rd.start_id, rd.start_id)
        status, raw = rd.api("GET", "/containers/%s/archive?path=/u" % cid)
        assert status == 200
        assert _tar_owners(raw) == {"u": (1000, 1000), "u/live": (1000, 1000), "u/cold": (0, 0)}
    finally:
        rd.cli("rm", "-f", cid)


# --- Without idmapped layers: one shifted copy per remapping ---------------

CAP_V2 = (0x02000000 | 1).to_bytes(4, "little") + (1 << 10).to_bytes(4, "little") + bytes(12)  # cap_net_bind_service+ep
ACL = (2).to_bytes(4, "little") + b"".join(
    tag.to_bytes(2, "little") + perm.to_bytes(2, "little") + ident.to_bytes(4, "little")
    for tag, perm, ident in [(1, 6, 0xffffffff), (2, 4, 1000), (4, 4, 0xffffffff), (8, 4, 1001),
                             (0x10, 4, 0xffffffff), (0x20, 0, 0xffffffff)])


def _xattr_layer(entries):
    """A layer like layer(), with pax xattrs: (name, data, mode, uid, gid, {xattr: bytes})."""
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data, mode, uid, gid, xattrs in entries:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime, info.size = mode, uid, gid, 1700000000, len(data)
            info.pax_headers = {"SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()}
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def cd(remap):
    """A daemon forced to copy the layers (BERTH_USERNS_REMAP_COPY=1), same user."""
    name, start = remap
    base = tempfile.mkdtemp(prefix="berth-e2e-userns-copy-")
    d = Daemon(base, args=["--userns-remap", name], env={"BERTH_USERNS_REMAP_COPY": "1"})
    try:
        d.start()
        d.start_id = start
        tar = make_busybox_tar(os.path.join(base, "busybox.tar"))
        assert d.cli("import", tar, "busybox:latest").returncode == 0
        with open(tar, "rb") as f:
            bb = f.read()
        special = _xattr_layer([("capped", b"#!/bin/sh\n", 0o755, 0, 0, {"security.capability": CAP_V2}),
                                ("acl", b"a\n", 0o640, 0, 0, {"system.posix_acl_access": ACL})])
        path = docker_save(os.path.join(base, "owners.tar"), [bb, layer(OWNERS), layer(UPPER), special], "owners:1")
        r = d.cli("load", "-i", path)
        assert r.returncode == 0, r.stderr
        d.copies = os.path.join(d.root, "layers-remap", "%d.%d" % (start, start))
        yield d
    finally:
        d.teardown()


def test_copy_mode_owners_modes_links_and_opaque(cd):
    r = cd.cli("run", "--rm", "owners:1", "sh", "-c",
               "id -u; stat -c '%n %u %g %a %h %i' /owners/* / /acl; ls /opq; cat /gone")
    lines = r.stdout.splitlines()
    assert lines[0] == "0"
    got = {l.split()[0]: l.split()[1:] for l in lines[1:] if l.startswith("/")}
    assert got["/owners/user"][:3] == ["1000", "1000", "640"]
    assert got["/owners/mixed"][:3] == ["33", "4242", "600"]
    assert got["/owners/userdir"][:3] == ["1000", "1000", "750"]
    assert got["/owners/suid"][:3] == ["0", "0", "4755"]
    assert got["/owners/sgid"][:3] == ["1000", "50", "2755"]
    assert got["/owners/hard"][3] == "2" and got["/owners/hard"][4] == got["/owners/user"][4]
    assert got["/"][:2] == ["0", "0"] and got["/acl"][:3] == ["0", "0", "640"]
    assert "new" in lines and "old" not in lines
    assert "No such file" in r.stderr


def test_copy_mode_one_copy_per_remapping(cd):
    ids, lowers = _two_remapped_one_host(cd)
    try:
        chains = sorted(os.path.basename(p) for p in lowers[0][2:])
        assert sorted(os.listdir(os.path.join(cd.root, "layers"))) == chains
        assert sorted(os.listdir(cd.copies)) == chains
        inodes = {n: os.stat(os.path.join(cd.copies, n)).st_ino for n in chains}
        for i in ids:
            r = cd.cli("start", "-a", i)
            assert r.returncode == 0, r.stderr
        assert {n: os.stat(os.path.join(cd.copies, n)).st_ino for n in chains} == inodes
        special = [n for n in chains if os.path.exists(os.path.join(cd.copies, n, "capped"))][0]
        owners = [n for n in chains if os.path.exists(os.path.join(cd.copies, n, "owners"))][0]
        # Shifted in the copy, untouched in the layer.
        st = os.stat(os.path.join(cd.copies, owners, "owners/user"))
        assert (st.st_uid, st.st_gid) == (cd.start_id + 1000, cd.start_id + 1000)
        st = os.stat(os.path.join(cd.copies, owners, "owners/suid"))
        assert (st.st_uid, st.st_mode & 0o7777) == (cd.start_id, 0o4755)
        a, b = (os.stat(os.path.join(cd.copies, owners, "owners", n)) for n in ("user", "hard"))
        assert a.st_ino == b.st_ino and a.st_nlink == 2
        st = os.stat(os.path.join(cd.root, "layers", owners, "owners/user"))
        assert (st.st_uid, st.st_gid) == (1000, 1000)
        # Whiteouts and opaque markers are copied.
        upper_layer = [n for n in chains if os.path.exists(os.path.join(cd.copies, n, "opq"))
                       and os.path.exists(os.path.join(cd.copies, n, "opq", "new"))][0]
        assert os.getxattr(os.path.join(cd.copies, upper_layer, "opq"), "trusted.overlay.opaque") == b"y"
        # File capabilities: v3 with the remapped root as root id.
        cap = os.getxattr(os.path.join(cd.copies, special, "capped"), "security.capability")
        assert len(cap) == 24 and int.from_bytes(cap[:4], "little") >> 24 == 3
        assert int.from_bytes(cap[4:8], "little") == 1 << 10
        assert int.from_bytes(cap[20:24], "little") == cd.start_id
        # ACL entries shifted.
        acl = os.getxattr(os.path.join(cd.copies, special, "acl"), "system.posix_acl_access")
        entries = {int.from_bytes(acl[i:i + 2], "little"): int.from_bytes(acl[i + 4:i + 8], "little")
                   for i in range(4, len(acl), 8)}
        assert entries[2] == cd.start_id + 1000 and entries[8] == cd.start_id + 1001
    finally:
        for i in ids:
            cd.cli("rm", "-f", i)


def test_copy_mode_export_and_gc(cd):
    cid, _ = _run_owners_writer(cd)
    try:
        status, raw = cd.api("GET", "/containers/%s/export" % cid)
        assert status == 200
        owners = _tar_owners(raw)
        assert owners["u"] == (1000, 1000) and owners["made"] == (0, 0)
        assert owners["owners/user"] == (1000, 1000) and owners["etc/hosts"] == (0, 0)
    finally:
        cd.cli("rm", "-f", cid)
    assert os.listdir(cd.copies)
    r = cd.cli("rmi", "owners:1")
    assert r.returncode == 0, r.stderr
    r = cd.cli("rmi", "busybox:latest")
    assert r.returncode == 0, r.stderr
    assert os.listdir(cd.copies) == []


def test_init_read_only_tmpfs_and_refusals(rd):
    r = rd.cli("run", "--rm", "--init", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c",
               "cat /proc/1/cmdline | tr '\\0' ' '; echo; touch /scratch/ok && echo tmpfs-ok; "
               "touch /nope 2>&1; stat -c %u /scratch")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].startswith("/sbin/docker-init -- sh")
    assert "tmpfs-ok" in lines and "Read-only file system" in r.stdout
    assert lines[-2] == "0"
    status, body = rd.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"],
                                                         "HostConfig": {"Devices": [
                                                             {"PathOnHost": "/dev/null", "PathInContainer": "/dev/n2",
                                                              "CgroupPermissions": "rwm"}]}})
    assert status == 400 and "--userns=host" in body["message"]


def test_exec_follows_the_container_across_daemon_restarts(remap, tmp_path):
    """An exec joins the container's own user namespace (or none), whatever
    the restarted daemon's --userns-remap is now."""
    name, start = remap
    base = tempfile.mkdtemp(prefix="berth-e2e-userns-restart-")
    d = Daemon(base)
    try:
        d.start()
        assert d.cli("import", make_busybox_tar(os.path.join(base, "bb.tar")), "busybox:latest").returncode == 0
        plain = d.cli("run", "-d", "busybox", "sleep", "100").stdout.strip()
        d.stop()
        d.args = ["--userns-remap", name]
        d.start()
        remapped = d.cli("run", "-d", "busybox", "sleep", "100").stdout.strip()
        assert plain and remapped
        for args in ([], ["--userns-remap", name]):
            d.stop()
            d.args = args
            d.start()
            r = d.cli("exec", plain, "cat", "/proc/self/uid_map")
            assert r.returncode == 0 and r.stdout.split() == ["0", "0", "4294967295"], r.stderr
            r = d.cli("exec", remapped, "sh", "-c", "id -u; cat /proc/self/uid_map")
            assert r.returncode == 0, r.stderr
            assert r.stdout.split() == ["0", "0", str(start), str(SIZE)]
        # A start, unlike an exec, needs the remapping the container was made
        # under: its upper layer belongs to those ids.
        for cid in (plain, remapped):
            assert d.cli("stop", "-t", "0", cid).returncode == 0
        r = d.cli("start", plain)
        assert r.returncode != 0 and "was created without --userns-remap" in r.stderr, r.stderr
        assert d.cli("start", remapped).returncode == 0
        assert d.cli("stop", "-t", "0", remapped).returncode == 0
        d.stop()
        d.args = []
        d.start()
        r = d.cli("start", remapped)
        assert r.returncode != 0 and "under another --userns-remap" in r.stderr, r.stderr
        assert d.cli("start", plain).returncode == 0
    finally:
        d.teardown()


def test_docker_cli(rd, tmp_path):
    import shutil
    exe = shutil.which("docker")
    assert exe, "the docker CLI is part of the test environment"
    env = dict(os.environ, DOCKER_HOST=rd.host, DOCKER_CONFIG=str(tmp_path / "docker-config"))
    env.pop("DOCKER_CONTEXT", None)

    def docker(*args):
        return subprocess.run([exe] + list(args), capture_output=True, text=True, env=env, timeout=60)
    r = docker("info", "--format", "{{json .SecurityOptions}}")
    assert r.returncode == 0, r.stderr
    assert "name=userns" in json.loads(r.stdout)
    r = docker("run", "--rm", "busybox", "cat", "/proc/self/uid_map")
    assert r.returncode == 0 and r.stdout.split() == ["0", str(rd.start_id), str(SIZE)], r.stderr
    r = docker("run", "--rm", "--userns=host", "busybox", "cat", "/proc/self/uid_map")
    assert r.returncode == 0 and r.stdout.split() == ["0", "0", "4294967295"], r.stderr
    r = docker("run", "--rm", "--privileged", "busybox", "true")
    assert r.returncode == 125 and "incompatible with user namespaces" in r.stderr
    r = docker("run", "--rm", "--privileged", "--userns=host", "busybox", "cat", "/proc/self/uid_map")
    assert r.returncode == 0 and r.stdout.split() == ["0", "0", "4294967295"], r.stderr
