"""What the cost model learns from: one sample per ok train probe, and a point's features.

Target: the median of `probe.timings['batch']` (seconds per batch, data + forward + backward +
optimiser step), or batch / throughput where a probe has no batch timings. Features: batch
size, input dims (spatial elements and channels), model name, CPU cap, device type ('cpu', or
'cuda' when the probe had GPUs). No numpy here.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.profile import Profile, ProfileError, load_profile
from solver.hybrid.costmodel.file import SampleRow, is_cost_model


@dataclass(frozen=True)
class Sample:
    """One measured point: seconds per training batch under one configuration."""

    model: str
    device: str
    batch_size: int
    dims: tuple[int, ...]  # (C, H, W) or (C, D, H, W)
    cpus: float
    step_s: float
    source: str = ""

    @property
    def channels(self) -> int:
        return int(self.dims[0])

    @property
    def spatial(self) -> int:
        return int(math.prod(self.dims[1:]))

    def row(self) -> SampleRow:
        return SampleRow.model_validate(_sample_json(self))

    @staticmethod
    def of_row(r: SampleRow) -> Sample:
        return Sample(r.model, r.device, r.batch_size, tuple(r.dims), r.cpus, r.step_s, r.source)


def features(batch: int, dims: Sequence[int], cpus: float) -> list[float]:
    """log batch, log spatial elements, log channels, log CPUs (the law's four slots)."""
    return [
        math.log(batch),
        math.log(max(1, math.prod(dims[1:]))),
        math.log(max(1, dims[0])),
        math.log(cpus),
    ]


def device_of(gpus: int) -> str:
    return "cuda" if gpus > 0 else "cpu"


def samples_from_profile(profile: Profile, source: str = "") -> list[Sample]:
    """Every ok train probe that has a batch time (or a throughput) becomes a sample."""
    if profile.kind != "train" or profile.train is None:
        return []
    out: list[Sample] = []
    job = profile.job
    for probe in profile.train.probes:
        if probe.outcome != "ok":
            continue
        # the batch actually run: the records say; else the CLI's -b (options), else the spec
        batch = int(profile.options.get("batch_size") or job.batch_size)
        measured = [r for r in (probe.records or []) if not r.warmup]
        if measured:
            batch = measured[0].batch_size
        t: float | None = None
        if "batch" in probe.timings and probe.timings["batch"].median > 0:
            t = probe.timings["batch"].median
        elif probe.throughput is not None and probe.throughput.median > 0:
            t = batch / probe.throughput.median
        if t is None:
            continue
        out.append(
            Sample(
                model=job.model,
                device=device_of(probe.caps.gpus),
                batch_size=int(batch),
                dims=tuple(int(d) for d in job.input_shape),
                cpus=float(probe.caps.cpus),
                step_s=float(t),
                source=source or profile.id,
            )
        )
    return out


def samples_from_profiles(profiles: Iterable[Profile]) -> list[Sample]:
    out: list[Sample] = []
    for p in profiles:
        out.extend(samples_from_profile(p))
    return out


def load_samples(paths: Iterable[str | Path]) -> list[Sample]:
    """Samples of the train profiles among `paths` (infer profiles are skipped, and so is a
    cost-model JSON given among them: `fit dir/**/*.json` can be rerun over its own output);
    any other file that is not a profile raises ProfileError."""
    out: list[Sample] = []
    for path in paths:
        try:
            prof = load_profile(path)
        except ProfileError:
            if is_cost_model(path):
                continue
            raise
        out.extend(samples_from_profile(prof, source=Path(path).name))
    return out


def training_hash(samples: Sequence[Sample]) -> str:
    """The same samples (in any order) give the same hash: what the committed model cites."""
    rows = sorted(json.dumps(_sample_json(s), sort_keys=True) for s in samples)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def _sample_json(s: Sample) -> dict[str, Any]:
    d = asdict(s)
    d["dims"] = list(s.dims)
    return d
