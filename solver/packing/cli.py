"""Tables and plots of a packing solution (no solving here).

`render`: the three policies side by side (normalised throughput, distance from SCIP, bound,
gap, unplaced jobs, time, checker verdict), SCIP's notes, SCIP's placement per server and, with
`print_jobs`, per job; then any checker violation. `plots`: `<stem>-servers.png`, each server's
GPU, CPU and memory share, one colour per job.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from solver.packing.solution import PackingSolution, Placement
from solver.problem import SolveOptions


def render(solution: PackingSolution, console: Console, options: SolveOptions) -> None:
    pls, checks = solution.placements, solution.checks
    best = pls["scip"]
    console.print(_comparison(solution))
    if best.method:
        console.print(f"SCIP: {best.method}, {best.columns} columns, status {best.scip_status}")
    for n in best.notes:
        console.print(f"  {n}")
    for n in solution.notes:
        console.print(n, highlight=False)
    console.print(_per_server(best))
    if options.print_jobs:
        console.print(_per_job(best))
    for name, errs in checks.items():
        for e in errs:
            console.print(f"[red]check {name}: {e}[/red]")


def _comparison(solution: PackingSolution) -> Table:
    pls, checks = solution.placements, solution.checks
    best = pls["scip"]
    t = Table(title=f"packing {len(best.jobs)} jobs on {len(best.servers)} servers")
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
            "ok" if not checks.get(name) else f"{len(checks[name])} violations",
        )
    return t


def _per_server(best: Placement) -> Table:
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
    return st


def _per_job(best: Placement) -> Table:
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
    return jt


def plots(solution: PackingSolution, stem: Path) -> list[Path]:
    """`<stem>-servers.png` of SCIP's placement; [] when there is none."""
    best = solution.placements.get("scip")
    if best is None:
        return []
    path = stem.with_name(stem.name + "-servers.png")
    servers_png(best, path)
    return [path]


def servers_png(pl: Placement, path: Path, max_servers: int = 64) -> None:
    """Stacked bars: each server's GPU, CPU and memory share, one colour per job."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

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
