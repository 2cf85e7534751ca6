#!/usr/bin/python3
"""Boots the pure-cgroup2 guest under qemu (TCG) and collects its verdicts.

The guest (tests/vm/build_initramfs.py) runs tests/vm/guest_checks.sh and
prints one "CHECK <name> PASS|FAIL" line per check and a "SUMMARY" line on
its serial console, which qemu gives us on stdout, then powers off.

    usage: run_guest.py   (builds the guest from ../../build, boots it, prints the console)
"""
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build_initramfs  # noqa: E402

QEMU = "qemu-system-x86_64"
# console on the first serial port; a panic reboots at once, which
# -no-reboot turns into qemu exiting. cgroup_no_v1=all keeps every controller
# off v1 hierarchies (nothing in the guest mounts one: there is no systemd, so
# systemd.unified_cgroup_hierarchy would mean nothing).
CMDLINE = "console=ttyS0 panic=-1 quiet cgroup_no_v1=all"


class GuestResult:
    def __init__(self, output, returncode, seconds):
        self.output = output
        self.returncode = returncode
        self.seconds = seconds
        self.checks = dict(re.findall(r"^CHECK (\S+) (PASS|FAIL)", output, re.M))
        m = re.search(r"^SUMMARY pass=(\d+) fail=(\d+)", output, re.M)
        self.summary = (int(m.group(1)), int(m.group(2))) if m else None
        m = re.search(r"^GUEST daemon pid \d+ ready at ([\d.]+)s", output, re.M)
        self.ready_at = float(m.group(1)) if m else None


def boot(vmlinuz, initramfs, timeout=240):
    """Runs the guest to its poweroff; the console output is the result."""
    args = [QEMU, "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "2", "-nographic", "-no-reboot",
            "-nic", "none", "-kernel", vmlinuz, "-initrd", initramfs, "-append", CMDLINE]
    t = time.monotonic()
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out, rc = r.stdout, r.returncode
    except subprocess.TimeoutExpired as e:
        # subprocess.run killed qemu (our own child) on the timeout.
        out, rc = (e.stdout or b"") + b"\n[run_guest: qemu timed out after %ds]\n" % timeout, -1
    text = out.decode(errors="replace").replace("\r\n", "\n")
    return GuestResult(text, rc, time.monotonic() - t)


def main():
    build_dir = os.path.join(build_initramfs.ROOT_DIR, "build")
    with tempfile.TemporaryDirectory(prefix="berth-vm-") as tmp:
        initramfs = os.path.join(tmp, "initramfs.cpio")
        vmlinuz = build_initramfs.prepare(build_dir, initramfs)
        res = boot(vmlinuz, initramfs)
    sys.stdout.write(res.output)
    print("[run_guest: %.1fs, qemu exit %d, summary %s]" % (res.seconds, res.returncode, res.summary))
    sys.exit(0 if res.summary and res.summary[1] == 0 and res.summary[0] > 0 else 1)


if __name__ == "__main__":
    main()
