"""Pictures of a profile: what a person looks at instead of reading the JSON.

Train profiles: images/s against CPUs (the search's curve, its probes numbered in the order
it took them, the knee), the CPUs x memory throughput matrix, and the per-batch time split
per cap. Inference profiles: bundle latency (start x end) per batch size and per-layer latency
beside the size of the tensor at each cut. matplotlib (Agg) is imported inside the functions so
that importing this module costs nothing at CLI start-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.profile import (
    BundleTiming,
    InferSection,
    MatrixCell,
    Outcome,
    Probe,
    Profile,
    SearchResult,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Stacking order, bottom to top; allreduce appears only for multi-node probes, "batch" only
# for probes whose workload did not split the batch into phases.
PHASES = ("data", "forward", "backward", "allreduce", "step")
PHASE_COLORS = {
    "data": "#4C72B0",
    "forward": "#DD8452",
    "backward": "#C44E52",
    "allreduce": "#55A868",
    "step": "#8172B3",
    "batch": "#9A9A9A",
}
PHASE_LABELS = {"allreduce": "allreduce (gradients)", "batch": "whole batch (not split)"}
DPI = 130

_STYLE: Any = {  # rcParams; typed Any because matplotlib types keys as Literals
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


@contextmanager
def _style() -> Iterator[Any]:
    """Agg backend and one house style, without touching the caller's global rcParams."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(_STYLE):
        yield plt


def _save(fig: Figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _caption(profile: Profile) -> str:
    host = profile.host.node_label or profile.host.hostname
    model = profile.job.model
    if profile.infer is not None:
        model = f"{profile.infer.model} on {profile.infer.device_name}"
    return f"{profile.job.name} · {model} · host {host} · backend {profile.backend}"


def _plain_log_ticks(axis: Any) -> None:
    """Log-scale ticks as 0.5, 1, 10 instead of 10^0: easier to read off."""
    from matplotlib.ticker import FuncFormatter

    def minor(v: float, _pos: int) -> str:
        lo, hi = sorted(axis.get_view_interval())
        if lo <= 0 or v <= 0:
            return ""
        # few decades show few major ticks: label some minor ones (2 and 5) so it can be read
        lead = round(v / 10 ** math.floor(math.log10(v)))
        if hi / lo < 12 or (hi / lo < 150 and lead in (2, 5)):
            return f"{v:g}"
        return ""

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def _titles(ax: Axes, main: str, sub: str, lift: float = 0.0) -> None:
    """A bold title with a smaller grey subtitle under it, both flush with the axes' left edge.

    `lift` (points) leaves room for per-panel labels between the subtitle and the axes.
    """
    lines = sub.count("\n") + 1
    ax.annotate(
        sub,
        xy=(0, 1),
        xycoords="axes fraction",
        xytext=(0, 6 + lift),
        textcoords="offset points",
        fontsize=9.5,
        color="0.35",
        va="bottom",
        ha="left",
    )
    ax.annotate(
        main,
        xy=(0, 1),
        xycoords="axes fraction",
        xytext=(0, 10 + lift + 13 * lines),
        textcoords="offset points",
        fontsize=13,
        fontweight="bold",
        va="bottom",
        ha="left",
    )


def _fmt_gb(gb: float | None) -> str:
    if gb is None:
        return "no mem cap"
    return f"{gb:g} GB"


# ---------------------------------------------------------------- the report


def render_report(profile: Profile, out_dir: str | Path, stem: str | None = None) -> list[Path]:
    """Every picture the profile has data for; returns the files written, in a fixed order."""
    out = Path(out_dir)
    name = stem or profile.id
    written: list[Path] = []
    if profile.train is not None:
        for suffix, fn in (
            ("throughput_vs_cpus", plot_throughput_curve),
            ("memory_matrix", plot_memory_matrix),
            ("time_split", plot_time_split),
        ):
            path = fn(profile, out / f"{name}_{suffix}.png")
            if path is not None:
                written.append(path)
    if profile.infer is not None:
        for suffix, fn in (
            ("bundle_latency", plot_bundle_latency),
            ("layer_latency", plot_layer_latency),
        ):
            path = fn(profile, out / f"{name}_{suffix}.png")
            if path is not None:
                written.append(path)
    return written


# ---------------------------------------------------------------- (1) images/s against CPUs


def plot_throughput_curve(profile: Profile, path: str | Path) -> Path | None:
    """The search curve with its band, the probes numbered in trace order, and the knee.

    Without a search (one fixed cap, say) the probes themselves are drawn, in run order.
    """
    train = profile.train
    if train is None:
        return None
    ok_probes = [p for p in train.probes if p.throughput is not None]
    if train.search is None and not ok_probes:
        return None
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(9, 5.5))
        if train.search is not None:
            _draw_search(ax, train.search, train.probes)
            s = train.search
            sub = (
                f"search '{s.strategy}': {s.probes_used} probes"
                + (f" of budget {s.budget}" if s.budget else "")
                + f", max band ±{100 * s.max_rel_uncertainty:.1f}%"
            )
        else:
            _draw_probes(ax, train.probes)
            sub = f"{len(ok_probes)} probes, no search"
        ax.set_xlabel("CPUs (cap)")
        ax.set_ylabel("throughput (images/s)")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.grid(True, alpha=0.3)
        _titles(ax, "Training throughput against CPUs", f"{_caption(profile)}\n{sub}")
        ax.legend(loc="lower right", framealpha=0.9)
        return _save(fig, Path(path))


