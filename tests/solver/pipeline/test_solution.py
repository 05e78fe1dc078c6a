"""The solution contract: its plan row, and a round trip through its own JSON."""

from __future__ import annotations

import pytest

from solver.pipeline import PipelineProblem, solve
from solver.pipeline.solution import PipelineSolution
from solver.problem import SolveOptions
from solver.profiles import ProfileSet


@pytest.fixture(scope="module")
def sampled() -> PipelineSolution:
    problem = PipelineProblem(name="s", sample={"num_jobs": 5, "seed": 2})  # type: ignore[arg-type]
    return solve(problem, ProfileSet(), SolveOptions(time_limit=20, extra={"heuristic_time": 0.3}))


def test_summary_names_the_jobs_the_optimum_and_the_best_baseline(
    sampled: PipelineSolution,
) -> None:
    s = sampled.summary()
    assert (s.kind, s.name, s.objective) == ("pipeline", "s", "makespan")
    assert s.subjects == [f"job-{i}" for i in range(5)]
    assert s.value == sampled.optimum.makespan_s and s.ok
    assert s.status == "optimal (bdp)" and s.gap == 0
    best = min(sampled.methods[:-1], key=lambda m: m.makespan_s)
    assert s.best_baseline == best.method
    assert s.gain == pytest.approx((best.makespan_s - s.value) / best.makespan_s)
    assert s.gain >= 0 and s.notes == []


def test_the_json_round_trips_and_keeps_the_problem_as_written(
    sampled: PipelineSolution,
) -> None:
    doc = sampled.model_dump(mode="json")
    assert "description" not in doc["problem"]  # unset fields are left out, as written
    assert doc["problem"]["sample"]["num_jobs"] == 5
    assert PipelineSolution.model_validate_json(sampled.model_dump_json()) == sampled
    assert [m["by"] for m in doc["methods"]][-1] == "bdp"


def test_summary_of_profiled_jobs_names_their_models() -> None:
    problem = PipelineProblem.model_validate(
        {
            "devices": [{"name": "a"}, {"name": "b"}],
            "links": [{"src": "a", "dst": "b", "bandwidth_up_mbps": 1}],
            "jobs": [
                {"name": "cam", "model": "resnet18", "local": "a", "remote": "b"},
                {"name": "phone", "model": "resnet18", "local": "a", "remote": "b"},
                {"name": "other", "local": "a", "remote": "b"},
            ],
        }
    )
    assert PipelineSolution.model_construct(problem=problem).subjects() == ["resnet18", "other"]
