"""Real processes in states a test needs: here a zombie, a killed child its parent has not
yet waited for (its PID and /proc entry stay, though it runs nothing)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from harness import owner


@contextlib.contextmanager
def zombie() -> Iterator[tuple[int, int]]:
    """(pid, start time it had while it ran) of a child killed and left uncollected."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        start = owner.start_time(child.pid)
        assert start is not None
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, left uncollected
        assert owner.zombie(child.pid)
        yield child.pid, start
    finally:
        child.kill()
        child.wait()