def _draw_search(ax: Axes, search: SearchResult, probes: list[Probe]) -> None:
    curve = sorted(search.curve, key=lambda p: p.cpus)
    if curve:
        xs = [p.cpus for p in curve]
        ys = [p.throughput for p in curve]
        if any(p.lo is not None or p.hi is not None for p in curve):
            lo = [p.lo if p.lo is not None else p.throughput for p in curve]
            hi = [p.hi if p.hi is not None else p.throughput for p in curve]
            ax.fill_between(xs, lo, hi, color="C0", alpha=0.18, lw=0, label="uncertainty band")
        ax.plot(xs, ys, "-", color="C0", lw=2, label="search curve", zorder=2)
        interp = [p for p in curve if p.source == "interpolated"]
        extrap = [p for p in curve if p.source == "extrapolated"]
        if interp:
            ax.plot(
                [p.cpus for p in interp],
                [p.throughput for p in interp],
                "o",
                ms=5,
                mfc="white",
                mec="C0",
                label="interpolated",
                zorder=3,
            )
        if extrap:
            ax.plot(
                [p.cpus for p in extrap],
                [p.throughput for p in extrap],
                "D",
                ms=5,
                mfc="white",
                mec="C7",
                label="extrapolated",
                zorder=3,
            )
    # the spread of each probe the search took (p5..p95 of its batches)
    by_caps = {(p.caps.cpus, p.caps.memory_gb): p for p in probes if p.throughput is not None}
    for step in search.trace:
        probe = by_caps.get((step.cpus, step.memory_gb))
        if probe is not None and probe.throughput is not None and step.value is not None:
            t = probe.throughput
            ax.vlines(step.cpus, t.p5, t.p95, color="C1", lw=1.5, alpha=0.7, zorder=3)
    _draw_trace_markers(ax, [(s.step, s.cpus, s.value) for s in search.trace])
    ymax = max([p.throughput for p in curve] + [s.value or 0.0 for s in search.trace] + [1.0])
    if search.knee is not None:
        k = search.knee
        ax.axhline(k.peak_throughput, color="0.5", ls=":", lw=1, zorder=1)
        ax.text(
            0.01,
            k.peak_throughput,
            f" peak {k.peak_throughput:.0f} img/s",
            transform=ax.get_yaxis_transform(),
            va="bottom",
            fontsize=9,
            color="0.35",
        )
        ax.axvline(k.cpus, color="C3", ls="--", lw=1.2, zorder=1)
        ax.plot(
            [k.cpus],
            [k.throughput],
            "*",
            ms=18,
            color="C3",
            mec="white",
            zorder=6,
            label=f"knee: {k.cpus:g} CPUs ({100 * k.fraction:.0f}% of peak)",
        )
        ax.annotate(
            f"knee {k.cpus:g} CPUs\n{k.throughput:.0f} img/s",
            (k.cpus, k.throughput),
            xytext=(14, -34),
            textcoords="offset points",
            fontsize=10,
            color="C3",
            arrowprops={"arrowstyle": "-", "color": "C3", "lw": 0.8},
        )
    ax.set_ylim(0, ymax * 1.15)


