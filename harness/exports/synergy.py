"""Synergy's per-job CPU x memory throughput table, from training profiles.

Synergy's simulator keeps, per job model, a ModelStats (simulator/models/<name>_1.py, copied
into the job by jobs/model.py `use_scores_from_tput` and jobs/workload.py
`add_synergy_profile`):

- `tput`: a 9 x 5 array indexed by `Job.cpu_val` (CPUs per GPU: 1, 2, 3, 4, 5, 6, 9, 12, 24)
  and `Job.mem_val` (GB per GPU: 20.83, 62.5, 125, 187.5, 250), normalised to the fair share
  (3 CPUs and 62.5 GB per GPU on its default servers of 24 CPUs, 500 GB and 8 GPUs), so the
  fair cell is 1.0; opt_algo/synergy_opt.py multiplies it with its allocation variables and
  reads `tput[get_idx(cpu_val, c)][get_idx(mem_val, m)]` (an exact match of grid values);
- `cpus`, `mem`: the job's ideal demand per GPU, grid values (the smallest configuration
  within 1% of the best, as the packing solver's `ideal_config`); `speedup`: its normalised
  throughput there; `iter_time`: seconds per iteration at the fair share; `batch`;
- `speed` (storage MB/s per GPU) and `placement_penalty`, which this harness does not measure:
  written as ModelStats's own defaults (62.5, 1).

Each cell comes from a throughput function (images/s per GPU at CPUs and GB per GPU, with
where it came from: `measured`, `interpolated` or `extrapolated`), which the command builds
from the profile the way the packing solver does (solver/packing/table.py `curve_model`);
`source` keeps that per cell, and `images_per_s` the absolute rates. Synergy has no loader of
its own for such a table (its JSON reader, jobs/model.py `update_res_score_from_json`, drops
what it reads); a ModelStats whose `update_stats` sets these fields from one entry of this
file is what it imports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CPU_VAL: tuple[float, ...] = (1, 2, 3, 4, 5, 6, 9, 12, 24)  # simulator/jobs/job.py Job.cpu_val
MEM_VAL: tuple[float, ...] = (20.83, 62.5, 125, 187.5, 250)  # Job.mem_val, GB per GPU
FAIR_CPUS = 3.0  # its default cluster: 24 CPUs / 8 GPUs per server
FAIR_MEM_GB = 62.5  # 500 GB / 8 GPUs
STORAGE_MBPS = 62.5  # ModelStats.speed default: not measured here
PLACEMENT_PENALTY = 1.0  # ModelStats.placement_penalty default: not measured here
NEAR_BEST = 0.99  # the ideal demand: the smallest configuration within 1% of the best

# (CPUs per GPU, GB per GPU) -> (images/s per GPU, "measured" | "interpolated" | "extrapolated")
Throughput = Callable[[float, float], tuple[float, str]]


class SynergyError(ValueError):
    """A profile that cannot make a Synergy table; one line naming it and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SynergyModel(_Strict):
    """One job model, with ModelStats's field names (per GPU)."""

    name: str
    gpus: int = Field(default=1, description="the table is per GPU, as Synergy's <name>_1")
    cpus: float = Field(description="ideal CPUs per GPU (a cpu_val)")
    mem: float = Field(description="ideal GB per GPU (a mem_val)")
    speed: float = Field(default=STORAGE_MBPS, description="storage MB/s per GPU: not measured")
    batch: int
    placement_penalty: float = PLACEMENT_PENALTY
    iter_time: float = Field(description="seconds per iteration at the fair share")
    iter_time_base: float = Field(description="the same (Synergy's models carry both)")
    speedup: float = Field(description="normalised throughput at the ideal demand")
    tput: list[list[float]] = Field(description="cpu_val x mem_val, 1.0 at the fair share")
    images_per_s: list[list[float]] = Field(description="the same cells in images/s per GPU")
    source: list[list[str]] = Field(description="measured | interpolated | extrapolated")
    profile: str = Field(description="the profile it was made from")


class SynergyTable(_Strict):
    format: Literal["harness-synergy/1"] = "harness-synergy/1"
    cpu_val: list[float]
    mem_val: list[float]
    fair_cpus: float
    fair_mem_gb: float
    models: dict[str, SynergyModel]


def model_of(
    name: str,
    throughput: Throughput,
    batch: int,
    profile: str,
) -> SynergyModel:
    """The job's table on Synergy's grid; SynergyError when it has no rate at the fair share."""
    cpu_val, mem_val, fair = CPU_VAL, MEM_VAL, (FAIR_CPUS, FAIR_MEM_GB)
    cells = [[throughput(c, m) for m in mem_val] for c in cpu_val]
    fair_ips = cells[cpu_val.index(fair[0])][mem_val.index(fair[1])][0]
    if not fair_ips > 0:
        raise SynergyError(
            f"{profile}: no throughput at the fair share ({fair[0]:g} CPUs, {fair[1]:g} GB per "
            f"GPU): Synergy normalises every cell by it"
        )
    tput = [[ips / fair_ips for ips, _ in row] for row in cells]
    if not all(math.isfinite(x) and x >= 0 for row in tput for x in row):
        raise SynergyError(
            f"{profile}: a throughput that is not a finite number of images/s over the fair "
            f"share's {fair_ips:g}"
        )
    best = max(max(row) for row in tput)
    near = [
        (c, m, tput[i][j])
        for i, c in enumerate(cpu_val)
        for j, m in enumerate(mem_val)
        if tput[i][j] >= best * NEAR_BEST
    ]
    cpus, mem, speedup = min(near, key=lambda x: (x[0], x[1]))
    iter_time = batch / fair_ips
    return SynergyModel(
        name=name,
        cpus=cpus,
        mem=mem,
        batch=batch,
        iter_time=iter_time,
        iter_time_base=iter_time,
        speedup=speedup,
        tput=tput,
        images_per_s=[[ips for ips, _ in row] for row in cells],
        source=[[src for _, src in row] for row in cells],
        profile=profile,
    )


def table(models: Sequence[SynergyModel]) -> SynergyTable:
    """The file: Synergy's grid and fair share, and one entry per job model (by name)."""
    out: dict[str, SynergyModel] = {}
    for m in models:
        if m.name in out:
            raise SynergyError(
                f"{m.profile}: job {m.name!r} is also in {out[m.name].profile}; Synergy keeps "
                f"one table per job model"
            )
        out[m.name] = m
    return SynergyTable(
        cpu_val=list(CPU_VAL),
        mem_val=list(MEM_VAL),
        fair_cpus=FAIR_CPUS,
        fair_mem_gb=FAIR_MEM_GB,
        models=out,
    )
