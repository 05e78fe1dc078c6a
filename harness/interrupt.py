"""SIGTERM taken as Ctrl-C while containers run, so that one cleanup path serves both.

A command that starts containers (or cluster jobs) removes them when it is interrupted; Python
turns Ctrl-C into KeyboardInterrupt, but SIGTERM (a `kill`, a CI runner's stop, Slurm's own
end of a job) would end the process at once and leave them behind.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import FrameType


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (elsewhere, where
    no handler can be set, nothing changes); the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_threads(threads: Iterable[threading.Thread]) -> None:
    """Start every thread, then wait for them all in short joins: a bare join() would hold off
    KeyboardInterrupt (Ctrl-C, or SIGTERM under `sigterm_as_interrupt`) until the thread ends,
    and the containers it runs could not be stopped in time."""
    started = list(threads)
    for t in started:
        t.start()
    for t in started:
        while t.is_alive():
            t.join(0.2)
