"""Valid training Profiles with known shape, for the packing solver's tests and benches.

Throughput follows a CPU curve that rises while the input pipeline limits it and is flat once
the GPU does, T(c) = peak * min(1, c / sat) (Synergy's picture of CPU-sensitive and -insensitive
jobs), times a memory factor with a knee: above `knee_gb` (the dataset fits the page
cache) nothing is lost, below it throughput falls linearly to `floor_frac` at `min_gb`, and
below `min_gb` the probe ends `oom`. Real profiles from the profiler have the same fields.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness.profile import (
    Caps,
    CurvePoint,
    HostFacts,
    Knee,
    MatrixCell,
    Outcome,
    Probe,
    Profile,
    SearchResult,
    Stat,
    TraceStep,
    TrainSection,
    make_profile_id,
)
from harness.spec import JobSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def curve_value(cpus: float, peak: float, sat: float) -> float:
    return peak * min(1.0, cpus / sat)


def memory_factor(mem_gb: float, knee_gb: float, min_gb: float, floor_frac: float) -> float:
    if mem_gb < min_gb:
        return 0.0
    if mem_gb >= knee_gb:
        return 1.0
    span = max(knee_gb - min_gb, 1e-9)
    return floor_frac + (1.0 - floor_frac) * (mem_gb - min_gb) / span


def make_train_profile(
    name: str = "res18",
    model: str = "resnet18",
    peak: float = 400.0,
    sat: float = 4.0,
    max_cpus: int = 24,
    gpus: int = 1,
    batch_size: int = 64,
    knee_gb: float | None = 40.0,
    min_gb: float = 8.0,
    floor_frac: float = 0.5,
    memory_levels: tuple[float, ...] = (8.0, 16.0, 32.0, 62.5, 125.0),
    matrix_cpus: tuple[float, ...] = (1.0, 3.0, 6.0, 12.0, 24.0),
    measured_cpus: tuple[int, ...] | None = None,
    peak_rss_gb: float = 6.0,
) -> Profile:
    """One train profile: probes at `measured_cpus`, the search curve 1..max_cpus, memory axis.

    knee_gb=None leaves the memory axis out (memory unconstrained, as on a host with no
    memory cgroup).
    """
    measured = measured_cpus or tuple(
        sorted({c for c in (1, 2, 3, 4, 6, 8, 12, 16, 24, max_cpus) if c <= max_cpus})
    )
    probes = []
    trace = []
    for i, c in enumerate(measured):
        v = curve_value(c, peak, sat)
        probes.append(
            Probe(
                id=f"c{c}",
                caps=Caps(cpus=float(c), gpus=gpus),
                backend="local",
                outcome=Outcome.ok,
                started=T0 + timedelta(seconds=60 * i),
                duration_s=30.0,
                throughput=Stat.of([v * 0.99, v, v * 1.01]),
                peak_rss_mb=peak_rss_gb * 1024,
            )
        )
        trace.append(TraceStep(step=i, cpus=float(c), value=v, reason="factory"))
    curve = [
        CurvePoint(
            cpus=float(c),
            throughput=curve_value(c, peak, sat),
            source="measured" if c in measured else "interpolated",
        )
        for c in range(1, max_cpus + 1)
    ]
    pk = curve_value(max_cpus, peak, sat)
    knee_c = next(p for p in curve if p.throughput >= 0.9 * pk)
    search = SearchResult(
        strategy="factory",
        probes_used=len(measured),
        trace=trace,
        curve=curve,
        knee=Knee(fraction=0.9, cpus=knee_c.cpus, throughput=knee_c.throughput, peak_throughput=pk),
        confidence=0.95,
        max_rel_uncertainty=0.05,
    )
    cells: list[MatrixCell] = []
    if knee_gb is not None:
        for mc in matrix_cpus:
            for m in memory_levels:
                f = memory_factor(m, knee_gb, min_gb, floor_frac)
                ok = f > 0
                cells.append(
                    MatrixCell(
                        cpus=mc,
                        memory_gb=m,
                        gpus=gpus,
                        throughput=curve_value(mc, peak, sat) * f if ok else None,
                        outcome=Outcome.ok if ok else Outcome.oom,
                    )
                )
    job = JobSpec(name=name, model=model, batch_size=batch_size)
    host = HostFacts(
        hostname="factory",
        cpu_model="synthetic",
        cores=max_cpus,
        memory_gb=512.0,
        os="linux",
        python_version="3.11",
    )
    return Profile(
        id=make_profile_id(name, "factory", T0),
        created=T0,
        harness_version="0.1.0",
        kind="train",
        job=job,
        host=host,
        backend="local",
        train=TrainSection(probes=probes, search=search, memory_axis=cells),
    )


# A spread of job shapes like Synergy's mix: CPU-hungry (small image models, heavy decode),
# CPU-light (large models), memory-sensitive (big datasets) and insensitive ones.
SYNTHETIC_MODELS: list[dict[str, float | str | None]] = [
    {"name": "res18", "model": "resnet18", "peak": 900.0, "sat": 9.0, "knee_gb": 60.0},
    {"name": "shufflenet", "model": "shufflenet_v2_x1_0", "peak": 1200.0, "sat": 12.0},
    {"name": "alexnet", "model": "alexnet", "peak": 1500.0, "sat": 16.0, "knee_gb": 90.0},
    {"name": "mobilenet", "model": "mobilenet_v2", "peak": 700.0, "sat": 5.0},
    {"name": "res50", "model": "resnet50", "peak": 300.0, "sat": 2.0, "knee_gb": 20.0},
    {"name": "vgg11", "model": "vgg11", "peak": 250.0, "sat": 1.5, "knee_gb": 16.0},
    {"name": "vit_b_16", "model": "vit_b_16", "peak": 120.0, "sat": 1.0, "knee_gb": None},
]


def synthetic_profiles() -> list[Profile]:
    out = []
    for spec in SYNTHETIC_MODELS:
        kw = dict(spec)
        knee = kw.pop("knee_gb", 40.0)
        out.append(
            make_train_profile(
                name=str(kw["name"]),
                model=str(kw["model"]),
                peak=float(kw["peak"]),  # type: ignore[arg-type]
                sat=float(kw["sat"]),  # type: ignore[arg-type]
                knee_gb=None if knee is None else float(knee),  # type: ignore[arg-type]
            )
        )
    return out