TraceMark = tuple[int, float, float | None]  # (step number, CPUs, images/s or None if failed)


def trace_labels(
    steps: list[TraceMark],
) -> tuple[dict[float, tuple[str, float]], dict[float, str]]:
    """Marker labels per CPU count: {cpus: ("1,5", value)} for measured, {cpus: "3"} for failed.

    A CPU count probed twice (another memory cap, a repeat) gets one marker with both numbers,
    at the value of the last probe there.
    """
    done: dict[float, list[int]] = {}
    failed: dict[float, list[int]] = {}
    values: dict[float, float] = {}
    for number, cpus, value in steps:
        if value is None:
            failed.setdefault(cpus, []).append(number)
        else:
            done.setdefault(cpus, []).append(number)
            values[cpus] = value
    measured = {c: (",".join(map(str, ns)), values[c]) for c, ns in done.items()}
    return measured, {c: ",".join(map(str, ns)) for c, ns in failed.items()}


def _draw_trace_markers(
    ax: Axes, steps: list[TraceMark], label: str = "probes the search took (in order)"
) -> None:
    """Numbered circles in the order the probes ran; a failed probe is a red cross on the axis."""
    measured, failed = trace_labels(steps)
    if measured:
        xs = list(measured)
        ax.scatter(
            xs,
            [measured[x][1] for x in xs],
            s=260,
            color="C1",
            edgecolor="white",
            lw=1.5,
            zorder=5,
            label=label,
        )
        for x in xs:
            label, value = measured[x]
            ax.text(
                x,
                value,
                label,
                ha="center",
                va="center",
                fontsize=8 if len(label) > 2 else 9,
                color="white",
                fontweight="bold",
                zorder=6,
            )
    if failed:
        xs = list(failed)
        ax.scatter(
            xs,
            [0] * len(xs),
            marker="X",
            s=120,
            color="C3",
            zorder=5,
            clip_on=False,
            label="failed probe (no value)",
        )
        for x in xs:
            ax.annotate(
                failed[x],
                (x, 0),
                xytext=(0, 9),
                textcoords="offset points",
                ha="center",
                fontsize=9,
                color="C3",
            )


def _draw_probes(ax: Axes, probes: list[Probe]) -> None:
    steps: list[TraceMark] = []
    for i, p in enumerate(probes, start=1):
        t = p.throughput
        if t is not None:
            ax.vlines(p.caps.cpus, t.p5, t.p95, color="C1", lw=1.5, alpha=0.7, zorder=3)
        steps.append((i, p.caps.cpus, t.median if t is not None else None))
    _draw_trace_markers(ax, steps, label="probes, median images/s (in run order)")
    ymax = max([s[2] or 0.0 for s in steps] + [1.0])
    ax.set_ylim(0, ymax * 1.15)


# ---------------------------------------------------------------- (2) CPUs x memory matrix


