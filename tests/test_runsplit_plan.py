"""Plans, phases and placement of a split run (pure: no Docker, no torch)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.runsplit.orchestrate import place_sides
from harness.runsplit.plan import (
    LinkSetting,
    Phase,
    PipelineJob,
    PlanError,
    PlanSpec,
    PlanStep,
    Segment,
    output_role,
    segments_of,
)


def _c(role: str, a: int, b: int) -> PlanStep:
    return PlanStep("compute", role, 0.01, a, b)  # type: ignore[arg-type]


def _t(role: str, nbytes: float = 100.0) -> PlanStep:
    return PlanStep("transfer", role, 0.002, nbytes=nbytes)  # type: ignore[arg-type]


def test_segments_merge_bundles_per_side_and_follow_the_transfers() -> None:
    steps = [_c("edge", 0, 2), _c("edge", 2, 4), _t("edge"), _c("server", 4, 9), _t("server")]
    segs = segments_of(steps)
    assert [(s.role, s.start, s.end) for s in segs] == [("edge", 0, 4), ("server", 4, 9)]
    assert output_role(steps) == "edge"
    assert output_role(steps[:-1]) == "server"


def test_all_on_server_starts_with_the_input_transfer() -> None:
    steps = [_t("edge"), _c("server", 0, 5), _t("server")]
    assert [(s.role, s.start, s.end) for s in segments_of(steps)] == [("server", 0, 5)]


def test_segments_refuse_plans_that_are_not_a_path() -> None:
    with pytest.raises(PlanError, match="right after a transfer"):
        segments_of([_c("edge", 0, 2), _t("edge"), _c("edge", 2, 4)])
    with pytest.raises(PlanError, match="do not follow"):
        segments_of([_c("edge", 0, 2), _c("edge", 3, 4)])
    with pytest.raises(PlanError, match="computes nothing"):
        segments_of([_t("edge")])


def test_plan_spec_checks_that_segments_chain() -> None:
    ok = PlanSpec(name="p", model="m", segments=[Segment(role="edge", start=0, end=3)])
    assert ok.n_layers == 3
    with pytest.raises(ValidationError, match="expected 3"):
        PlanSpec(
            name="p",
            model="m",
            segments=[Segment(role="edge", start=0, end=3), Segment(role="server", start=4, end=6)],
        )
    with pytest.raises(ValidationError, match="empty"):
        Segment(role="edge", start=2, end=2)


def test_pipeline_job_plans_by_cut() -> None:
    def plan(cut: int) -> list[tuple[str, int, int]]:
        job = PipelineJob(name="j", model="m", cut=cut, n_layers=5)
        return [(s.role, s.start, s.end) for s in job.plan().segments]

    assert plan(0) == [("server", 0, 5)]
    assert plan(2) == [("edge", 0, 2), ("server", 2, 5)]
    assert plan(5) == [("edge", 0, 5)]
    assert PipelineJob(name="j", model="m", cut=2, n_layers=5).plan().output_role == "server"


def test_phase_needs_what_its_mode_runs() -> None:
    link = LinkSetting(up_mbps=10, down_mbps=10)
    with pytest.raises(ValidationError, match="needs a plan"):
        Phase(name="x", mode="latency", link=link)
    with pytest.raises(ValidationError, match="needs jobs"):
        Phase(name="x", mode="pipeline", link=link)
    with pytest.raises(ValidationError):
        LinkSetting(up_mbps=0, down_mbps=1)


def test_place_sides_gives_disjoint_cores_and_clips_with_a_note() -> None:
    edge, server, notes = place_sides(1, 1, 2)
    assert (edge.cores, edge.offset, server.cores, server.offset) == (1, 1, 1, 0)
    assert notes == []
    edge, server, notes = place_sides(1, 2, 2)  # edge-cloud.yaml on this 2-core host
    assert server.cpus == 1 and server.asked_cpus == 2
    assert "clipped to 1" in notes[0]
    edge, server, notes = place_sides(0.5, 4, 8)
    assert (edge.cpus, edge.cores, edge.offset) == (0.5, 1, 4)
    assert (server.cpus, server.cores) == (4, 4)
    edge, server, notes = place_sides(1, 1, 1)
    assert edge.offset == 0 and "shares" in notes[0]
    edge, server, notes = place_sides(3, 1, 2)
    assert edge.cpus == 2 and "clipped" in notes[0]


def test_a_run_that_cannot_give_the_profiled_cores_is_flagged() -> None:
    from harness.runsplit.orchestrate import Session, placement_warnings

    fits = Session(models=[], phases=[], edge_cpus=1, server_cpus=1)
    assert placement_warnings(fits, 2) == []
    short = Session(models=[], phases=[], edge_cpus=1, server_cpus=2)  # edge-cloud.yaml
    (w,) = placement_warnings(short, 2)
    assert "clipped to 1" in w and "will not match the prediction" in w
    assert placement_warnings(short, 2, repriced=["server"]) == []  # priced at what it gets
    assert placement_warnings(short, 2, repriced=["edge"]) == [w]
    assert placement_warnings(short, 4) == []
    (shared,) = placement_warnings(fits, 1)
    assert "shares" in shared
