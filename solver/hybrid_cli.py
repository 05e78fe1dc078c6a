"""`harness solve` for `kind: hybrid`: jobs onto CPU and GPU workers, minimum makespan.

Options read (besides time_limit and print_jobs): `cost_model` (path; overrides the problem
file's), `num_batches` (jobs per profile when no problem file is given; default 100).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from harness.profile import ProfileError, write_atomic
from solver.costmodel import CostModel, CostModelError
from solver.hybrid import HybridJob, HybridProblem, Schedule, Worker, job_times, solve_all
from solver.hybrid_check import check_schedule
from solver.problem import ProblemError, validate_as

DEFAULT_TIME_LIMIT = 60.0
METHODS = ("cpu-only", "gpu-only", "greedy", "scip")


def _cost_model(
    problem: HybridProblem, problem_path: Path | None, profiles: list[Path], option: Any
) -> tuple[CostModel | None, str]:
    from solver import costmodel

    if option:
        return costmodel.load(Path(option)), f"cost model {option}"
    if problem.cost_model:
        path = Path(problem.cost_model)
        if not path.is_absolute() and problem_path is not None:
            path = problem_path.parent / path
        # the file wins; profiles on the command line stand in for one not fitted yet
        if path.exists() or not profiles:
            return costmodel.load(path), f"cost model {path}"
    if profiles:
        samples = costmodel.load_samples(profiles)
        if samples:
            cm, _ = costmodel.fit_with_holdout(samples, "both", folds=5)
            return cm, f"cost model fitted on {len(samples)} probes ({cm.best_kind()} used)"
    if all(j.step_s for j in problem.jobs):
        return None, "times given in the problem file"
    raise CostModelError(
        "no cost model: give train profiles, 'cost_model' in the problem file, or step_s per job"
    )


def default_problem(profiles: list[Path], num_batches: int) -> HybridProblem:
    """One job per train profile, one CPU worker (the largest CPU cap measured) and one GPU."""
    from harness.profile import load_profile

    jobs: list[HybridJob] = []
    cpus = 1.0
    for path in profiles:
        prof = load_profile(path)
        if prof.kind != "train" or prof.train is None:
            continue
        jobs.append(
            HybridJob(
                name=prof.job.name,
                model=prof.job.model,
                batch_size=prof.job.batch_size,
                input_shape=list(prof.job.input_shape),
                num_batches=num_batches,
            )
        )
        cpus = max([cpus] + [p.caps.cpus for p in prof.train.probes if p.outcome == "ok"])
    if not jobs:
        raise ProblemError("no problem file and no train profile to make jobs from")
    return HybridProblem(
        jobs=jobs,
        workers=[Worker(name="cpu0", device="cpu", cpus=cpus), Worker(name="gpu0", device="cuda")],
    )


def _gantt(results: dict[str, Schedule], problem: HybridProblem, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [(k, s) for k, s in results.items() if s.entries]
    fig, axes = plt.subplots(
        len(shown), 1, figsize=(10, 1.2 + 0.5 * len(problem.workers) * len(shown))
    )
    axes_list = list(axes) if len(shown) > 1 else [axes]
    cmap = plt.get_cmap("tab20")
    for ax, (name, s) in zip(axes_list, shown, strict=True):
        for e in s.entries:
            ax.barh(e.worker, e.end - e.start, left=e.start, color=cmap(e.job % 20), edgecolor="k")
            if len(s.entries) <= 30:
                label = problem.jobs[e.job].name
                ax.text(
                    (e.start + e.end) / 2, e.worker, label, ha="center", va="center", fontsize=6
                )
        ax.set_yticks(range(len(problem.workers)), [w.name for w in problem.workers])
        ax.set_title(f"{name}: makespan {s.makespan:.1f} s", fontsize=9)
    axes_list[-1].set_xlabel("seconds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def solve_command(
    raw: dict[str, Any] | None,
    problem_path: Path | None,
    profiles: list[Path],
    out_dir: Path,
    fmt: str,
    options: dict[str, Any],
) -> int:
    try:
        if raw is None:
            problem = default_problem(profiles, int(options.get("num_batches") or 100))
        else:
            problem = validate_as(HybridProblem, raw, problem_path or "problem")
        cm, cm_note = _cost_model(problem, problem_path, profiles, options.get("cost_model"))
        times = job_times(problem, cm)
    except (ProblemError, CostModelError, ProfileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    limit = options.get("time_limit") or problem.time_limit_s or DEFAULT_TIME_LIMIT
    devices = [w.device for w in problem.workers]
    results = solve_all(times.p, devices, float(limit))
    for name, s in results.items():
        if not s.entries and name in ("cpu-only", "gpu-only"):
            continue  # no worker of that kind: nothing to check
        bad = check_schedule(s.to_dict(), times.p)
        if bad:  # a solver bug, never a user error: say so plainly
            print(f"error: {name} schedule failed the checker: {bad[0]}", file=sys.stderr)
            return 1
    notes = [cm_note, *times.notes]
    best = min(results.values(), key=lambda s: s.makespan)
    doc = {
        "kind": "hybrid",
        "problem": problem.model_dump(mode="json"),
        "notes": notes,
        "times_s": times.p,
        "time_sources": times.sources,
        "methods": {k: _method_json(s, problem) for k, s in results.items()},
        "best": best.method,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "hybrid_solution.json", json.dumps(doc, indent=1) + "\n")
    _gantt(results, problem, out_dir / "hybrid_gantt.png")
    if fmt == "json":
        print(json.dumps(doc, indent=1))
        return 0
    _print_table(problem, results, notes, raw is None, bool(options.get("print_jobs")), out_dir)
    return 0


def _method_json(s: Schedule, problem: HybridProblem) -> dict[str, Any]:
    d = s.to_dict()
    d["entries"] = [
        {
            **e,
            "job_name": problem.jobs[e["job"]].name,
            "worker_name": problem.workers[e["worker"]].name,
        }
        for e in d["entries"]
    ]
    return d


def _print_table(
    problem: HybridProblem,
    results: dict[str, Schedule],
    notes: list[str],
    inferred: bool,
    print_jobs: bool,
    out_dir: Path,
) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if inferred:
        con.print("[bold]no problem file: solved this default problem[/bold]")
        con.print(json.dumps(problem.model_dump(mode="json"), indent=1))
    best = min(s.makespan for s in results.values())
    t = Table(title=f"hybrid: {len(problem.jobs)} jobs on {len(problem.workers)} workers")
    for col in ("method", "makespan s", "vs best", "status", "gap", "solve s"):
        t.add_column(col)
    for name in METHODS:
        s = results[name]
        if math.isinf(s.makespan):
            t.add_row(name, "-", "-", "no such worker", "", "")
            continue
        t.add_row(
            name,
            f"{s.makespan:.2f}",
            f"{s.makespan / best:.3f}x",
            s.status,
            "" if s.gap is None else f"{s.gap:.2%}",
            f"{s.solve_s:.2f}",
        )
    con.print(t)
    if print_jobs:
        s = results["scip"]
        jt = Table(title="scip schedule")
        for col in ("worker", "job", "model", "batch", "start s", "end s"):
            jt.add_column(col)
        for e in s.entries:
            job = problem.jobs[e.job]
            jt.add_row(
                problem.workers[e.worker].name,
                job.name,
                job.model,
                str(job.batch_size),
                f"{e.start:.2f}",
                f"{e.end:.2f}",
            )
        con.print(jt)
    for n in notes:
        con.print(f"note: {n}")
    con.print(f"wrote {out_dir / 'hybrid_solution.json'} and {out_dir / 'hybrid_gantt.png'}")
