"""The cost model's tests share one fitted-upon set: the factory's known law, sampled."""

from __future__ import annotations

import pytest

from solver.hybrid.costmodel.features import Sample, samples_from_profiles
from tests.factory.timed_profiles import law_profiles


@pytest.fixture(scope="package")
def synth() -> list[Sample]:
    return samples_from_profiles(law_profiles())
