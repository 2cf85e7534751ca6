"""The real docker CLI and docker SDK for Python drive berth unchanged."""
import json
import os
import shutil
import subprocess

import pytest

DOCKER = shutil.which("docker")


# The `docker` fixture (the real CLI against the daemon) is in conftest.py.


def test_docker_version(docker):
    r = docker("version")
    assert r.returncode == 0, r.stderr
    assert "API version:       1.41" in r.stdout or "1.41" in r.stdout
    assert "Server:" in r.stdout


def test_docker_run_rm(docker):
    r = docker("run", "--rm", "busybox", "echo", "hi")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hi\n"
    r = docker("run", "--rm", "busybox", "sh", "-c", "echo oops >&2; exit 3")
    assert r.returncode == 3
    assert r.stderr == "oops\n"


def test_docker_run_missing_command(docker):
    r = docker("run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127, r.stderr


def test_docker_detached_lifecycle(docker):
    r = docker("run", "-d", "--name", "dk-sleeper", "busybox", "sh", "-c", "echo ready; sleep 60")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    ps = docker("ps")
    assert "dk-sleeper" in ps.stdout and cid[:12] in ps.stdout and "Up " in ps.stdout
    logs = docker("logs", "dk-sleeper")
    assert logs.stdout == "ready\n"
    insp = json.loads(docker("inspect", "dk-sleeper").stdout)[0]
    assert insp["State"]["Running"] is True and insp["State"]["Pid"] > 0
    assert insp["Name"] == "/dk-sleeper"
    fmt = docker("inspect", "-f", "{{.State.Status}} {{.Config.Image}}", "dk-sleeper")
    assert fmt.stdout.strip() == "running busybox"
    r = docker("rm", "-f", "dk-sleeper")
    assert r.returncode == 0 and r.stdout.strip() == "dk-sleeper"
    assert "dk-sleeper" not in docker("ps", "-a").stdout


def test_docker_wait_and_ps_a(docker):
    cid = docker("run", "-d", "busybox", "sh", "-c", "sleep 0.5; exit 9").stdout.strip()
    w = docker("wait", cid)
    assert w.returncode == 0 and w.stdout.strip() == "9"
    ps = docker("ps", "-a")
    assert cid[:12] in ps.stdout and "Exited (9)" in ps.stdout
    assert docker("rm", cid).returncode == 0


def test_docker_images_and_inspect_image(docker):
    r = docker("images")
    assert r.returncode == 0
    assert "busybox" in r.stdout and "latest" in r.stdout
    insp = json.loads(docker("inspect", "busybox").stdout)[0]
    assert insp["Id"].startswith("sha256:") and "busybox:latest" in insp["RepoTags"]


def test_docker_errors(docker):
    r = docker("inspect", "nosuchthing")
    assert r.returncode == 1 and "No such object" in r.stderr
    r = docker("rm", "nosuchcontainer")
    assert r.returncode == 1 and "No such container" in r.stderr


def test_docker_sdk_python(daemon):
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=daemon.host)
    assert client.version()["ApiVersion"] == "1.41"
    out = client.containers.run("busybox", "echo from-sdk", remove=True)
    assert out == b"from-sdk\n"
    c = client.containers.run("busybox", "sleep 30", detach=True, name="sdk-sleeper")
    assert any(x.id == c.id for x in client.containers.list())
    c.remove(force=True)
    # Unknown image: create answers 404, the SDK then tries a pull, which
    # berth refuses until registry pulls exist (an APIError either way).
    with pytest.raises(docker_sdk.errors.APIError):
        client.containers.run("nosuchimage:latest", "true", remove=True)
    assert any("busybox:latest" in i.tags for i in client.images.list())