def plot_memory_matrix(profile: Profile, path: str | Path) -> Path | None:
    """Heat map of throughput over CPUs x memory cap, one panel per GPU count."""
    if profile.train is None or not profile.train.memory_axis:
        return None
    cells = profile.train.memory_axis
    gpu_counts = sorted({c.gpus for c in cells})
    cpus = sorted({c.cpus for c in cells})
    mems = sorted({c.memory_gb for c in cells})
    values = [c.throughput for c in cells if c.throughput is not None]
    vmax = max(values) if values else 1.0
    with _style() as plt:
        from matplotlib.patches import Patch

        width = min(18.0, 1.5 + len(gpu_counts) * (1.2 + 1.05 * len(cpus)))
        fig, axes = plt.subplots(
            1, len(gpu_counts), figsize=(width, 1.6 + 0.75 * len(mems)), squeeze=False
        )
        fig.subplots_adjust(bottom=0.2)
        image = None
        for ax, g in zip(axes[0], gpu_counts, strict=True):
            grid = {(c.cpus, c.memory_gb): c for c in cells if c.gpus == g}
            image = _draw_matrix(ax, grid, cpus, mems, vmax)
            if len(gpu_counts) > 1:
                ax.text(
                    0.5,
                    1.01,
                    f"{g} GPU{'s' if g != 1 else ''}",
                    transform=ax.transAxes,
                    ha="center",
                    va="bottom",
                    fontweight="bold",
                )
        if image is not None:
            cbar = fig.colorbar(image, ax=list(axes[0]), fraction=0.046, pad=0.02)
            cbar.set_label("throughput (images/s)")
        handles = []
        if any(c.outcome == Outcome.oom for c in cells):
            handles.append(
                Patch(facecolor="0.85", hatch="///", edgecolor="C3", label="OOM (killed)")
            )
        if any(c.throughput is None and c.outcome != Outcome.oom for c in cells):
            handles.append(
                Patch(facecolor="0.92", hatch="///", edgecolor="C3", label="failed (other)")
            )
        per_gpu = {(c.cpus, c.memory_gb, c.gpus) for c in cells}
        if len(per_gpu) < len(gpu_counts) * len(cpus) * len(mems):
            handles.append(Patch(facecolor="0.95", edgecolor="0.6", label="not measured (–)"))
        if any(c.source != "measured" and c.throughput is not None for c in cells):
            handles.append(Patch(facecolor="none", edgecolor="none", label="~ interpolated"))
        if handles:
            fig.legend(
                handles=handles,
                loc="lower left",
                bbox_to_anchor=(0.0, -0.02),
                ncol=len(handles),
                fontsize=9,
                frameon=False,
            )
        data_note = ""
        if profile.train.dataset_bytes:
            data_note = f"; dataset {profile.train.dataset_bytes / 1e9:.2g} GB on disk"
        _titles(
            axes[0][0],
            "Throughput matrix: CPUs × memory cap",
            f"{_caption(profile)}\nmedian images/s per cap{data_note}",
            lift=20.0 if len(gpu_counts) > 1 else 0.0,
        )
        return _save(fig, Path(path))


def _draw_matrix(
    ax: Axes,
    grid: dict[tuple[float, float], MatrixCell],
    cpus: list[float],
    mems: list[float],
    vmax: float,
) -> Any:
    import numpy as np
    from matplotlib.patches import Rectangle

    data = np.full((len(mems), len(cpus)), np.nan)
    for (c, m), known in grid.items():
        if known.throughput is not None:
            data[mems.index(m), cpus.index(c)] = known.throughput
    cmap = _cmap("viridis", bad="0.95")
    image = ax.imshow(
        np.ma.masked_invalid(data), origin="lower", cmap=cmap, vmin=0, vmax=vmax, aspect="auto"
    )
    for i, m in enumerate(mems):
        for j, c in enumerate(cpus):
            cell = grid.get((c, m))
            if cell is None:
                ax.text(j, i, "–", ha="center", va="center", color="0.5")
                continue
            if cell.throughput is None:
                face = "0.85" if cell.outcome == Outcome.oom else "0.92"
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5),
                        1,
                        1,
                        facecolor=face,
                        hatch="///",
                        edgecolor="C3",
                        lw=0,
                    )
                )
                text = "OOM" if cell.outcome == Outcome.oom else str(cell.outcome).replace("_", " ")
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    color="C3",
                    fontweight="bold",
                    fontsize=10,
                )
                continue
            shade = cell.throughput / vmax if vmax else 0.0
            prefix = "~" if cell.source != "measured" else ""
            ax.text(
                j,
                i,
                f"{prefix}{cell.throughput:.0f}",
                ha="center",
                va="center",
                fontsize=10,
                color="black" if shade > 0.6 else "white",
                fontstyle="italic" if prefix else "normal",
            )
    ax.set_xticks(range(len(cpus)), [f"{c:g}" for c in cpus])
    ax.set_yticks(range(len(mems)), [f"{m:g}" for m in mems])
    ax.set_xlabel("CPUs (cap)")
    ax.set_ylabel("memory cap (GB)")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


