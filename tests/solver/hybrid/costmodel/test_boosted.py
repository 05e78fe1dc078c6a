"""Boosted residuals: they learn what the law cannot bend to; the JSON trees are sklearn's."""

from __future__ import annotations

import math
import random

import numpy as np

from solver.hybrid.costmodel.boosted import GBT_PARAMS, BoostedResidual
from solver.hybrid.costmodel.features import Sample
from solver.hybrid.costmodel.fit import fit, holdout_error
from tests.factory.timed_profiles import SHAPES, true_step


def test_boosting_the_residual_learns_what_the_law_cannot_bend_to():
    """Past 4 CPUs the step slows down (hyper-threads sharing cores): no single CPU exponent
    fits a curve that falls then rises, the boosted residual does."""
    rng = random.Random(3)
    samples = []
    for model, shapes in SHAPES.items():
        for dims in shapes:
            for b in (8, 16, 32, 64, 128):
                for c in (1.0, 2.0, 4.0, 6.0, 8.0):
                    t = true_step(model, b, dims, c, "cpu") * (1.6 if c > 4 else 1.0)
                    t *= math.exp(rng.gauss(0, 0.02))
                    samples.append(Sample(model, "cpu", b, tuple(dims), c, t))
    h = holdout_error(samples, folds=5)
    assert h["gbt"]["all"].median < 0.10
    assert h["gbt"]["all"].median < 0.7 * h["linear"]["all"].median


def test_the_exported_tree_walker_matches_sklearns_own_predict(synth):
    from sklearn.ensemble import GradientBoostingRegressor

    cm = fit(synth)
    models, devices = sorted(cm.models), sorted(cm.devices)
    rows = [(s.model, s.device, s.batch_size, s.dims, s.cpus) for s in synth]
    x = BoostedResidual.encode(rows, models, devices)
    base = [cm.linear.log_predict(m, b, d, c, dev) for m, dev, b, d, c in rows]
    r = np.log([s.step_s for s in synth]) - np.array(base)
    gbr = GradientBoostingRegressor(loss="squared_error", **GBT_PARAMS).fit(x, r)
    exported = BoostedResidual.from_sklearn(gbr, models, devices, GBT_PARAMS)
    assert np.allclose(exported.residual(x), gbr.predict(x), rtol=1e-9, atol=1e-12)
    back = BoostedResidual.of_file(exported.to_file())
    assert np.array_equal(back.residual(x), exported.residual(x))
