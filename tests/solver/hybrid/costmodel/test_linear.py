"""The overhead + power law: exact where the data follow it, right at small batches."""

from __future__ import annotations

import pytest

from solver.hybrid.costmodel.features import Sample
from solver.hybrid.costmodel.fit import fit


def test_the_overhead_term_keeps_small_batches_right():
    """t = 20 ms + 1 ms x batch: a pure power law bends around the overhead, t0 + law does not."""
    samples = [
        Sample("m", "cpu", b, (3, 28, 28), 1.0, 0.02 + 0.001 * b) for b in (1, 2, 4, 8, 16, 32, 64)
    ]
    cm = fit(samples, "linear")
    assert cm.linear.groups["cpu|m"]["overhead_s"] > 0.01
    for b in (1, 3, 128):
        assert cm.predict("m", b, (3, 28, 28), 1.0, "cpu") == pytest.approx(
            0.02 + 0.001 * b, rel=0.05
        )


def test_linear_law_is_exact_on_a_pure_power_law():
    samples = [
        Sample("m", "cpu", b, (3, s, s), c, 0.01 * b**0.9 * (s * s) ** 0.5 * c**-0.7)
        for b in (4, 8, 16, 32)
        for s in (28, 64)
        for c in (1.0, 2.0, 4.0)
    ]
    cm = fit(samples, "linear")
    coef = cm.linear.groups["cpu|m"]
    assert coef["log_batch"] == pytest.approx(0.9, abs=0.01)
    assert coef["log_spatial"] == pytest.approx(0.5, abs=0.01)
    assert coef["log_cpus"] == pytest.approx(-0.7, abs=0.01)
    # extrapolates along the law: batch 128 and 3 CPUs were never measured
    want = 0.01 * 128**0.9 * 784**0.5 * 3**-0.7
    assert cm.predict("m", 128, (3, 28, 28), 3.0, "cpu") == pytest.approx(want, rel=0.02)
