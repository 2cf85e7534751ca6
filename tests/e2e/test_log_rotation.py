"""json-file log rotation (--log-opt max-size, max-file) and --log-driver none:
what stays on disk, what logs and logs -f show around rotations."""
import glob
import json
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import BERTH


def log_files(daemon, cid):
    base = os.path.join(daemon.root, "containers", cid, cid + "-json.log")
    rotated = sorted(glob.glob(base + ".[0-9]*"), key=lambda p: int(p.rsplit(".", 1)[1]), reverse=True)
    return rotated + ([base] if os.path.exists(base) else [])  # oldest first


def lines_on_disk(daemon, cid):
    out = []
    for path in log_files(daemon, cid):
        with open(path) as f:
            out += [json.loads(l)["log"] for l in f if l.strip()]
    return out


def numbers(text, prefix="line-"):
    return [int(m) for m in re.findall(r"^" + prefix + r"(\d+)$", text, re.M)]


def assert_contiguous(nums, last):
    assert nums, "no lines"
    assert nums == list(range(nums[0], last + 1)), nums[:5] + ["..."] + nums[-5:]


PRINT_200 = "i=1; while [ $i -le 200 ]; do echo line-$i; i=$((i+1)); done"


def test_rotation_keeps_max_file_files_of_max_size(daemon, docker):
    r = daemon.cli("run", "--name", "rot-200", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
                   "busybox", "sh", "-c", PRINT_200)
    assert r.returncode == 0, r.stderr
    assert numbers(r.stdout) == list(range(1, 201))  # attach saw everything
    cid = json.loads(daemon.cli("inspect", "rot-200").stdout)[0]["Id"]
    info = json.loads(daemon.cli("inspect", "rot-200").stdout)[0]
    assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}}
    files = log_files(daemon, cid)
    assert [os.path.basename(f)[len(cid):] for f in files] == ["-json.log.2", "-json.log.1", "-json.log"]
    entry = max(len(l) for f in files for l in open(f))
    for f in files:
        # Rotated before a write once 1000 bytes are reached: at most one entry over.
        assert os.path.getsize(f) < 1000 + entry, f
    for f in files[:-1]:
        assert os.path.getsize(f) >= 1000, f
    logs = daemon.cli("logs", "rot-200")
    assert logs.returncode == 0, logs.stderr
    nums = numbers(logs.stdout)
    assert_contiguous(nums, 200)
    assert nums[0] > 1 and len(nums) < 60
    # Exactly what is still on disk, oldest file first.
    assert logs.stdout == "".join(lines_on_disk(daemon, cid))
    # --tail counts across the files too.
    assert numbers(daemon.cli("logs", "--tail", "30", "rot-200").stdout) == list(range(171, 201))
    r = docker("logs", "rot-200")
    assert r.returncode == 0 and r.stdout == logs.stdout
    daemon.cli("rm", "rot-200")


def test_max_file_one_replaces_the_file(daemon):
    r = daemon.cli("run", "--name", "rot-one", "--log-opt", "max-size=500", "busybox", "sh", "-c", PRINT_200)
    assert r.returncode == 0, r.stderr
    cid = json.loads(daemon.cli("inspect", "rot-one").stdout)[0]["Id"]
    files = log_files(daemon, cid)
    assert len(files) == 1 and os.path.getsize(files[0]) < 600
    nums = numbers(daemon.cli("logs", "rot-one").stdout)
    assert_contiguous(nums, 200)
    assert len(nums) < 10
    daemon.cli("rm", "rot-one")


def test_restart_appends_and_offsets_stay_consistent(daemon):
    cid = daemon.cli("create", "--name", "rot-again", "--log-opt", "max-size=2k", "--log-opt", "max-file=2",
                     "busybox", "sh", "-c", "n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n; "
                     "i=1; while [ $i -le 20 ]; do echo line-$(( (n-1)*20 + i )); i=$((i+1)); done").stdout.strip()
    for run in range(1, 4):
        r = daemon.cli("start", "-a", "rot-again")
        assert r.returncode == 0, r.stderr
        assert numbers(r.stdout) == list(range((run - 1) * 20 + 1, run * 20 + 1))
    nums = numbers(daemon.cli("logs", "rot-again").stdout)
    assert_contiguous(nums, 60)
    assert nums[0] > 1  # the first run's lines were rotated out
    assert len(log_files(daemon, cid)) == 2
    daemon.cli("rm", "rot-again")


