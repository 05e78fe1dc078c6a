"""The split solution as people read it: its tables (rich) and the front's plot (PNG).

Pure rendering of numbers the solution already has; nothing here solves anything. Only the
command line imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from solver.split.solution import FRONT_METHODS, SplitSolution

if TYPE_CHECKING:
    from rich.console import Console


# ---------------------------------------------------------------- table


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.3f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:+.1f}%"


def render(sol: SplitSolution, con: Console, options: object = None) -> None:
    """Print with rich: the plan (DIME-style split of compute and communication), SCIP's
    report, the baselines with the optimum's gain over each, and the front."""
    for v in sol.violations:
        con.print(f"[red]checker:[/red] {v}", highlight=False)
    for note in sol.notes:
        con.print(f"[yellow]note:[/yellow] {note}")
    if sol.plan is None:
        con.print(f"[red]no plan[/red]: SCIP status {sol.solver.status}")
        return
    _plan(sol, con)
    sv = sol.solver
    con.print(
        f"SCIP: {sv.status}, objective {sv.objective}, dual bound {sv.dual_bound}, gap {sv.gap}, "
        f"{sv.nodes} nodes, solve {sv.solve_time_s:.3f} s, build {sv.build_time_s:.3f} s, "
        f"pricing {sv.prep_time_s:.3f} s ({sv.fixed_by_pricing}/{sv.variables} edges fixed)"
    )
    _baselines(sol, con)
    _front(sol, con)
    if sol.plot:
        con.print(f"plot: {sol.plot}")


def _plan(sol: SplitSolution, con: Console) -> None:
    from rich.table import Table

    assert sol.plan is not None
    t = Table(title=f"split plan: minimise {sol.objective}")
    for col in ("step", "layers", "where", "MHz", "latency ms", "energy mJ"):
        t.add_column(col, justify="right" if col in ("MHz", "latency ms", "energy mJ") else "left")
    for n, s in enumerate(sol.plan.steps, 1):
        e = "-" if s.energy_j is None else f"{s.energy_j * 1e3:.3f}"
        if s.kind == "compute":
            assert s.layers is not None
            what = f"[{s.layers[0]},{s.layers[1]}) {s.first_layer}..{s.last_layer}"
            mhz = "default" if s.frequency_mhz is None else f"{s.frequency_mhz:g}"
            t.add_row(str(n), what, s.device, mhz, _ms(s.latency_s), e)
        else:
            kb = (s.bytes or 0) / 1e3
            t.add_row(
                str(n), f"cut {s.cut} ({kb:.1f} kB)", f"{s.device} -> {s.to_device}", "",
                _ms(s.latency_s), e,
            )  # fmt: skip
    con.print(t)
    p = sol.plan
    con.print(
        f"latency: {p.latency_s:.6f} s  (compute {p.compute_latency_s:.6f} s, "
        f"communication {p.comm_latency_s:.6f} s)"
    )
    if p.energy_j is not None:
        con.print(
            f"energy:  {p.energy_j:.6f} J  (compute {p.compute_energy_j:.6f} J, "
            f"communication {p.comm_energy_j:.6f} J)"
        )


def _baselines(sol: SplitSolution, con: Console) -> None:
    from rich.table import Table

    b = Table(title="baselines (optimum's gain over each)")
    cols = ("baseline", "latency ms", "energy mJ", "meets constraints", "speedup")
    for col in (*cols, "energy saved", "objective gain"):
        b.add_column(col)
    for bl in sol.baselines:
        if bl.plan is None:
            b.add_row(bl.name, "no plan", "", "", "", "", "")
            continue
        en = bl.plan.energy_j
        b.add_row(
            bl.name,
            _ms(bl.plan.latency_s),
            "-" if en is None else f"{en * 1e3:.3f}",
            "yes" if bl.meets_constraints else "no",
            "-" if bl.speedup is None else f"{bl.speedup:.2f}x",
            _pct(bl.energy_saving),
            _pct(bl.objective_gain),
        )
    con.print(b)


def _front(sol: SplitSolution, con: Console) -> None:
    f = sol.front
    if f is None:
        return
    state = "complete" if f.complete else f"incomplete ({f.reason})"
    con.print(
        f"Pareto front by the {FRONT_METHODS[f.method]} (front.method "
        f"{f.requested_method}): {len(f.points)} points, {state}, {f.solves} SCIP solves in "
        f"{f.time_s:.2f} s (resolution {f.resolution:g})"
    )
    if f.points:
        lo, hi = f.points[-1], f.points[0]
        con.print(
            f"  fastest {lo.latency_s:.6f} s at {lo.energy_j:.6f} J; "
            f"least energy {hi.energy_j:.6f} J at {hi.latency_s:.6f} s"
        )


# ---------------------------------------------------------------- plot


def plots(sol: SplitSolution, stem: Path) -> list[Path]:
    """`<stem>-front.png` where there is a front; the solution records where it is."""
    png = plot_front(sol, stem.with_name(stem.name + "-front.png"))
    sol.plot = None if png is None else str(png)
    return [] if png is None else [png]


def plot_front(sol: SplitSolution, path: Path) -> Path | None:
    """PNG of the front (latency vs energy) with the baselines and the chosen plan on it."""
    if sol.front is None or not sol.front.points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    pts = sorted((p.latency_s * 1e3, p.energy_j * 1e3) for p in sol.front.points)
    xs = [x for x, _ in pts]
    ys = [y for _, y in pts]
    ax.step(xs, ys, where="post", color="tab:blue", alpha=0.5)
    ax.plot(
        xs,
        ys,
        "o",
        ms=3,
        color="tab:blue",
        label=f"Pareto front ({len(pts)} points, {sol.front.method})",
    )
    markers = "sD^v<>pP*X"
    for n, bl in enumerate(sol.baselines):
        if bl.plan is None or bl.plan.energy_j is None:
            continue
        ax.plot(
            bl.plan.latency_s * 1e3,
            bl.plan.energy_j * 1e3,
            markers[n % len(markers)],
            ms=8,
            label=bl.name,
        )
    if sol.plan is not None and sol.plan.energy_j is not None:
        ax.plot(
            sol.plan.latency_s * 1e3, sol.plan.energy_j * 1e3, "*", ms=16, color="red",
            label=f"optimum ({sol.objective})",
        )  # fmt: skip
    ax.set_xlabel("latency per batch (ms)")
    ax.set_ylabel("energy per batch (mJ)")
    ax.set_title(f"{sol.problem.name}: latency-energy trade-off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
