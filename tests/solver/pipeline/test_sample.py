"""The seed's sampler and the chains read from inference profiles."""

from __future__ import annotations

import pytest

from solver.pipeline.sample import chain_from_infer, default_chain, sample_jobs
from tests.factory.pipeline import chain_profile


def test_sampling_is_seeded_and_within_its_ranges() -> None:
    a = sample_jobs(num_jobs=6, seed=5, alpha_min=2, alpha_max=4, log_uniform=True)
    b = sample_jobs(num_jobs=6, seed=5, alpha_min=2, alpha_max=4, log_uniform=True)
    assert a == b
    assert a != sample_jobs(num_jobs=6, seed=6, alpha_min=2, alpha_max=4, log_uniform=True)
    ch = default_chain()
    for j in a:
        alpha = j.options[-1].local_s / ch.prefix_s[-1]
        assert 2 <= alpha <= 4
        assert j.options[-1].comm_s == 0 and j.options[-1].remote_s == 0
        assert j.options[0].local_s == 0
    u = sample_jobs(num_jobs=4, seed=1, comms_uniform=True, lower_bound=0.01, upper_bound=0.02)
    assert all(0.01 <= o.comm_s <= 0.02 for j in u for o in j.options[:-1])
    with pytest.raises(ValueError, match="alpha"):
        sample_jobs(alpha_min=3, alpha_max=2)


def test_a_chain_prices_runs_of_layers_by_their_measured_bundles() -> None:
    ch = chain_from_infer(chain_profile("server", 1.0).infer)  # type: ignore[arg-type]
    assert ch.prefix_s[3] == pytest.approx(0.9 * 0.035)  # the 3-layer bundle beats the sum
    assert ch.suffix_s[0] == pytest.approx(0.9 * 0.035) and ch.suffix_s[3] == 0
    assert ch.cut_bytes == [4000, 8000, 2000, 400]
    with pytest.raises(ValueError, match="no bundle at batch size 8"):
        chain_from_infer(chain_profile("server", 1.0).infer, batch_size=8)  # type: ignore[arg-type]
