"""How a probe run as a Slurm job ended, from Slurm's word and the probe's records (pure).

Slurm's states map as every backend's outcomes do:

| Slurm state | outcome | reason |
|---|---|---|
| COMPLETED (exit 0) | ok | |
| OUT_OF_MEMORY, or a MemoryError in the workload | oom | the cgroup's OOM killer at --mem |
| TIMEOUT, DEADLINE | timed_out | Slurm's --time |
| cancelled by the harness at the probe's time limit | timed_out | |
| FAILED, CANCELLED, NODE_FAIL, PREEMPTED, ... | crashed | state, reason, exit, last error |

A probe the workload itself refused (a clock it may not lock) is `refused`, as elsewhere.
"""

from __future__ import annotations

from harness.backends.base import Record, refusal
from harness.profile import Outcome
from harness.slurm.commands import JobState


def classify(
    state: JobState | None, records: list[Record], timed_out_s: float | None = None
) -> tuple[Outcome, str | None]:
    """`timed_out_s`: the harness cancelled the job after that many seconds of running."""
    errors = [str(r.get("message", "")) for r in records if r.get("type") == "error"]
    err = f": {errors[-1]}" if errors else ""
    if timed_out_s is not None:
        return Outcome.timed_out, f"no end after {timed_out_s:g} s; cancelled (scancel)"
    if state is None:
        return Outcome.crashed, "Slurm no longer knows the job (scontrol and sacct)" + err
    where = f" on {state.nodes}" if state.nodes else ""
    code = f"exit {state.exit_code}" + (f", signal {state.signal}" if state.signal else "")
    why = f" ({state.reason})" if state.reason else ""
    if state.state == "OUT_OF_MEMORY":
        return Outcome.oom, f"out of memory: Slurm's cgroup OOM killer at --mem{where}"
    if errors and errors[-1].startswith("MemoryError"):
        return Outcome.oom, "out of memory: an allocation failed at the memory cap (MemoryError)"
    if state.state in ("TIMEOUT", "DEADLINE"):
        return Outcome.timed_out, f"Slurm ended it at its time limit ({state.state}){where}"
    if state.state == "COMPLETED" and state.exit_code == 0:
        return Outcome.ok, None
    refused = refusal(records)
    if refused is not None:
        return Outcome.refused, refused
    if state.state == "NODE_FAIL":
        return Outcome.crashed, f"node failure{where}{why}{err}"
    return Outcome.crashed, f"Slurm {state.state}{why}{where}, {code}{err}"
