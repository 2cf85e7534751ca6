"""ps: Docker's filters (GET /containers/json), --format, -q/-n/-l/-s, through
berth's CLI, the API and the real docker CLI (part of the lifecycle issue)."""
import json
import os
import urllib.parse

import pytest

from conftest import make_busybox_tar


def run_ok(daemon, *args):
    r = daemon.cli(*args)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


@pytest.fixture
def fleet(daemon):
    """Five containers, created in this order (ps lists newest first):
    ps-web running (tier=front), ps-db running (tier=back), ps-job exited 3
    (tier=batch), ps-ok exited 0, ps-new created and never started."""
    ids = {}
    ids["ps-web"] = run_ok(daemon, "run", "-d", "--name", "ps-web", "-l", "tier=front", "-l", "team=web",
                           "busybox", "sleep", "60").strip()
    ids["ps-db"] = run_ok(daemon, "run", "-d", "--name", "ps-db", "-l", "tier=back", "busybox", "sleep", "60").strip()
    ids["ps-job"] = run_ok(daemon, "run", "-d", "--name", "ps-job", "-l", "tier=batch", "busybox",
                           "sh", "-c", "exit 3").strip()
    ids["ps-ok"] = run_ok(daemon, "run", "-d", "--name", "ps-ok", "busybox", "true").strip()
    ids["ps-new"] = run_ok(daemon, "create", "--name", "ps-new", "busybox", "true").strip()
    assert run_ok(daemon, "wait", "ps-job", "ps-ok").split() == ["3", "0"]
    yield ids
    for cid in daemon.api("GET", "/containers/json?all=1")[1]:
        daemon.api("DELETE", "/containers/%s?force=1" % cid["Id"])


def names(daemon, *args):
    return run_ok(daemon, "ps", "--format", "{{.Names}}", *args).split()


def test_default_lists_running_and_all_lists_newest_first(daemon, fleet):
    assert names(daemon) == ["ps-db", "ps-web"]
    assert names(daemon, "-a") == ["ps-new", "ps-ok", "ps-job", "ps-db", "ps-web"]


def test_filter_name_id_label(daemon, fleet):
    assert names(daemon, "-f", "name=ps-web") == ["ps-web"]
    # A name filter is a regular expression searched in "/name" and "name".
    assert names(daemon, "-a", "-f", "name=^/ps-(web|db)$") == ["ps-db", "ps-web"]
    assert names(daemon, "-a", "-f", "name=o") == ["ps-ok", "ps-job"]
    # Values of one key are alternatives; keys combine with AND.
    assert names(daemon, "-a", "-f", "name=ps-web", "-f", "name=ps-new") == ["ps-new", "ps-web"]
    assert names(daemon, "-a", "-f", "name=ps-web", "-f", "label=tier=back") == []
    assert names(daemon, "-f", "id=" + fleet["ps-db"][:12]) == ["ps-db"]
    assert names(daemon, "-a", "-f", "id=" + fleet["ps-new"]) == ["ps-new"]
    assert names(daemon, "-a", "-f", "label=tier") == ["ps-job", "ps-db", "ps-web"]
    assert names(daemon, "-a", "-f", "label=tier=back") == ["ps-db"]
    # Every label value must hold.
    assert names(daemon, "-a", "-f", "label=tier=front", "-f", "label=team=web") == ["ps-web"]
    assert names(daemon, "-a", "-f", "label=tier=front", "-f", "label=team=db") == []


def test_filter_status_and_exited(daemon, fleet):
    # A status filter lists stopped containers without -a (moby's rule).
    assert names(daemon, "-f", "status=exited") == ["ps-ok", "ps-job"]
    assert names(daemon, "-f", "status=created") == ["ps-new"]
    assert names(daemon, "-f", "status=running") == ["ps-db", "ps-web"]
    assert names(daemon, "-f", "status=running", "-f", "status=created") == ["ps-new", "ps-db", "ps-web"]
    # exited does not imply -a; a container that never ran has no exit code.
    assert names(daemon, "-f", "exited=3") == []
    assert names(daemon, "-a", "-f", "exited=3") == ["ps-job"]
    assert names(daemon, "-a", "-f", "exited=0") == ["ps-ok"]
    assert names(daemon, "-a", "-f", "status=exited", "-f", "label=tier") == ["ps-job"]
    assert names(daemon, "-f", "health=none") == ["ps-db", "ps-web"]
    assert names(daemon, "-a", "-f", "network=none") == ["ps-new", "ps-ok", "ps-job", "ps-db", "ps-web"]
    assert names(daemon, "-a", "-f", "before=ps-job") == ["ps-db", "ps-web"]
    assert names(daemon, "-a", "-f", "since=ps-job") == ["ps-new", "ps-ok"]
    st = json.loads(run_ok(daemon, "ps", "-a", "-f", "name=ps-new", "--format", "{{json .}}"))
    assert st["State"] == "created" and st["Status"] == "Created"


