"""Watching a child process's open files (tests that race a command)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def wait_until_open(proc: subprocess.Popen[str], path: Path, seconds: float,
                    held: float = 0.05) -> None:
    """Until the process has had ``path`` open for ``held`` seconds, or it
    ended, or ``seconds`` passed. Without /proc, waits 1.5 s instead."""
    target = str(path.resolve())
    fds = Path(f"/proc/{proc.pid}/fd")
    deadline = time.monotonic() + seconds
    opened: float | None = None
    while proc.poll() is None and time.monotonic() < deadline:
        if not fds.is_dir():  # no /proc here: give it time to start instead
            time.sleep(1.5)
            return
        try:
            is_open = any(os.readlink(fds / fd) == target for fd in os.listdir(fds))
        except OSError:
            continue  # a descriptor closed while we looked
        if not is_open:
            opened = None
        elif opened is None:
            opened = time.monotonic()
        elif time.monotonic() - opened >= held:
            return
        time.sleep(0.002)
