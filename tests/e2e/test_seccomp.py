"""Seccomp end to end: Docker's default profile applied by default,
seccomp=unconfined, a custom profile in Docker's JSON format (berth CLI and
the docker CLI, which both send the file's content), execs under the
container's profile, and the compiled program kept: one compile for many
starts, none after a daemon restart."""
import json


def report(daemon, flags=(), user=None):
    args = ["run", "--rm", *flags]
    if user:
        args += ["-u", user]
    r = daemon.cli(*args, "busybox", "/probe", "syscalls")
    assert r.returncode == 0, (r.stdout, r.stderr)
    return dict(l.split("=", 1) for l in r.stdout.split())


def status_field(daemon, field, flags=()):
    r = daemon.cli("run", "--rm", *flags, "busybox", "grep", field + ":", "/proc/self/status")
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout.split()[1]


def test_default_profile_refuses_what_docker_refuses(daemon):
    got = report(daemon)
    for call in ("unshare_user", "mount_tmpfs", "keyctl", "bpf", "kexec_load", "clone_newns", "personality_bad"):
        assert got[call] == "EPERM", (call, got)
    # clone3's flags are out of a filter's reach: ENOSYS makes libcs use clone.
    assert got["clone3"] == "ENOSYS", got
    # Numbers above every syscall the profile knows: ENOSYS, not EPERM.
    assert got["nr_1000"] == "ENOSYS", got
    assert got["mkdir"] == "ok", got
    assert status_field(daemon, "Seccomp") == "2"


def test_default_profile_for_a_user_with_and_without_no_new_privs(daemon):
    # Without no_new_privs the filter is loaded while CAP_SYS_ADMIN is still
    # held, before the user's capabilities are set.
    got = report(daemon, user="1000:1000")
    assert got["keyctl"] == "EPERM" and got["mkdir"] == "ok", got
    got = report(daemon, flags=("--security-opt", "no-new-privileges"), user="1000:1000")
    assert got["keyctl"] == "EPERM" and got["nr_1000"] == "ENOSYS", got
    assert status_field(daemon, "NoNewPrivs", ("--security-opt", "no-new-privileges", "-u", "1000")) == "1"


def test_unconfined_lets_the_kernel_decide(daemon):
    got = report(daemon, flags=("--security-opt", "seccomp=unconfined"))
    assert got["keyctl"] == "ok", got
    assert got["unshare_user"] == "ok", got
    assert got["personality_bad"] == "ok", got
    assert got["clone3"] != "ENOSYS", got
    assert status_field(daemon, "Seccomp", ("--security-opt", "seccomp=unconfined")) == "0"
    # What the default profile refuses even with the capability, the kernel
    # allows once unconfined: mount, bpf (EINVAL: it reached the kernel).
    got = report(daemon, flags=("--security-opt", "seccomp=unconfined", "--cap-add", "SYS_ADMIN"))
    assert got["mount_tmpfs"] == "ok" and got["bpf"] != "EPERM", got
    got = report(daemon, flags=("--cap-add", "SYS_ADMIN"))  # Docker's profile lets mount through with it
    assert got["mount_tmpfs"] == "ok" and got["keyctl"] == "EPERM", got
    r = daemon.cli("create", "--security-opt", "seccomp=unconfined", "busybox", "true")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        hc = json.loads(daemon.cli("inspect", cid).stdout)[0]["HostConfig"]
        assert hc["SecurityOpt"] == ["seccomp=unconfined"]
    finally:
        daemon.cli("rm", cid)


DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
}


def test_custom_profile_denying_mkdir(daemon, tmp_path):
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps(DENY_MKDIR, indent=2))
    r = daemon.cli("run", "--rm", "--security-opt", "seccomp=%s" % profile, "busybox", "mkdir", "/made")
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr, r.stderr
    got = report(daemon, flags=("--security-opt", "seccomp=%s" % profile))
    assert got["mkdir"] == "EPERM", got
    assert got["keyctl"] == "ok", got  # everything else allowed by this profile
    # inspect keeps the profile as sent (the CLI sends the file's content).
    r = daemon.cli("create", "--security-opt", "seccomp=%s" % profile, "busybox", "true")
    cid = r.stdout.strip()
    try:
        opt = json.loads(daemon.cli("inspect", cid).stdout)[0]["HostConfig"]["SecurityOpt"][0]
        assert opt.startswith("seccomp=")
        assert json.loads(opt[len("seccomp="):]) == DENY_MKDIR
    finally:
        daemon.cli("rm", cid)


