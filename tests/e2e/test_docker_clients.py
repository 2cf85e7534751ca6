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