def _cmap(name: str, bad: str) -> Any:
    """A named colour map whose masked (missing) cells show in `bad`."""
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=bad)


# ---------------------------------------------------------------- (3) per-batch time split


def probe_phase_ms(probe: Probe) -> dict[str, float]:
    """Median ms per batch of each timed phase, from the probe's timings.

    A workload that times only whole batches (an external script) gives {"batch": ms}, drawn
    as one unsplit bar; a probe with no timings at all (it failed) gives {}.
    """
    split = {n: probe.timings[n].median * 1e3 for n in PHASES if n in probe.timings}
    if split:
        return split
    if "batch" in probe.timings:
        return {"batch": probe.timings["batch"].median * 1e3}
    return {}


def _cap_label(probe: Probe, show_mem: bool) -> str:
    parts = [f"{probe.caps.cpus:g} CPU"]
    if show_mem:
        parts.append(_fmt_gb(probe.caps.memory_gb))
    if probe.caps.gpus:
        parts.append(f"{probe.caps.gpus} GPU")
    if probe.throughput is not None:
        parts.append(f"{probe.throughput.median:.0f} img/s")
    return "\n".join(parts)


def plot_time_split(profile: Profile, path: str | Path) -> Path | None:
    """Stacked bars of median data/forward/backward(/allreduce)/step ms per batch, per cap."""
    if profile.train is None:
        return None
    probes = sorted(
        profile.train.probes,
        key=lambda p: (p.caps.gpus, p.caps.memory_gb or math.inf, p.caps.cpus, p.id),
    )
    if not any(probe_phase_ms(p) for p in probes):
        return None  # no probe measured a batch
    show_mem = len({p.caps.memory_gb for p in probes}) > 1
    n = len(probes)
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(max(7.5, 1.5 + 0.85 * n), 5.5))
        split = [probe_phase_ms(p) for p in probes]
        totals = [sum(ms.values()) for ms in split]
        top = max(totals + [1e-9])
        bottoms = [0.0] * n
        for name in (*PHASES, "batch"):
            heights = [ms.get(name, 0.0) for ms in split]
            if not any(heights):
                continue
            ax.bar(
                range(n),
                heights,
                bottom=bottoms,
                color=PHASE_COLORS[name],
                width=0.7,
                label=PHASE_LABELS.get(name, name),
                edgecolor="white",
                lw=0.6,
            )
            for i, (h, b) in enumerate(zip(heights, bottoms, strict=True)):
                if name != "batch" and totals[i] > 0 and h > 0.07 * top:
                    ax.text(
                        i,
                        b + h / 2,
                        f"{100 * h / totals[i]:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white",
                    )
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        for i, (p, total) in enumerate(zip(probes, totals, strict=True)):
            if total > 0:
                ax.text(i, total + 0.01 * top, f"{total:.0f}", ha="center", va="bottom", fontsize=9)
            else:
                ax.text(
                    i,
                    0.02 * top,
                    str(p.outcome).replace("_", " ").upper(),
                    ha="center",
                    va="bottom",
                    fontsize=9,
                    color="C3",
                    fontweight="bold",
                    rotation=90,
                )
        ax.set_xticks(range(n), [_cap_label(p, show_mem) for p in probes])
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylim(0, top * 1.12)
        ax.set_ylabel("time per batch (ms, median)")
        ax.set_xlabel("cap")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        mem_note = "" if show_mem else f", memory {_fmt_gb(probes[0].caps.memory_gb)}"
        _titles(
            ax,
            "Per-batch time split per cap",
            f"{_caption(profile)}\nbatch size {profile.job.batch_size}{mem_note}; "
            "bar = median ms per batch of each phase, % = its share",
        )
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            title="phase",
            frameon=False,
            reverse=True,
        )
        return _save(fig, Path(path))


