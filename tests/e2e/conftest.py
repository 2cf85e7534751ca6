"""Fixtures for end-to-end tests: a berth daemon on its own data root and
socket, a busybox image (with the in-container probe) made offline, and
helpers to run the CLI. Every daemon, monitor and container a test starts is
stopped by the test; nothing else is ever killed."""
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import http.client

import pytest

BERTH = os.environ.get("BERTH_BINARY", os.path.join(os.path.dirname(__file__), "../../build/berth"))
PROBE = os.environ.get("BERTH_PROBE", os.path.join(os.path.dirname(__file__), "../../build/tests/berth_probe"))
ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Daemon:
    def __init__(self, base, wrap=None, env=None, args=None):
        self.base = base
        self.env = env  # extra environment for the daemon (and the monitors it starts)
        self.args = list(args or [])  # extra `berth daemon` flags
        self.root = os.path.join(base, "root")
        self.sock = os.path.join(base, "berth.sock")
        self.host = "unix://" + self.sock
        self.wrap = wrap or []
        self.proc = None

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        self.log = open(os.path.join(self.base, "daemon.log"), "ab")
        self.proc = subprocess.Popen(self.wrap + [BERTH, "daemon", "-H", self.host, "--data-root", self.root] + self.args,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, **self.env) if self.env else None)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("daemon exited: " + self.daemon_log())
            try:
                if self.api("GET", "/_ping")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("daemon did not answer: " + self.daemon_log())

    def daemon_log(self):
        try:
            with open(os.path.join(self.base, "daemon.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def monitor_pid(self):
        try:
            with open(os.path.join(self.root, "monitor.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def monitor_pids(self):
        """{shard: pid} of every monitor shard of this data root (monitor.pid, monitor-<k>.pid)."""
        out = {}
        for name in os.listdir(self.root) if os.path.isdir(self.root) else []:
            if name == "monitor.pid":
                k = 0
            elif name.startswith("monitor-") and name.endswith(".pid") and name[8:-4].isdigit():
                k = int(name[8:-4])
            else:
                continue
            try:
                with open(os.path.join(self.root, name)) as f:
                    out[k] = int(f.read().strip())
            except (OSError, ValueError):
                pass
        return out

    def teardown(self):
        if self.proc and self.proc.poll() is None:
            try:
                for c in self.api("GET", "/containers/json?all=1")[1]:
                    self.api("DELETE", "/containers/%s?force=1" % c["Id"])
            except Exception:
                pass
        self.stop()
        for pid in self.monitor_pids().values():
            # Every monitor shard of this data root was started by our daemon.
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if self.root.encode() in f.read():
                        os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # Containers left behind (a test that failed with its daemon down):
        # processes this test started, in this data root's cgroups only.
        for cg in cgroup_parents(self.root):
            for sub in sorted(os.listdir(cg)) if os.path.isdir(cg) else []:
                try:
                    with open(os.path.join(cg, sub, "cgroup.procs")) as f:
                        pids = [int(x) for x in f.read().split()]
                except OSError:
                    continue
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        for cg in cgroup_parents(self.root):
            for sub in sorted(os.listdir(cg)) if os.path.isdir(cg) else []:
                p = os.path.join(cg, sub)
                # On cgroup2 these include the daemon's and the monitors' leaves
                # (engine/cgroup/manager.h): busy until the SIGKILLed monitors exit.
                for _ in range(100) if os.path.isdir(p) else []:
                    try:
                        os.rmdir(p)
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY:
                            break
                        time.sleep(0.02)
            try:
                os.rmdir(cg)
            except OSError:
                pass
        if getattr(self, "log", None):
            self.log.close()  # nothing of ours left open in the data root (its filesystem may be unmounted next)
        shutil.rmtree(self.base, ignore_errors=True)

    def api(self, method, path, body=None, headers=None, timeout=60):
        conn = UnixHTTPConnection(self.sock, timeout=timeout)
        data = json.dumps(body) if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, "/v1.41" + path if not path.startswith("/_ping") else path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return resp.status, parsed

    def cli(self, *args, input=None, timeout=60, env=None):
        e = dict(os.environ)
        e.pop("BERTH_HOST", None)
        if env:
            e.update(env)
        return subprocess.run([BERTH, "-H", self.host, "--data-root", self.root, "--no-autostart"] + list(args),
                              capture_output=True, text=True, input=input, timeout=timeout, env=e)


def cgroup_parents(root):
    """The cgroup directories berth creates for a data root (see engine/cgroup/manager.h)."""
    import hashlib
    name = "berth-" + hashlib.sha256(root.encode()).hexdigest()[:8]
    out = []
    with open("/proc/self/cgroup") as f:
        mine = [l.rstrip("\n").split(":", 2) for l in f if l.strip()]
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split() for l in f]
    for m in mounts:
        dash = m.index("-")
        fstype, opts, mnt = m[dash + 1], m[dash + 3].split(","), m[4]
        for _, ctrls, path in mine:
            if fstype == "cgroup2" and ctrls == "":
                out.append(os.path.join(mnt + (path if path != "/" else ""), name))
            elif fstype == "cgroup" and ctrls and all(c in opts for c in ctrls.split(",")):
                out.append(os.path.join(mnt + (path if path != "/" else ""), name))
    return sorted(set(out))


def proc_stat(pid):
    """(state, ppid) of a process, None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def children(pid):
    """[(pid, state)] of the processes whose parent is pid."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            st = proc_stat(int(p))
            if st and st[1] == pid:
                out.append((int(p), st[0]))
    return out


def monitor_children(pid):
    """([zygote pids], [(pid, state)] of its other children) of a monitor:
    its zygotes (berth-zygote, one per CPU up to 4) and its containers."""
    zygotes, others = [], []
    for child, st in children(pid):
        try:
            with open("/proc/%d/comm" % child) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == "berth-zygote":
            zygotes.append(child)
        else:
            others.append((child, st))
    return zygotes, others


def container_dirs(d):
    """The names in <root>/containers of daemon d that belong to containers
    (or a pool's sandboxes): without the daemon's spare directories
    (removed containers' untouched directories kept for later creates:
    .spare-N, or a fresh container id where the spare cgroup of that name
    goes with it; GET /berth/spares)."""
    st, spares = d.api("GET", "/berth/spares")
    assert st == 200, spares
    kept = set(spares["Directories"])
    return [n for n in os.listdir(os.path.join(d.root, "containers")) if not n.startswith(".spare-") and n not in kept]


def exit_records(root):
    """The exit records the monitors of a data root hold and the daemon has
    not acknowledged: {container id: record}, read from every shard's
    journal (exits/shard-K.journal: record lines and {"ack": id} lines, see
    engine/monitor/exit_journal.h)."""
    out = {}
    d = os.path.join(root, "exits")
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not name.endswith(".journal"):
            continue
        with open(os.path.join(d, name)) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a torn last line
                if "ack" in rec:
                    if rec["ack"] in out and out[rec["ack"]].get("finished") == rec.get("finished"):
                        del out[rec["ack"]]
                elif "id" in rec:
                    out[rec["id"]] = rec
    return out


def make_busybox_tar(path, extra=()):
    args = [os.path.join(ROOT_DIR, "scripts/make-busybox-image.sh"), path]
    args += ["%s:%s" % (src, dst) for src, dst in extra]
    subprocess.run(args, check=True)
    return path


def import_path_search_image(daemon, tmp_path, tag):
    """Imports `tag`: busybox with commands at different places along PATH
    (engine/command_path.h). Returns the cases that tell the places apart:
    (run flags, command, its output)."""
    def script(name, text, mode):
        p = tmp_path / name
        p.write_text("#!/bin/sh\necho %s\n" % text)
        p.chmod(mode)
        return str(p)

    tar = make_busybox_tar(str(tmp_path / "path-search.tar"), [
        (script("a", "local", 0o755), "/usr/local/bin/which-one"),
        (script("b", "bin", 0o755), "/bin/which-one"),
        (script("c", "not-executable", 0o644), "/usr/bin/plain"),
        (script("d", "executable", 0o755), "/sbin/plain"),
    ])
    r = daemon.cli("import", tar, tag)
    assert r.returncode == 0, r.stderr
    return [
        ([], "which-one", "local\n"),                                   # the first along PATH
        (["-e", "PATH=/bin:/usr/local/bin"], "which-one", "bin\n"),     # the container's own PATH
        ([], "plain", "executable\n"),                                 # past a file without x bits
        ([], "echo", "\n"),                                             # a symlink (to busybox)
    ]


def daemon_with_busybox(prefix="berth-e2e-", env=None, dir=None, args=None):
    """A daemon on a data root of its own (below `dir`, default the temporary
    directory; `args`: extra daemon flags) with busybox:latest (the probe at
    /probe) imported; a generator for fixtures: torn down after the yield."""
    base = tempfile.mkdtemp(prefix=prefix, dir=dir)
    d = Daemon(base, env=env, args=args)
    try:
        d.start()
        tar = make_busybox_tar(os.path.join(base, "busybox.tar"), [(PROBE, "/probe")])
        r = d.cli("import", tar, "busybox:latest")
        assert r.returncode == 0, r.stderr
        yield d
    finally:
        d.teardown()


@pytest.fixture(scope="module")
def daemon():
    yield from daemon_with_busybox()


@pytest.fixture
def fresh():
    """A daemon of the test's own (restarted or killed by it)."""
    yield from daemon_with_busybox("berth-e2e-fresh-")


@pytest.fixture
def docker(daemon, tmp_path):
    """The real docker CLI against the daemon fixture; skips where it is not installed."""
    exe = shutil.which("docker")
    if not exe:
        pytest.skip("the docker CLI is not installed on this machine")
    env = dict(os.environ, DOCKER_HOST=daemon.host, DOCKER_CONFIG=str(tmp_path / "docker-config"))
    env.pop("DOCKER_CONTEXT", None)

    def run_docker(*args, timeout=60, input=None):
        return subprocess.run([exe] + list(args), capture_output=True, text=True, env=env, timeout=timeout,
                              input=input)
    return run_docker
