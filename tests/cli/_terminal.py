"""Running ``govledger`` on a real pseudo-terminal and reading what the terminal showed."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from collections.abc import Mapping, Sequence
from pathlib import Path


def on_a_terminal(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    columns: int,
    stdout_too: bool,
    timeout: float,
) -> str:
    """
    Run ``argv`` with stderr (and stdout when ``stdout_too``) on a new pseudo-terminal of 24
    rows and ``columns`` columns; everything the terminal showed until the process closed it.
    """
    leader, follower = pty.openpty()
    # A new pseudo-terminal is 0 columns wide; give it the size of a real one.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=follower if stdout_too else subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    proc.wait(timeout=timeout)
    return shown.decode(errors="replace")
