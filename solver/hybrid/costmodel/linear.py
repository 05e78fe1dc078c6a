"""The interpretable law: per (device, model) a fixed overhead plus a power law,

    t = t0 + e^a * batch^b * spatial^c * channels^d * cpus^e

i.e. log(t - t0) linear in the logs. The exponents are fitted by ridge regression shrunk towards
a pooled per-device fit (shared exponents, one intercept per model), so a group with two points
still gets sensible slopes for the axes it never varied; t0 (launch, optimiser and Python cost
per step, which a pure power law bends around at small batches) is chosen on a grid of shares
of the group's fastest step, by log error (t0 = 0 below MIN_OVERHEAD_SAMPLES points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solver.hybrid.costmodel.features import Sample, features
from solver.hybrid.costmodel.file import SLOTS, CostModelError, LinearFile

# overhead t0 tried as these shares of a group's fastest step (only with enough points)
OVERHEAD_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MIN_OVERHEAD_SAMPLES = 6  # below this t0 = 0: the power law alone


def _ridge(
    x: np.ndarray, y: np.ndarray, lam: np.ndarray, prior: np.ndarray | None = None
) -> np.ndarray:
    """argmin ||xw - y||^2 + sum lam_k (w_k - prior_k)^2 (closed form)."""
    p = np.zeros(x.shape[1]) if prior is None else prior
    a = x.T @ x + np.diag(lam)
    b = x.T @ y + lam * p
    return np.linalg.solve(a, b)


def _pooled(ss: Sequence[Sample]) -> dict[str, Any]:
    """One device: shared slopes, one intercept per model."""
    models = sorted({s.model for s in ss})
    xf = np.array([features(s.batch_size, s.dims, s.cpus) for s in ss])
    onehot = np.array([[1.0 if s.model == m else 0.0 for m in models] for s in ss])
    y = np.log([s.step_s for s in ss])
    x = np.hstack([onehot, xf])
    # tiny ridge on intercepts, light on slopes: identifiable even when an axis is flat
    lam_vec = np.array([1e-6] * len(models) + [1e-3] * len(SLOTS))
    w = _ridge(x, y, lam_vec)
    return {
        "intercepts": {m: float(w[i]) for i, m in enumerate(models)},
        "slopes": dict(zip(SLOTS, map(float, w[len(models) :]), strict=True)),
        "n": len(ss),
    }


def _group(
    g: Sequence[Sample], intercept: float, slopes: np.ndarray, lam: float
) -> dict[str, float]:
    """One (device, model), shrunk towards the pooled fit; t0 on a 1-D grid, the law on t - t0."""
    xg = np.hstack([np.ones((len(g), 1)), [features(s.batch_size, s.dims, s.cpus) for s in g]])
    tg = np.array([s.step_s for s in g])
    prior = np.concatenate([[intercept], slopes])
    lam_g = np.array([1e-6] + [lam] * len(SLOTS))
    grid = OVERHEAD_GRID if len(g) >= MIN_OVERHEAD_SAMPLES else (0.0,)
    best: tuple[float, float, np.ndarray] | None = None
    for q in grid:
        t0 = q * float(tg.min())
        wg = _ridge(xg, np.log(tg - t0), lam_g, prior)
        sse = float(((np.log(t0 + np.exp(xg @ wg)) - np.log(tg)) ** 2).sum())
        if best is None or sse < best[0] - 1e-12:
            best = (sse, t0, wg)
    assert best is not None
    _, t0, wg = best
    coef = {"intercept": float(wg[0])}
    coef.update(dict(zip(SLOTS, map(float, wg[1:]), strict=True)))
    coef["overhead_s"] = t0
    coef["n"] = float(len(g))
    return coef


@dataclass
class LinearLaw:
    """Per-device pooled fits and per-(device, model) shrunk fits, all in log space."""

    lam: float = 0.05
    pooled: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)  # "device|model" -> coef

    @staticmethod
    def fit(samples: Sequence[Sample], lam: float = 0.05) -> LinearLaw:
        law = LinearLaw(lam=lam)
        by_device: dict[str, list[Sample]] = {}
        for s in samples:
            by_device.setdefault(s.device, []).append(s)
        for device, ss in sorted(by_device.items()):
            pooled = law.pooled[device] = _pooled(ss)
            slopes = np.array([pooled["slopes"][k] for k in SLOTS])
            for m, intercept in pooled["intercepts"].items():
                g = [s for s in ss if s.model == m]
                law.groups[f"{device}|{m}"] = _group(g, intercept, slopes, lam)
        return law

    def covers(self, model: str, device: str) -> bool:
        return f"{device}|{model}" in self.groups

    def log_predict(
        self, model: str, batch: int, dims: Sequence[int], cpus: float, device: str
    ) -> float:
        coef = self.groups.get(f"{device}|{model}")
        if coef is None:
            known = sorted(self.groups)
            raise CostModelError(
                f"cost model has no data for model {model!r} on device {device!r} "
                f"(has: {', '.join(known) or 'nothing'})"
            )
        f = features(batch, dims, cpus)
        lin = coef["intercept"] + sum(coef[k] * v for k, v in zip(SLOTS, f, strict=True))
        t0 = float(coef.get("overhead_s", 0.0))
        if t0 <= 0 or lin > 700:  # log(t0 + e^lin) is lin there (and e^lin would overflow)
            return lin
        return math.log(t0 + math.exp(lin))

    def to_file(self) -> LinearFile:
        return LinearFile.model_validate(
            {"lambda": self.lam, "pooled": self.pooled, "groups": self.groups}
        )

    @staticmethod
    def of_file(f: LinearFile) -> LinearLaw:
        return LinearLaw(
            lam=f.lambda_,
            pooled={d: p.model_dump() for d, p in f.pooled.items()},
            groups={k: g.model_dump() for k, g in f.groups.items()},
        )
