"""Small valid profiles for the report and export tests (train and infer), made in code.

The numbers follow the shapes real profiles have (a throughput curve that saturates, a memory
axis where a small cap runs out of memory, a network whose activations shrink with depth), so
the pictures drawn from them look like the real thing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from harness.profile import (
    BatchRecord,
    BundleTiming,
    Caps,
    CurvePoint,
    CutPoint,
    Enforcement,
    HostFacts,
    InferSection,
    Knee,
    Layer,
    MatrixCell,
    Outcome,
    Probe,
    Profile,
    SearchResult,
    Stat,
    TraceStep,
    TrainSection,
)
from harness.spec import JobKind, JobSpec

CREATED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
HOST = HostFacts(
    hostname="test-host",
    cpu_model="Test CPU",
    cores=16,
    memory_gb=64.0,
    os="Linux",
    python_version="3.11",
)
PHASE_SHARE = {"data": 0.35, "forward": 0.3, "backward": 0.3, "step": 0.05}
BATCH = 32


def throughput_at(cpus: float) -> float:
    """A curve that saturates: the job stops scaling past a handful of CPUs."""
    return 900.0 * cpus / (cpus + 3.0)


def batch_records(cpus: float, n: int, warmup: int = 2) -> list[BatchRecord]:
    """`warmup` warm-up batches then `n - warmup` measured ones, around the curve's value."""
    out = []
    base = BATCH / throughput_at(cpus)
    wall = 0.0
    for i in range(n):
        jitter = 1.0 + 0.04 * ((i * 7) % 5 - 2) / 2
        batch_s = base * jitter * (1.6 if i < warmup else 1.0)
        # data loading is the part that gains most from more CPUs
        share = dict(PHASE_SHARE)
        share["data"] = 0.55 / (1.0 + cpus / 4.0)
        rest = 1.0 - share["data"]
        for k in ("forward", "backward", "step"):
            share[k] = PHASE_SHARE[k] / 0.65 * rest
        wall += batch_s
        out.append(
            BatchRecord(
                epoch=0,
                batch_idx=i,
                global_step=i,
                warmup=i < warmup,
                batch_size=BATCH,
                data_s=batch_s * share["data"],
                forward_s=batch_s * share["forward"],
                backward_s=batch_s * share["backward"],
                step_s=batch_s * share["step"],
                batch_s=batch_s,
                images_per_s=BATCH / batch_s,
                loss=2.3 - 0.01 * i,
                lr=0.01,
                rss_mb=900.0 + 10 * i,
                wall_s=wall,
            )
        )
    return out


def make_probe(
    cpus: float,
    memory_gb: float | None = 8.0,
    n_batches: int = 8,
    outcome: Outcome = Outcome.ok,
    records: list[BatchRecord] | None = None,
    records_file: str | None = None,
) -> Probe:
    mem = f"-m{memory_gb:g}" if memory_gb is not None else ""
    recs = batch_records(cpus, n_batches) if records is None else records
    measured = [r for r in recs if not r.warmup]
    ok = outcome == Outcome.ok and measured
    timings: dict[str, Stat] = {}
    if ok:
        for name in ("data", "forward", "backward", "step", "batch"):
            timings[name] = Stat.of([getattr(r, f"{name}_s") for r in measured])
    return Probe(
        id=f"c{cpus:g}{mem}",
        caps=Caps(cpus=cpus, memory_gb=memory_gb),
        enforced=Enforcement(
            cpu="test", torch_threads=int(cpus), loader_workers=max(0, int(cpus) - 1)
        ),
        backend="local",
        outcome=outcome,
        reason=None if outcome == Outcome.ok else "killed by the kernel (out of memory)",
        started=CREATED,
        duration_s=12.0,
        startup_s=1.5,
        throughput=Stat.of([r.images_per_s for r in measured]) if ok else None,
        timings=timings,
        records=None if records_file else recs,
        records_file=records_file,
    )


def write_records_file(path: Path, records: list[BatchRecord]) -> None:
    """A sidecar as the workload writes it: meta, batch lines, done."""
    lines = [json.dumps({"type": "meta", "model": "resnet18"})]
    for r in records:
        lines.append(json.dumps({"type": "batch", **r.model_dump(mode="json")}))
    lines.append(json.dumps({"type": "done"}))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


TRACE_CPUS = (16.0, 8.0, 4.0, 2.0, 1.0, 3.0, 6.0)
TRACE_REASONS = (
    "start at the host's size",
    "halve",
    "halve",
    "halve",
    "halve",
    "curve moved: step by one",
    "uncertainty above target",
)


def make_search() -> SearchResult:
    trace = [
        TraceStep(step=i + 1, cpus=c, memory_gb=8.0, value=throughput_at(c), reason=r)
        for i, (c, r) in enumerate(zip(TRACE_CPUS, TRACE_REASONS, strict=True))
    ]
    measured = set(TRACE_CPUS)
    curve = []
    for c in range(1, 17):
        v = throughput_at(c)
        if c in measured:
            curve.append(CurvePoint(cpus=c, throughput=v, source="measured"))
        else:
            w = 0.015 * v * (1 + (c > 8) * 2)
            curve.append(
                CurvePoint(cpus=c, throughput=v, lo=v - w, hi=v + w, source="interpolated")
            )
    peak = max(p.throughput for p in curve)
    knee_pt = next(p for p in curve if p.throughput >= 0.7 * peak)
    return SearchResult(
        strategy="halving+refine",
        budget=8,
        probes_used=len(trace),
        trace=trace,
        curve=curve,
        knee=Knee(
            fraction=0.7, cpus=knee_pt.cpus, throughput=knee_pt.throughput, peak_throughput=peak
        ),
        confidence=0.95,
        max_rel_uncertainty=0.045,
    )