def test_bad_profiles_are_refused_with_the_reason(daemon, tmp_path):
    before = daemon.cli("ps", "-a", "-q").stdout
    r = daemon.cli("run", "--rm", "--security-opt", "seccomp=/no/such/profile.json", "busybox", "true")
    assert r.returncode == 125
    assert "opening seccomp profile (/no/such/profile.json) failed" in r.stderr, r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO",
                               "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}))
    r = daemon.cli("run", "--rm", "--security-opt", "seccomp=%s" % bad, "busybox", "true")
    assert r.returncode == 125
    assert "seccomp profile: SCMP_ACT_NOTIFY" in r.stderr, r.stderr
    # The API checks what other clients send, too.
    status, body = daemon.api("POST", "/containers/create",
                              {"Image": "busybox", "Cmd": ["true"],
                               "HostConfig": {"SecurityOpt": ["seccomp={\"syscalls\": []}"]}})
    assert status == 400, (status, body)
    assert "defaultAction is missing" in body["message"]
    assert daemon.cli("ps", "-a", "-q").stdout == before


def test_exec_runs_under_the_containers_profile(daemon):
    r = daemon.cli("run", "-d", "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    try:
        r = daemon.cli("exec", cid, "/probe", "syscalls")
        assert r.returncode == 0, r.stderr
        got = dict(l.split("=", 1) for l in r.stdout.split())
        assert got["keyctl"] == "EPERM" and got["mkdir"] == "ok", got
    finally:
        daemon.cli("rm", "-f", cid)


def test_docker_cli_security_opt_seccomp(docker, tmp_path):
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps(DENY_MKDIR))
    r = docker("run", "--rm", "--security-opt", "seccomp=%s" % profile, "busybox", "mkdir", "/made")
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr, r.stderr
    r = docker("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "/probe", "syscalls")
    assert r.returncode == 0, r.stderr
    assert "keyctl=ok" in r.stdout.split()
    r = docker("run", "--rm", "busybox", "/probe", "syscalls")
    assert r.returncode == 0, r.stderr
    assert "keyctl=EPERM" in r.stdout.split()


def compiles_logged(d):
    return d.daemon_log().count("seccomp: compiled filter")


def test_profile_compiled_once_across_100_starts_and_kept_across_restarts(fresh):
    d = fresh
    for i in range(100):
        status, body = d.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})
        assert status == 201, body
        cid = body["Id"]
        status, body = d.api("POST", "/containers/%s/start" % cid)
        assert status == 204, body
    assert compiles_logged(d) == 1, d.daemon_log()
    info = d.api("GET", "/info")[1]
    assert info["BerthOffloads"]["seccomp"] == 1, info["BerthOffloads"]
    # Another capability set is another program.
    r = d.cli("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "true")
    assert r.returncode == 0, r.stderr
    assert compiles_logged(d) == 2
    d.stop()
    d.start()
    r = d.cli("run", "--rm", "busybox", "/probe", "syscalls")
    assert r.returncode == 0, r.stderr
    assert "keyctl=EPERM" in r.stdout.split()
    assert compiles_logged(d) == 2, "the program is read back from the data root, not compiled again"


def test_docker_sdk_security_options(daemon):
    docker_sdk = __import__("pytest").importorskip("docker")
    client = docker_sdk.DockerClient(base_url=daemon.host)
    # docker-py passes a profile's content itself.
    out = client.containers.run("busybox", "/probe syscalls", remove=True,
                                security_opt=["seccomp=" + json.dumps(DENY_MKDIR)])
    got = dict(l.split("=", 1) for l in out.decode().split())
    assert got["mkdir"] == "EPERM" and got["keyctl"] == "ok", got
    out = client.containers.run("busybox", "/probe syscalls", remove=True, security_opt=["seccomp=unconfined"])
    assert "keyctl=ok" in out.decode().split()
    # --privileged: no filter at all, a tmpfs can be mounted.
    out = client.containers.run("busybox", "sh -c 'grep Seccomp: /proc/self/status; mkdir -p /m && mount -t tmpfs t /m && echo ok'",
                                remove=True, privileged=True)
    assert out.decode().split() == ["Seccomp:", "0", "ok"], out
    # --read-only with a tmpfs: / refuses a write, /tmp takes it.
    out = client.containers.run("busybox", "sh -c 'touch /x 2>/dev/null || echo ro; touch /tmp/y && echo tmp'",
                                remove=True, read_only=True, tmpfs={"/tmp": "size=1m"})
    assert out.decode().split() == ["ro", "tmp"], out
