"""Tables and plots of a hybrid solution: the methods side by side, SCIP's schedule, a Gantt."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from solver.hybrid.solution import METHODS, HybridSolution
from solver.problem import SolveOptions


def render(solution: HybridSolution, console: Console, options: SolveOptions) -> None:
    """The methods' makespans (and SCIP's schedule with --print-jobs), then the notes."""
    problem = solution.problem
    spans = [s.span for s in solution.methods.values()]
    best = min(spans, default=0.0)
    t = Table(title=f"hybrid: {len(problem.jobs)} jobs on {len(problem.workers)} workers")
    for col in ("method", "makespan s", "vs best", "status", "gap", "solve s"):
        t.add_column(col)
    for name in METHODS:
        s = solution.methods.get(name)
        if s is None or s.makespan is None:
            t.add_row(name, "-", "-", _why_none(solution, name), "", "")
            continue
        t.add_row(
            name,
            f"{s.makespan:.2f}",
            f"{s.makespan / best:.3f}x" if best > 0 else "-",
            s.status,
            "" if s.gap is None else f"{s.gap:.2%}",
            f"{s.solve_s:.2f}",
        )
    console.print(t)
    if options.print_jobs:
        _jobs_table(solution, console)
    for n in solution.notes:
        console.print(f"note: {n}", highlight=False)
    for e in solution.check_errors:
        console.print(f"[red]checker[/red]: {e}", highlight=False)


def _why_none(solution: HybridSolution, method: str) -> str:
    device = {"cpu-only": "cpu", "gpu-only": "cuda"}.get(method)
    if device is not None and all(w.device != device for w in solution.problem.workers):
        return "no such worker"
    s = solution.methods.get(method)
    return "no schedule" if s is None else s.status


def _jobs_table(solution: HybridSolution, console: Console) -> None:
    problem = solution.problem
    jt = Table(title="scip schedule")
    for col in ("worker", "job", "model", "batch", "start s", "end s"):
        jt.add_column(col)
    for e in solution.answer.entries:
        job = problem.jobs[e.job]
        jt.add_row(
            problem.workers[e.worker].name,
            job.name,
            job.model,
            str(job.batch_size),
            f"{e.start:.2f}",
            f"{e.end:.2f}",
        )
    console.print(jt)


def plots(solution: HybridSolution, stem: Path) -> list[Path]:
    """`{stem}-gantt.png`: one Gantt chart per method that has a schedule."""
    shown = [(k, s) for k, s in solution.methods.items() if s.entries]
    if not shown:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workers = solution.problem.workers
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 1.2 + 0.5 * len(workers) * len(shown)))
    axes_list = list(axes) if len(shown) > 1 else [axes]
    cmap = plt.get_cmap("tab20")
    for ax, (name, s) in zip(axes_list, shown, strict=True):
        for e in s.entries:
            ax.barh(e.worker, e.end - e.start, left=e.start, color=cmap(e.job % 20), edgecolor="k")
            if len(s.entries) <= 30:
                label = e.job_name or solution.problem.jobs[e.job].name
                ax.text(
                    (e.start + e.end) / 2, e.worker, label, ha="center", va="center", fontsize=6
                )
        ax.set_yticks(range(len(workers)), [w.name for w in workers])
        ax.set_title(f"{name}: makespan {s.span:.1f} s", fontsize=9)
    axes_list[-1].set_xlabel("seconds")
    fig.tight_layout()
    path = stem.with_name(f"{stem.name}-gantt.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]
