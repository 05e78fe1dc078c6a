"""`harness solve` for `kind: packing`: training jobs on servers by CPU, memory and GPU.

Solves the problem three ways (GPU-proportional, Synergy-TUNE greedy, SCIP), re-checks each
placement with the independent checker, prints a comparison and a table per server, and writes
`packing-placement.json` and `packing-servers.png` (resource share per job per server).

With no problem file: the Synergy cluster (16 servers of 8 GPUs, 24 CPUs, 500 GB) and one job
per training profile given, with the profile's GPU count (at least 1); the problem solved is
printed. Profiles on the command line can be named in a problem file by path, id or job name.
Extra options: target_gap (default 0.005), jobs_per_profile (default 1, no problem file only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from solver.packing_problem import (
    SYNERGY_CLUSTER,
    Instance,
    PackingProblem,
    Placement,
    build_instance,
)
from solver.problem import ProblemError, validate_as


class PackingSolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problem: dict[str, Any]
    placements: dict[str, Placement]
    checks: dict[str, list[str]]
    png: str | None = None


def load_train_profiles(paths: list[Path]) -> tuple[dict[str, Any], list[str]]:
    """Train profiles by path, id and job name; notes for files skipped (other kinds)."""
    from harness.profile import load_profile

    out: dict[str, Any] = {}
    notes = []
    for p in paths:
        prof = load_profile(p)
        if prof.kind != "train":
            notes.append(f"{p}: kind '{prof.kind}', not a training profile: skipped")
            continue
        for key in (str(p), prof.id, prof.job.name):
            out.setdefault(key, prof)
    return out, notes


def default_problem(paths: list[Path], per_profile: int = 1) -> dict[str, Any]:
    from harness.profile import load_profile

    jobs = []
    for p in paths:
        prof = load_profile(p)
        if prof.kind != "train" or prof.train is None:
            continue
        gpus = max([1] + [pr.caps.gpus for pr in prof.train.probes])
        for i in range(per_profile):
            suffix = f"-{i}" if per_profile > 1 else ""
            jobs.append({"name": f"{prof.job.name}{suffix}", "gpus": gpus, "profile": str(p)})
    if not jobs:
        raise ProblemError("no training profile given (need kind 'train' profiles or a problem)")
    return {
        "kind": "packing",
        "servers": [k.model_dump() for k in SYNERGY_CLUSTER],
        "jobs": jobs,
    }


def solve_all(
    inst: Instance, time_limit: float, target_gap: float = 0.005
) -> tuple[dict[str, Placement], dict[str, list[str]]]:
    from solver.packing import solve
    from solver.packing_baselines import admit, greedy, proportional
    from solver.packing_check import check

    pls = {
        "proportional": proportional(inst),
        "greedy": greedy(inst),
        "scip": solve(inst, time_limit=time_limit, target_gap=target_gap),
    }
    must, _ = admit(inst)  # the jobs every policy must place (in order, while GPUs are found)
    return pls, {k: check(inst, p, must) for k, p in pls.items()}


def servers_png(inst: Instance, pl: Placement, path: Path, max_servers: int = 64) -> None:
    """Stacked bars: each server's GPU, CPU and memory share, one colour per job."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    servers = [s for s in pl.servers if s.jobs][:max_servers] or pl.servers[:max_servers]
    idx = {s.server: i for i, s in enumerate(servers)}
    names = sorted({jp.job for jp in pl.jobs if jp.placed})
    cmap = plt.get_cmap("tab20")
    colour = {n: cmap(i % 20) for i, n in enumerate(names)}
    width = max(8.0, 0.35 * len(servers))
    fig, axes = plt.subplots(3, 1, figsize=(width, 8), sharex=True)
    caps = {s.server: (s.gpus, s.cpus, s.memory_gb) for s in servers}
    for r, label in enumerate(("GPU share", "CPU share", "memory share")):
        ax = axes[r]
        bottom = [0.0] * len(servers)
        for jp in pl.jobs:
            if not jp.placed:
                continue
            for part in jp.parts:
                i = idx.get(part.server)
                if i is None:
                    continue
                val = (part.gpus, part.cpus, part.memory_gb)[r] / caps[part.server][r]
                ax.bar(i, val, bottom=bottom[i], color=colour[jp.job], edgecolor="white", lw=0.3)
                bottom[i] += val
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(label)
    axes[-1].set_xticks(range(len(servers)))
    axes[-1].set_xticklabels([s.server for s in servers], rotation=90, fontsize=7)
    axes[0].set_title(
        f"{pl.policy}: normalised throughput {pl.objective:.2f}"
        + (f" (bound {pl.bound:.2f})" if pl.bound is not None else "")
    )
    if len(names) <= 20:
        from matplotlib.patches import Patch

        axes[0].legend(
            handles=[Patch(color=colour[n], label=n) for n in names],
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_tables(
    inst: Instance,
    pls: dict[str, Placement],
    checks: dict[str, list[str]],
    print_jobs: bool,
    note: str | None,
) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if note:
        con.print(note)
    best = pls["scip"]
    t = Table(title=f"packing {len(inst.jobs)} jobs on {len(inst.servers)} servers")
    for col in (
        "policy",
        "normalised thr.",
        "vs SCIP",
        "bound",
        "gap",
        "unplaced",
        "time s",
        "check",
    ):
        t.add_column(col)
    for name, pl in pls.items():
        rel = (best.objective - pl.objective) / best.objective if best.objective else 0.0
        t.add_row(
            name,
            f"{pl.objective:.4f}",
            "-" if name == "scip" else f"-{100 * rel:.2f}%",
            "-" if pl.bound is None else f"{pl.bound:.4f}",
            "-" if pl.gap is None else f"{100 * pl.gap:.3f}%",
            str(len(pl.unplaced)),
            f"{pl.time_s:.2f}",
            "ok" if not checks[name] else f"{len(checks[name])} violations",
        )
    con.print(t)
    if best.method:
        con.print(f"SCIP: {best.method}, {best.columns} columns, status {best.scip_status}")
    for n in best.notes:
        con.print(f"  {n}")
    st = Table(title="SCIP placement per server")
    for col in ("server", "GPUs", "CPUs", "memory GB", "jobs"):
        st.add_column(col)
    for s in best.servers:
        if not s.jobs:
            continue
        st.add_row(
            s.server,
            f"{s.gpus_used}/{s.gpus}",
            f"{s.cpus_used:g}/{s.cpus:g}",
            f"{s.memory_used_gb:.1f}/{s.memory_gb:g}",
            ", ".join(s.jobs),
        )
    con.print(st)
    if print_jobs:
        jt = Table(title="SCIP allocation per job")
        for col in ("job", "GPUs", "CPUs", "memory GB", "images/s", "normalised", "source", "on"):
            jt.add_column(col)
        for jp in best.jobs:
            jt.add_row(
                jp.job,
                str(jp.gpus),
                f"{jp.cpus:g}",
                f"{jp.memory_gb:.1f}",
                f"{jp.throughput:.1f}",
                f"{jp.normalised:.3f}",
                jp.source or "-",
                ", ".join(p.server for p in jp.parts) or "queued",
            )
        con.print(jt)
    for name, errs in checks.items():
        for e in errs:
            con.print(f"[red]check {name}: {e}[/red]")


def solve_command(
    raw: dict[str, Any] | None,
    problem_path: Path | None,
    profiles: list[Path],
    out_dir: Path,
    fmt: str,
    options: dict[str, Any],
) -> int:
    """The `kind: packing` entry point of `harness solve` (see solver/problem.py)."""
    from harness.profile import ProfileError, write_atomic

    where = str(problem_path) if problem_path is not None else "(defaults)"
    note = None
    try:
        if raw is None:
            raw = default_problem(profiles, int(options.get("jobs_per_profile") or 1))
            note = "No problem file: solving\n" + json.dumps(raw, indent=1)
        prob = validate_as(PackingProblem, raw, where)
        by_key, skipped = load_train_profiles(profiles)
        base = problem_path.parent if problem_path is not None else None
        inst = build_instance(prob, base, by_key)
    except (ProblemError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    tl = options.get("time_limit")
    time_limit = float(tl) if tl is not None else (prob.time_limit_s or 30.0)
    try:
        pls, checks = solve_all(inst, time_limit, float(options.get("target_gap") or 0.005))
    except RuntimeError as exc:
        print(f"error: {where}: {exc}", file=sys.stderr)
        return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "packing-servers.png"
    servers_png(inst, pls["scip"], png)
    sol = PackingSolution(
        problem=prob.model_dump(mode="json"), placements=pls, checks=checks, png=str(png)
    )
    write_atomic(out_dir / "packing-placement.json", sol.model_dump_json(indent=1) + "\n")
    if fmt == "json":
        print(sol.model_dump_json(indent=1))
    else:
        print_tables(inst, pls, checks, bool(options.get("print_jobs")), note)
        for s in skipped:
            print(s)
        print(f"Placement JSON: {out_dir / 'packing-placement.json'}")
        print(f"Resource use per server: {png}")
    return 1 if any(checks.values()) else 0
