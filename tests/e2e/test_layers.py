"""Multi-layer images: whiteouts, opaque dirs, replacements, links, special
files; layers shared and unpacked once; hostile layers confined."""
import hashlib
import io
import json
import os
import tarfile
import uuid

import pytest

from conftest import make_busybox_tar


def add(t, name, kind="file", data=b"", mode=0o644, uid=0, gid=0, link="", dev=(0, 0)):
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 1700000000
    if kind == "file":
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
        return
    info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                 "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}[kind]
    info.linkname = link
    info.devmajor, info.devminor = dev
    t.addfile(info)


def layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            add(t, *e[:2], **(e[2] if len(e) > 2 else {}))
    return buf.getvalue()


def docker_save(path, layers, tag, config=None):
    """Writes a `docker save` archive with the given layer tars (and image config, default {"Cmd": ["sh"]})."""
    diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-11-29T00:00:00Z",
                         "config": config or {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    with tarfile.open(path, "w") as out:
        def put(name, data):
            i = tarfile.TarInfo(name)
            i.size = len(data)
            out.addfile(i, io.BytesIO(data))
        names = []
        for n, l in enumerate(layers):
            names.append("l%d/layer.tar" % n)
            put(names[-1], l)
        put("config.json", config)
        put("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": names}]).encode())
    return path


LAYER1 = [
    ("a", "dir", {"mode": 0o755}), ("a/keep", "file", {"data": b"keep\n"}), ("a/del", "file", {"data": b"gone\n"}),
    ("opq", "dir", {"mode": 0o755}), ("opq/old", "file", {"data": b"old\n"}),
    ("rep", "dir", {"mode": 0o755}), ("rep/x", "file", {"data": b"x\n"}),
    ("f2d", "file", {"data": b"was a file\n"}),
    ("hard", "dir", {"mode": 0o755}), ("hard/orig", "file", {"data": b"linked\n"}),
    ("hard/link", "hard", {"link": "hard/orig"}),
    ("sym", "sym", {"link": "a/keep"}),
    ("suid", "file", {"data": b"#!/bin/sh\n", "mode": 0o4755}),
    ("sticky", "dir", {"mode": 0o1777}),
    ("fifo", "fifo", {"mode": 0o644}),
    ("mynull", "chr", {"mode": 0o666, "dev": (1, 3)}),
    ("owned", "file", {"data": b"o\n", "uid": 1000, "gid": 4242}),
    ("long/" + "n" * 150 + "/" + "é" * 60, "file", {"data": b"long\n"}),
]
LAYER2 = [
    ("a/.wh.del", "file"), ("opq/.wh..wh..opq", "file"), ("opq/new", "file", {"data": b"new\n"}),
    ("rep", "file", {"data": b"now a file\n"}),
    ("f2d", "dir", {"mode": 0o755}), ("f2d/inner", "file", {"data": b"inner\n"}),
]


@pytest.fixture(scope="module")
def layered(daemon):
    base = os.path.join(daemon.base, "layered")
    os.makedirs(base, exist_ok=True)
    with open(make_busybox_tar(os.path.join(base, "bb.tar")), "rb") as f:
        bb = f.read()
    path = docker_save(os.path.join(base, "img.tar"), [bb, layer(LAYER1), layer(LAYER2)], "layered:1")
    r = daemon.cli("load", "-i", path)
    assert r.returncode == 0, r.stderr
    assert "Loaded image: layered:1" in r.stdout
    return path


def stat_in(daemon, *paths):
    r = daemon.cli("run", "--rm", "layered:1", "stat", "-c", "%n|%F|%a|%u|%g|%h|%i|%t,%T", *paths)
    out = {}
    for line in r.stdout.splitlines():
        n, *rest = line.split("|")
        out[n] = rest
    return out, r


def test_merged_tree(daemon, layered):
    r = daemon.cli("run", "--rm", "layered:1", "sh", "-c",
                   "ls /a; echo --; ls /opq; echo --; cat /rep; cat /f2d/inner; cat /sym; readlink /sym; "
                   "cat /long/*/*")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "keep\n--\nnew\n--\nnow a file\ninner\nkeep\na/keep\nlong\n"
    s, r = stat_in(daemon, "/hard/orig", "/hard/link", "/suid", "/sticky", "/fifo", "/mynull", "/owned", "/a/del")
    assert s["/hard/orig"][5] == s["/hard/link"][5] and s["/hard/orig"][4] == "2"
    assert s["/suid"][1] == "4755"
    assert s["/sticky"][1] == "1777"
    assert s["/fifo"][0] == "fifo"
    assert s["/mynull"][0] == "character special file" and s["/mynull"][6] == "1,3"
    assert s["/owned"][2:4] == ["1000", "4242"]
    assert "/a/del" not in s and "No such file" in r.stderr


def test_layers_shared_and_unpacked_once(daemon, layered):
    ids = []
    for _ in range(2):
        r = daemon.cli("create", "layered:1", "true")
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
    lowers = [json.loads(daemon.cli("inspect", i).stdout)[0]["GraphDriver"]["Data"]["LowerDir"].split(":") for i in ids]
    assert lowers[0][1:] == lowers[1][1:] and len(lowers[0]) == 5  # init, mount points, 3 layers
    assert lowers[0][0] != lowers[1][0]
    layer_dirs = lowers[0][2:]
    before = {d: os.stat(d).st_ino for d in layer_dirs}
    r = daemon.cli("load", "-i", layered)
    assert r.returncode == 0, r.stderr
    assert {d: os.stat(d).st_ino for d in layer_dirs} == before
    for i in ids:
        daemon.cli("rm", i)


def test_hostile_layers_are_confined(daemon, tmp_path):
    tag = uuid.uuid4().hex[:8]
    outside = "/tmp/berth-escape-" + tag
    os.makedirs(outside)
    try:
        cases = {
            "dotdot": [("../../../../../../tmp/berth-escape-%s/dotdot" % tag, "file", {"data": b"x"})],
            "hardlink": [("evil", "hard", {"link": "../../../../../etc/passwd"})],
        }
        for name, entries in cases.items():
            path = docker_save(str(tmp_path / (name + ".tar")), [layer(entries)], "hostile-%s:1" % name)
            r = daemon.cli("load", "-i", path)
            assert r.returncode != 0, name
            assert r.stderr.strip(), name
        confined = [("abs", "dir"), ("/tmp/berth-escape-%s/abs" % tag, "file", {"data": b"x"}),
                    ("link", "sym", {"link": outside}), ("link/through-symlink", "file", {"data": b"x"}),
                    ("up", "sym", {"link": "../../../../../../"}), ("up/tmp/berth-escape-%s/up" % tag, "file", {"data": b"x"})]
        path = docker_save(str(tmp_path / "confined.tar"), [layer(confined)], "hostile-confined:1")
        r = daemon.cli("load", "-i", path)
        assert r.returncode == 0, r.stderr
        assert os.listdir(outside) == []
        for leftover in os.listdir(os.path.join(daemon.root, "tmp")):
            assert not leftover.startswith("load-"), leftover
        assert not any(".staging-" in d for d in os.listdir(os.path.join(daemon.root, "layers")))
    finally:
        for f in os.listdir(outside):
            os.unlink(os.path.join(outside, f))
        os.rmdir(outside)
