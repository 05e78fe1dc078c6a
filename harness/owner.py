"""Which process made a container, a network or a cgroup, so that what a killed harness process
left behind is found and removed later, and nothing a live one holds is touched.

A process killed outright (SIGKILL, the OOM killer, a closed session) runs no clean-up: its
containers stay (running ones keep their cores, which the engine's core accounting then counts
as busy), and so do its cgroups and any probe still running in them. Each thing the harness
makes therefore names its owner: this host, its boot, the PID namespace, the PID and that
process's start time (so a PID the kernel has since given to another process is not taken for
the owner). `gone` says True only when all of that can be checked from here and the owner is
not running; whatever another host, boot or namespace made is never judged (None).
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
ENDED = ("Z", "X")  # /proc/PID/stat states of a process that runs no more: zombie, dead


@dataclass(frozen=True)
class Owner:
    host: str
    boot: str  # /proc/sys/kernel/random/boot_id
    pidns: str  # the inode of /proc/self/ns/pid
    pid: int
    start: int  # the process's start time, clock ticks since boot (/proc/PID/stat field 22)

    def label(self) -> str:
        return f"{self.host}/{self.boot}/{self.pidns}/{self.pid}/{self.start}"

    @classmethod
    def parse(cls, text: str | None) -> Owner | None:
        """The owner a label names, or None for a label this harness did not write."""
        parts = (text or "").split("/")
        if len(parts) != 5 or not (parts[3].isdigit() and parts[4].isdigit()):
            return None
        return cls(parts[0], parts[1], parts[2], int(parts[3]), int(parts[4]))


def _stat(pid: int, proc: Path = PROC) -> list[str] | None:
    """/proc/PID/stat from field 3 (the state) on; None when there is no such process."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    return stat[stat.rfind(")") + 2 :].split()


def zombie(pid: int, proc: Path = PROC) -> bool:
    """Whether the process has ended and only waits for its parent to collect its status: it
    runs no code any more (no clean-up either), yet its PID and /proc entry stay."""
    fields = _stat(pid, proc)
    return fields is not None and fields[0] in ENDED


def start_time(pid: int, proc: Path = PROC) -> int | None:
    """A running process's start time in clock ticks since boot; None when it does not exist
    or has ended (a zombie: killed, its parent not yet told)."""
    fields = _stat(pid, proc)
    if fields is None or fields[0] in ENDED:
        return None
    return int(fields[19])  # field 22 of the whole line


def _read(path: Path, default: str) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def _pidns(proc: Path = PROC) -> str:
    try:
        return os.readlink(proc / "self" / "ns" / "pid").split("[")[-1].rstrip("]")
    except OSError:
        return "unknown"


def me() -> Owner:
    """This process, as an owner (read once per PID: a forked child is its own owner)."""
    return _owner_of(os.getpid())


@functools.cache
def _owner_of(pid: int) -> Owner:
    return Owner(
        host=socket.gethostname(),
        boot=_read(PROC / "sys" / "kernel" / "random" / "boot_id", "unknown"),
        pidns=_pidns(),
        pid=pid,
        start=start_time(pid) or 0,
    )


def gone(owner: Owner, here: Owner | None = None, proc: Path = PROC) -> bool | None:
    """True when `owner` is a process of this host's namespace that has ended (its PID free or
    held by a later process); False while it runs; None when this process cannot tell (another
    host, boot or PID namespace, or facts it could not read)."""
    here = here or me()
    if owner.host != here.host or "unknown" in (owner.boot, here.boot, owner.pidns, here.pidns):
        return None
    if owner.boot != here.boot:
        return True  # this host has restarted since: every process of the old boot ended
    if owner.pidns != here.pidns:
        return None
    started = start_time(owner.pid, proc)
    return started is None or started != owner.start
