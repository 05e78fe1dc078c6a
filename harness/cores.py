"""Cores for probes and nodes that run on one host at the same time: disjoint sets, a refusal
when the host has too few, or, asked for (`--allow-oversubscribe`), shared ones written down.

Peers pin every run's cpuset from core 0 (Synergy) or ignore the pinning they are given, so
two runs on one host share cores without a word and each measures the fight. Here:

- `assign` (pure) gives each want ceil(cpus) cores from the top core down (core 0 takes the
  host's interrupts), never a core already busy, and raises `CoresRefused` (one line: how many
  cores were needed, how many the host has and how many are busy) when they do not fit. With
  `allow_oversubscribe` it shares the least-used cores instead, and `Grant.shared` says which
  cores went to whom;
- `overlaps` (pure) finds the cores two or more holders have, from any cpusets: those planned
  or those read inside the probes (their CPU affinity), which is what the profile records;
- `CoreLedger` keeps the cores in use on this host across processes (two `harness profile`
  runs at once): a lease file per running probe under a lock, dropped when the probe ends or
  its process is gone. Wants that fit the host but find cores held by others wait for them
  (up to `wait_s`, default HARNESS_CORES_WAIT_S or 600 s) before they are refused: a probe of
  a concurrent sweep queues behind the one holding its cores. Wants the host can never hold
  are refused at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness import owner
from harness.backends.base import BackendError
from harness.profile import CoreShare

OVERSUBSCRIBE = "--allow-oversubscribe"


class CoresRefused(BackendError):
    """Probes or nodes that would run at once on one host do not fit its cores (one line)."""


class CoresBusy(CoresRefused):
    """They would fit the host's cores, but other probes hold some of them now."""


Busy = Mapping[int, Sequence[str]]
BusyNow = Callable[[], Busy]  # the cores others hold, read again at every try


@dataclass(frozen=True)
class Want:
    """`cpus` CPUs for `name` (a node, a probe); it gets ceil(cpus) whole cores."""

    name: str
    cpus: float

    @property
    def cores(self) -> int:
        return max(1, math.ceil(self.cpus - 1e-9))


@dataclass
class Grant:
    """Each want's cores; `busy` the cores others held then; `shared` who shares which."""

    cpusets: dict[str, list[int]]
    busy: dict[int, list[str]] = field(default_factory=dict)
    shared: list[CoreShare] = field(default_factory=list)


