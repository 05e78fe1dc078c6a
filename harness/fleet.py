"""Several sweeps at once: `harness profile a.yaml b.yaml ...`, one sweep per job per node type.

Each sweep is the ordinary `Sweep` (its search, its profile rewritten after every probe, its
--resume); the fleet runs them side by side, one thread each, over a backend that can hold
several probes in flight (Slurm: each probe is a job and the cluster places it; the cores of
two probes on one node are never the same, select/cons_tres hands out whole cores). A backend
without that (local, docker) runs the sweeps one after another. Every profile is written on
this machine, one per job per node type (`node_types`: partitions or feature sets).

Ctrl-C (or SIGTERM) cancels every job in flight (`backend.cleanup()`); the probes done stay in
their profiles and `--resume` continues each sweep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backends.base import Backend, BackendError
from harness.interrupt import run_threads
from harness.options import ProfileOptions
from harness.profile import Outcome, Profile
from harness.spec import JobSpec
from harness.sweep import Sweep, SweepHooks

MAX_SWEEPS = 256  # jobs x node types of one command: more is a typo, not a plan


@dataclass
class Entry:
    """One sweep of the fleet: a job on one node type, where its profile goes, how it ended."""

    spec: JobSpec
    backend: Backend
    out: Path
    node_type: str | None = None  # None: the backend's one kind of machine
    sweep: Sweep | None = None
    profile: Profile | None = None
    error: str | None = None  # the sweep could not run (a BackendError), one line
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return self.spec.name + (f" [{self.node_type}]" if self.node_type else "")

    def outcomes(self) -> dict[Outcome, int]:
        return self.sweep.outcomes() if self.sweep is not None else {}


@dataclass
class FleetResult:
    entries: list[Entry]
    seconds: float
    interrupted: bool = False
    probes: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.probes = sum(sum(e.outcomes().values()) for e in self.entries)


def profile_path(
    out: Path | None, spec: JobSpec, backend: str, node_type: str | None, several: bool
) -> Path:
    """Where one sweep's profile goes: --out itself for a single sweep (given as a file),
    else `<out or profiles>/<job>-<backend>[-<node type>].json`."""
    if out is not None and not several and out.suffix == ".json":
        return out
    name = f"{spec.name}-{backend}" + (f"-{node_type}" if node_type else "")
    return (out or Path("profiles")) / f"{name}.json"


def check_out(out: Path | None, sweeps: int) -> str | None:
    """Several sweeps write several profiles: --out must then be a folder."""
    if sweeps > MAX_SWEEPS:
        return f"jobs x node types: expected at most {MAX_SWEEPS} sweeps, got {sweeps}"
    if out is not None and sweeps > 1 and out.suffix == ".json":
        return (
            f"--out: {sweeps} sweeps (jobs x node types) write one profile each: "
            f"give a folder, got {out}"
        )
    return None


def plan(
    specs: Sequence[JobSpec],
    backends: Sequence[tuple[str | None, Backend]],
    options: ProfileOptions,
    hooks: Callable[[JobSpec, str], SweepHooks],
) -> list[Entry]:
    """One sweep per job per node type (`backends`: (type name, backend for it)); each sweep
    refuses, before anything runs, a file at its `out` it must not overwrite (SweepRefused)."""
    several = len(specs) * len(backends) > 1
    entries = []
    for spec in specs:
        for type_name, backend in backends:
            out = profile_path(options.out, spec, backend.name, type_name, several)
            e = Entry(spec, backend, out, type_name)
            e.sweep = Sweep(
                spec,
                backend,
                options.model_copy(update={"out": out}),
                out,
                out.parent / ".work" / out.stem,
                hooks(spec, e.label),
            )
            entries.append(e)
    return entries


def _run_one(entry: Entry) -> None:
    from harness.backends.slurm import Interrupted

    assert entry.sweep is not None
    t0 = time.monotonic()
    try:
        entry.profile = entry.sweep.run()
    except Interrupted:
        pass  # the fleet is being stopped: the probes done are on disk
    except BackendError as exc:
        entry.error = str(exc)
    finally:
        entry.seconds = time.monotonic() - t0


def run(entries: list[Entry], concurrent: bool, on_interrupt: Callable[[], Any]) -> FleetResult:
    """Run every sweep (side by side when `concurrent`, else one after another). Ctrl-C calls
    `on_interrupt` (cancel what is in flight), waits for the sweeps to stop, and returns with
    `interrupted` set."""
    t0 = time.monotonic()
    if not concurrent:
        try:
            for e in entries:
                _run_one(e)
        except KeyboardInterrupt:
            on_interrupt()
            return FleetResult(entries, time.monotonic() - t0, interrupted=True)
        return FleetResult(entries, time.monotonic() - t0)
    threads = [threading.Thread(target=_run_one, args=(e,), daemon=True) for e in entries]
    try:
        run_threads(threads)
    except KeyboardInterrupt:
        on_interrupt()
        for t in threads:
            t.join(60)
        return FleetResult(entries, time.monotonic() - t0, interrupted=True)
    return FleetResult(entries, time.monotonic() - t0)


def mark_shared_cores(entries: list[Entry]) -> int:
    """Record in each probe that ran beside another on the same machine with overlapping
    cores (from the grants read inside them, and the times they ran) which cores it shared and
    with whom (`Probe.shared_cores`, as every backend records it), and save its profile.
    Slurm never gives one node's cores to two jobs, but two Slurm nodes can be one machine.
    Returns how many probes were marked."""
    from harness.telemetry.grant import shared_cores

    held = []
    for e in entries:
        sec = e.sweep.profile.train if e.sweep is not None else None
        for p in sec.probes if sec is not None else []:
            g = p.granted
            if g is not None and g.at is not None:
                name = f"{e.spec.name} probe {p.id} on {g.node}"
                held.append((e, p, name, g.model_dump(), g.at, g.at + p.duration_s))
    marked: set[int] = set()
    for i, (e, p, name, mine, t0, t1) in enumerate(held):
        beside = [(o[2], o[3]) for j, o in enumerate(held) if j != i and o[4] < t1 and t0 < o[5]]
        shares = shared_cores([mine, *(g for _, g in beside)], [name, *(n for n, _ in beside)])
        new = [s for s in shares[0] if s not in p.shared_cores]
        if new:
            p.shared_cores.extend(new)
            marked.add(id(e))
    for e in entries:
        if id(e) in marked and e.sweep is not None:
            e.sweep.save()
    return len(marked)


def describe_type(profile: Profile, node_type: Any) -> None:
    """Label a profile with the node type it was measured on (the packing problem reads one
    profile per job per server type): its name, CPUs and memory (the type's smallest node)."""
    profile.host.node_label = node_type.name
    profile.host.cores = node_type.cpus
    profile.host.memory_gb = round(node_type.memory_mb / 1024, 3)