def test_filter_ancestor(daemon, fleet, tmp_path):
    marker = tmp_path / "marker"
    marker.write_text("other\n")
    tar = make_busybox_tar(str(tmp_path / "other.tar"), [(str(marker), "/marker")])
    run_ok(daemon, "import", tar, "ps-other:1")
    other_id = json.loads(run_ok(daemon, "inspect", "ps-other:1"))[0]["Id"]
    run_ok(daemon, "run", "-d", "--name", "ps-child", "ps-other:1", "sleep", "60")
    assert names(daemon, "-f", "ancestor=ps-other:1") == ["ps-child"]
    assert names(daemon, "-f", "ancestor=" + other_id.split(":")[1][:12]) == ["ps-child"]
    assert names(daemon, "-f", "ancestor=busybox") == ["ps-db", "ps-web"]
    assert names(daemon, "-f", "ancestor=busybox", "-f", "ancestor=ps-other:1") == ["ps-child", "ps-db", "ps-web"]
    # An unknown image matches nothing (moby skips it with a warning).
    assert names(daemon, "-a", "-f", "ancestor=no-such-image") == []
    run_ok(daemon, "rm", "-f", "ps-child")
    run_ok(daemon, "rmi", "ps-other:1")


def test_quiet_last_latest_no_trunc(daemon, fleet):
    q = run_ok(daemon, "ps", "-q", "-f", "status=exited").split()
    assert q == [fleet["ps-ok"][:12], fleet["ps-job"][:12]]
    assert run_ok(daemon, "ps", "-q", "--no-trunc", "-f", "name=ps-db").split() == [fleet["ps-db"]]
    # -n and -l include every state.
    assert names(daemon, "-n", "2") == ["ps-new", "ps-ok"]
    assert names(daemon, "-l") == ["ps-new"]
    assert run_ok(daemon, "ps", "-l", "-q") == fleet["ps-new"][:12] + "\n"
    # -q wins over a custom format, with docker's warning.
    r = daemon.cli("ps", "-q", "--format", "{{.Names}}", "-f", "name=ps-web")
    assert r.returncode == 0 and r.stdout == fleet["ps-web"][:12] + "\n"
    assert "Ignoring custom format" in r.stderr


def test_format_table_plain_json(daemon, fleet):
    out = run_ok(daemon, "ps", "-a", "--format", "table {{.Names}}\\t{{.State}}\\t{{.Label \"tier\"}}",
                 "-f", "name=ps-(web|job|new)")
    assert out.splitlines() == [
        "NAMES     STATE     tier",
        "ps-new    created   ",
        "ps-job    exited    batch",
        "ps-web    running   front",
    ]
    # Without "table": no header, \t is a tab.
    out = run_ok(daemon, "ps", "--format", "{{.ID}}\\t{{.Names}}:{{.Status}}", "-f", "name=ps-web")
    cid, rest = out.rstrip("\n").split("\t")
    assert cid == fleet["ps-web"][:12] and rest.startswith("ps-web:Up ")
    row = json.loads(run_ok(daemon, "ps", "--format", "{{json .}}", "-f", "name=ps-db"))
    assert row["Names"] == "ps-db" and row["ID"] == fleet["ps-db"][:12] and row["State"] == "running"
    assert row["Command"] == '"sleep 60"' and row["Image"] == "busybox" and row["Labels"] == "tier=back"
    assert row["Networks"] == "none" and row["RunningFor"].endswith("ago")
    assert row["Size"].startswith("0B (virtual ")  # {{json .}} reads .Size: sizes are asked for
    # --format json is {{json .}}, one object per line.
    assert [json.loads(l)["Names"] for l in run_ok(daemon, "ps", "--format", "json").splitlines()] == \
        ["ps-db", "ps-web"]
    out = run_ok(daemon, "ps", "--format", "{{upper .Names}} {{.Names | json}} {{pad .State 1 1}}|",
                 "-f", "name=ps-db")
    assert out == 'PS-DB "ps-db"  running |\n'
    # The default table, with -s a SIZE column.
    lines = run_ok(daemon, "ps", "-s", "-f", "name=ps-web").splitlines()
    assert lines[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES",
                                "SIZE"]
    assert lines[1].startswith(fleet["ps-web"][:12] + "   busybox   \"sleep 60\"")
    assert "ps-web" in lines[1] and "(virtual " in lines[1]