def test_docker_run_interactive_stdin(docker):
    # The docker CLI streams stdin right after attaching, before start.
    r = docker("run", "-i", "--rm", "busybox", "cat", input="hi from stdin\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hi from stdin\n"
    big = "x" * 999 + "\n"
    r = docker("run", "-i", "--rm", "busybox", "wc", "-c", input=big * 5000)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(len(big) * 5000)


def test_docker_sdk_lifecycle(daemon):
    # docker-py: run detached, logs(stream=True, follow=True), wait, stop, remove.
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=daemon.host)
    c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done; exit 3"],
                              detach=True)
    lines = b"".join(c.logs(stream=True, follow=True)).decode().split()
    assert lines == ["line1", "line2", "line3"]
    assert c.wait()["StatusCode"] == 3
    c.remove()
    with pytest.raises(docker_sdk.errors.NotFound):
        client.containers.get(c.id)
    s = client.containers.run("busybox", ["sleep", "300"], detach=True)
    s.stop(timeout=1)
    s.reload()
    assert s.status == "exited" and s.attrs["State"]["ExitCode"] == 137
    s.remove()


def test_docker_logs_follow(daemon, docker):
    # docker logs -f follows a running container to its exit, stdout and stderr apart.
    r = docker("run", "-d", "busybox", "sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.3; done")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    f = docker("logs", "-f", "-t", cid, timeout=30)
    assert f.returncode == 0, f.stderr
    assert [l.split(" ", 1)[1] for l in f.stdout.splitlines()] == ["out1", "out2", "out3"]
    assert [l.split(" ", 1)[1] for l in f.stderr.splitlines()] == ["err1", "err2", "err3"]
    docker("rm", cid)


# Mounts and volumes with the real clients

def test_docker_cli_mounts_and_volumes(docker, daemon, tmp_path):
    host = str(tmp_path / "host")
    os.mkdir(host)
    with open(os.path.join(host, "in"), "w") as f:
        f.write("from-host\n")
    r = docker("run", "--rm", "-v", host + ":/data:ro", "busybox", "sh", "-c",
               "cat /data/in; touch /data/x 2>/dev/null || echo refused")
    assert r.returncode == 0 and r.stdout == "from-host\nrefused\n", r.stderr
    r = docker("run", "--rm", "--mount", "type=bind,source=%s,target=/b" % host, "busybox", "sh", "-c",
               "echo w > /b/out")
    assert r.returncode == 0, r.stderr
    assert open(os.path.join(host, "out")).read() == "w\n"
    # --mount type=tmpfs with size and mode, --tmpfs, --read-only: size limits hold.
    r = docker("run", "--rm", "--read-only", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=0700",
               "--tmpfs", "/u:size=1m", "busybox", "sh", "-c",
               "stat -c %a /t; touch /root-file 2>/dev/null || echo root-ro; "
               "for d in /t /u; do dd if=/dev/zero of=$d/big bs=64k count=32 2>&1 | grep -c 'No space left'; done")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["700", "root-ro", "1", "1"], r.stdout
    # docker volume create/ls/inspect/rm with options and labels, --mount type=volume.
    r = docker("volume", "create", "--driver", "local", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
               "--opt", "o=size=2m", "--label", "owner=dk", "dk-tmpvol")
    assert r.returncode == 0 and r.stdout.strip() == "dk-tmpvol", r.stderr
    try:
        r = docker("volume", "ls", "--filter", "label=owner=dk", "--format", "{{.Name}} {{.Driver}}")
        assert r.returncode == 0 and r.stdout.split("\n")[0] == "dk-tmpvol local", (r.stdout, r.stderr)
        (v,) = json.loads(docker("volume", "inspect", "dk-tmpvol").stdout)
        assert v["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=2m"} and v["Labels"] == {"owner": "dk"}
        r = docker("run", "--rm", "--mount", "type=volume,source=dk-tmpvol,target=/v", "busybox", "sh", "-c",
                   "grep ' /v ' /proc/mounts | cut -d' ' -f3,4")
        assert r.returncode == 0 and r.stdout.startswith("tmpfs rw,") and "size=2048k" in r.stdout, r.stdout
        r = docker("volume", "create", "--opt", "bogus=1", "dk-bad")
        assert r.returncode == 1 and 'invalid option: "bogus"' in r.stderr, r.stderr
    finally:
        assert docker("volume", "rm", "dk-tmpvol").returncode == 0
    # --volumes-from, and its missing source.
    r = docker("create", "--name", "dk-vf-src", "-v", host + ":/h", "-v", "dk-vf:/n", "busybox", "true")
    assert r.returncode == 0, r.stderr
    try:
        r = docker("run", "--rm", "--volumes-from", "dk-vf-src:ro", "busybox", "sh", "-c",
                   "cat /h/in; touch /n/x 2>/dev/null || echo n-ro")
        assert r.returncode == 0 and r.stdout == "from-host\nn-ro\n", r.stderr
        # A missing source is a 404 "No such container" (as dockerd answers), which
        # the docker CLI takes for a missing image and tries a pull (berth has none).
        r = docker("run", "--rm", "--volumes-from", "dk-nope", "busybox", "true")
        assert r.returncode == 125 and "Unable to find image 'busybox:latest' locally" in r.stderr, r.stderr
        r = docker("run", "--rm", "-v", "/data:ro", "busybox", "true")
        assert r.returncode == 125 and "invalid volume specification: '/data:ro'" in r.stderr, r.stderr
    finally:
        docker("rm", "-v", "dk-vf-src")
        docker("volume", "rm", "dk-vf")


