"""Runs a command on a real pseudo-terminal, as a user at a terminal would:
the command's stdin, stdout and stderr are the slave; the test types into
the master and reads what the terminal shows."""
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time


class PtySession:
    def __init__(self, argv, env=None, rows=24, cols=80):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = b""

    def read_until(self, needle, timeout=20):
        """Reads until `needle` (bytes) has appeared in the output; returns whether it did."""
        deadline = time.time() + timeout
        while needle not in self.output and time.time() < deadline:
            if not self._read(deadline - time.time()):
                break
        return needle in self.output

    def _read(self, wait):
        r, _, _ = select.select([self.master], [], [], max(0.0, min(wait, 0.5)))
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every slave descriptor is closed
            return False
        if not data:
            return False
        self.output += data
        return True

    def type(self, text, pause=0.05):
        os.write(self.master, text.encode() if isinstance(text, str) else text)
        time.sleep(pause)

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.killpg(self.proc.pid, signal.SIGWINCH)  # as the terminal would

    def wait(self, timeout=30):
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            self._read(0.2)
        while self._read(0.1) and self.proc.poll() is not None and select.select([self.master], [], [], 0)[0]:
            pass
        return self.proc.wait(max(0.1, deadline - time.time()))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self.master)
        except OSError:
            pass