# ---------------------------------------------------------------- (4) inference bundles


def _bundles_at_default_clock(infer: InferSection) -> tuple[list[BundleTiming], str]:
    """Bundles at the default clock if measured there, else at the highest frequency."""
    freqs = {b.frequency_mhz for b in infer.bundles}
    if None in freqs or not freqs:
        return [b for b in infer.bundles if b.frequency_mhz is None], "default clock"
    top = max(f for f in freqs if f is not None)
    return [b for b in infer.bundles if b.frequency_mhz == top], f"{top:g} MHz"


def _pick_batch_sizes(sizes: list[int], most: int = 4) -> list[int]:
    sizes = sorted(set(sizes))
    if len(sizes) <= most:
        return sizes
    step = (len(sizes) - 1) / (most - 1)
    return sorted({sizes[round(i * step)] for i in range(most)})


def plot_bundle_latency(profile: Profile, path: str | Path) -> Path | None:
    """Heat map of a bundle's median latency: start layer (rows) x last layer (columns)."""
    infer = profile.infer
    if infer is None or not infer.bundles:
        return None
    import numpy as np
    from matplotlib.colors import LogNorm

    bundles, clock = _bundles_at_default_clock(infer)
    all_sizes = sorted({b.batch_size for b in bundles})
    sizes = _pick_batch_sizes(all_sizes)
    n = len(infer.layers)
    names = [layer.name for layer in infer.layers]
    lat = [b.latency.median * 1e3 for b in bundles if b.latency.median > 0]
    vmin, vmax = (min(lat), max(lat)) if lat else (1e-3, 1.0)
    if vmax <= vmin:
        vmax = vmin * 10
    annotate = n <= 12
    side = max(4.5, 0.5 * n + 2.0)
    with _style() as plt:
        rows = 1 if len(sizes) <= 2 else 2
        cols = math.ceil(len(sizes) / rows)
        fig, axes = plt.subplots(
            rows, cols, figsize=(side * cols + 1.2, side * rows), squeeze=False
        )
        flat = [ax for row in axes for ax in row]
        for ax in flat[len(sizes) :]:
            ax.set_visible(False)
        image = None
        for k, (ax, bs) in enumerate(zip(flat, sizes, strict=False)):
            data = np.full((n, n), np.nan)
            for b in bundles:
                if b.batch_size == bs and b.latency.median > 0:
                    data[b.start, b.end - 1] = b.latency.median * 1e3
            cmap = _cmap("magma_r", bad="0.96")
            image = ax.imshow(
                np.ma.masked_invalid(data),
                cmap=cmap,
                norm=LogNorm(vmin=vmin, vmax=vmax),
                aspect="equal",
            )
            if annotate:
                for s in range(n):
                    for e in range(n):
                        v = data[s, e]
                        if not np.isnan(v):
                            dark = math.log(v / vmin) > 0.55 * math.log(vmax / vmin)
                            ax.text(
                                e,
                                s,
                                _short_ms(v),
                                ha="center",
                                va="center",
                                fontsize=7,
                                color="white" if dark else "black",
                            )
            ax.set_xticks(range(n), names, rotation=60, ha="right", rotation_mode="anchor")
            ax.set_yticks(range(n), names)
            if k // cols == rows - 1 or k + cols >= len(sizes):
                ax.set_xlabel("bundle ends after layer")
            if k % cols == 0:
                ax.set_ylabel("bundle starts at layer")
            ax.text(
                0.5,
                1.01,
                f"batch size {bs}",
                transform=ax.transAxes,
                ha="center",
                va="bottom",
                fontweight="bold",
            )
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(False)
        if image is not None:
            cbar = fig.colorbar(image, ax=flat, fraction=0.03, pad=0.02)
            cbar.set_label("latency per batch (ms, median, log scale)")
            _plain_log_ticks(cbar.ax.yaxis)
        _titles(
            axes[0][0],
            "Bundle latency: layers start..end run as one unit",
            f"{_caption(profile)}\nmedian ms per batch at the {clock}"
            + (
                f"; batch sizes {', '.join(map(str, sizes))} of {len(all_sizes)} measured"
                if len(sizes) < len(all_sizes)
                else ""
            ),
            lift=20.0,
        )
        return _save(fig, Path(path))


