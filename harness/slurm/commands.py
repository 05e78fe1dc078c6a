"""Slurm's own commands, run and read: sbatch, scontrol, sacct, squeue, scancel, sinfo.

The harness schedules nothing itself: a probe is a batch job, Slurm picks its node and cores,
its cgroup plugin enforces the caps, and these commands say how the job ended. The parsers are
pure functions of the commands' text (tested without a cluster).

A finished job is read from `scontrol show job` (slurmctld keeps it for MinJobAge seconds,
300 by default) and, once forgotten there, from `sacct` (where the cluster has accounting).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from harness.backends.base import BackendError

TERMINAL = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)
PENDING = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "RESV_DEL_HOLD", "SUSPENDED"})


class SlurmError(BackendError):
    """A Slurm command failed or is missing: one line naming the command and its error."""


@dataclass(frozen=True)
class JobState:
    """What Slurm says of one job (exit_code and signal from Slurm's `code:signal`)."""

    job_id: str
    state: str  # COMPLETED, RUNNING, OUT_OF_MEMORY, ... (the first word: 'CANCELLED by 0')
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    nodes: str | None = None

    @property
    def done(self) -> bool:
        return self.state in TERMINAL

    @property
    def running(self) -> bool:
        return self.state not in PENDING and not self.done


def run(cmd: Sequence[str], timeout: float = 60.0) -> str:
    """stdout of a Slurm command; SlurmError (one line) when it is missing or fails."""
    if shutil.which(cmd[0]) is None:
        raise SlurmError(f"{cmd[0]}: not found (is Slurm installed? see .ci/slurm.sh)")
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{cmd[0]}: no answer within {timeout:g} s") from None
    if proc.returncode != 0:
        err = " ".join((proc.stderr or proc.stdout).split()) or f"exit {proc.returncode}"
        raise SlurmError(f"{cmd[0]}: {err}")
    return proc.stdout


def available() -> tuple[bool, str]:
    """(slurmctld answers, why)."""
    try:
        out = run(["scontrol", "ping"], timeout=15)
    except SlurmError as exc:
        return False, str(exc)
    up = "UP" in out
    return up, " ".join(out.split()) if out.strip() else "scontrol ping said nothing"


def parse_sbatch(text: str) -> str:
    """The job id from `sbatch --parsable` ('123' or '123;cluster')."""
    line = text.strip().splitlines()[-1] if text.strip() else ""
    job = line.split(";")[0].strip()
    if not job.isdigit():
        raise SlurmError(f"sbatch: expected a job id, got {text.strip()!r}")
    return job


def submit(script: str, args: Sequence[str]) -> str:
    """Submit a batch script file with sbatch options; returns the job id."""
    return parse_sbatch(run(["sbatch", "--parsable", *args, script]))


_KV = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9/:_]*)=(\S*)")


def parse_scontrol(text: str) -> dict[str, str]:
    """`scontrol show job -o ID`'s key=value pairs (values without spaces suffice here)."""
    return {m.group(1): m.group(2) for m in _KV.finditer(text)}


def _code(text: str | None) -> tuple[int | None, int | None]:
    """Slurm's 'code:signal' -> (code, signal)."""
    if not text or ":" not in text:
        return None, None
    a, _, b = text.partition(":")
    try:
        return int(a), int(b)
    except ValueError:
        return None, None


def state_from_scontrol(job_id: str, text: str) -> JobState | None:
    kv = parse_scontrol(text)
    if "JobState" not in kv:
        return None
    code, sig = _code(kv.get("ExitCode"))
    reason = kv.get("Reason")
    return JobState(
        job_id=job_id,
        state=kv["JobState"],
        reason=None if reason in (None, "None", "(null)") else reason,
        exit_code=code,
        signal=sig,
        nodes=kv.get("NodeList") if kv.get("NodeList") not in (None, "(null)") else None,
    )


def state_from_sacct(job_id: str, text: str) -> JobState | None:
    """`sacct -n -P -X -j ID -o JobID,State,ExitCode,Reason,NodeList` -> its state."""
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) >= 5 and parts[0] == job_id:
            code, sig = _code(parts[2])
            return JobState(
                job_id=job_id,
                state=parts[1].split()[0] if parts[1] else "UNKNOWN",
                reason=parts[3] if parts[3] not in ("", "None") else None,
                exit_code=code,
                signal=sig,
                nodes=parts[4] or None,
            )
    return None


def job_state(job_id: str) -> JobState | None:
    """What Slurm says of the job now; None when neither scontrol nor sacct knows it."""
    try:
        st = state_from_scontrol(job_id, run(["scontrol", "show", "job", "-o", job_id]))
        if st is not None:
            return st
    except SlurmError:
        pass  # forgotten by slurmctld (MinJobAge): ask accounting
    try:
        fmt = "JobID,State,ExitCode,Reason,NodeList"
        return state_from_sacct(job_id, run(["sacct", "-n", "-P", "-X", "-j", job_id, "-o", fmt]))
    except SlurmError:
        return None


def cancel(job_ids: Sequence[str], signal: str | None = None) -> None:
    """scancel the jobs (quietly: a job already gone is not an error)."""
    if not job_ids:
        return
    sig = ["--signal", signal] if signal else []
    with contextlib.suppress(SlurmError):
        run(["scancel", "--quiet", *sig, *job_ids], timeout=30)


def my_jobs() -> list[tuple[str, str, str]]:
    """This user's jobs in the queue: (id, name, comment) each."""
    out = run(["squeue", "-h", "--me", "-o", "%i|%j|%k"])
    rows = [ln.split("|", 2) for ln in out.splitlines() if ln.count("|") >= 2]
    return [(i.strip(), name, comment.strip()) for i, name, comment in rows]


def queued(job_ids: Sequence[str]) -> list[str]:
    """Which of the jobs are still in the queue (pending, running or completing)."""
    if not job_ids:
        return []
    out = run(["squeue", "-h", "-o", "%i", "-j", ",".join(job_ids)])
    return [ln.strip() for ln in out.splitlines() if ln.strip()]


@dataclass(frozen=True)
class NodeRow:
    """One node of one partition, as sinfo lists it."""

    name: str
    partition: str
    features: str
    cpus: int
    memory_mb: int
    gres: str
    state: str


def parse_sinfo(text: str) -> list[NodeRow]:
    """`sinfo -h -N -o '%N|%P|%f|%c|%m|%G|%T'` -> rows (the default partition's '*' dropped)."""
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 7:
            continue
        name, part, feat, cpus, mem, gres, state = parts
        try:
            rows.append(
                NodeRow(
                    name,
                    part.rstrip("*"),
                    "" if feat == "(null)" else feat,
                    int(cpus),
                    int(mem.rstrip("+")),
                    "" if gres == "(null)" else gres,
                    state,
                )
            )
        except ValueError:
            continue
    return rows


def default_partition(text: str) -> str | None:
    """The partition sinfo marks with '*' (from the same listing as parse_sinfo)."""
    for line in text.splitlines():
        part = line.split("|")[1] if line.count("|") >= 1 else ""
        if part.endswith("*"):
            return part.rstrip("*")
    return None


def sinfo() -> str:
    return run(["sinfo", "-h", "-N", "-o", "%N|%P|%f|%c|%m|%G|%T"])


def node_addr(node: str) -> str:
    """The address other nodes reach `node` at (its NodeAddr; its name when none is set)."""
    kv = parse_scontrol(run(["scontrol", "show", "node", "-o", node]))
    return kv.get("NodeAddr") or node
