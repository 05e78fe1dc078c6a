"""A training job's throughput for each (CPUs, memory) configuration, from its profile.

The packing solver chooses among discrete configurations; this module turns a profile into
them. Sources, in order of trust: the CPUs x memory matrix (`train.memory_axis`), the
search curve (`train.search.curve`, memory unconstrained), the probes themselves. Points past
the profiled CPU range come from a saturating fit T(c) = a c / (K + c), clamped so that it never
grows faster than the last measured slope nor falls below the last measured value, and held
flat past twice the largest profiled CPU count; they are flagged `extrapolated`. A profile
measured at g0 GPUs serves a job of g GPUs by data-parallel scaling (g/g0 times the per-g0
rate at the per-GPU share; the table's notes say so). Throughput is normalised by the job's
GPU-proportional share, so 1.0 is the fairness floor.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Literal

from harness.profile import Outcome, Profile
from solver.problem import MAX_AMOUNT, beyond

Source = Literal["measured", "interpolated", "extrapolated"]
EPS = 1e-9
# Past this multiple of the largest profiled CPU count the curve is held flat: a fit of a few
# points says little about a range several times wider than the one measured.
EXTRAPOLATION_REACH = 2.0


@dataclass(frozen=True)
class ConfigPoint:
    cpus: float
    memory_gb: float
    throughput: float  # images/s for the whole job
    normalised: float  # throughput / throughput at the GPU-proportional share
    source: Source


@dataclass
class JobTable:
    """Everything the packing models need about one job."""

    name: str
    gpus: int
    configs: list[ConfigPoint]  # floor-respecting, non-dominated, proportional share included
    prop_cpus: float
    prop_memory_gb: float
    prop_throughput: float
    images_per_iteration: float
    model: CurveModel | None = None
    notes: list[str] = field(default_factory=list)

    def throughput_at(self, cpus: float, memory_gb: float) -> float:
        """Images/s at any allocation (the checker uses this, not the solver's numbers)."""
        if self.model is None:
            best = 0.0
            for c in self.configs:
                if c.cpus <= cpus + EPS and c.memory_gb <= memory_gb + EPS:
                    best = max(best, c.throughput)
            return best
        return self.model.job_throughput(self.gpus, cpus, memory_gb)[0]

    def normalised_at(self, cpus: float, memory_gb: float) -> float:
        return self.throughput_at(cpus, memory_gb) / self.prop_throughput

    @property
    def prop_config(self) -> ConfigPoint:
        return self.configs[0]

    @property
    def ideal_config(self) -> ConfigPoint:
        """Synergy's demand: the smallest configuration within 1% of the best throughput."""
        best = max(c.normalised for c in self.configs)
        near = [c for c in self.configs if c.normalised >= best * 0.99 - EPS]
        return min(near, key=lambda c: (c.cpus, c.memory_gb))


# ---------------------------------------------------------------- 1-D curve with extrapolation


@dataclass
class Curve:
    """Throughput against CPUs at one unit (the profiled GPU count), memory unconstrained."""

    xs: list[float]
    ys: list[float]
    fit_a: float
    fit_k: float

    @classmethod
    def from_points(cls, pts: list[tuple[float, float]]) -> Curve:
        by_x: dict[float, float] = {}
        for x, y in pts:
            if x > 0 and y is not None and math.isfinite(y):
                by_x[x] = max(by_x.get(x, 0.0), y)
        if not by_x:
            raise ValueError("no usable throughput points")
        xs = sorted(by_x)
        ys = [by_x[x] for x in xs]
        a, k = _fit_saturating(xs, ys)
        return cls(xs, ys, a, k)

    def __call__(self, c: float) -> tuple[float, Source]:
        xs, ys = self.xs, self.ys
        if c < xs[0] - EPS:
            # Below the profiled range: proportional to CPUs (no CPUs, no input pipeline).
            return ys[0] * c / xs[0], "extrapolated"
        if c > xs[-1] + EPS:
            ce = min(c, EXTRAPOLATION_REACH * xs[-1])
            fit = self.fit_a * ce / (self.fit_k + ce)
            slope = _last_slope(xs, ys)
            upper = ys[-1] + slope * (ce - xs[-1])
            return max(ys[-1], min(fit, upper)), "extrapolated"
        i = bisect.bisect_left(xs, c - EPS)
        if abs(xs[i] - c) <= EPS:
            return ys[i], "measured"
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 + (y1 - y0) * (c - x0) / (x1 - x0), "interpolated"


def _last_slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return ys[0] / xs[0]
    return max(0.0, (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]))