def _short_ms(v: float) -> str:
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def plot_layer_latency(profile: Profile, path: str | Path) -> Path | None:
    """Per-layer latency (bundles of one layer) as bars; tensor size at each cut on a 2nd axis."""
    infer = profile.infer
    if infer is None or not infer.layers:
        return None
    bundles, clock = _bundles_at_default_clock(infer)
    singles = {(b.start, b.batch_size): b for b in bundles if b.end == b.start + 1}
    sizes = _pick_batch_sizes([bs for _, bs in singles])
    n = len(infer.layers)
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(max(8.0, 1.0 + 0.75 * n), 5.5))
        width = 0.8 / max(1, len(sizes))
        all_ms: list[float] = []
        for k, bs in enumerate(sizes):
            xs, hs = [], []
            for i in range(n):
                b = singles.get((i, bs))
                if b is not None:
                    xs.append(i - 0.4 + width * (k + 0.5))
                    hs.append(b.latency.median * 1e3)
            all_ms.extend(h for h in hs if h > 0)
            ax.bar(xs, hs, width=width * 0.95, color=f"C{k}", label=f"latency, batch {bs}")
        if all_ms and max(all_ms) / max(min(all_ms), 1e-12) > 50:
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        ax.set_xticks(
            range(n),
            [layer.name for layer in infer.layers],
            rotation=45,
            ha="right",
            rotation_mode="anchor",
        )
        ax.set_xlim(-0.8, n - 0.2)
        ax.set_xlabel("layer")
        ax.set_ylabel("latency per batch (ms, median)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)

        ax2 = ax.twinx()
        ax2.spines["right"].set_visible(True)
        cut_bytes = [c.bytes_fp32 for c in infer.cuts]
        unit, scale = ("MiB", 2**20) if max(cut_bytes, default=0) >= 4 * 2**20 else ("KiB", 2**10)
        cx = [c.index - 0.5 for c in infer.cuts]
        ax2.plot(
            cx,
            [b / scale for b in cut_bytes],
            "-o",
            color="0.2",
            lw=1.5,
            ms=5,
            label="cut size (fp32)",
        )
        ax2.plot(
            cx,
            [c.bytes_fp16 / scale for c in infer.cuts],
            "--",
            color="0.55",
            lw=1.2,
            label="cut size (fp16)",
        )
        if max(cut_bytes, default=0) / max(min(cut_bytes, default=1), 1) > 50:
            ax2.set_yscale("log")
            _plain_log_ticks(ax2.yaxis)
        ends = ((infer.cuts[0], "input", 6, "left"), (infer.cuts[-1], "output", -6, "right"))
        for cut, label, dx, align in ends:
            ax2.annotate(
                label,
                (cut.index - 0.5, cut.bytes_fp32 / scale),
                xytext=(dx, 6),
                textcoords="offset points",
                ha=align,
                fontsize=9,
                color="0.2",
            )
        ax2.set_ylabel(f"tensor at the cut ({unit} per sample)")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(
            h1 + h2,
            l1 + l2,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=min(4, len(h1) + len(h2)),
            frameon=False,
        )
        _titles(
            ax,
            "Per-layer latency and the tensor size at each cut",
            f"{_caption(profile)}\nbars: each layer alone ({clock}); line: the activation "
            "crossing the cut between two layers",
        )
        return _save(fig, Path(path))
