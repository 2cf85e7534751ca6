"""bench/background.py: the CPU of the machine's other tenants in a window."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../bench"))
import background  # noqa: E402

SPIN = [sys.executable, "-c", "while True: pass"]


def test_a_busy_tenant_is_counted_and_a_later_process_is_not():
    tenant = subprocess.Popen(SPIN)
    try:
        time.sleep(0.2)
        bg = background.Background(period=0.05).start()
        assert any(pid == tenant.pid for pid, _ in bg.pids)
        # Started after the sampler's snapshot: the benchmark's own work, not a tenant's.
        later = subprocess.Popen(SPIN)
        try:
            t0 = time.perf_counter()
            time.sleep(1.0)
            t1 = time.perf_counter()
        finally:
            later.kill()
            later.wait()
        bg.stop()
        total, top = bg.window(t0, t1)
        # One spinning tenant: about a CPU's worth (ms per second), whatever
        # the other spinner took; the rest of the machine's tenants are idle.
        assert 600 <= total <= 1400, (total, top)
        name = os.path.basename(sys.executable)[:15]
        assert top and max(top, key=top.get) == name and top[name] >= 600, top
        # A window before anything was sampled, or an empty one, takes nothing.
        assert bg.window(t1, t0) == (0.0, {})
    finally:
        tenant.kill()
        tenant.wait()


def test_a_reused_pid_is_not_a_tenant():
    sleeper = subprocess.Popen(["sleep", "30"])
    bg = background.Background(pids=[(sleeper.pid, 0)], period=0.05)  # a start time that is not its own
    bg.start()
    time.sleep(0.2)
    bg.stop()
    assert bg.totals[-1] == 0.0 and bg.names == {}
    sleeper.kill()
    sleeper.wait()