def core_text(cores: Sequence[int]) -> str:
    """`0-3,6` for [0, 1, 2, 3, 6]."""
    out: list[str] = []
    xs = sorted(set(cores))
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        out.append(str(xs[i]) if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ",".join(out)


def parse_cores(text: str) -> list[int]:
    """[0, 1, 2, 3, 6] for `0-3,6` (a cpuset list as the kernel and Docker write it)."""
    out: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return sorted(out)


def assign(
    wants: Sequence[Want],
    cores: Sequence[int],
    busy: Mapping[int, Sequence[str]] | None = None,
    *,
    allow_oversubscribe: bool = False,
    what: str | None = None,
    host: str | None = None,
) -> Grant:
    """Disjoint cores for every want, from the top core down, none of them busy.

    `busy`: cores already held by others on this host (core -> holders). `what` names the
    request in the refusal (e.g. "--nnodes 2 x --cpu 2"). Raises CoresRefused when the wants
    do not fit in the free cores, unless `allow_oversubscribe`: then a want short of free cores
    also takes the least-used ones, and the grant's `shared` says which cores went to whom.
    """
    held: dict[int, list[str]] = {c: list(v) for c, v in (busy or {}).items() if v}
    order = sorted(set(cores), reverse=True)
    need = sum(w.cores for w in wants)
    free = [c for c in order if c not in held]
    if need > len(free) and not allow_oversubscribe:
        kind = CoresBusy if need <= len(order) else CoresRefused
        raise kind(_refusal(wants, need, order, held, what, host))
    users: dict[int, list[str]] = {c: list(held.get(c, [])) for c in order}
    cpusets: dict[str, list[int]] = {}
    for w in wants:
        if w.cores > len(order):
            raise CoresRefused(
                f"{what or w.name}: {w.cpus:g} CPUs asked for one "
                f"{'node' if w.name.startswith('node') else 'probe'}, but "
                f"{host or 'the host'} has {len(order)} cores"
            )
        # fewest holders first; among equals, the top core first (core 0 last)
        pick = sorted(order, key=lambda c: (len(users[c]), -c))[: w.cores]
        for c in pick:
            users[c].append(w.name)
        cpusets[w.name] = sorted(pick)
    return Grant(cpusets=cpusets, busy=held, shared=overlaps(cpusets, held, host=host))


def _refusal(
    wants: Sequence[Want],
    need: int,
    order: list[int],
    busy: Mapping[int, Sequence[str]],
    what: str | None,
    host: str | None,
) -> str:
    many = len(wants) > 1
    sizes = {w.cpus for w in wants}
    if many and len(sizes) == 1:
        per = f"{len(wants)} x {wants[0].cpus:g} CPUs at once need"
    elif many:
        per = " + ".join(f"{w.cpus:g}" for w in wants) + " CPUs at once need"
    else:
        per = f"{wants[0].cpus:g} CPUs need"
    head = f"{what}: " if what else ""
    where = host or "this host"
    held = ""
    if busy:
        others = sorted({h for hs in busy.values() for h in hs})
        held = (
            f", {len(busy)} of them ({core_text(list(busy))}) in use by "
            f"{', '.join(others[:3])}{' ...' if len(others) > 3 else ''}"
        )
    return (
        f"{head}{per} {need} cores of their own on one host, but {where} has "
        f"{len(order)} ({core_text(order)}){held}; ask for fewer CPUs"
        f"{' or nodes' if many else ''}, or pass {OVERSUBSCRIBE} to run on shared cores and "
        f"record them in the profile"
    )


def overlaps(
    cpusets: Mapping[str, Sequence[int]],
    busy: Mapping[int, Sequence[str]] | None = None,
    *,
    host: str | None = None,
) -> list[CoreShare]:
    """The cores that two or more holders have (the cpusets' holders and `busy`'s), grouped
    by who holds them: one CoreShare per group, in core order. Empty when all are disjoint."""
    holders: dict[int, list[str]] = {}
    for c, names in (busy or {}).items():
        holders.setdefault(c, []).extend(names)
    for name, cs in cpusets.items():
        for c in cs:
            holders.setdefault(c, []).append(name)
    groups: dict[tuple[str, ...], list[int]] = {}
    for c in sorted(holders):
        names = tuple(sorted(set(holders[c])))
        if len(names) > 1 and any(n in cpusets for n in names):
            groups.setdefault(names, []).append(c)
    return [
        CoreShare(cores=cs, by=list(names), host=host)
        for names, cs in sorted(groups.items(), key=lambda kv: kv[1][0])
    ]


# ---------------------------------------------------------------- across processes


def default_wait_s() -> float:
    """How long a probe waits for cores others hold before it is refused (seconds)."""
    try:
        return max(0.0, float(os.environ.get("HARNESS_CORES_WAIT_S", "600")))
    except ValueError:
        return 600.0


def assign_waiting(
    wants: Sequence[Want],
    cores: Sequence[int],
    busy_now: BusyNow,
    *,
    allow_oversubscribe: bool = False,
    what: str | None = None,
    host: str | None = None,
    wait_s: float | None = None,
    poll_s: float = 0.5,
    hold: Callable[[Grant], None] | None = None,
    lock: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
) -> Grant:
    """`assign` around what `busy_now` says, tried again every `poll_s` while the cores are
    held by others (CoresBusy), for up to `wait_s`; then its refusal is raised. `hold` records
    the grant (under `lock`, with the reading of who is busy) before the lock is let go."""
    deadline = time.monotonic() + (default_wait_s() if wait_s is None else wait_s)
    while True:
        with lock() if lock is not None else contextlib.nullcontext():
            try:
                grant = assign(
                    wants,
                    cores,
                    busy_now(),
                    allow_oversubscribe=allow_oversubscribe,
                    what=what,
                    host=host,
                )
            except CoresBusy:
                if time.monotonic() >= deadline:
                    raise
            else:
                if hold is not None:
                    hold(grant)
                return grant
        time.sleep(poll_s)


def default_ledger_dir() -> Path:
    return Path(
        os.environ.get("HARNESS_CORES_DIR") or Path(tempfile.gettempdir()) / "harness-cores"
    )


class CoreLedger:
    """The cores harness probes hold on this host, shared by every harness process on it: one
    JSON lease file per holder ({"pid", "start", "cpusets": {name: cores}}), read and written
    under an exclusive lock. A lease whose process is gone (ended, or its PID since given to a
    later process: "start" is its start time, harness/owner.py) holds nothing and is removed."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_ledger_dir()

    def busy(self) -> dict[int, list[str]]:
        """core -> the holders of live leases (their names carry their process id)."""
        out: dict[int, list[str]] = {}
        if not self.root.is_dir():
            return out
        for f in sorted(self.root.glob("*.json")):
            try:
                lease = json.loads(f.read_text())
                pid = int(lease["pid"])
                sets = dict(lease["cpusets"])
                start = None if lease.get("start") is None else int(lease["start"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if not _holds(pid, start):
                with contextlib.suppress(OSError):
                    f.unlink()
                continue
            for name, cs in sets.items():
                tag = f"(pid {pid})"
                who = name if name.endswith(tag) else f"{name} {tag}"
                for c in cs:
                    out.setdefault(int(c), []).append(who)
        return out

    @contextlib.contextmanager
    def lease(
        self,
        wants: Sequence[Want],
        cores: Sequence[int],
        *,
        allow_oversubscribe: bool = False,
        what: str | None = None,
        host: str | None = None,
        extra_busy: Busy | BusyNow | None = None,
        wait_s: float | None = None,
    ) -> Iterator[Grant]:
        """Assign the wants (see `assign`) around the cores other live leases (and
        `extra_busy`: a mapping, or a function read at every try) hold, waiting up to `wait_s`
        for held cores to be let go, and hold them until the block ends. CoresRefused, with
        nothing held, when they do not fit."""
        self._mkdir()
        pid = os.getpid()
        path = self.root / f"{pid}-{uuid.uuid4().hex[:8]}.json"

        def busy_now() -> dict[int, list[str]]:
            busy = self.busy()
            extra = extra_busy() if callable(extra_busy) else (extra_busy or {})
            for c, names in extra.items():
                busy.setdefault(c, []).extend(n for n in names if n not in busy.get(c, []))
            return busy

        def hold(grant: Grant) -> None:
            lease = {"pid": pid, "start": owner.me().start, "cpusets": grant.cpusets}
            path.write_text(json.dumps(lease))

        grant = assign_waiting(
            wants,
            cores,
            busy_now,
            allow_oversubscribe=allow_oversubscribe,
            what=what,
            host=host,
            wait_s=wait_s,
            hold=hold,
            lock=self._locked,
        )
        try:
            yield grant
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def _mkdir(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # shared by every user of the host, like /tmp
                os.chmod(self.root, 0o1777)
        except OSError as exc:
            raise BackendError(
                f"cannot keep the cores in use in {self.root}: {exc.strerror or exc} "
                f"(set HARNESS_CORES_DIR to a writable folder)"
            ) from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.root / ".lock", os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def _holds(pid: int, start: int | None) -> bool:
    """Whether a lease's process still runs: alive, and (when the lease says) started when
    the lease's maker did; a start time this process cannot read (another user's, hidden)
    leaves the PID's word."""
    if not _alive(pid):
        return False
    now = owner.start_time(pid) if start is not None else None
    return now is None or now == start


def _alive(pid: int) -> bool:
    """Whether the lease's process still runs: a zombie (killed, not yet collected by its
    parent) holds nothing, or one parent that never waits would keep its cores for good."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return not owner.zombie(pid)
