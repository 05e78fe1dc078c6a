"""The seed's big-M model in HiGHS agrees with brute force where it can finish."""

from __future__ import annotations

import random

import pytest

from solver.pipeline.highs import solve_highs_bigm
from tests.factory.pipeline import brute_force, random_jobs


def test_highs_seed_model_agrees_on_a_small_instance() -> None:
    jobs = random_jobs(random.Random(4), 4, 3)
    h = solve_highs_bigm(jobs, time_limit=30)
    assert h.status == "optimal"
    assert h.makespan == pytest.approx(brute_force(jobs), rel=1e-6)