def _fit_saturating(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares for T = a c / (K + c): closed form in a, grid search in log K."""
    best = (math.inf, ys[-1], 1.0)
    lo, hi = math.log(max(xs[0], 1e-3) * 0.05), math.log(xs[-1] * 100.0)
    for i in range(121):
        k = math.exp(lo + (hi - lo) * i / 120)
        f = [x / (k + x) for x in xs]
        a = sum(fi * y for fi, y in zip(f, ys, strict=True)) / max(sum(fi * fi for fi in f), EPS)
        err = sum((a * fi - y) ** 2 for fi, y in zip(f, ys, strict=True))
        if err < best[0] - 1e-12:
            best = (err, a, k)
    return best[1], best[2]


# ---------------------------------------------------------------- the 2-D model


@dataclass
class CurveModel:
    """T(cpus, memory) at `unit_gpus` GPUs, and its data-parallel scaling to other counts."""

    unit_gpus: int
    curve: Curve
    rows: dict[float, list[tuple[float, float]]]  # cpus -> [(memory_gb, throughput)] sorted
    min_memory_gb: float  # below this the job cannot run (oom, or the peak RSS seen)
    images_per_iteration: float
    per_gpu_rows: dict[int, dict[float, list[tuple[float, float]]]] = field(default_factory=dict)

    def unit(self, cpus: float, mem: float) -> tuple[float, Source]:
        if mem < self.min_memory_gb - EPS:
            return 0.0, "measured"
        t, src = self.curve(cpus)
        if not self.rows:
            return t, src
        keys = sorted(self.rows)
        row = self.rows[min(keys, key=lambda k: abs(k - cpus))]
        ref = row[-1][1]
        if ref <= 0:
            return t, src
        factor, msrc = _interp_row(row, mem)
        if msrc == "extrapolated" and src == "measured":
            src = "extrapolated"
        elif msrc == "interpolated" and src == "measured":
            src = "interpolated"
        return t * min(1.0, factor / ref), src

    def job_throughput(self, gpus: int, cpus: float, mem: float) -> tuple[float, Source]:
        """Job of `gpus` GPUs: each unit of `unit_gpus` gets its per-GPU share."""
        u = max(self.unit_gpus, 1)
        scale = gpus / u
        t, src = self.unit(cpus / scale, mem / scale)
        return t * scale, src


def _interp_row(row: list[tuple[float, float]], mem: float) -> tuple[float, Source]:
    ms = [m for m, _ in row]
    if mem >= ms[-1] - EPS:
        return row[-1][1], ("measured" if abs(mem - ms[-1]) <= EPS else "extrapolated")
    if mem < ms[0] - EPS:
        return 0.0, "extrapolated"
    i = bisect.bisect_left(ms, mem - EPS)
    if abs(ms[i] - mem) <= EPS:
        return row[i][1], "measured"
    (m0, y0), (m1, y1) = row[i - 1], row[i]
    return y0 + (y1 - y0) * (mem - m0) / (m1 - m0), "interpolated"


def curve_model(profile: Profile) -> CurveModel:
    """Build the model from a train profile; ValueError (one line) when it has no throughput."""
    tr = profile.train
    if profile.kind != "train" or tr is None:
        raise ValueError(f"profile {profile.id}: expected kind 'train', got '{profile.kind}'")
    gpu_counts = [p.caps.gpus for p in tr.probes] + [c.gpus for c in tr.memory_axis]
    unit_gpus = max(gpu_counts) if gpu_counts else 0
    pts: list[tuple[float, float]] = []
    if tr.search is not None and tr.search.curve:
        pts = [(p.cpus, p.throughput) for p in tr.search.curve]
    if not pts:
        pts = [
            (p.caps.cpus, p.throughput.median)
            for p in tr.probes
            if p.outcome == Outcome.ok and p.throughput is not None
        ]
    rows: dict[float, list[tuple[float, float]]] = {}
    oom_below = 0.0
    for cell in tr.memory_axis:
        if cell.gpus != unit_gpus:
            continue
        if cell.outcome == Outcome.ok and cell.throughput is not None:
            rows.setdefault(cell.cpus, []).append((cell.memory_gb, cell.throughput))
        elif cell.outcome == Outcome.oom:
            oom_below = max(oom_below, cell.memory_gb * 1.0001)
    for k in rows:
        rows[k].sort()
    if not pts and rows:
        pts = [(c, r[-1][1]) for c, r in rows.items()]
    if not pts:
        raise ValueError(f"profile {profile.id}: no ok probe with a throughput")
    measured = pts + [pt for r in rows.values() for pt in r]
    for x, y in measured:
        if beyond(x, MAX_AMOUNT) or beyond(y, MAX_AMOUNT):
            raise ValueError(
                f"profile {profile.id}: a throughput of {y:g} images/s at {x:g} (CPUs or GB) is "
                f"past what a model takes (at most {MAX_AMOUNT:g})"
            )
    if rows:
        min_mem = max(oom_below, min(r[0][0] for r in rows.values()))
    else:
        rss = [p.peak_rss_mb for p in tr.probes if p.peak_rss_mb]
        min_mem = 1.1 * max(rss) / 1024 if rss else 0.0
    units = max(unit_gpus, 1)
    return CurveModel(
        unit_gpus=unit_gpus,
        curve=Curve.from_points(pts),
        rows=rows,
        min_memory_gb=min_mem,
        images_per_iteration=float(profile.job.batch_size * units),
    )


# ---------------------------------------------------------------- the configuration table


def build_table(
    name: str,
    gpus: int,
    model: CurveModel,
    cpus_per_gpu: float,
    memory_per_gpu: float,
    max_cpus: float,
    max_memory_gb: float,
    split: bool = False,
) -> JobTable:
    """Every floor-respecting, non-dominated (CPUs, memory) choice for a job of `gpus` GPUs.

    cpus_per_gpu / memory_per_gpu: the proportional share (the fairness reference).
    max_cpus / max_memory_gb: the most one job may take (one server's worth). A job split over
    several servers keeps the proportional share (its slowest part sets the pace, and a whole
    server gives exactly that share), so it gets that configuration only.
    """
    ipi = model.images_per_iteration * gpus / max(model.unit_gpus, 1)
    pc, pm = gpus * cpus_per_gpu, gpus * memory_per_gpu
    pt, psrc = model.job_throughput(gpus, pc, pm)
    notes: list[str] = []
    if pt <= 0:
        raise ValueError(
            f"job {name}: no throughput at its proportional share ({pc:g} CPUs, {pm:g} GB): "
            f"it needs at least {model.min_memory_gb * gpus / max(model.unit_gpus, 1):g} GB"
        )
    prop = ConfigPoint(pc, pm, pt, 1.0, psrc)
    if split:
        return JobTable(name, gpus, [prop], pc, pm, pt, ipi, model, ["split: proportional only"])
    cpu_levels = sorted({float(c) for c in range(1, int(math.floor(max_cpus + EPS)) + 1)} | {pc})
    scale = gpus / max(model.unit_gpus, 1)
    mem_levels = {pm}
    if model.rows:
        for row in model.rows.values():
            mem_levels.update(m * scale for m, _ in row)
    if model.min_memory_gb > 0:
        mem_levels.add(model.min_memory_gb * scale)
    mems = sorted(m for m in mem_levels if m <= max_memory_gb + EPS)
    cands: list[ConfigPoint] = [prop]
    for c in cpu_levels:
        if c > max_cpus + EPS:
            continue
        for m in mems:
            t, src = model.job_throughput(gpus, c, m)
            if t >= pt * (1 - 1e-9) and (c, m) != (pc, pm):
                cands.append(ConfigPoint(c, m, t, t / pt, src))
    configs = [prop] + [c for c in _pareto(cands[1:]) if (c.cpus, c.memory_gb) != (pc, pm)]
    top = max(c.normalised for c in configs)
    if beyond(top, MAX_AMOUNT) or beyond(ipi, MAX_AMOUNT):
        raise ValueError(
            f"job {name}: its throughput at the proportional share ({pt:g} images/s at "
            f"{pc:g} CPUs, {pm:g} GB) is too small to measure the others by (up to {top:g} "
            f"times it): past what a model takes (at most {MAX_AMOUNT:g})"
        )
    # The proportional share stays even when dominated: it is the baselines' allocation.
    if any(c.source == "extrapolated" for c in configs):
        notes.append("some configurations extrapolated past the profiled CPUs/memory")
    if max(model.unit_gpus, 1) != gpus:
        notes.append(f"scaled from a profile at {model.unit_gpus} GPUs to {gpus}")
    return JobTable(name, gpus, configs, pc, pm, pt, ipi, model, notes)


def _pareto(cands: list[ConfigPoint]) -> list[ConfigPoint]:
    """Drop configurations that use at least as much of both and give no more throughput."""
    cands = sorted(cands, key=lambda c: (c.cpus, c.memory_gb, -c.throughput))
    keep: list[ConfigPoint] = []
    for c in cands:
        dominated = any(
            k.cpus <= c.cpus + EPS
            and k.memory_gb <= c.memory_gb + EPS
            and k.throughput >= c.throughput * (1 - 1e-6)
            for k in keep
        )
        if not dominated:
            keep.append(c)
    return keep


def inline_model(
    points: list[tuple[float, float | None, float]], unit_gpus: int, images_per_iteration: float
) -> CurveModel:
    """A model from an inline (cpus, memory_gb or None, throughput) table in a problem file."""
    curve_pts = [(c, t) for c, m, t in points if m is None]
    rows: dict[float, list[tuple[float, float]]] = {}
    for c, m, t in points:
        if m is not None:
            rows.setdefault(c, []).append((m, t))
    for k in rows:
        rows[k].sort()
    if not curve_pts:
        curve_pts = [(c, r[-1][1]) for c, r in rows.items()]
    min_mem = min(r[0][0] for r in rows.values()) if rows else 0.0
    return CurveModel(
        unit_gpus=unit_gpus,
        curve=Curve.from_points(curve_pts),
        rows=rows,
        min_memory_gb=min_mem,
        images_per_iteration=images_per_iteration,
    )
