"""export, cp (both ways) and diff: a container's filesystem seen and changed
from outside it, by the berth CLI, the API and the real docker CLI."""
import base64
import io
import json
import os
import pty
import subprocess
import tarfile
import time
import uuid

import pytest

from conftest import BERTH, UnixHTTPConnection


def cli_bytes(daemon, *args, input=None, timeout=60):
    """The berth CLI with binary stdin/stdout (tar streams)."""
    env = dict(os.environ)
    env.pop("BERTH_HOST", None)
    return subprocess.run([BERTH, "-H", daemon.host, "--data-root", daemon.root, "--no-autostart"] + list(args),
                          capture_output=True, input=input, timeout=timeout, env=env)


def raw_api(daemon, method, path, body=None, headers=None):
    conn = UnixHTTPConnection(daemon.sock)
    conn.request(method, "/v1.41" + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheader("X-Docker-Container-Path-Stat"), data


def tar_of(entries):
    """A tar built in memory: (name, bytes) files, (name, None) directories,
    (name, "->target") symlinks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            elif isinstance(data, str) and data.startswith("->"):
                info.type, info.linkname = tarfile.SYMTYPE, data[2:]
                t.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {m.name: (m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()}


def run_detached(daemon, script):
    """A running container that ran `script` and then waits; returns its id
    once the script is done."""
    cid = daemon.cli("run", "-d", "busybox", "sh", "-c", script + "; touch /ready; sleep 120").stdout.strip()
    assert cid
    deadline = time.time() + 20
    while time.time() < deadline:
        if raw_api(daemon, "HEAD", "/containers/%s/archive?path=/ready" % cid)[0] == 200:
            return cid
        time.sleep(0.05)
    raise AssertionError("the container did not get ready: " + daemon.cli("logs", cid).stderr)


def in_container(daemon, cid, *cmd):
    r = daemon.cli("exec", cid, *cmd)
    assert r.returncode == 0, r.stderr
    return r.stdout


def unique(prefix="berth-cp-"):
    return prefix + uuid.uuid4().hex[:12]


# ---- export ----------------------------------------------------------------------------


def test_export_stopped_container(daemon, tmp_path):
    r = daemon.cli("run", "--name", "exp-stopped", "busybox", "sh", "-c", "echo data > /tmp/written; rm /bin/ls")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "stopped.tar"
    r = daemon.cli("export", "-o", str(out), "exp-stopped")
    assert r.returncode == 0, r.stderr
    got = members(out.read_bytes())
    cid = json.loads(daemon.cli("inspect", "exp-stopped").stdout)[0]["Id"]
    assert got["tmp/written"][1] == b"data\n"              # written by the container
    assert got["bin/busybox"][0].isfile() and got["bin/busybox"][0].mode & 0o111  # from the image
    assert got["bin/sh"][0].issym() and got["bin/sh"][0].linkname == "busybox"
    assert got["etc/hostname"][1] == (cid[:12] + "\n").encode()  # the init layer
    assert "etc/hosts" in got and "etc/resolv.conf" in got
    assert "bin/ls" not in got                              # deleted by the container
    assert got["tmp"][0].isdir() and got["tmp"][0].mode == 0o1777
    assert not any(n in ("", ".", "./") for n in got)       # no entry for "/", as Docker
    daemon.cli("rm", "exp-stopped")


def test_export_running_container_streams(daemon):
    cid = run_detached(daemon, "echo live > /tmp/written; rm /bin/ls")
    r = cli_bytes(daemon, "export", cid)
    assert r.returncode == 0, r.stderr
    got = members(r.stdout)
    assert got["tmp/written"][1] == b"live\n"
    assert got["etc/hostname"][1] == (cid[:12] + "\n").encode()
    assert "bin/busybox" in got and "bin/ls" not in got
    # The rootfs only: not what is mounted over it inside the container.
    assert not any(n.startswith(("proc/", "sys/", "dev/")) for n in got)
    # The API answers with a chunked stream, Docker's content type.
    conn = UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/v1.41/containers/%s/export" % cid)
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/octet-stream"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert len(resp.read()) == len(r.stdout)
    daemon.cli("rm", "-f", cid)


def test_export_refuses_a_terminal_and_unknown_containers(daemon):
    cid = daemon.cli("create", "busybox", "true").stdout.strip()
    master, slave = pty.openpty()
    try:
        r = subprocess.run([BERTH, "-H", daemon.host, "--no-autostart", "export", cid], stdout=slave,
                           stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 1
    assert "cowardly refusing to save to a terminal. Use the -o flag or redirect" in r.stderr.decode()
    r = cli_bytes(daemon, "export", "no-such-container")
    assert r.returncode == 1 and b"No such container: no-such-container" in r.stderr
    daemon.cli("rm", cid)


# ---- cp from a container ------------------------------------------------------------------


def test_cp_from_container_file_dir_and_stream(daemon, tmp_path):
    cid = run_detached(daemon, "echo one > /tmp/f; mkdir -p /tmp/d/e; echo two > /tmp/d/e/g; chmod 640 /tmp/f")
    # A file to a new name, and into a directory under its own name.
    assert daemon.cli("cp", cid + ":/tmp/f", str(tmp_path / "renamed")).returncode == 0
    assert (tmp_path / "renamed").read_text() == "one\n"
    assert oct((tmp_path / "renamed").stat().st_mode & 0o777) == "0o640"
    assert daemon.cli("cp", cid + ":/tmp/f", str(tmp_path)).returncode == 0
    assert (tmp_path / "f").read_text() == "one\n"
    # A directory into an existing one nests; to a new path becomes it; "/." copies the contents.
    assert daemon.cli("cp", cid + ":/tmp/d", str(tmp_path)).returncode == 0
    assert (tmp_path / "d" / "e" / "g").read_text() == "two\n"
    assert daemon.cli("cp", cid + ":/tmp/d", str(tmp_path / "newd")).returncode == 0
    assert (tmp_path / "newd" / "e" / "g").read_text() == "two\n"
    (tmp_path / "existing").mkdir()
    assert daemon.cli("cp", cid + ":/tmp/d/.", str(tmp_path / "existing")).returncode == 0
    assert (tmp_path / "existing" / "e" / "g").read_text() == "two\n"
    # "-": the tar itself on stdout, its top entry the base name.
    r = cli_bytes(daemon, "cp", cid + ":/tmp/d", "-")
    assert r.returncode == 0, r.stderr
    got = members(r.stdout)
    assert sorted(got) == ["d", "d/e", "d/e/g"] and got["d/e/g"][1] == b"two\n"
    # A file cannot become a directory, nor the reverse.
    r = daemon.cli("cp", cid + ":/tmp/d", str(tmp_path / "renamed"))
    assert r.returncode == 1 and "cannot copy directory" in r.stderr
    daemon.cli("rm", "-f", cid)


def test_cp_from_container_api_stat_header(daemon):
    cid = run_detached(daemon, "echo 12345 > /tmp/five; ln -s /etc /tmp/link; mkdir /tmp/dir")
    st, header, _ = raw_api(daemon, "HEAD", "/containers/%s/archive?path=/tmp/five" % cid)
    assert st == 200
    stat = json.loads(base64.b64decode(header))
    assert stat["name"] == "five" and stat["size"] == 6 and stat["mode"] == 0o644 and stat["linkTarget"] == ""
    stat = json.loads(base64.b64decode(raw_api(daemon, "HEAD", "/containers/%s/archive?path=/tmp/link" % cid)[1]))
    assert stat["mode"] & (1 << 27) and stat["linkTarget"] == "/etc"   # os.ModeSymlink, resolved in the container
    stat = json.loads(base64.b64decode(raw_api(daemon, "HEAD", "/containers/%s/archive?path=/tmp/dir" % cid)[1]))
    assert stat["mode"] & (1 << 31) and stat["name"] == "dir"          # os.ModeDir
    # Reading through the symlink stays in the container: its /etc/hostname.
    st, _, data = raw_api(daemon, "GET", "/containers/%s/archive?path=/tmp/link/hostname" % cid)
    assert st == 200 and members(data)["hostname"][1] == (cid[:12] + "\n").encode()
    st, _, data = raw_api(daemon, "GET", "/containers/%s/archive?path=/tmp/nope" % cid)
    assert st == 404
    assert json.loads(data)["message"] == "Could not find the file /tmp/nope in container " + cid
    assert raw_api(daemon, "HEAD", "/containers/%s/archive?path=/tmp/nope" % cid)[0] == 404
    daemon.cli("rm", "-f", cid)


def test_cp_from_container_missing_paths(daemon, tmp_path):
    cid = daemon.cli("create", "--name", "cp-missing", "busybox", "true").stdout.strip()
    r = daemon.cli("cp", "cp-missing:/no/such/file", str(tmp_path))
    assert r.returncode == 1
    assert "Could not find the file /no/such/file in container cp-missing" in r.stderr
    r = daemon.cli("cp", "cp-missing:/etc/passwd", str(tmp_path / "no" / "such" / "dir"))
    assert r.returncode == 1 and "does not exist" in r.stderr
    r = daemon.cli("cp", "no-such-container:/etc/passwd", str(tmp_path))
    assert r.returncode == 1 and "No such container: no-such-container" in r.stderr
    daemon.cli("rm", cid)


# ---- cp into a container ------------------------------------------------------------------


def make_tree(root):
    (root / "tree" / "sub").mkdir(parents=True)
    (root / "tree" / "sub" / "leaf").write_text("leaf\n")
    (root / "tree" / "top").write_text("top\n")
    os.chmod(root / "tree" / "top", 0o750)
    (root / "single").write_text("single\n")
    return root


def check_copied_in(daemon, cid):
    out = in_container(daemon, cid, "sh", "-c",
                       "cat /tmp/single /tmp/renamed /root/tree/top /root/tree/sub/leaf /srv/new/top "
                       "/tmp/contents/sub/leaf; stat -c %a /root/tree/top")
    assert out == "single\nsingle\ntop\nleaf\ntop\nleaf\n750\n"


def copy_in(daemon, src_root, ref):
    for args in (["single", ref + ":/tmp"], ["single", ref + ":/tmp/renamed"], ["tree", ref + ":/root"],
                 ["tree", ref + ":/srv/new"], ["tree/.", ref + ":/tmp/contents"]):
        r = daemon.cli("cp", str(src_root / args[0]), args[1])
        assert r.returncode == 0, (args, r.stderr)


def test_cp_into_running_container(daemon, tmp_path):
    make_tree(tmp_path)
    daemon.cli("run", "-d", "--name", "cp-running", "busybox", "sh", "-c", "mkdir /srv; sleep 120")
    copy_in(daemon, tmp_path, "cp-running")
    check_copied_in(daemon, "cp-running")
    daemon.cli("rm", "-f", "cp-running")


def test_cp_into_stopped_container(daemon, tmp_path):
    make_tree(tmp_path)
    r = daemon.cli("run", "--name", "cp-stopped", "busybox", "mkdir", "/srv")
    assert r.returncode == 0, r.stderr
    copy_in(daemon, tmp_path, "cp-stopped")
    # What was copied in is there when it runs again, and in its diff.
    assert daemon.cli("start", "cp-stopped").returncode == 0
    daemon.cli("wait", "cp-stopped")
    diff = daemon.cli("diff", "cp-stopped").stdout.splitlines()
    assert "A /tmp/single" in diff and "A /root/tree/sub/leaf" in diff and "A /srv/new/top" in diff
    r = cli_bytes(daemon, "cp", "cp-stopped:/root/tree", "-")
    got = members(r.stdout)
    assert got["tree/top"][1] == b"top\n" and got["tree/sub/leaf"][1] == b"leaf\n"
    assert got["tree/top"][0].mode == 0o750
    daemon.cli("rm", "cp-stopped")


def test_cp_into_container_from_stdin_and_owner(daemon, tmp_path):
    cid = daemon.cli("run", "-d", "--user", "app", "busybox", "sleep", "120").stdout.strip()
    r = cli_bytes(daemon, "cp", "-", cid + ":/tmp", input=tar_of([("fromstdin", b"piped\n")]))
    assert r.returncode == 0, r.stderr
    assert in_container(daemon, cid, "cat", "/tmp/fromstdin") == "piped\n"
    # The owner in the archive is kept (root here); -a gives the container's user.
    (tmp_path / "owned").write_text("x\n")
    assert daemon.cli("cp", str(tmp_path / "owned"), cid + ":/tmp/plain").returncode == 0
    assert daemon.cli("cp", "-a", str(tmp_path / "owned"), cid + ":/tmp/archived").returncode == 0
    assert in_container(daemon, cid, "stat", "-c", "%u:%g", "/tmp/plain", "/tmp/archived") == "0:0\n1000:1000\n"
    # A tar on stdin needs a directory.
    r = cli_bytes(daemon, "cp", "-", cid + ":/tmp/fromstdin", input=tar_of([("x", b"x")]))
    assert r.returncode == 1 and b"must be a directory" in r.stderr
    daemon.cli("rm", "-f", cid)


def test_cp_into_container_errors(daemon, tmp_path):
    cid = run_detached(daemon, "mkdir /tmp/adir; echo f > /tmp/afile")
    (tmp_path / "f").write_text("f\n")
    (tmp_path / "d").mkdir()
    r = daemon.cli("cp", str(tmp_path / "nonexistent"), cid + ":/tmp")
    assert r.returncode == 1 and "no such file or directory" in r.stderr
    r = daemon.cli("cp", str(tmp_path / "f"), cid + ":/no/such/dir/f")
    assert r.returncode == 1 and "Could not find the file /no/such/dir in container" in r.stderr
    r = daemon.cli("cp", str(tmp_path / "d"), cid + ":/tmp/afile")
    assert r.returncode == 1 and "cannot copy directory" in r.stderr
    r = daemon.cli("cp", str(tmp_path / "f"), cid + ":/tmp/notthere/")
    assert r.returncode == 1 and "no such directory" in r.stderr
    r = daemon.cli("cp", str(tmp_path / "f"), "nope:/tmp")
    assert r.returncode == 1 and "No such container: nope" in r.stderr
    r = daemon.cli("cp", str(tmp_path / "f"), str(tmp_path / "g"))
    assert r.returncode == 1 and "must specify at least one container source" in r.stderr
    # The API's own answers.
    st, _, body = raw_api(daemon, "PUT", "/containers/%s/archive?path=/tmp/afile" % cid, tar_of([("x", b"x")]))
    assert st == 400 and json.loads(body)["message"] == "extraction point is not a directory"
    st, _, body = raw_api(daemon, "PUT", "/containers/%s/archive?path=/nope" % cid, tar_of([("x", b"x")]))
    assert st == 404 and json.loads(body)["message"] == "Could not find the file /nope in container " + cid
    # noOverwriteDirNonDir: a file over a directory is refused, and nothing is changed.
    st, _, body = raw_api(daemon, "PUT", "/containers/%s/archive?path=/tmp&noOverwriteDirNonDir=true" % cid,
                          tar_of([("adir", b"not a dir")]))
    assert st == 400 and "cannot overwrite directory" in json.loads(body)["message"]
    assert in_container(daemon, cid, "sh", "-c", "test -d /tmp/adir && echo dir") == "dir\n"
    st, _, body = raw_api(daemon, "PUT", "/containers/%s/archive?path=/tmp" % cid, b"this is not a tar archive")
    assert st == 400
    daemon.cli("rm", "-f", cid)


# ---- no way out through symlinks ------------------------------------------------------------


def escape_attempts(daemon, ref, tmp_path):
    """Writes through symlinks that point at the host's /etc if followed on
    the host; returns where each file must be in the container (and never on
    the host)."""
    names = [unique() for _ in range(5)]
    for n in names[:2]:
        (tmp_path / n).write_text(n + "\n")
    # The CLI resolves the symlink in the container (HEAD) and copies there.
    assert daemon.cli("cp", str(tmp_path / names[0]), ref + ":/tmp/evil").returncode == 0
    assert daemon.cli("cp", str(tmp_path / names[1]), ref + ":/tmp/rel/").returncode == 0
    # The API: the destination is a symlink, an entry is absolute, an entry
    # goes through a symlink the archive itself makes.
    tar = tar_of([(names[2], b"x\n"), ("/etc/" + names[3], b"x\n"), ("link", "->/etc"), ("link/" + names[4], b"x\n")])
    st, _, body = raw_api(daemon, "PUT", "/containers/%s/archive?path=/tmp/evil" % ref, tar)
    assert st == 200, body
    # ".." out of the destination is refused outright.
    st, _, _ = raw_api(daemon, "PUT", "/containers/%s/archive?path=/tmp" % ref, tar_of([("../../../etc/" + unique(), b"x")]))
    assert st == 400
    # An absolute name is relative to the destination, as in Docker.
    return ["/etc/" + n for n in names[:3]] + ["/etc/etc/" + names[3], "/etc/" + names[4]]


def test_cp_through_symlinks_stays_in_running_container(daemon, tmp_path):
    cid = run_detached(daemon, "ln -s /etc /tmp/evil; ln -s ../../../../../../../etc /tmp/rel")
    paths = escape_attempts(daemon, cid, tmp_path)
    for p in paths:
        assert not os.path.exists(p), "the host got " + p
    assert sorted(in_container(daemon, cid, "ls", *paths).split()) == sorted(paths)
    assert os.path.islink(os.path.join(daemon.root, "containers", cid, "upper", "tmp", "evil"))
    daemon.cli("rm", "-f", cid)


def test_cp_through_symlinks_stays_in_stopped_container(daemon, tmp_path):
    r = daemon.cli("run", "--name", "cp-evil-stopped", "busybox", "sh", "-c",
                   "ln -s /etc /tmp/evil; ln -s ../../../../../../../etc /tmp/rel")
    assert r.returncode == 0
    cid = json.loads(daemon.cli("inspect", "cp-evil-stopped").stdout)[0]["Id"]
    paths = escape_attempts(daemon, cid, tmp_path)
    for p in paths:
        assert not os.path.exists(p), "the host got " + p
        assert raw_api(daemon, "HEAD", "/containers/%s/archive?path=%s" % (cid, p))[0] == 200
    daemon.cli("rm", cid)


# ---- diff -----------------------------------------------------------------------------------


def test_diff_added_changed_deleted(daemon):
    r = daemon.cli("run", "--name", "diffed", "busybox", "sh", "-c",
                   "echo x > /tmp/new; echo 'extra:x:5:5::/:/bin/sh' >> /etc/passwd; rm /bin/ls; mkdir /newdir; "
                   "rm -rf /home; mkdir /home; echo n > /home/new")
    assert r.returncode == 0, r.stderr
    r = daemon.cli("diff", "diffed")
    assert r.returncode == 0, r.stderr
    # Docker's rules: the parent of an addition or deletion is changed; a
    # directory replaced as a whole (opaque) is changed and what it had is deleted.
    assert r.stdout.splitlines() == [
        "C /bin", "D /bin/ls",
        "C /etc/passwd",
        "C /home", "D /home/app", "A /home/new",
        "A /newdir",
        "C /tmp", "A /tmp/new",
    ]
    st, changes = daemon.api("GET", "/containers/diffed/changes")
    assert st == 200 and {"Path": "/bin/ls", "Kind": 2} in changes and {"Path": "/newdir", "Kind": 1} in changes
    # Nothing changed: Docker's null, and no output.
    daemon.cli("run", "--name", "undiffed", "busybox", "true")
    assert daemon.api("GET", "/containers/undiffed/changes") == (200, None)
    assert daemon.cli("diff", "undiffed").stdout == ""
    r = daemon.cli("diff", "no-such-container")
    assert r.returncode == 1 and "No such container: no-such-container" in r.stderr
    daemon.cli("rm", "diffed", "undiffed")


def test_diff_of_running_container(daemon):
    cid = run_detached(daemon, "echo y > /root/added")
    diff = daemon.cli("diff", cid).stdout.splitlines()
    assert diff == ["A /ready", "C /root", "A /root/added"]
    daemon.cli("rm", "-f", cid)


# ---- the docker CLI -------------------------------------------------------------------------


def test_docker_export_cp_diff(docker, daemon, tmp_path):
    r = docker("run", "-d", "--name", "dk-files", "busybox", "sh", "-c",
               "echo hi > /tmp/x; mkdir -p /tmp/d/e; echo z > /tmp/d/e/z; rm /bin/ls; sleep 120")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    deadline = time.time() + 20
    while "A /tmp/x" not in docker("diff", "dk-files").stdout and time.time() < deadline:
        time.sleep(0.05)
    diff = docker("diff", "dk-files")
    assert diff.returncode == 0
    assert diff.stdout.splitlines() == ["C /bin", "D /bin/ls", "C /tmp", "A /tmp/d", "A /tmp/d/e", "A /tmp/d/e/z",
                                        "A /tmp/x"]
    # export
    out = tmp_path / "dk.tar"
    r = docker("export", "-o", str(out), "dk-files")
    assert r.returncode == 0, r.stderr
    got = members(out.read_bytes())
    assert got["tmp/x"][1] == b"hi\n" and "bin/ls" not in got and "etc/hostname" in got
    # cp out: a file, a directory, the contents of a directory, a missing path
    assert docker("cp", "dk-files:/tmp/x", str(tmp_path / "x")).returncode == 0
    assert (tmp_path / "x").read_text() == "hi\n"
    assert docker("cp", "dk-files:/tmp/d", str(tmp_path)).returncode == 0
    assert (tmp_path / "d" / "e" / "z").read_text() == "z\n"
    (tmp_path / "c").mkdir()
    assert docker("cp", "dk-files:/tmp/d/.", str(tmp_path / "c")).returncode == 0
    assert (tmp_path / "c" / "e" / "z").read_text() == "z\n"
    r = docker("cp", "dk-files:/nope", str(tmp_path))
    assert r.returncode == 1 and "Could not find the file /nope in container dk-files" in r.stderr
    # cp in: a file, a directory, through a symlink, into the stopped container
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "f").write_text("in\n")
    assert docker("cp", str(tmp_path / "in" / "f"), "dk-files:/tmp/f2").returncode == 0
    assert docker("cp", str(tmp_path / "in"), "dk-files:/root").returncode == 0
    assert docker("exec", "dk-files", "cat", "/tmp/f2", "/root/in/f").stdout == "in\nin\n"
    assert docker("exec", "dk-files", "ln", "-s", "/etc", "/tmp/evil").returncode == 0
    name = unique("berth-dk-")
    (tmp_path / name).write_text("x\n")
    assert docker("cp", str(tmp_path / name), "dk-files:/tmp/evil").returncode == 0
    assert not os.path.exists("/etc/" + name)
    assert docker("exec", "dk-files", "cat", "/etc/" + name).stdout == "x\n"
    assert docker("stop", "-t", "0", "dk-files").returncode == 0
    assert docker("cp", str(tmp_path / "in" / "f"), "dk-files:/stopped").returncode == 0
    assert docker("cp", "dk-files:/stopped", str(tmp_path / "back")).returncode == 0
    assert (tmp_path / "back").read_text() == "in\n"
    docker("rm", "-f", cid)


def test_docker_sdk_archive_export_diff(daemon):
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=daemon.host)
    c = client.containers.run("busybox", "sh -c 'echo sdk > /tmp/sdk; sleep 120'", detach=True)
    try:
        assert c.put_archive("/tmp", tar_of([("put", b"put by the sdk\n")])) is True
        deadline = time.time() + 20
        while time.time() < deadline and {"Path": "/tmp/sdk", "Kind": 1} not in (c.diff() or []):
            time.sleep(0.05)
        assert {"Path": "/tmp/put", "Kind": 1} in c.diff() and {"Path": "/tmp/sdk", "Kind": 1} in c.diff()
        stream, stat = c.get_archive("/tmp/put")
        assert stat["name"] == "put" and stat["size"] == len(b"put by the sdk\n")
        assert members(b"".join(stream))["put"][1] == b"put by the sdk\n"
        got = members(b"".join(c.export()))
        assert got["tmp/sdk"][1] == b"sdk\n" and got["tmp/put"][1] == b"put by the sdk\n"
        with pytest.raises(docker_sdk.errors.NotFound):
            c.get_archive("/no/such/path")
    finally:
        c.remove(force=True)
