"""The cost model: fitting, predicting seconds per batch, its hold-out error, save and load.

`fit` fits the linear law on every sample and (from MIN_GBT_SAMPLES samples) the boosted
residual; `step_time` is what a solver calls: the measured median where a profile has the
point, else the model's prediction. Hold-out error: k-fold (default 5) over measured points,
relative |pred - true| / true, median and p90 per device. `save` and `load` go through the
file's schema (`CostModelFile`). numpy here; sklearn only inside a fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.profile import write_atomic
from solver.hybrid.costmodel.boosted import MIN_GBT_SAMPLES, BoostedResidual
from solver.hybrid.costmodel.features import Sample, training_hash
from solver.hybrid.costmodel.file import CostModelError, CostModelFile, is_cost_model, read_file
from solver.hybrid.costmodel.linear import LinearLaw

Kind = Literal["linear", "gbt"]
KINDS: tuple[Kind, ...] = ("linear", "gbt")
FitKind = Literal["linear", "gbt", "both"]
Holdout = dict[str, dict[str, dict[str, Any]]]  # kind -> device -> ErrorStats as a dict


@dataclass
class Estimate:
    seconds: float
    source: Literal["measured", "linear", "gbt"]


@dataclass
class CostModel:
    samples: list[Sample]
    linear: LinearLaw
    gbt: BoostedResidual | None = None
    holdout: Holdout = field(default_factory=dict)
    created: str = ""

    @property
    def devices(self) -> list[str]:
        return sorted({s.device for s in self.samples})

    @property
    def models(self) -> list[str]:
        return sorted({s.model for s in self.samples})

    def covers(self, model: str, device: str) -> bool:
        return self.linear.covers(model, device)

    def best_kind(self) -> Kind:
        """The kind with the lower hold-out median when one was measured, else gbt if fitted."""
        if self.gbt is None:
            return "linear"
        try:
            lin = float(self.holdout["linear"]["all"]["median"])
            gbt = float(self.holdout["gbt"]["all"]["median"])
        except (KeyError, TypeError, ValueError):
            return "gbt"
        return "linear" if lin <= gbt else "gbt"

    def predict(
        self,
        model: str,
        batch: int,
        dims: Sequence[int],
        cpus: float,
        device: str,
        kind: Kind | None = None,
    ) -> float:
        """Seconds per training batch; kind None = best_kind()."""
        if batch <= 0 or cpus <= 0:
            raise CostModelError(f"batch and cpus must be positive, got {batch} and {cpus}")
        k = kind or self.best_kind()
        log_t = self.linear.log_predict(model, batch, dims, cpus, device)
        if k == "gbt":
            if self.gbt is None:
                raise CostModelError(
                    f"no gbt model fitted (needs >= {MIN_GBT_SAMPLES} samples, "
                    f"had {len(self.samples)})"
                )
            x = BoostedResidual.encode(
                [(model, device, batch, dims, cpus)], self.gbt.models, self.gbt.devices
            )
            log_t += float(self.gbt.residual(x)[0])
        # past e^700 (a model file's absurd coefficients) the time is infinite, not an
        # OverflowError: the solver that asked refuses it with the job and worker named
        return math.inf if log_t > 700 else float(math.exp(log_t))


def fit(samples: Sequence[Sample], kind: FitKind = "both") -> CostModel:
    """Fit on every sample; `kind` 'linear' skips the boosted residual."""
    good = [s for s in samples if s.step_s > 0 and s.batch_size > 0 and s.cpus > 0]
    if not good:
        raise CostModelError("no training samples: the profiles have no ok train probes")
    law = LinearLaw.fit(good)
    gbt = BoostedResidual.fit(good, law) if kind != "linear" else None
    return CostModel(samples=list(good), linear=law, gbt=gbt, created=datetime.now(UTC).isoformat())


def step_time(
    cm: CostModel,
    model: str,
    batch: int,
    dims: Sequence[int],
    cpus: float,
    device: str,
    kind: Kind | None = None,
) -> Estimate:
    """What solvers call: the measured median where a profile has the point, else predicted."""
    dims_t = tuple(int(d) for d in dims)
    hits = [
        s.step_s
        for s in cm.samples
        if (s.model, s.device, s.batch_size, s.dims) == (model, device, batch, dims_t)
        and abs(s.cpus - cpus) < 1e-9
    ]
    if hits:
        return Estimate(float(np.median(hits)), "measured")
    k: Kind = kind or cm.best_kind()
    return Estimate(cm.predict(model, batch, dims, cpus, device, k), k)


# ---------------------------------------------------------------- hold-out error


@dataclass
class ErrorStats:
    n: int
    median: float
    p90: float
    mean: float
    uncovered: int = 0  # held-out points whose (device, model) had no training data


def _stats(errs: list[float], uncovered: int) -> ErrorStats:
    if not errs:
        return ErrorStats(0, float("nan"), float("nan"), float("nan"), uncovered)
    a = np.array(errs)
    return ErrorStats(
        len(errs), float(np.median(a)), float(np.quantile(a, 0.9)), float(a.mean()), uncovered
    )


def _folds(n: int, folds: int, seed: int) -> tuple[int, np.ndarray]:
    k = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=int)
    fold_of[order] = np.arange(n) % k
    return k, fold_of


def holdout_error(
    samples: Sequence[Sample], kinds: Sequence[Kind] = KINDS, folds: int = 5, seed: int = 0
) -> dict[str, dict[str, ErrorStats]]:
    """k-fold hold-out relative error per kind and device (plus 'all')."""
    n = len(samples)
    if n < 2:
        raise CostModelError(f"hold-out error needs at least 2 samples, got {n}")
    k, fold_of = _folds(n, folds, seed)
    errs: dict[str, dict[str, list[float]]] = {kd: {} for kd in kinds}
    unc: dict[str, dict[str, int]] = {kd: {} for kd in kinds}
    for f in range(k):
        train = [s for i, s in enumerate(samples) if fold_of[i] != f]
        test = [s for i, s in enumerate(samples) if fold_of[i] == f]
        if not train or not test:
            continue
        cm = fit(train, "both" if "gbt" in kinds else "linear")
        for kd in kinds:
            for s in test:
                for dev in (s.device, "all"):
                    errs[kd].setdefault(dev, [])
                    unc[kd].setdefault(dev, 0)
                if not cm.covers(s.model, s.device) or (kd == "gbt" and cm.gbt is None):
                    unc[kd][s.device] += 1
                    unc[kd]["all"] += 1
                    continue
                pred = cm.predict(s.model, s.batch_size, s.dims, s.cpus, s.device, kd)
                e = abs(pred - s.step_s) / s.step_s
                errs[kd][s.device].append(e)
                errs[kd]["all"].append(e)
    return {
        kd: {dev: _stats(errs[kd][dev], unc[kd].get(dev, 0)) for dev in sorted(errs[kd])}
        for kd in kinds
    }


def holdout_json(h: dict[str, dict[str, ErrorStats]]) -> Holdout:
    """As the file keeps it: a statistic with no held-out point is None (JSON has no NaN)."""

    def row(st: ErrorStats) -> dict[str, Any]:
        return {
            k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(st).items()
        }

    return {kd: {dev: row(st) for dev, st in devs.items()} for kd, devs in h.items()}


def fit_with_holdout(
    samples: Sequence[Sample], kind: FitKind = "both", folds: int = 5
) -> tuple[CostModel, dict[str, dict[str, ErrorStats]]]:
    """Fit on everything and attach the k-fold hold-out error (what `harness fit` saves)."""
    cm = fit(samples, kind)
    by_kind: dict[str, tuple[Kind, ...]] = {"linear": ("linear",), "gbt": ("gbt",), "both": KINDS}
    h = holdout_error(cm.samples, by_kind[kind], folds) if len(cm.samples) >= 2 else {}
    cm.holdout = holdout_json(h)
    return cm, h


# ---------------------------------------------------------------- the file


def to_file(cm: CostModel) -> CostModelFile:
    return CostModelFile.model_validate(
        {
            "created": cm.created,
            "training_hash": training_hash(cm.samples),
            "samples": [s.row() for s in cm.samples],
            "linear": cm.linear.to_file(),
            "gbt": cm.gbt.to_file() if cm.gbt is not None else None,
            "holdout": cm.holdout,
        }
    )


def of_file(f: CostModelFile) -> CostModel:
    return CostModel(
        samples=[Sample.of_row(r) for r in f.samples],
        linear=LinearLaw.of_file(f.linear),
        gbt=BoostedResidual.of_file(f.gbt) if f.gbt is not None else None,
        holdout={
            kd: {dev: r.model_dump() for dev, r in devs.items()} for kd, devs in f.holdout.items()
        },
        created=f.created,
    )


def save(cm: CostModel, path: str | Path) -> None:
    write_atomic(path, to_file(cm).dump())


def load(path: str | Path) -> CostModel:
    """Read a cost-model JSON; every failure is one CostModelError line naming the file."""
    return of_file(read_file(path))


def default_path(profile_paths: Sequence[str | Path]) -> Path:
    """`fitted/costmodel.json` beside the first profile: out of the profiles' `*.json` glob
    (a cost model given among the inputs is not a profile and places nothing)."""
    profiles = [Path(p) for p in profile_paths if not is_cost_model(p)]
    folder = profiles[0].parent if profiles else Path("profiles")
    return folder / "fitted" / "costmodel.json"