def make_memory_axis() -> list[MatrixCell]:
    cells = []
    for cpus in (1.0, 2.0, 4.0, 8.0):
        for mem in (0.5, 1.0, 2.0, 4.0, 8.0):
            if mem == 0.5:
                cells.append(
                    MatrixCell(
                        cpus=cpus,
                        memory_gb=mem,
                        throughput=None,
                        outcome=Outcome.oom,
                        probe_id=f"c{cpus:g}-m{mem:g}",
                    )
                )
                continue
            # the page cache cannot hold the dataset below 4 GB: reads hit the disk
            penalty = {1.0: 0.45, 2.0: 0.75}.get(mem, 1.0)
            source: Literal["measured", "interpolated"] = (
                "interpolated" if (cpus, mem) == (4.0, 2.0) else "measured"
            )
            cells.append(
                MatrixCell(
                    cpus=cpus,
                    memory_gb=mem,
                    throughput=throughput_at(cpus) * penalty,
                    outcome=Outcome.ok,
                    source=source,
                    probe_id=None if source != "measured" else f"c{cpus:g}-m{mem:g}",
                )
            )
    return cells


def make_train_profile(folder: Path | None = None) -> Profile:
    """A train profile; when `folder` is given, two probes keep their batches in sidecars."""
    probes = []
    for i, c in enumerate(TRACE_CPUS):
        if folder is not None and i % 2 == 1:
            rel = f"records/c{c:g}.jsonl"
            write_records_file(folder / rel, batch_records(c, 8))
            probes.append(make_probe(c, records_file=rel))
        else:
            probes.append(make_probe(c))
    probes.append(make_probe(2.0, memory_gb=0.5, n_batches=1, outcome=Outcome.oom))
    job = JobSpec(name="res18-test", model="resnet18", input_shape=[3, 64, 64], batch_size=BATCH)
    return Profile(
        id="res18-test-0123456789",
        created=CREATED,
        harness_version="0.1.0",
        kind="train",
        job=job,
        host=HOST,
        backend="local",
        train=TrainSection(
            probes=probes, search=make_search(), memory_axis=make_memory_axis(), dataset_bytes=2**31
        ),
    )


LAYERS = (
    ("conv1", "Conv2d", [64, 112, 112]),
    ("bn1", "BatchNorm2d", [64, 112, 112]),
    ("relu", "ReLU", [64, 112, 112]),
    ("maxpool", "MaxPool2d", [64, 56, 56]),
    ("layer1", "Sequential", [64, 56, 56]),
    ("layer2", "Sequential", [128, 28, 28]),
    ("layer3", "Sequential", [256, 14, 14]),
    ("layer4", "Sequential", [512, 7, 7]),
    ("avgpool", "AdaptiveAvgPool2d", [512, 1, 1]),
    ("fc", "Linear", [1000]),
)
LAYER_COST_S = (0.004, 0.001, 0.0005, 0.001, 0.006, 0.005, 0.005, 0.006, 0.0002, 0.0003)


def _numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def make_infer_profile(batch_sizes: tuple[int, ...] = (1, 8), n_layers: int = 10) -> Profile:
    """ResNet-18-shaped inference profile; `n_layers` < 10 keeps only the first layers."""
    layers = [
        Layer(index=i, name=n, kind=k, params=1000 * (i + 1)) for i, (n, k, _) in enumerate(LAYERS)
    ]
    layers = layers[:n_layers]
    shapes = [[3, 224, 224]] + [s for _, _, s in LAYERS[:n_layers]]
    cuts = [
        CutPoint(
            index=i,
            after=None if i == 0 else LAYERS[i - 1][0],
            shape=shape,
            numel=_numel(shape),
            bytes_fp32=4 * _numel(shape),
            bytes_fp16=2 * _numel(shape),
        )
        for i, shape in enumerate(shapes)
    ]
    bundles = []
    n = len(layers)
    for b in batch_sizes:
        for start in range(n):
            for end in range(start + 1, n + 1):
                base = sum(LAYER_COST_S[start:end]) * (0.4 + 0.6 * b) + 0.0003
                vals = [base * (1 + 0.02 * k) for k in range(5)]
                bundles.append(
                    BundleTiming(start=start, end=end, batch_size=b, latency=Stat.of(vals))
                )
    job = JobSpec(
        name="res18-infer", kind=JobKind.infer, model="resnet18", input_shape=[3, 224, 224]
    )
    return Profile(
        id="res18-infer-0123456789",
        created=CREATED,
        harness_version="0.1.0",
        kind="infer",
        job=job,
        host=HOST,
        backend="local",
        infer=InferSection(
            device_name="laptop",
            model="resnet18",
            layers=layers,
            cuts=cuts,
            batch_sizes=list(batch_sizes),
            max_bundle_len=n,
            bundles=bundles,
        ),
    )
