"""Run a command with its stderr on a pseudo-terminal (where progress bars are drawn)."""

import fcntl
import os
import pty
import struct
import subprocess
import termios


def stderr_on_a_terminal(cmd, cwd=None, stdout=subprocess.DEVNULL, columns=120, timeout=900):
    """(exit status, what ``cmd`` wrote to its stderr, a terminal ``columns`` wide)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=slave, cwd=cwd)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=timeout)
    os.close(master)
    return code, b"".join(chunks).decode(errors="replace")
