"""Docker API conventions: negotiation, errors, status codes."""
import http.client
import os
import time
import socket


def raw(daemon, data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    s.sendall(data)
    out = b""
    s.settimeout(10)
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        out += chunk
        if b"\r\n\r\n" in out and (b"Content-Length: 0" in out or out.endswith(b"OK")):
            break
    s.close()
    return out


def test_ping_head_and_get(daemon):
    out = raw(daemon, b"HEAD /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200")
    assert b"Api-Version: 1.41" in out and b"Ostype: linux" in out
    st, body = daemon.api("GET", "/_ping")
    assert st == 200 and body == b"OK"


def test_version_unversioned_and_versioned(daemon):
    conn = __import__("conftest").UnixHTTPConnection(daemon.sock)
    conn.request("GET", "/version")
    r = conn.getresponse()
    import json
    v = json.loads(r.read())
    assert r.status == 200 and v["ApiVersion"] == "1.41" and v["Version"]
    st, v2 = daemon.api("GET", "/version")
    assert st == 200 and v2["ApiVersion"] == "1.41"


def test_info(daemon):
    st, info = daemon.api("GET", "/info")
    assert st == 200
    assert info["CgroupVersion"] in ("1", "2") and info["Driver"] == "overlay2"
    assert info["Images"] >= 1 and info["DockerRootDir"] == daemon.root


def test_errors(daemon):
    st, body = daemon.api("POST", "/containers/create", body="{not json")
    assert st == 400 and "invalid JSON" in body["message"]
    st, body = daemon.api("GET", "/no/such/endpoint")
    assert st == 404 and body["message"] == "page not found"
    st, body = daemon.api("POST", "/containers/create", body={"Image": "nosuch:latest", "Cmd": ["true"]})
    assert st == 404 and body["message"] == "No such image: nosuch:latest"
    st, body = daemon.api("GET", "/containers/nosuch/json")
    assert st == 404 and body["message"] == "No such container: nosuch"
    st, body = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["true"],
                                                              "HostConfig": {"NetworkMode": "nosuchnet"}})
    assert st == 404 and "nosuchnet" in body["message"]
    st, body = daemon.api("GET", "/v9.99/version")
    st, body = daemon.api("DELETE", "/images/nosuch:1")
    assert st == 404


def test_wait_flushes_headers_at_once(daemon):
    st, c = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["sleep", "1"]})
    assert st == 201
    cid = c["Id"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    s.sendall(b"POST /v1.41/containers/%s/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" % cid.encode())
    s.settimeout(5)
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
    assert daemon.api("POST", "/containers/%s/start" % cid)[0] == 204
    body = b""
    while b"StatusCode" not in body:
        body += s.recv(4096)
    assert b'"StatusCode":0' in body
    s.close()
    assert daemon.api("DELETE", "/containers/" + cid)[0] == 204


def test_attach_stdcopy_and_half_close(daemon):
    st, c = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["sh", "-c", "sleep 0.2; echo out; echo err >&2"],
                                                           "AttachStdout": True, "AttachStderr": True})
    cid = c["Id"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    s.sendall(b"POST /v1.41/containers/%s/attach?stderr=1&stdout=1&stream=1 HTTP/1.1\r\nHost: x\r\n"
              b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n" % cid.encode())
    s.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED")
    s.shutdown(socket.SHUT_WR)  # half-close, as the CLI does
    assert daemon.api("POST", "/containers/%s/start" % cid)[0] == 204
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    frames = []
    while data:
        stream, n = data[0], int.from_bytes(data[4:8], "big")
        frames.append((stream, data[8:8 + n]))
        data = data[8 + n:]
    assert (1, b"out\n") in frames and (2, b"err\n") in frames
    daemon.api("DELETE", "/containers/%s?force=1" % cid)


def test_start_of_missing_command_is_an_error(daemon):
    st, c = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["nosuch"]})
    st, body = daemon.api("POST", "/containers/%s/start" % c["Id"])
    assert st == 400 and "executable file not found" in body["message"]
    st, info = daemon.api("GET", "/containers/%s/json" % c["Id"])
    assert info["State"]["ExitCode"] == 127 and info["State"]["Status"] == "created"
    from conftest import cgroup_parents
    for parent in cgroup_parents(daemon.root):
        assert not os.path.exists(os.path.join(parent, c["Id"])), parent
    daemon.api("DELETE", "/containers/" + c["Id"])


def test_unsupported_settings_are_refused_not_ignored(daemon):
    for hc in ({"CpuQuota": 50000}, {"OomKillDisable": True}, {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}},
               {"DeviceRequests": [{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}]}):
        st, body = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["true"], "HostConfig": hc})
        assert st == 400 and "not supported" in body["message"], hc
    # Zero values, as the docker CLI sends them, are fine.
    st, body = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["true"], "HostConfig": {
        "Memory": 0, "Binds": None, "Tmpfs": {}, "ReadonlyRootfs": False, "RestartPolicy": {"Name": "no"}}})
    assert st == 201
    daemon.api("DELETE", "/containers/" + body["Id"])


def test_stdin_sent_before_start_is_delivered(daemon):
    """The docker CLI streams stdin as soon as attach is up, before start:
    everything sent then must reach the container, however large."""
    st, c = daemon.api("POST", "/containers/create", body={"Image": "busybox", "Cmd": ["wc", "-c"],
                                                           "OpenStdin": True, "StdinOnce": True,
                                                           "AttachStdin": True, "AttachStdout": True})
    cid = c["Id"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    s.sendall(b"POST /v1.41/containers/%s/attach?stdin=1&stdout=1&stream=1 HTTP/1.1\r\nHost: x\r\n"
              b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n" % cid.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    payload = b"y" * (3 << 20)
    s.sendall(payload)
    time.sleep(0.3)  # let the daemon hold it all before the start
    assert daemon.api("POST", "/containers/%s/start" % cid)[0] == 204
    s.shutdown(socket.SHUT_WR)
    data = b""
    s.settimeout(30)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    out = b""
    while data:
        n = int.from_bytes(data[4:8], "big")
        out += data[8:8 + n]
        data = data[8 + n:]
    assert out.strip() == str(len(payload)).encode()
    daemon.api("DELETE", "/containers/%s?force=1" % cid)