def test_docker_sdk_volumes(daemon, tmp_path):
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=daemon.host)
    vol = client.volumes.create(name="sdk-vol", driver="local", labels={"made-by": "sdk"})
    try:
        assert vol.name == "sdk-vol" and vol.attrs["Labels"] == {"made-by": "sdk"}
        assert "sdk-vol" in [v.name for v in client.volumes.list()]
        assert [v.name for v in client.volumes.list(filters={"label": "made-by=sdk"})] == ["sdk-vol"]
        got = client.volumes.get("sdk-vol")
        assert got.attrs["Driver"] == "local" and got.attrs["Mountpoint"].endswith("/volumes/sdk-vol/_data")
        host = str(tmp_path / "h")
        os.mkdir(host)
        out = client.containers.run(
            "busybox", ["sh", "-c", "echo hi > /v/f; cat /v/f; touch /ro/x 2>/dev/null || echo ro"], remove=True,
            volumes={"sdk-vol": {"bind": "/v", "mode": "rw"}, host: {"bind": "/ro", "mode": "ro"}})
        assert out == b"hi\nro\n"
        c = client.containers.create("busybox", "true", volumes=["sdk-vol:/v"])
        with pytest.raises(docker_sdk.errors.APIError) as e:
            got.remove()
        assert e.value.status_code == 409 and "volume is in use" in str(e.value)
        c.remove()
        with pytest.raises(docker_sdk.errors.NotFound) as e:
            client.containers.create("busybox", "true", volumes_from=["sdk-no-such-box"])
        assert "No such container: sdk-no-such-box" in str(e.value)
        src = client.containers.create("busybox", "true", volumes=["sdk-vol:/v"])
        out = client.containers.run("busybox", ["cat", "/v/f"], remove=True, volumes_from=[src.id + ":ro"])
        assert out == b"hi\n"
        src.remove()
        tmpvol = client.volumes.create(name="sdk-tmp", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
        assert tmpvol.attrs["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
        out = client.containers.run("busybox", ["sh", "-c", "grep ' /t ' /proc/mounts | cut -d' ' -f3"], remove=True,
                                    volumes={"sdk-tmp": {"bind": "/t", "mode": "rw"}})
        assert out == b"tmpfs\n"
        tmpvol.remove()
        with pytest.raises(docker_sdk.errors.APIError):
            client.volumes.create(name="sdk-bad", driver_opts={"nope": "1"})
    finally:
        vol.remove(force=True)
    with pytest.raises(docker_sdk.errors.NotFound):
        client.volumes.get("sdk-vol")
