"""Tables and the Gantt chart of a pipeline solution (no solving here; only harness/cli imports it).

`render` prints every method's makespan, ratio to the offline optimum, bound and gap, the three
makespans the seed reports, the ratios, and (options.print_jobs) the per-job split and stage
times of DOPart FIFO and of the optimum. `plots` draws the three resources (local, link, remote)
of DOPart FIFO, DOPart's best order and the optimum, one panel each.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from solver.pipeline.check import STAGES
from solver.pipeline.solution import DOPART_BEST, OPT_METHOD, MethodResult, PipelineSolution
from solver.problem import SolveOptions

GANTT_METHODS = ("DOPart FIFO", DOPART_BEST, OPT_METHOD)


def render(solution: PipelineSolution, console: Console, options: SolveOptions) -> None:
    sol, con = solution, console
    con.print(f"[bold]Batch pipeline[/bold]: {sol.num_jobs} jobs, {sol.source}; objective makespan")
    con.print(_methods_table(sol))
    fifo, opt = sol.methods[0], sol.optimum
    best = next(m for m in sol.methods if m.method == DOPART_BEST)
    con.print(f"DOPart FIFO makespan: {fifo.makespan_s:.6f} s")
    con.print(f"DOPart best offline schedule makespan: {best.makespan_s:.6f} s")
    con.print(f"Offline optimal makespan: {opt.makespan_s:.6f} s")
    for name, val in sol.ratios.items():
        con.print(f"{name}: {val:.4f}")
    for m in sol.methods:
        if m.note and m.lower_bound_s is not None and (m is not opt or opt.exact):
            con.print(f"[yellow]{m.method}: {m.note}[/yellow]")
    if not opt.exact:
        # one line, never wrapped, with the three numbers a stopped solve owes the user
        con.print(
            f"[yellow]Offline OPT not proven (stopped: {opt.status}): best schedule found "
            f"{opt.makespan_s:.6f} s, proven lower bound {opt.lower_bound_s:.6f} s, "
            f"gap {opt.gap:.2%}[/yellow]",
            soft_wrap=True,
        )
        con.print(
            "[yellow]  ratios above are to the best schedule found (its per-job table: "
            "--print-jobs); best / bound = "
            f"x{opt.makespan_s / max(opt.lower_bound_s or 1e-300, 1e-300):.4f}[/yellow]",
            soft_wrap=True,
        )
    if options.print_jobs:
        for m in (fifo, opt):
            con.print(_jobs_table(m))


def _methods_table(sol: PipelineSolution) -> Table:
    t = Table(
        "method", "makespan (s)", "/ Offline OPT", "exact", "lower bound (s)", "gap", "time (s)"
    )
    for m in sol.methods:
        t.add_row(
            m.method,
            f"{m.makespan_s:.6f}",
            f"{m.ratio_to_opt:.4f}" if m.ratio_to_opt is not None else "-",
            "yes" if m.exact else "no",
            f"{m.lower_bound_s:.6f}" if m.lower_bound_s is not None else "-",
            f"{m.gap:.2%}" if m.gap is not None else "-",
            f"{m.solve_s:.2f}" if m.solve_s is not None else "-",
        )
    return t


def _jobs_table(m: MethodResult) -> Table:
    jt = Table(
        "job",
        "pos",
        "split (cut)",
        "local start-end",
        "comm start-end",
        "remote start-end",
        title=m.method,
    )
    for s in m.schedule:
        jt.add_row(
            s.job,
            str(s.position),
            str(s.cut),
            f"{s.local.start_s:.5f}-{s.local.end_s:.5f}",
            f"{s.comm.start_s:.5f}-{s.comm.end_s:.5f}",
            f"{s.remote.start_s:.5f}-{s.remote.end_s:.5f}",
        )
    return jt


def plots(solution: PipelineSolution, stem: Path) -> list[Path]:
    """`{stem}-gantt.png`: one panel per schedule of GANTT_METHODS, one colour per job."""
    panels = [m for m in solution.methods if m.method in GANTT_METHODS]
    if not panels:
        return []
    return [gantt_png(solution, panels, stem.with_name(f"{stem.name}-gantt.png"))]


def gantt_png(solution: PipelineSolution, panels: Sequence[MethodResult], path: Path) -> Path:
    """Jobs are numbered by their place in the first method's schedule (DOPart FIFO: the batch's
    own order), so that a job keeps its colour and label across panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = sorted(solution.methods[0].schedule, key=lambda s: s.position)
    index = {s.job: i for i, s in enumerate(first)}
    path.parent.mkdir(parents=True, exist_ok=True)
    cmap = plt.get_cmap("tab20")
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(11, 1.6 + 1.5 * len(panels)), squeeze=False, sharex=True
    )
    for ax, m in zip(axes[:, 0], panels, strict=True):
        for row in range(3):  # one collection per stage: a batch of 1,000 jobs draws in a blink
            spans = [(index.get(s.job, 0), (s.local, s.comm, s.remote)[row]) for s in m.schedule]
            spans = [(j, sp) for j, sp in spans if sp.end_s > sp.start_s]
            ax.broken_barh(
                [(sp.start_s, sp.end_s - sp.start_s) for _, sp in spans],
                (2 - row - 0.35, 0.7),
                facecolors=[cmap(j % 20) for j, _ in spans],
                edgecolor="k",
            )
            if len(m.schedule) <= 30:
                for j, sp in spans:
                    mid = (sp.start_s + sp.end_s) / 2
                    ax.text(mid, 2 - row, str(j), ha="center", va="center", fontsize=7)
        ms = max((s.remote.end_s for s in m.schedule), default=0.0)
        ax.axvline(ms, color="red", linestyle="--", linewidth=1)
        ax.set_yticks([2, 1, 0], labels=list(STAGES))
        ax.set_title(f"{m.method}: makespan {ms:.4g} s", fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
