"""A packing decision to run: the server chosen, the refusals before anything starts, the
overlap window of the jobs' batches (no engine needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.packrun.measure import Batch, overlap, rate_within
from harness.packrun.plan import PackPlanError, plan_of
from tests.factory.packing import tiny_packing_solution


def test_the_server_s_jobs_get_their_placed_caps_and_profile_specs(tmp_path: Path) -> None:
    sol = tiny_packing_solution(tmp_path)
    plan = plan_of(sol, host_cpus=2, host_gpus=0)
    assert plan.server == "here-0" and not plan.oversubscribed
    assert [j.name for j in plan.jobs] == ["tiny0", "tiny1"]
    for j in plan.jobs:
        assert j.cpus == 1.0 and j.memory_gb == 4.0 and j.gpus == 0 and j.placed_gpus == 1
        assert j.spec["model"] == "squeezenet1_1" and j.predicted == j.predicted_alone > 0
    assert any("GPUs not available" in n for n in plan.notes)
    assert any("no interference factor" in n for n in plan.notes)


def test_a_used_interference_factor_is_undone_for_the_alone_prediction(tmp_path: Path) -> None:
    sol = tiny_packing_solution(tmp_path, interference=0.8)
    assert json.loads(sol.read_text())["interference"] == {"here": 0.8}
    plan = plan_of(sol, host_cpus=2, host_gpus=0)
    assert plan.factor == 0.8
    for j in plan.jobs:
        assert j.predicted == pytest.approx(0.8 * j.predicted_alone)


def test_jobs_that_would_share_cores_are_refused_before_anything_runs(tmp_path: Path) -> None:
    # two jobs of 2 CPUs each (a 4-CPU server) on a 2-core host
    sol = tiny_packing_solution(tmp_path, server_cpus=4.0)
    with pytest.raises(PackPlanError) as exc:
        plan_of(sol, host_cpus=2, host_gpus=0)
    msg = str(exc.value)
    assert "\n" not in msg and "need 4 cores" in msg and "--allow-oversubscribe" in msg
    with pytest.raises(PackPlanError, match="would share cores"):
        plan_of(sol, host_cpus=2, host_gpus=0, server="here-0")
    plan = plan_of(sol, host_cpus=2, host_gpus=0, allow_oversubscribe=True)
    assert plan.oversubscribed and any("oversubscribed" in n for n in plan.notes)


def test_bad_server_and_missing_profile_are_one_line(tmp_path: Path) -> None:
    sol = tiny_packing_solution(tmp_path)
    with pytest.raises(PackPlanError, match="--server: 'nope' is not a server"):
        plan_of(sol, host_cpus=2, host_gpus=0, server="nope")
    (tmp_path / "train-tiny0.json").unlink()
    with pytest.raises(PackPlanError, match="problem.jobs.tiny0.profile"):
        plan_of(sol, host_cpus=2, host_gpus=0)


def test_together_uses_only_the_batches_every_job_overlapped() -> None:
    a = [Batch(0.0, 1.0, 10.0), Batch(1.0, 2.0, 10.0), Batch(2.0, 3.0, 20.0)]
    b = [Batch(0.0, 1.5, 5.0), Batch(1.5, 2.2, 5.0)]
    window = overlap([a, b])
    assert window == (0.0, 2.2)
    r = rate_within(a, window)
    assert r.images_per_s == 10.0 and r.batches == 2 and r.in_window  # its lone last batch out
    assert overlap([a, []]) is None
    assert rate_within(a, (10.0, 11.0)).in_window is False


def test_together_counts_follow_the_measured_alone_rates(tmp_path: Path) -> None:
    from harness.packrun.run import MAX_STRETCH, together_counts

    plan = plan_of(tiny_packing_solution(tmp_path), host_cpus=2, host_gpus=0)
    # tiny1's batches twice as fast alone: twice the batches, so both end together
    assert together_counts(plan.jobs, 5, {"tiny0": 10.0, "tiny1": 20.0}) == {
        "tiny0": 5,
        "tiny1": 10,
    }
    assert together_counts(plan.jobs, 5, {"tiny0": 1.0, "tiny1": 100.0})["tiny1"] == 5 * MAX_STRETCH
    assert min(together_counts(plan.jobs, 5).values()) == 5  # predicted rates, none alone
