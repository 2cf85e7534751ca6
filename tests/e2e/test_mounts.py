"""Bind mounts (-v, --mount type=bind): rw and ro, files, missing sources,
targets resolved inside the container's root, inspect's Mounts, the docker CLI."""
import io
import json
import os
import shutil
import tarfile
import subprocess
import tempfile
import uuid

import pytest


@pytest.fixture
def host_dir():
    d = tempfile.mkdtemp(prefix="berth-mounts-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def host_mount_points():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


@pytest.fixture
def shared_dir():
    """A tmpfs on the host made a shared mount (Docker wants one for [r]shared binds)."""
    d = tempfile.mkdtemp(prefix="berth-shared-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "berth-shared", d], check=True)
    try:
        subprocess.run(["mount", "--make-shared", d], check=True)
        yield d
    finally:
        # Mounts that propagated in from containers first, then the tmpfs.
        for p in sorted((p for p in host_mount_points() if p.startswith(d + "/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", p])
        subprocess.run(["umount", "-l", d])
        os.rmdir(d)


def run(daemon, *args):
    return daemon.cli("run", "--rm", *args)


def test_bind_rw_container_writes_host_sees(daemon, host_dir):
    with open(os.path.join(host_dir, "in"), "w") as f:
        f.write("from-host\n")
    r = run(daemon, "-v", host_dir + ":/data", "busybox", "sh", "-c", "cat /data/in && echo from-box > /data/out")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "from-host\n"
    with open(os.path.join(host_dir, "out")) as f:
        assert f.read() == "from-box\n"


def test_bind_ro_write_fails_erofs(daemon, host_dir):
    r = run(daemon, "-v", host_dir + ":/data:ro", "busybox", "sh", "-c",
            "touch /data/x 2>&1; echo rc=$?; grep ' /data ' /proc/mounts")
    assert r.returncode == 0, r.stderr
    assert "Read-only file system" in r.stdout
    assert "rc=1" in r.stdout
    assert " ro," in r.stdout.splitlines()[-1]
    assert not os.path.exists(os.path.join(host_dir, "x"))


def test_mount_flag_readonly_and_propagation(daemon, shared_dir):
    r = run(daemon, "--mount", "type=bind,source=%s,target=/m,readonly,bind-propagation=rshared" % shared_dir,
            "busybox", "sh", "-c", "touch /m/x 2>/dev/null || echo refused; grep ' /m ' /proc/self/mountinfo")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "refused"
    assert "shared:" in lines[1] and " ro," in lines[1]


def test_file_bind(daemon, host_dir):
    src = os.path.join(host_dir, "conf.txt")
    with open(src, "w") as f:
        f.write("hello file\n")
    r = run(daemon, "-v", src + ":/etc/app/conf.txt:ro", "busybox", "cat", "/etc/app/conf.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello file\n"


def test_bind_missing_source_created_by_v(daemon, host_dir):
    src = os.path.join(host_dir, "made", "here")
    r = run(daemon, "-v", src + ":/data", "busybox", "sh", "-c", "echo x > /data/f")
    assert r.returncode == 0, r.stderr
    assert os.path.isfile(os.path.join(src, "f"))


def test_mount_missing_source_refused(daemon, host_dir):
    before = daemon.api("GET", "/containers/json?all=1")[1]
    src = os.path.join(host_dir, "nope")
    r = daemon.cli("run", "--name", "missing-src", "--mount", "type=bind,source=%s,target=/data" % src,
                   "busybox", "true")
    assert r.returncode == 125
    assert ('invalid mount config for type "bind": bind source path does not exist: ' + src) in r.stderr
    assert daemon.api("GET", "/containers/json?all=1")[1] == before
    assert not os.path.exists(src)


def test_invalid_specs_refused(daemon, host_dir):
    for args, msg in [
        (("-v", host_dir + ":/data:bogus"), "invalid mode: bogus"),
        (("-v", host_dir + ":relative"), "mount path must be absolute"),
        (("-v", host_dir + ":/d", "-v", host_dir + ":/d"), "Duplicate mount point: /d"),
        (("--mount", "type=volume,source=vv,target=/d,volume-opt=type=nfs"),
         'create vv: missing required option: "device"'),
        (("--mount", "type=tmpfs,target=/d,source=/x"),
         'invalid mount config for type "tmpfs": field Source must not be specified'),
        (("--volumes-from", "x"), "No such container: x"),
    ]:
        r = daemon.cli("create", *args, "busybox", "true")
        if msg is None:
            assert r.returncode != 0
            continue
        assert r.returncode == 125, (args, r.stdout)
        assert msg in r.stderr, (args, r.stderr)


def put_archive(daemon, cid, path, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, target in members:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            t.addfile(info)
    status, body = daemon.api("PUT", "/containers/%s/archive?path=%s" % (cid, path), body=buf.getvalue(),
                              headers={"Content-Type": "application/x-tar"})
    assert status == 200, body


def test_symlink_target_stays_in_container_root(daemon, host_dir):
    with open(os.path.join(host_dir, "marker"), "w") as f:
        f.write("inside\n")
    sub = "berth-mnt-" + uuid.uuid4().hex[:12]
    assert not os.path.exists("/etc/" + sub)
    # /evil -> /etc (absolute) and /rel -> ../../etc (climbing above /) in
    # the container: both must resolve to the container's own /etc.
    r = daemon.cli("create", "-v", "%s:/evil/%s" % (host_dir, sub), "-v", "%s:/rel/%s-r" % (host_dir, sub),
                   "busybox", "sh", "-c", "cat /etc/%s/marker /etc/%s-r/marker" % (sub, sub))
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        put_archive(daemon, cid, "/", [("evil", "/etc"), ("rel", "../../etc")])
        r = daemon.cli("start", "-a", cid)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "inside\ninside\n"
        assert not os.path.exists("/etc/" + sub) and not os.path.exists("/etc/%s-r" % sub)
    finally:
        daemon.cli("rm", "-f", cid)


def test_inspect_mounts_shape(daemon, host_dir):
    src = os.path.join(host_dir, "f")
    with open(src, "w"):
        pass
    r = daemon.cli("create", "-v", host_dir + ":/data:ro", "--mount", "type=bind,source=%s,target=/f" % src,
                   "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        status, c = daemon.api("GET", "/containers/%s/json" % cid)
        assert status == 200
        assert c["HostConfig"]["Binds"] == [host_dir + ":/data:ro"]
        assert c["HostConfig"]["Mounts"] == [{"Type": "bind", "Source": src, "Target": "/f"}]
        assert c["Mounts"] == [
            {"Type": "bind", "Source": host_dir, "Destination": "/data", "Mode": "ro", "RW": False,
             "Propagation": "rprivate"},
            {"Type": "bind", "Source": src, "Destination": "/f", "Mode": "", "RW": True,
             "Propagation": "rprivate"},
        ]
    finally:
        daemon.cli("rm", "-f", cid)


def test_read_only_root_keeps_bind_writable(daemon, host_dir):
    r = run(daemon, "--read-only", "-v", host_dir + ":/data", "busybox", "sh", "-c",
            "touch /x 2>/dev/null || echo root-ro; touch /data/ok && echo bind-rw")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["root-ro", "bind-rw"]


def test_docker_cli_v_and_mount(docker, host_dir):
    open(os.path.join(host_dir, "seen"), "w").close()
    r = docker("run", "--rm", "-v", host_dir + ":/data", "busybox", "ls", "/data")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["seen"]
    r = docker("run", "--rm", "--mount", "type=bind,source=%s,target=/data,readonly" % host_dir, "busybox", "sh",
               "-c", "ls /data; touch /data/x 2>/dev/null || echo refused")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["seen", "refused"]
    r = docker("run", "--rm", "--mount", "type=bind,source=%s/nope,target=/data" % host_dir, "busybox", "true")
    assert r.returncode == 125
    assert "bind source path does not exist" in r.stderr


# Named volumes (local driver)

def volume_path(daemon, name):
    status, v = daemon.api("GET", "/volumes/" + name)
    assert status == 200, v
    return v["Mountpoint"]


def test_volume_create_ls_inspect_rm(daemon):
    r = daemon.cli("volume", "create", "--label", "k=v", "vol-a")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "vol-a"
    r = daemon.cli("volume", "ls", "-q")
    assert "vol-a" in r.stdout.split()
    r = daemon.cli("volume", "ls")
    assert r.stdout.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    r = daemon.cli("volume", "inspect", "vol-a")
    assert r.returncode == 0, r.stderr
    (v,) = json.loads(r.stdout)
    assert v["Name"] == "vol-a" and v["Driver"] == "local" and v["Scope"] == "local"
    assert v["Labels"] == {"k": "v"}
    assert v["Mountpoint"] == os.path.join(daemon.root, "volumes", "vol-a", "_data")
    assert os.path.isdir(v["Mountpoint"])
    r = daemon.cli("volume", "rm", "vol-a")
    assert r.returncode == 0 and r.stdout.strip() == "vol-a", r.stderr
    assert daemon.api("GET", "/volumes/vol-a")[0] == 404
    r = daemon.cli("volume", "rm", "vol-a")
    assert r.returncode == 1 and "no such volume" in r.stderr
    r = daemon.cli("volume", "create", "bad/name")
    assert r.returncode == 1 and "includes invalid characters for a local volume name" in r.stderr


def test_volume_shared_by_two_containers_and_rm_refused(daemon):
    r = run(daemon, "-v", "shared-vol:/data", "busybox", "sh", "-c", "echo one > /data/f")
    assert r.returncode == 0, r.stderr
    r = daemon.cli("create", "--mount", "type=volume,source=shared-vol,target=/x", "busybox", "cat", "/x/f")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        r = daemon.cli("start", "-a", cid)
        assert r.returncode == 0 and r.stdout == "one\n", r.stderr
        status, body = daemon.api("DELETE", "/volumes/shared-vol")
        assert status == 409 and "volume is in use - [%s]" % cid in body["message"]
        r = daemon.cli("volume", "rm", "shared-vol")
        assert r.returncode == 1 and "volume is in use" in r.stderr
        status, c = daemon.api("GET", "/containers/%s/json" % cid)
        assert c["Mounts"] == [{"Type": "volume", "Name": "shared-vol", "Source": volume_path(daemon, "shared-vol"),
                                "Destination": "/x", "Driver": "local", "Mode": "", "RW": True,
                                "Propagation": ""}]
    finally:
        daemon.cli("rm", "-f", cid)
    r = daemon.cli("volume", "rm", "shared-vol")
    assert r.returncode == 0, r.stderr


def test_volume_populated_from_image_once(daemon):
    r = run(daemon, "-v", "pop-vol:/etc", "busybox", "sh", "-c", "echo mine > /etc/marker")
    assert r.returncode == 0, r.stderr
    path = volume_path(daemon, "pop-vol")
    with open(os.path.join(path, "passwd")) as f:
        assert f.read().startswith("root:")
    # Not empty any more: never copied again, what the container wrote stays.
    r = run(daemon, "-v", "pop-vol:/etc:ro", "busybox", "sh", "-c", "cat /etc/marker; touch /etc/x || true")
    assert r.returncode == 0
    assert r.stdout == "mine\n"
    # nocopy: an empty volume stays empty.
    r = run(daemon, "-v", "nocopy-vol:/etc:nocopy", "busybox", "ls", "/etc")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert os.listdir(volume_path(daemon, "nocopy-vol")) == []
    for n in ("pop-vol", "nocopy-vol"):
        assert daemon.cli("volume", "rm", n).returncode == 0


def test_volume_prune(daemon):
    for n in ("prune-unused", "prune-used"):
        assert daemon.cli("volume", "create", n).returncode == 0
    r = daemon.cli("create", "-v", "prune-used:/data", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        # API 1.41 (berth's): prune takes every unused volume.
        r = daemon.cli("volume", "prune", "-f")
        assert r.returncode == 0, r.stderr
        assert "prune-unused" in r.stdout.split() and "prune-used" not in r.stdout.split()
        names = daemon.cli("volume", "ls", "-q").stdout.split()
        assert "prune-used" in names and "prune-unused" not in names
    finally:
        daemon.cli("rm", "-f", cid)
    assert daemon.cli("volume", "rm", "prune-used").returncode == 0


def test_docker_cli_volumes(docker):
    r = docker("volume", "create", "dk-vol")
    assert r.returncode == 0 and r.stdout.strip() == "dk-vol", r.stderr
    assert "dk-vol" in docker("volume", "ls", "-q").stdout.split()
    r = docker("run", "--rm", "-v", "dk-vol:/data", "busybox", "sh", "-c", "echo hi > /data/f; cat /data/f")
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    r = docker("run", "--rm", "--mount", "source=dk-vol,target=/d", "busybox", "cat", "/d/f")
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    r = docker("volume", "rm", "dk-vol")
    assert r.returncode == 0, r.stderr


# Anonymous volumes

ANON_LABEL = "com.docker.volume.anonymous"


def volume_names(daemon):
    r = daemon.cli("volume", "ls", "-q")
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def anon_mount(daemon, cid, dest):
    status, c = daemon.api("GET", "/containers/%s/json" % cid)
    assert status == 200, c
    (m,) = [m for m in c["Mounts"] if m["Destination"] == dest]
    assert m["Type"] == "volume" and m["Driver"] == "local" and m["RW"] is True
    assert len(m["Name"]) == 64 and all(ch in "0123456789abcdef" for ch in m["Name"])
    assert m["Source"] == volume_path(daemon, m["Name"])
    assert "BerthAnonymousVolumes" not in c["HostConfig"]
    return m["Name"], c


def test_anonymous_volume_ls_inspect_restart_rm_v(daemon):
    before = volume_names(daemon)
    r = daemon.cli("create", "-v", "/data", "busybox", "sh", "-c",
                   "cat /data/f 2>/dev/null; echo run >> /data/f")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        name, c = anon_mount(daemon, cid, "/data")
        assert c["Config"]["Volumes"] == {"/data": {}}
        assert volume_names(daemon) - before == {name}
        status, v = daemon.api("GET", "/volumes/" + name)
        assert status == 200 and ANON_LABEL in v["Labels"]
        # In use: refused.
        assert daemon.api("DELETE", "/volumes/" + name)[0] == 409
        r = daemon.cli("start", "-a", cid)
        assert r.returncode == 0 and r.stdout == "", r.stderr
        r = daemon.cli("start", "-a", cid)
        assert r.returncode == 0 and r.stdout == "run\n", r.stderr
    finally:
        r = daemon.cli("rm", "-v", cid)
    assert r.returncode == 0, r.stderr
    assert name not in volume_names(daemon)
    assert daemon.api("GET", "/volumes/" + name)[0] == 404


def test_anonymous_volume_rm_keeps_then_prune(daemon):
    assert daemon.cli("volume", "create", "named-keep").returncode == 0
    r = daemon.cli("create", "--mount", "type=volume,target=/m", "-v", "named-keep:/n", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    name, c = anon_mount(daemon, cid, "/m")
    assert c["HostConfig"]["Mounts"] == [{"Type": "volume", "Target": "/m"}]
    assert daemon.cli("rm", cid).returncode == 0
    assert {name, "named-keep"} <= volume_names(daemon)
    r = daemon.cli("volume", "ls", "-q", "--filter", "dangling=true")
    assert name in r.stdout.split()
    # API 1.41 (berth's): prune takes every unused volume, the dangling anonymous one too.
    r = daemon.cli("volume", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert name in r.stdout.split()
    assert name not in volume_names(daemon)
    # rm -v never removes a named volume.
    r = daemon.cli("create", "-v", "named-keep:/n", "-v", "/a", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    name, _ = anon_mount(daemon, cid, "/a")
    assert daemon.cli("rm", "-v", cid).returncode == 0
    names = volume_names(daemon)
    assert "named-keep" in names and name not in names
    assert daemon.cli("volume", "rm", "named-keep").returncode == 0


def test_anonymous_volume_rm_flag_leaves_nothing(daemon):
    before = volume_names(daemon)
    r = run(daemon, "-v", "/x", "busybox", "sh", "-c", "echo hi > /x/f; cat /x/f")
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    assert volume_names(daemon) == before


def test_bind_covers_config_volume(daemon, host_dir):
    status, body = daemon.api("POST", "/containers/create", body=json.dumps({
        "Image": "busybox", "Cmd": ["true"], "Volumes": {"/data": {}, "/other": {}},
        "HostConfig": {"Binds": [host_dir + ":/data"]}}).encode(), headers={"Content-Type": "application/json"})
    assert status == 201, body
    cid = body["Id"]
    try:
        status, c = daemon.api("GET", "/containers/%s/json" % cid)
        kinds = {m["Destination"]: m["Type"] for m in c["Mounts"]}
        assert kinds == {"/data": "bind", "/other": "volume"}
    finally:
        daemon.cli("rm", "-v", cid)


@pytest.fixture(scope="module")
def volume_image(daemon):
    from conftest import make_busybox_tar
    from test_layers import docker_save, layer
    base = os.path.join(daemon.base, "volimg")
    os.makedirs(base, exist_ok=True)
    with open(make_busybox_tar(os.path.join(base, "bb.tar")), "rb") as f:
        bb = f.read()
    content = layer([("vol", "dir", {"mode": 0o755}), ("vol/seed", "file", {"data": b"from-image\n"})])
    path = docker_save(os.path.join(base, "img.tar"), [bb, content], "withvol:1",
                       config={"Cmd": ["sh"], "Volumes": {"/vol": {}}})
    r = daemon.cli("load", "-i", path)
    assert r.returncode == 0, r.stderr
    return "withvol:1"


def test_image_volume_populated(daemon, host_dir, volume_image):
    r = daemon.cli("create", volume_image, "sh", "-c", "cat /vol/seed; echo more > /vol/added")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        name, c = anon_mount(daemon, cid, "/vol")
        assert c["Config"]["Volumes"] == {"/vol": {}}
        r = daemon.cli("start", "-a", cid)
        assert r.returncode == 0 and r.stdout == "from-image\n", r.stderr
        path = volume_path(daemon, name)
        assert sorted(os.listdir(path)) == ["added", "seed"]
    finally:
        assert daemon.cli("rm", "-v", cid).returncode == 0
    assert name not in volume_names(daemon)
    # A bind over the image's VOLUME: no anonymous volume.
    before = volume_names(daemon)
    r = run(daemon, "-v", host_dir + ":/vol", volume_image, "ls", "/vol")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert volume_names(daemon) == before


def test_docker_cli_anonymous_volume(docker, daemon):
    before = volume_names(daemon)
    r = docker("run", "--rm", "-v", "/data", "busybox", "ls", "/data")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    r = docker("run", "--rm", "-v", "/etc", "busybox", "ls", "/etc/passwd")
    assert r.returncode == 0 and r.stdout == "/etc/passwd\n", r.stderr
    assert volume_names(daemon) == before
    r = docker("create", "-v", "/data", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    r = docker("inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}}{{end}}", cid)
    assert r.returncode == 0, r.stderr
    kind, name = r.stdout.split()
    assert kind == "volume" and name in volume_names(daemon)
    assert docker("rm", "-v", cid).returncode == 0
    assert volume_names(daemon) == before


# --volumes-from

def test_volumes_from_binds_and_volumes_not_tmpfs(daemon, host_dir):
    with open(os.path.join(host_dir, "h"), "w") as f:
        f.write("host\n")
    r = daemon.cli("create", "--name", "vf-src", "-v", host_dir + ":/h", "-v", "vf-named:/n:ro", "-v", "/anon",
                   "--tmpfs", "/t1", "--mount", "type=tmpfs,target=/t2", "busybox", "sh", "-c",
                   "echo anon > /anon/a")
    assert r.returncode == 0, r.stderr
    src = r.stdout.strip()
    consumers = []
    try:
        r = daemon.cli("start", "-a", src)
        assert r.returncode == 0, r.stderr
        src_mounts = {m["Destination"]: m for m in daemon.api("GET", "/containers/%s/json" % src)[1]["Mounts"]}
        anon = src_mounts["/anon"]["Name"]
        assert src_mounts["/t2"]["Type"] == "tmpfs"
        # Every bind and volume at the same target, each with its own mode; no tmpfs.
        r = daemon.cli("create", "--volumes-from", "vf-src", "busybox", "sh", "-c",
                       "cat /h/h /anon/a; touch /h/w && echo h-rw; touch /n/w 2>/dev/null || echo n-ro; "
                       "grep -c ' /t[12] ' /proc/mounts")
        assert r.returncode == 0, r.stderr
        cid = r.stdout.strip()
        consumers.append(cid)
        r = daemon.cli("start", "-a", cid)
        assert r.stdout.split("\n")[:5] == ["host", "anon", "h-rw", "n-ro", "0"], (r.stdout, r.stderr)
        status, c = daemon.api("GET", "/containers/%s/json" % cid)
        assert c["HostConfig"]["VolumesFrom"] == ["vf-src"]
        assert "BerthVolumesFrom" not in c["HostConfig"]
        mounts = {m["Destination"]: m for m in c["Mounts"]}
        assert set(mounts) == {"/h", "/n", "/anon"}
        assert mounts["/h"]["Type"] == "bind" and mounts["/h"]["Source"] == host_dir and mounts["/h"]["RW"] is True
        assert mounts["/n"] == {"Type": "volume", "Name": "vf-named", "Source": volume_path(daemon, "vf-named"),
                                "Destination": "/n", "Driver": "local", "Mode": "", "RW": False, "Propagation": ""}
        assert mounts["/anon"]["Name"] == anon and mounts["/anon"]["RW"] is True
        # :ro makes them all read-only; a -v of the consumer at the same target wins.
        other = tempfile.mkdtemp(prefix="berth-vf-", dir=host_dir)
        r = daemon.cli("create", "--volumes-from", src[:12] + ":ro", "-v", other + ":/anon", "busybox", "sh", "-c",
                       "touch /h/x 2>/dev/null || echo h-ro; touch /anon/x && echo anon-own")
        assert r.returncode == 0, r.stderr
        consumers.append(r.stdout.strip())
        r = daemon.cli("start", "-a", consumers[-1])
        assert r.stdout.split() == ["h-ro", "anon-own"], (r.stdout, r.stderr)
        assert os.path.exists(os.path.join(other, "x")) and not os.path.exists(os.path.join(host_dir, "x"))
        # The source goes; its volumes stay in use by the consumer.
        assert daemon.cli("rm", "-v", src).returncode == 0
        src = None
        assert anon in volume_names(daemon)
        for n in (anon, "vf-named"):
            status, body = daemon.api("DELETE", "/volumes/" + n)
            assert status == 409 and "volume is in use - [" in body["message"], body
            assert consumers[0] in body["message"] and (n == "vf-named") == (consumers[1] in body["message"])
        r = daemon.cli("start", "-a", consumers[0])
        assert r.stdout.startswith("host\nanon\n"), r.stderr
    finally:
        for cid in consumers:
            daemon.cli("rm", "-v", cid)
        if src:
            daemon.cli("rm", "-v", src)
    # rm -v of the last user removed the anonymous volume (moby does); the named one stays.
    assert anon not in volume_names(daemon)
    assert daemon.cli("volume", "rm", "vf-named").returncode == 0


def test_volumes_from_errors(daemon):
    r = daemon.cli("create", "--volumes-from", "no-such-box", "busybox", "true")
    assert r.returncode == 125 and "No such container: no-such-box" in r.stderr, r.stderr
    status, body = daemon.api("POST", "/containers/create", {"Image": "busybox",
                                                             "HostConfig": {"VolumesFrom": ["nope:ro"]}})
    assert status == 404 and body["message"] == "No such container: nope"
    r = daemon.cli("create", "--name", "vf-err-src", "busybox", "true")
    assert r.returncode == 0, r.stderr
    try:
        for mode in ("rshared", "nocopy", "bogus", "ro,rw"):
            r = daemon.cli("create", "--volumes-from", "vf-err-src:" + mode, "busybox", "true")
            assert r.returncode == 125 and "invalid mode: " + mode in r.stderr, (mode, r.stderr)
    finally:
        daemon.cli("rm", "vf-err-src")


# --mount type=tmpfs and tmpfs size limits

def tmpfs_line(out, target):
    (line,) = [l for l in out.splitlines() if l.split()[1:2] == [target]]
    return line


def test_mount_type_tmpfs_size_mode_and_inspect(daemon):
    r = daemon.cli("create", "--mount", "type=tmpfs,target=/x,tmpfs-size=1m,tmpfs-mode=0700", "busybox", "sh", "-c",
                   "grep ' /x ' /proc/mounts; stat -c %a /x; "
                   "dd if=/dev/zero of=/x/big bs=64k count=32 2>&1 | grep -o 'No space left on device'; "
                   "du -k /x/big | cut -f1")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        r = daemon.cli("start", "-a", cid)
        lines = r.stdout.splitlines()
        fields = lines[0].split()
        assert fields[2] == "tmpfs", lines
        opts = fields[3].split(",")
        assert "size=1024k" in opts and "mode=700" in opts and {"nosuid", "nodev", "noexec"} <= set(opts), opts
        assert lines[1] == "700"
        assert lines[2] == "No space left on device"
        assert int(lines[3]) <= 1024
        status, c = daemon.api("GET", "/containers/%s/json" % cid)
        assert c["HostConfig"]["Mounts"] == [{"Type": "tmpfs", "Target": "/x",
                                              "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 448}}]
        assert c["Mounts"] == [{"Type": "tmpfs", "Source": "", "Destination": "/x", "Mode": "", "RW": True,
                                "Propagation": ""}]
    finally:
        daemon.cli("rm", cid)


def test_tmpfs_flag_size_limit_enforced(daemon):
    r = run(daemon, "--tmpfs", "/y:size=1m", "busybox", "sh", "-c",
            "dd if=/dev/zero of=/y/big bs=64k count=32 2>&1 | grep -o 'No space left on device'; "
            "du -k /y/big | cut -f1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "No space left on device" and int(lines[1]) <= 1024, lines


def test_mount_type_tmpfs_readonly_and_errors(daemon):
    r = run(daemon, "--mount", "type=tmpfs,dst=/ro,readonly", "busybox", "sh", "-c",
            "touch /ro/x 2>/dev/null || echo refused")
    assert r.returncode == 0 and r.stdout == "refused\n", r.stderr
    for args, msg in [
        (("--mount", "type=tmpfs,target=/d,tmpfs-size=lots"), "invalid value for tmpfs-size: lots"),
        (("--mount", "type=tmpfs,target=/d,tmpfs-mode=999"), "invalid value for tmpfs-mode: 999"),
        (("--mount", "type=tmpfs,target=/d,bind-propagation=rshared"), "cannot mix 'bind-*' options"),
        (("--mount", "type=tmpfs,target=relative"), "invalid mount path: 'relative' mount path must be absolute"),
        (("--mount", "type=tmpfs,target=/d", "--tmpfs", "/d"), "Duplicate mount point: /d"),
        (("--mount", "type=tmpfs,target=/d", "-v", "/tmp:/d"), "Duplicate mount point: /d"),
    ]:
        r = daemon.cli("create", *args, "busybox", "true")
        assert r.returncode == 125, (args, r.stdout)
        assert msg in r.stderr, (args, r.stderr)


# -v forms (moby's ParseMountRaw)

def test_v_spec_forms_and_errors(daemon, host_dir):
    # Forms Docker accepts: consistency and label words are no-ops on Linux.
    r = run(daemon, "-v", host_dir + ":/a:ro,z,cached", "-v", host_dir + ":/b:delegated", "busybox", "sh", "-c",
            "touch /a/x 2>/dev/null || echo a-ro; touch /b/y && echo b-rw")
    assert r.returncode == 0 and r.stdout.split() == ["a-ro", "b-rw"], r.stderr
    spec = lambda s: "invalid volume specification: '%s'" % s
    for v, msg in [
        ("/data:ro", spec("/data:ro")),                   # a mode without a destination
        ("/data:rw", spec("/data:rw")),
        (":/data", spec(":/data")),                       # empty source
        ("/a:/b:ro:x", spec("/a:/b:ro:x")),               # too many colons
        ("/a::ro", spec("/a::ro") + ': invalid mount config for type "bind": field Target must not be empty'),
        ("/a:rel:ro", spec("/a:rel:ro") + ": invalid mount config for type \"bind\": invalid mount path: 'rel' "
                                          "mount path must be absolute"),
        ("/a:/:ro", spec("/a:/:ro") + ": invalid mount config for type \"bind\": invalid specification: "
                                      "destination can't be '/'"),
        ("vol:rel", spec("vol:rel") + ": invalid mount config for type \"volume\": invalid mount path: 'rel' "
                                      "mount path must be absolute"),
        ("/a:/b:bogus", "invalid mode: bogus"),
        ("/a:/b:ro,rw", "invalid mode: ro,rw"),
        ("/a:/b:rshared,rslave", "invalid mode: rshared,rslave"),
        ("/a:/b:nocopy", spec("/a:/b:nocopy") + ': invalid mount config for type "bind": '
                                                "field VolumeOptions must not be specified"),
        ("vol:/b:rshared", spec("vol:/b:rshared") + ': invalid mount config for type "volume": '
                                                    "field BindOptions must not be specified"),
        ("bad/name:/b", "includes invalid characters for a local volume name"),
    ]:
        r = daemon.cli("create", "-v", v, "busybox", "true")
        assert r.returncode == 125, (v, r.stdout)
        assert msg in r.stderr, (v, r.stderr)


# Volume options of the local driver, labels and filters

def ls_names(daemon, *filters):
    args = []
    for f in filters:
        args += ["--filter", f]
    r = daemon.cli("volume", "ls", "-q", *args)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_volume_tmpfs_options_labels_filters(daemon):
    r = daemon.cli("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=10m,mode=0750",
                   "--label", "tier=fast", "--label", "team", "tmpvol")
    assert r.returncode == 0 and r.stdout.strip() == "tmpvol", r.stderr
    assert daemon.cli("volume", "create", "--label", "tier=slow", "plainvol").returncode == 0
    try:
        (v,) = json.loads(daemon.cli("volume", "inspect", "tmpvol").stdout)
        assert v["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=10m,mode=0750"}
        assert v["Labels"] == {"tier": "fast", "team": ""}
        assert daemon.api("GET", "/volumes/plainvol")[1]["Options"] == {}
        # Each container mounts the volume's own filesystem (per container: berth's choice).
        r = run(daemon, "-v", "tmpvol:/t", "busybox", "sh", "-c",
                "grep ' /t ' /proc/mounts; stat -c %a /t; echo x > /t/f && cat /t/f")
        assert r.returncode == 0, r.stderr
        line, mode, content = r.stdout.splitlines()
        assert line.split()[2] == "tmpfs" and "size=10240k" in line.split()[3], line
        assert mode == "750" and content == "x"
        assert os.listdir(v["Mountpoint"]) == []  # never mounted on the host
        assert ls_names(daemon, "label=tier=fast") & {"tmpvol", "plainvol"} == {"tmpvol"}
        assert ls_names(daemon, "label=tier") >= {"tmpvol", "plainvol"}
        assert ls_names(daemon, "label=team", "label=tier=fast") & {"tmpvol", "plainvol"} == {"tmpvol"}
        assert ls_names(daemon, "name=tmpv") & {"tmpvol", "plainvol"} == {"tmpvol"}
        r = daemon.cli("create", "-v", "tmpvol:/t", "busybox", "true")
        assert r.returncode == 0, r.stderr
        cid = r.stdout.strip()
        try:
            assert "tmpvol" not in ls_names(daemon, "dangling=true")
            assert "tmpvol" in ls_names(daemon, "dangling=false")
            assert "plainvol" in ls_names(daemon, "dangling=true")
        finally:
            daemon.cli("rm", cid)
        assert "tmpvol" in ls_names(daemon, "dangling=true")
    finally:
        for n in ("tmpvol", "plainvol"):
            daemon.cli("volume", "rm", n)


def test_volume_bind_options_and_mount_volume_opt(daemon, host_dir):
    r = daemon.cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device=" + host_dir, "bindvol")
    assert r.returncode == 0, r.stderr
    try:
        r = run(daemon, "-v", "bindvol:/b", "busybox", "sh", "-c", "echo hi > /b/f")
        assert r.returncode == 0, r.stderr
        with open(os.path.join(host_dir, "f")) as f:
            assert f.read() == "hi\n"
        r = run(daemon, "-v", "bindvol:/b:ro", "busybox", "sh", "-c", "cat /b/f; touch /b/g 2>/dev/null || echo ro")
        assert r.stdout == "hi\nro\n", r.stderr
    finally:
        assert daemon.cli("volume", "rm", "bindvol").returncode == 0
    assert os.path.exists(os.path.join(host_dir, "f"))  # removing the volume leaves the device alone
    # --mount creates the volume with its options and labels.
    r = run(daemon, "--mount", "type=volume,source=mvol,target=/m,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"
            "volume-label=made=by-mount", "busybox", "sh", "-c", "grep ' /m ' /proc/mounts | cut -d' ' -f3")
    assert r.returncode == 0 and r.stdout == "tmpfs\n", r.stderr
    v = daemon.api("GET", "/volumes/mvol")[1]
    assert v["Options"] == {"type": "tmpfs", "device": "tmpfs"} and v["Labels"] == {"made": "by-mount"}
    assert daemon.cli("volume", "rm", "mvol").returncode == 0


def test_volume_option_errors(daemon):
    for opts, msg in [
        (("--opt", "foo=bar"), 'create v-bad: invalid option: "foo"'),
        (("--opt", "type=tmpfs"), 'create v-bad: missing required option: "device"'),
        (("--opt", "device=/x"), 'create v-bad: missing required option: "type"'),
        (("--opt", "o=size=1m", "--opt", "device=tmpfs"), 'create v-bad: missing required option: "type"'),
        (("--opt", "size=1g"), "create v-bad: quota size requested but no quota support"),
    ]:
        r = daemon.cli("volume", "create", *opts, "v-bad")
        assert r.returncode == 1, (opts, r.stdout)
        assert msg in r.stderr, (opts, r.stderr)
    assert daemon.api("GET", "/volumes/v-bad")[0] == 404
    status, body = daemon.api("POST", "/volumes/create", {"Name": "v-bad", "DriverOpts": {"bogus": "1"}})
    assert status == 400 and body["message"] == 'create v-bad: invalid option: "bogus"'
    # A volume whose filesystem cannot be mounted fails the start, clearly.
    assert daemon.cli("volume", "create", "-o", "type=nosuchfs", "-o", "device=x", "v-nofs").returncode == 0
    try:
        r = daemon.cli("run", "--rm", "-v", "v-nofs:/x", "busybox", "true")
        assert r.returncode != 0 and "failed to mount local volume v-nofs" in r.stderr, r.stderr
    finally:
        daemon.cli("volume", "rm", "v-nofs")


# ps --filter volume, system df

def test_ps_filter_volume_matches_names_targets_and_anonymous(daemon, host_dir):
    ids = []
    try:
        for args in (("-v", "psf-vol:/named"), ("-v", "/anon-psf"), ("-v", host_dir + ":/hostbind"),
                     ("--mount", "type=tmpfs,target=/tmpfs-psf")):
            r = daemon.cli("create", *args, "busybox", "true")
            assert r.returncode == 0, r.stderr
            ids.append(r.stdout.strip())
        named, anon, bind, tmpfs = ids
        anon_name = anon_mount(daemon, anon, "/anon-psf")[0]
        r = daemon.cli("create", "--volumes-from", anon, "busybox", "true")
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
        inheritor = ids[-1]

        def ps(value):
            r = daemon.cli("ps", "-a", "-q", "--no-trunc", "--filter", "volume=" + value)
            assert r.returncode == 0, r.stderr
            return set(r.stdout.split())
        assert ps("psf-vol") == {named}
        assert ps("/named") == {named}
        assert ps(anon_name) == {anon, inheritor}
        assert ps("/anon-psf") == {anon, inheritor}
        assert ps(host_dir) == {bind}
        assert ps("/hostbind") == {bind}
        assert ps("/tmpfs-psf") == {tmpfs}
        assert ps("no-such-volume") == set()
    finally:
        for cid in reversed(ids):
            daemon.cli("rm", "-v", cid)
        daemon.cli("volume", "rm", "psf-vol")


def test_system_df_counts_volumes(daemon, docker):
    # Start from no volumes (other tests clean up theirs).
    for n in volume_names(daemon):
        daemon.cli("volume", "rm", "-f", n)
    assert daemon.cli("volume", "create", "df-idle").returncode == 0
    r = run(daemon, "-v", "df-idle:/d", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /d/blob")
    assert r.returncode == 0, r.stderr
    r = daemon.cli("create", "--name", "df-user", "-v", "df-used:/d", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        with open(os.path.join(volume_path(daemon, "df-used"), "f"), "wb") as f:
            f.write(b"x" * 100000)
        status, df = daemon.api("GET", "/system/df")
        assert status == 200
        assert set(df) == {"LayersSize", "Images", "Containers", "Volumes", "BuildCache", "BuilderSize"}
        vols = {v["Name"]: v for v in df["Volumes"]}
        assert set(vols) == {"df-idle", "df-used"}
        assert vols["df-idle"]["UsageData"]["RefCount"] == 0 and vols["df-used"]["UsageData"]["RefCount"] == 1
        assert 300000 <= vols["df-idle"]["UsageData"]["Size"] < 320000
        assert 100000 <= vols["df-used"]["UsageData"]["Size"] < 120000
        assert vols["df-used"]["Driver"] == "local" and vols["df-used"]["Mountpoint"] == volume_path(daemon, "df-used")
        (c,) = [c for c in df["Containers"] if c["Id"] == cid]
        assert c["SizeRw"] >= 0 and c["SizeRootFs"] >= c["SizeRw"]
        (img,) = [i for i in df["Images"] if "busybox:latest" in i["RepoTags"]]
        assert img["Containers"] >= 1 and img["Size"] > 0 and img["SharedSize"] >= 0
        assert df["LayersSize"] >= img["Size"]
        assert df["BuildCache"] == [] and df["BuilderSize"] == 0
        # berth system df and docker system df: Local Volumes 2 total, 1 active,
        # the idle one's bytes reclaimable.
        for out in (daemon.cli("system", "df"), docker("system", "df")):
            assert out.returncode == 0, out.stderr
            lines = out.stdout.splitlines()
            assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], lines
            (vol_line,) = [l for l in lines if l.startswith("Local Volumes")]
            f = vol_line.split()
            assert f[2:4] == ["2", "1"], vol_line
            assert f[4].endswith("kB") and 400 <= float(f[4][:-2]) < 440, vol_line
            assert f[5].endswith("kB") and 300 <= float(f[5][:-2]) < 320 and f[6].endswith("%)"), vol_line
            assert any(l.startswith("Images") for l in lines) and any(l.startswith("Build Cache") for l in lines)
        # docker system df -v: one row per volume with its links (RefCount) and size.
        out = docker("system", "df", "-v")
        assert out.returncode == 0, out.stderr
        rows = {l.split()[0]: l.split() for l in out.stdout.splitlines() if l.startswith("df-")}
        assert rows["df-used"][1] == "1" and rows["df-idle"][1] == "0", out.stdout
        assert rows["df-idle"][2].endswith("kB")
    finally:
        daemon.cli("rm", cid)
        for n in ("df-idle", "df-used"):
            daemon.cli("volume", "rm", n)


# Mount propagation to and from the host

def test_rshared_bind_mount_inside_reaches_host(daemon, shared_dir):
    r = run(daemon, "--privileged", "-v", shared_dir + ":/c:rshared", "busybox", "sh", "-c",
            "mkdir -p /c/sub && mount -t tmpfs -o size=1m from-box /c/sub && echo hi > /c/sub/f && "
            "grep ' /c ' /proc/self/mountinfo")
    assert r.returncode == 0, r.stderr
    assert "shared:" in r.stdout
    # The container is gone; its mount stays on the host (as with Docker).
    sub = os.path.join(shared_dir, "sub")
    assert sub in host_mount_points()
    with open(os.path.join(sub, "f")) as f:
        assert f.read() == "hi\n"
    with open("/proc/self/mountinfo") as f:
        (line,) = [l for l in f if l.split()[4] == sub]
    assert " - tmpfs from-box " in line
    # Docker's mount flag spelling too.
    r = run(daemon, "--privileged", "--mount", "type=bind,src=%s,dst=/c,bind-propagation=shared" % shared_dir,
            "busybox", "sh", "-c", "mkdir -p /c/two && mount -t tmpfs two /c/two")
    assert r.returncode == 0, r.stderr
    assert os.path.join(shared_dir, "two") in host_mount_points()


def test_rslave_bind_sees_host_mounts_made_later(daemon, shared_dir):
    ids = []
    for mode in ("rslave", "rprivate"):
        r = daemon.cli("run", "-d", "-v", "%s:/c:%s" % (shared_dir, mode), "busybox", "sleep", "60")
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
    late = os.path.join(shared_dir, "late")
    try:
        os.mkdir(late)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "late-host", late], check=True)
        with open(os.path.join(late, "f"), "w") as f:
            f.write("from-host\n")
        slave, private = ids
        r = daemon.cli("exec", slave, "cat", "/c/late/f")
        assert r.returncode == 0 and r.stdout == "from-host\n", r.stderr
        # A private bind (the default) keeps the tree it got at start.
        r = daemon.cli("exec", private, "sh", "-c", "ls /c/late; grep -c ' /c/late ' /proc/self/mountinfo")
        assert r.stdout.split() == ["0"], r.stdout
    finally:
        for cid in ids:
            daemon.cli("rm", "-f", cid)


def test_shared_propagation_needs_shared_host_mount(daemon, host_dir):
    # host_dir sits on a private mount here: Docker's checks and messages.
    for mode, msg in [("rshared", "but it is not a shared mount"),
                      ("slave", "but it is not a shared or slave mount")]:
        r = daemon.cli("run", "--rm", "-v", "%s:/c:%s" % (host_dir, mode), "busybox", "true")
        assert r.returncode == 125, r.stderr
        assert ("path %s is mounted on " % host_dir) in r.stderr and msg in r.stderr, r.stderr
        mounted_on = r.stderr.split(" is mounted on ")[1].split(" but ")[0]
        assert mounted_on in host_mount_points()
        assert mounted_on == "/" or host_dir.startswith(mounted_on + "/")
