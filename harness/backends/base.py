"""What a backend is: run one probe under given caps, stream its records, say how it ended.

The search and the sweep only see this interface, never Docker or cgroups. A probe runs the
workload entry point `python -m harness.workloads.run REQUEST.json`, which writes JSON lines
(one record per line) to the records file named in the request; the backend tails that file
and hands each record to `on_record` as it arrives, so a crash loses nothing already measured.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.profile import Caps, CoreShare, Enforcement, Outcome

Record = dict[str, Any]
OnRecord = Callable[[Record], None]


class BackendError(RuntimeError):
    """The backend cannot run probes at all (no engine, a cap above the host's size...)."""


@dataclass
class ProbeRequest:
    """Everything the workload needs; serialised as REQUEST.json for the child."""

    spec: dict[str, Any]  # JobSpec.model_dump(mode="json")
    caps: Caps
    workdir: Path  # holds request.json, records.jsonl, stderr.log
    data_dir: Path | None = None  # dataset folder (mounted read-only in containers)
    timeout_s: float = 900.0
    threads: int | None = None  # torch intra-op threads; None = from the granted CPUs
    workers: int | None = None  # loader workers; None = from the spec / granted CPUs
    overrides: dict[str, Any] = field(default_factory=dict)  # -b, --max-iterations...
    env: dict[str, str] = field(default_factory=dict)
    node_rank: int = 0
    nnodes: int = 1
    master_addr: str | None = None
    master_port: int | None = None
    # read bandwidth of the dataset's disk, MB/s (Docker: --device-read-bps); None = uncapped
    disk_read_mbps: float | None = None

    @property
    def request_file(self) -> Path:
        return self.workdir / "request.json"

    @property
    def records_file(self) -> Path:
        return self.workdir / "records.jsonl"

    @property
    def stderr_file(self) -> Path:
        return self.workdir / "stderr.log"

    def to_json(self, records_path: str, data_dir: str | None) -> str:
        """The request as the child sees it; paths given as the child will see them."""
        return json.dumps(
            {
                "spec": self.spec,
                "caps": self.caps.model_dump(mode="json"),
                "records": records_path,
                "data_dir": data_dir,
                "threads": self.threads,
                "workers": self.workers,
                "overrides": self.overrides,
                "node_rank": self.node_rank,
                "nnodes": self.nnodes,
                "master_addr": self.master_addr,
                "master_port": self.master_port,
            },
            indent=1,
        )


@dataclass
class ProbeRun:
    outcome: Outcome
    records: list[Record]
    duration_s: float
    enforced: Enforcement | None = None
    exit_code: int | None = None
    reason: str | None = None
    log_tail: list[str] = field(default_factory=list)
    cpu_time_s: float | None = None
    peak_rss_mb: float | None = None
    image: str | None = None
    container: str | None = None
    shared_cores: list[CoreShare] = field(default_factory=list)  # see harness/cores.py


class Backend(Protocol):
    name: str

    def describe(self) -> str:
        """One line for the user: what runs the probes and how caps are enforced."""
        ...

    def host_cpus(self) -> int: ...

    def run_probe(self, request: ProbeRequest, on_record: OnRecord | None = None) -> ProbeRun:
        """Run one probe to its end; never raises for a probe that failed, only records it."""
        ...

    def cleanup(self) -> None:
        """Remove anything left running (called on Ctrl-C and at exit)."""
        ...


def read_records(path: Path, start: int = 0) -> tuple[list[Record], int]:
    """Complete JSON lines from byte offset `start`; returns them and the new offset.

    A trailing partial line (the child still writing it) is left for the next read.
    """
    if not path.exists():
        return [], start
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read()
    out: list[Record] = []
    end = data.rfind(b"\n")
    if end < 0:
        return out, start
    for line in data[: end + 1].splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out, start + end + 1


def tail_lines(path: Path, n: int = 20) -> list[str]:
    if not path.exists():
        return []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ln.strip()][-n:]


def block_device(path: Path) -> str | None:
    """/dev/NAME of the whole disk that holds `path` (a partition's parent), or None when the
    file system sits on no block device (tmpfs, overlay of overlays, a network mount)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    sysdev = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    try:
        real = sysdev.resolve(strict=True)
    except OSError:
        return None
    if (real / "partition").exists():
        real = real.parent
    dev = Path("/dev") / real.name
    return str(dev) if dev.exists() else None


def seen_cpuset(records: list[Record]) -> list[int] | None:
    """The cores the probe could run on, as it read them itself: the CPU affinity of its
    `grant` record (harness/telemetry/grant.py), kept in the profile as `granted.affinity`."""
    for r in records:
        if r.get("type") == "grant" and isinstance(r.get("affinity"), list) and r["affinity"]:
            return [int(c) for c in r["affinity"]]
    return None


def refusal(records: list[Record]) -> str | None:
    """The workload's own reason for not running as asked (a clock it may not lock), if any.

    A refusal is not a crash: the probe did what it must, stop before measuring anything at
    a clock other than the one asked for.
    """
    for r in reversed(records):
        if r.get("type") == "refused":
            return str(r.get("reason") or "refused by the workload (no reason given)")
    return None