class Follower:
    """berth logs -f in the background."""

    def __init__(self, daemon, name):
        self.proc = subprocess.Popen([BERTH, "-H", daemon.host, "--data-root", daemon.root, "--no-autostart",
                                      "logs", "-f", name],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = ""
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self):
        self.out = self.proc.stdout.read()

    def wait(self):
        try:
            self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.thread.join()
        return self.proc.returncode


def test_follow_across_rotations_loses_and_duplicates_nothing(daemon):
    # 40 bursts of 150 lines (about 11 kB each): several rotations a burst,
    # and followers that start while the files are being rotated.
    script = ("b=0; while [ $b -lt 40 ]; do i=0; while [ $i -lt 150 ]; do i=$((i+1)); "
              "echo line-$((b*150+i)); done; b=$((b+1)); sleep 0.02; done; echo line-done")
    cid = daemon.cli("run", "-d", "--name", "rot-follow", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
                     "busybox", "sh", "-c", script).stdout.strip()
    assert len(cid) == 64
    followers = []
    for _ in range(6):
        followers.append(Follower(daemon, "rot-follow"))
        time.sleep(0.07)
    for f in followers:
        assert f.wait() == 0, f.proc.stderr.read()
    assert daemon.cli("wait", "rot-follow").stdout.strip() == "0"
    final = lines_on_disk(daemon, cid)
    assert final[-1] == "line-done\n"
    for f in followers:
        assert f.out.endswith("line-done\n")
        nums = numbers(f.out)
        # No gap and no duplicate from the first line shown to the last.
        assert_contiguous(nums, 6000)
        assert f.out == "".join("line-%d\n" % n for n in nums) + "line-done\n"
    # A follower started after the exit shows what is on disk and ends.
    late = Follower(daemon, "rot-follow")
    assert late.wait() == 0
    assert late.out == "".join(final)
    daemon.cli("rm", "rot-follow")


def test_log_driver_none(daemon):
    r = daemon.cli("run", "--name", "nolog", "--log-driver", "none", "busybox", "echo", "hi")
    assert r.returncode == 0 and r.stdout == "hi\n"  # attach still streams
    info = json.loads(daemon.cli("inspect", "nolog").stdout)[0]
    assert info["HostConfig"]["LogConfig"]["Type"] == "none"
    assert log_files(daemon, info["Id"]) == []
    r = daemon.cli("logs", "nolog")
    assert r.returncode != 0 and "configured logging driver does not support reading" in r.stderr
    st, body = daemon.api("GET", "/containers/nolog/logs?stdout=1")
    assert st == 501 and body["message"] == "configured logging driver does not support reading"
    daemon.cli("rm", "nolog")


@pytest.mark.parametrize("args,message", [
    (["--log-opt", "max-size=abc"], "invalid size: 'abc'"),
    (["--log-opt", "max-size=0"], "max-size must be a positive number"),
    (["--log-opt", "max-file=0"], "max-file cannot be less than 1"),
    (["--log-opt", "max-file=two"], "invalid syntax"),
    (["--log-opt", "frequency=1"], "unknown log opt 'frequency' for json-file log driver"),
    (["--log-opt", "compress=true"], "not supported"),
    (["--log-driver", "syslog"], "logging driver syslog is not supported"),
    (["--log-driver", "bogus"], "logger: no log driver named 'bogus' is registered"),
    (["--log-driver", "none", "--log-opt", "max-size=1k"], "invalid logging opts for driver none"),
])
def test_bad_log_options(daemon, args, message):
    r = daemon.cli("run", "--rm", *args, "busybox", "true")
    assert r.returncode == 125, r.stderr
    assert message in r.stderr


def test_api_log_config(daemon):
    body = {"Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"LogConfig": {"Type": "", "Config": {"max-size": "10m", "max-file": "2"}}}}
    st, out = daemon.api("POST", "/containers/create", body)
    assert st == 201, out
    st, info = daemon.api("GET", "/containers/%s/json" % out["Id"])
    assert info["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "2"}}
    daemon.api("DELETE", "/containers/%s" % out["Id"])
    body["HostConfig"]["LogConfig"]["Config"] = {"max-size": "1x"}
    st, out = daemon.api("POST", "/containers/create", body)
    assert st == 400 and out["message"] == "invalid size: '1x'"
