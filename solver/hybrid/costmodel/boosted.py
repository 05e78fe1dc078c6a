"""Boosted residuals: the linear law plus scikit-learn's GradientBoostingRegressor fitted to the
law's log residuals.

Trees alone extrapolate as constants (a batch of 256 would cost what 64 did); boosting the
residual keeps the law's extrapolation and learns the curvature. The trees are exported as
plain arrays (child/feature/threshold/value per node) and walked in numpy on load, so loading
needs neither sklearn nor a refit; sklearn is imported only to fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from solver.hybrid.costmodel.features import Sample, features
from solver.hybrid.costmodel.file import BoostedFile
from solver.hybrid.costmodel.linear import LinearLaw

GBT_PARAMS: dict[str, Any] = {
    "n_estimators": 150,
    "max_depth": 3,
    "learning_rate": 0.05,
    "min_samples_leaf": 3,
    "subsample": 1.0,
    "random_state": 0,
}
MIN_GBT_SAMPLES = 12

Row = tuple[str, str, int, Sequence[int], float]  # model, device, batch, dims, cpus


@dataclass
class BoostedResidual:
    """GradientBoostingRegressor on log residuals, stored as plain arrays."""

    models: list[str]
    devices: list[str]
    baseline: float
    learning_rate: float
    trees: list[dict[str, list[Any]]]  # left/right/feature: int, threshold/value: float
    params: dict[str, Any]

    @staticmethod
    def encode(rows: Sequence[Row], models: list[str], devices: list[str]) -> np.ndarray:
        """The law's four features plus model, device and spatial rank codes (-1: unseen)."""
        out = []
        for model, device, batch, dims, cpus in rows:
            mc = models.index(model) if model in models else -1
            dc = devices.index(device) if device in devices else -1
            out.append([*features(batch, dims, cpus), float(mc), float(dc), float(len(dims) - 1)])
        return np.array(out, dtype=np.float64)

    @staticmethod
    def fit(samples: Sequence[Sample], law: LinearLaw) -> BoostedResidual | None:
        """None below MIN_GBT_SAMPLES samples (too few to learn a residual from)."""
        if len(samples) < MIN_GBT_SAMPLES:
            return None
        from sklearn.ensemble import GradientBoostingRegressor

        models = sorted({s.model for s in samples})
        devices = sorted({s.device for s in samples})
        x = BoostedResidual.encode(
            [(s.model, s.device, s.batch_size, s.dims, s.cpus) for s in samples], models, devices
        )
        base = np.array(
            [law.log_predict(s.model, s.batch_size, s.dims, s.cpus, s.device) for s in samples]
        )
        r = np.log([s.step_s for s in samples]) - base
        params = dict(GBT_PARAMS)
        params["min_samples_leaf"] = max(1, min(params["min_samples_leaf"], len(samples) // 6))
        gbr = GradientBoostingRegressor(loss="squared_error", **params)
        gbr.fit(x, r)
        return BoostedResidual.from_sklearn(gbr, models, devices, params)

    @staticmethod
    def from_sklearn(
        gbr: Any, models: list[str], devices: list[str], params: dict[str, Any]
    ) -> BoostedResidual:
        """Export a fitted squared-error GradientBoostingRegressor's trees as arrays."""
        trees = []
        for est in gbr.estimators_[:, 0]:
            t = est.tree_
            trees.append(
                {
                    "left": t.children_left.tolist(),
                    "right": t.children_right.tolist(),
                    "feature": t.feature.tolist(),
                    "threshold": t.threshold.tolist(),
                    "value": t.value[:, 0, 0].tolist(),
                }
            )
        baseline = float(np.asarray(gbr.init_.constant_).ravel()[0])
        return BoostedResidual(
            models=models,
            devices=devices,
            baseline=baseline,
            learning_rate=float(gbr.learning_rate),
            trees=trees,
            params=params,
        )

    @cached_property
    def _arrays(self) -> list[tuple[np.ndarray, ...]]:
        return [
            (
                np.asarray(t["left"], dtype=np.int64),
                np.asarray(t["right"], dtype=np.int64),
                np.asarray(t["feature"], dtype=np.int64),
                np.asarray(t["threshold"], dtype=np.float64),
                np.asarray(t["value"], dtype=np.float64),
            )
            for t in self.trees
        ]

    def residual(self, x: np.ndarray) -> np.ndarray:
        """Walk every tree for all rows at once (numpy), as sklearn's predict does."""
        out = np.full(x.shape[0], self.baseline)
        rows = np.arange(x.shape[0])
        for left, right, feat, thr, val in self._arrays:
            node = np.zeros(x.shape[0], dtype=np.int64)
            while True:
                inner = left[node] != -1
                if not inner.any():
                    break
                f = np.where(inner, feat[node], 0)
                go_left = x[rows, f] <= thr[node]
                node = np.where(inner, np.where(go_left, left[node], right[node]), node)
            out += self.learning_rate * val[node]
        return out

    def to_file(self) -> BoostedFile:
        return BoostedFile.model_validate(
            {
                "models": self.models,
                "devices": self.devices,
                "baseline": self.baseline,
                "learning_rate": self.learning_rate,
                "trees": self.trees,
                "params": self.params,
            }
        )

    @staticmethod
    def of_file(f: BoostedFile) -> BoostedResidual:
        return BoostedResidual(
            models=list(f.models),
            devices=list(f.devices),
            baseline=f.baseline,
            learning_rate=f.learning_rate,
            trees=[t.model_dump() for t in f.trees],
            params=dict(f.params),
        )