def test_bad_filters_and_templates(daemon, fleet):
    r = daemon.cli("ps", "-f", "foo=bar")
    assert r.returncode == 1 and "Invalid filter 'foo'" in r.stderr
    r = daemon.cli("ps", "-f", "status=sleeping")
    assert r.returncode == 1 and "Invalid filter 'status=sleeping'" in r.stderr
    r = daemon.cli("ps", "-f", "health=great")
    assert r.returncode == 1 and "Unrecognised filter value for health: great" in r.stderr
    r = daemon.cli("ps", "-f", "exited=x")
    assert r.returncode == 1 and "invalid syntax" in r.stderr
    r = daemon.cli("ps", "-f", "before=nobody")
    assert r.returncode == 1 and "No such container: nobody" in r.stderr
    r = daemon.cli("ps", "-f", "novalue")
    assert r.returncode == 1 and "bad format of filter (expected name=value)" in r.stderr
    r = daemon.cli("ps", "--format", "{{.Nope}}")
    assert r.returncode == 1
    assert "can't evaluate field Nope in type *formatter.ContainerContext" in r.stderr
    r = daemon.cli("ps", "--format", "{{.Names")
    assert r.returncode == 1 and "unclosed action" in r.stderr


def test_api_query_parameters(daemon, fleet):
    def get(query):
        st, body = daemon.api("GET", "/containers/json?" + query)
        assert st == 200, body
        return [c["Names"][0] for c in body]
    enc = urllib.parse.quote
    # The older list encoding of filters.
    assert get("filters=" + enc(json.dumps({"name": ["ps-web", "ps-db"]}))) == ["/ps-db", "/ps-web"]
    assert get("all=1&filters=" + enc(json.dumps({"status": {"exited": True}, "label": {"tier": True}}))) == \
        ["/ps-job"]
    assert get("limit=2") == ["/ps-new", "/ps-ok"]
    assert get("limit=-1&all=0&size=0&trunc_cmd=0") == ["/ps-db", "/ps-web"]  # docker-py's list()
    assert get("all=1&before=ps-ok&since=ps-web") == ["/ps-job", "/ps-db"]
    st, body = daemon.api("GET", "/containers/json?size=1&filters=" + enc(json.dumps({"name": {"ps-web": True}})))
    assert st == 200 and body[0]["SizeRw"] >= 0 and body[0]["SizeRootFs"] > body[0]["SizeRw"]
    assert body[0]["State"] == "running" and body[0]["NetworkSettings"]["Networks"].keys() == {"none"}
    st, body = daemon.api("GET", "/containers/json")
    assert "SizeRw" not in body[0]
    st, body = daemon.api("GET", "/containers/json?filters=" + enc('{"name":'))
    assert st == 400
    st, body = daemon.api("GET", "/containers/json?filters=" + enc('{"bogus":{"x":true}}'))
    assert st == 400 and body["message"] == "Invalid filter 'bogus'"
    st, body = daemon.api("GET", "/containers/json?limit=x")
    assert st == 400


def test_sizes_count_what_the_container_wrote(daemon, fleet):
    run_ok(daemon, "run", "--name", "ps-writer", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /tmp/blob")
    st, body = daemon.api("GET", "/containers/json?all=1&size=1&filters=" +
                          urllib.parse.quote(json.dumps({"name": {"ps-writer": True}})))
    assert st == 200 and len(body) == 1
    assert 300000 <= body[0]["SizeRw"] < 400000
    image_size = body[0]["SizeRootFs"] - body[0]["SizeRw"]
    assert image_size > 100000
    assert "300kB (virtual " in run_ok(daemon, "ps", "-a", "-f", "name=ps-writer", "--format", "{{.Size}}")


def test_docker_cli_filters_and_format(daemon, fleet, docker):
    r = docker("ps", "--filter", "status=exited", "--format", "{{.Names}}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ps-ok", "ps-job"]
    r = docker("ps", "-a", "--filter", "label=tier=back", "-q")
    assert r.returncode == 0 and r.stdout.split() == [fleet["ps-db"][:12]]
    r = docker("ps", "-a", "--filter", "exited=3", "--format", "table {{.Names}}\t{{.Status}}")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAMES", "STATUS"] and lines[1].startswith("ps-job") and "Exited (3)" in lines[1]
    r = docker("ps", "--filter", "foo=bar")
    assert r.returncode != 0 and "Invalid filter 'foo'" in r.stderr
    r = docker("ps", "-a", "-n", "1", "--format", "{{.Names}} {{.State}}")
    assert r.returncode == 0 and r.stdout == "ps-new created\n"
