"""The accsplit solution as people read it: its tables (rich) and two pictures (PNG).

Per domain the accuracy-throughput front (every variant as a point at its best split, the front
as a line, the bound as a dashed line, the chosen point marked), and a heat map of accuracy per
variant x domain (a predicted accuracy is hatched and said so). Pure rendering of numbers the
solution already has; matplotlib is imported only when plotting. Only the CLI imports this.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from solver.accsplit.solution import AccSplitSolution, ChoiceOut

if TYPE_CHECKING:
    from rich.console import Console


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.2f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _where(c: ChoiceOut) -> str:
    if c.server_device is None:
        return f"all on {c.edge_device}"
    if c.cut == 0:
        return f"all on {c.server_device}"
    return f"{c.edge_device} [0,{c.cut}) | {c.server_device} [{c.cut},{c.n_layers})"


def _clocks(c: ChoiceOut) -> str:
    return ", ".join(
        f"{d} {'default' if f is None else f'{f:g}'}" for d, f in c.frequencies_mhz.items()
    )


def render(sol: AccSplitSolution, con: Console, options: object = None) -> None:
    """The decision per domain, its baselines, SCIP's report and the surrogate's error."""
    from rich.table import Table

    for v in sol.violations:
        con.print(f"[red]checker:[/red] {v}", highlight=False)
    for note in sol.notes:
        con.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    t = Table(
        title=f"{sol.family}: {sol.objective}, accuracy >= reference - {sol.problem.epsilon:g}"
    )
    for col in (
        "domain", "ref acc", "bound", "variant", "split", "clocks MHz", "acc", "req/s",
        "edge/link/server ms", "latency ms", "gain vs unpruned", "SCIP",
    ):  # fmt: skip
        t.add_column(col, overflow="fold")
    for d in sol.domains:
        c = d.choice
        if c is None:
            status = d.solver.status if d.solver else ""
            blank = [""] * 6
            t.add_row(d.domain, f"{d.reference_accuracy:.4f}", f"{d.bound:.4f}", "[red]none[/red]",
                      d.reason, *blank, status)  # fmt: skip
            continue
        acc = f"{c.accuracy.value:.4f}" + ("" if c.accuracy.source == "measured" else " (pred.)")
        st = c.stages
        t.add_row(
            d.domain,
            f"{d.reference_accuracy:.4f}",
            f"{d.bound:.4f}",
            c.variant,
            _where(c),
            _clocks(c),
            acc,
            f"{c.throughput_rps:.1f}",
            f"{_ms(st.edge_s)}/{_ms(st.link_s)}/{_ms(st.server_s)} ({st.bottleneck})",
            _ms(c.latency_s),
            _x(d.gain_over_unpruned),
            "-" if d.solver is None else f"{d.solver.status} gap {d.solver.gap}",
        )
    con.print(t)
    _baselines(sol, con)
    if sol.surrogate is not None:
        s = sol.surrogate
        mae = "-" if s.loo_mae is None else f"{s.loo_mae * 100:.2f} points"
        if s.loo_interior_mae is not None:
            mae += f" ({s.loo_interior_mae * 100:.2f} on interior variants)"
        con.print(
            f"accuracy surrogate ({s.method}; {len(s.features)} features, {s.n_variants} pruned "
            f"variants): leave-one-out error {mae} mean",
            highlight=False,
        )
    for p in sol.plots:
        con.print(f"plot: {p}", highlight=False)


def _baselines(sol: AccSplitSolution, con: Console) -> None:
    from rich.table import Table

    t = Table(title="throughput gain of the decision over each baseline (per domain)")
    names = list(dict.fromkeys(b.name for d in sol.domains for b in d.baselines))
    t.add_column("domain")
    for n in names:
        t.add_column(n, overflow="fold")
    for d in sol.domains:
        if d.choice is None:
            continue
        by = {b.name: b for b in d.baselines}
        cells = []
        for n in names:
            b = by.get(n)
            if b is None or b.choice is None:
                cells.append("-" if b is None else f"none ({b.reason})")
            else:
                cells.append(f"{_x(b.throughput_gain)} ({b.choice.variant}, {_where(b.choice)})")
        t.add_row(d.domain, *cells)
    con.print(t)


# ---------------------------------------------------------------- pictures


def plots(sol: AccSplitSolution, stem: Path) -> list[Path]:
    """`<stem>-fronts.png` and `<stem>-accuracy.png`; the solution records where they are."""
    fronts = plot_fronts(sol, stem.with_name(stem.name + "-fronts.png"))
    heat = plot_heatmap(sol, stem.with_name(stem.name + "-accuracy.png"))
    out = [p for p in (fronts, heat) if p is not None]
    sol.plots = [str(p) for p in out]
    return out


def plot_fronts(sol: AccSplitSolution, path: Path) -> Path | None:
    """One panel per domain: accuracy (y) vs throughput (x) of every variant at its best split,
    the front as a line, the bound dashed, the chosen point circled."""
    doms = [d for d in sol.domains if d.front]
    if not doms:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(doms))
    rows = (len(doms) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, d in zip(axes.flat, doms, strict=False):
        for p in d.front:
            ax.plot(p.throughput_rps, p.accuracy * 100, "o" if p.accuracy_source == "measured"
                    else "x", color="tab:blue" if p.feasible else "tab:gray", ms=5)  # fmt: skip
            ax.annotate(p.variant, (p.throughput_rps, p.accuracy * 100), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
        front = sorted((p.throughput_rps, p.accuracy * 100) for p in d.front if p.on_front)
        ax.plot([x for x, _ in front], [y for _, y in front], "-", color="tab:blue", alpha=0.6)
        ax.axhline(d.bound * 100, ls="--", color="tab:red", lw=0.8)
        if d.choice is not None:
            ax.plot(d.choice.throughput_rps, d.choice.accuracy.value * 100, "o", ms=11,
                    mfc="none", mec="tab:red", mew=1.5, label="chosen")  # fmt: skip
        if d.unpruned_best is not None:
            ax.plot(d.unpruned_best.throughput_rps, d.unpruned_best.accuracy.value * 100, "s",
                    ms=7, mfc="none", mec="black", label="unpruned best split")  # fmt: skip
        ax.set_title(f"{d.domain} (bound {d.bound * 100:.1f}%)", fontsize=9)
        ax.set_xlabel("throughput (requests/s)", fontsize=8)
        ax.set_ylabel("accuracy (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(doms) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{sol.family}: accuracy vs throughput per domain (x: predicted accuracy)",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_heatmap(sol: AccSplitSolution, path: Path) -> Path | None:
    """Accuracy (%) per variant (rows) x every domain measured (columns); predicted cells
    marked '*', the domains decided for in bold."""
    seen = {d for v in sol.variants for d in v.domain_accuracy}
    doms = sorted(seen, key=lambda d: (len(d), d))
    if not sol.variants or not doms:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vals = [[v.domain_accuracy[d].value * 100 if d in v.domain_accuracy else float("nan")
             for d in doms] for v in sol.variants]  # fmt: skip
    fig, ax = plt.subplots(
        figsize=(max(5.0, 1.5 + 0.65 * len(doms)), 1.2 + 0.45 * len(sol.variants))
    )
    im = ax.imshow(vals, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(doms)), doms, fontsize=8)
    decided = {d.domain for d in sol.domains}
    for label in ax.get_xticklabels():
        label.set_fontweight("bold" if label.get_text() in decided else "normal")
    ax.set_yticks(range(len(sol.variants)), [v.id for v in sol.variants], fontsize=8)
    for i, v in enumerate(sol.variants):
        for j, d in enumerate(doms):
            a = v.domain_accuracy.get(d)
            if a is None:
                continue
            mark = "" if a.source == "measured" else "*"
            light = float(im.norm(a.value * 100)) > 0.5  # type: ignore[arg-type]  # dark on light
            ax.text(j, i, f"{a.value * 100:.1f}{mark}", ha="center", va="center", fontsize=7,
                    color="black" if light else "white")  # fmt: skip
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    ax.set_title(f"{sol.family}: accuracy per variant x domain\n(* predicted; bold: decided)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
