"""berth on a pure cgroup v2 host (issue 3). This machine is hybrid, so the
test boots one: Debian's stock kernel under qemu (TCG), an initramfs with
berth, cgroup2 alone mounted (tests/vm/). The guest runs
tests/vm/guest_checks.sh and reports one "CHECK <name> PASS|FAIL" line per
check on its serial console; every check must be there and pass.

Needs the Debian package mirror once (apt-get download of the kernel, then
cached under the build directory) and qemu-system-x86 (scripts/install-deps.sh).
Without them the test fails: it never skips."""
import os
import shutil
import sys
import tempfile

import pytest

from conftest import BERTH, PROBE, ROOT_DIR

sys.path.insert(0, os.path.join(ROOT_DIR, "tests/vm"))
import build_initramfs  # noqa: E402
import run_guest  # noqa: E402

# In the order guest_checks.sh runs them.
CHECKS = ["only_cgroup2", "info_cgroup_version", "daemon_monitor_leaves", "cgroup_namespace", "device_program",
          "device_flags", "memory_oom", "pids_limit", "cpu_cpuset_pids_knobs", "pause_unpause", "stop_timeout",
          "exec_update_stats_top", "restart_on_failure", "run_init", "cgroups_removed", "daemon_restart",
          "shared_start_cgroup"]


@pytest.fixture(scope="module")
def guest():
    if shutil.which(run_guest.QEMU) is None:
        pytest.fail("%s is missing: run scripts/install-deps.sh (package qemu-system-x86)" % run_guest.QEMU)
    build_dir = os.path.dirname(os.path.abspath(BERTH))
    for f in (BERTH, os.path.join(build_dir, "berth-init"), PROBE):
        if not os.path.exists(f):
            pytest.fail("%s is missing: build berth first" % f)
    with tempfile.TemporaryDirectory(prefix="berth-vm-") as tmp:
        initramfs = os.path.join(tmp, "initramfs.cpio")
        try:
            vmlinuz = build_initramfs.prepare(build_dir, initramfs, probe=PROBE)
        except build_initramfs.GuestError as e:
            pytest.fail("cannot prepare the cgroup2 guest: %s" % e)
        yield run_guest.boot(vmlinuz, initramfs)


def test_guest_boots_and_reports(guest):
    assert guest.summary is not None, "the guest printed no SUMMARY (qemu exit %d after %.0fs):\n%s" % (
        guest.returncode, guest.seconds, guest.output[-12000:])
    assert guest.returncode == 0, guest.output[-12000:]
    print("guest: %.1fs in qemu, daemon ready at %ss of guest uptime, %d checks passed"
          % (guest.seconds, guest.ready_at, guest.summary[0]))


@pytest.mark.parametrize("name", CHECKS)
def test_check(guest, name):
    verdict = guest.checks.get(name)
    assert verdict == "PASS", "check %s: %s\n--- guest console ---\n%s" % (
        name, verdict or "not reported", guest.output[-12000:])


def test_no_unexpected_checks(guest):
    # A check added to guest_checks.sh is listed here too, so that a guest
    # that stops early cannot pass by reporting fewer.
    assert sorted(guest.checks) == sorted(CHECKS), guest.output[-4000:]
    assert guest.summary == (len(CHECKS), 0)
