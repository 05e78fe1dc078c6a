"""The simulator and the independent checker of the three-stage pipeline."""

from __future__ import annotations

import random

from solver.pipeline.check import (
    Scheduled,
    check_schedule,
    makespan_of,
    schedule_makespan,
    simulate,
)
from tests.factory.pipeline import job

JOBS = [job("a", (2, 1, 3)), job("b", (1, 4, 1)), job("c", (3, 1, 2))]


def test_simulate_hand_checked() -> None:
    sched = simulate(JOBS, [0, 1, 2], [0, 0, 0])
    # a: L 0-2, C 2-3, R 3-6; b: L 2-3, C 3-7, R 7-8; c: L 3-6, C 7-8, R 8-10
    assert [s.spans for s in sched] == [
        ((0, 2), (2, 3), (3, 6)),
        ((2, 3), (3, 7), (7, 8)),
        ((3, 6), (7, 8), (8, 10)),
    ]
    assert schedule_makespan(sched) == 10
    assert makespan_of(JOBS, [0, 1, 2], [0, 0, 0]) == 10
    assert check_schedule(JOBS, sched) == []


def test_checker_accepts_every_semi_active_schedule() -> None:
    rng = random.Random(3)
    for _ in range(50):
        jobs = [
            job(f"j{i}", *[(rng.random(), rng.random(), rng.random()) for _ in range(3)])
            for i in range(6)
        ]
        order = rng.sample(range(6), 6)
        splits = [rng.randrange(3) for _ in range(6)]
        sched = simulate(jobs, order, splits)
        assert check_schedule(jobs, sched) == []
        assert abs(schedule_makespan(sched) - makespan_of(jobs, order, splits)) < 1e-12


def _with(sched: list[Scheduled], k: int, spans: tuple) -> list[Scheduled]:
    out = list(sched)
    out[k] = Scheduled(sched[k].job, sched[k].option, spans)
    return out


def test_checker_catches_overlap_on_each_resource() -> None:
    sched = simulate(JOBS, [0, 1, 2], [0, 0, 0])
    # local: b starts at 1 while a computes until 2 (b's later stages shifted to stay valid)
    bad_local = _with(sched, 1, ((1, 2), (3, 7), (7, 8)))
    assert any(e.startswith("local:") for e in check_schedule(JOBS, bad_local))
    # comm: c sends at 6 while b sends until 7
    bad_comm = _with(sched, 2, ((3, 6), (6, 7), (8, 10)))
    assert any(e.startswith("comm:") for e in check_schedule(JOBS, bad_comm))
    # remote: c computes at 7 while b computes until 8
    bad_remote = _with(sched, 2, ((3, 6), (6.5, 7.5), (7.5, 9.5)))
    errs = check_schedule(JOBS, bad_remote)
    assert any(e.startswith("remote:") for e in errs)


def test_checker_catches_precedence_duration_and_missing_jobs() -> None:
    sched = simulate(JOBS, [0, 1, 2], [0, 0, 0])
    early = _with(sched, 0, ((0, 2), (1.5, 2.5), (3, 6)))
    assert any("before local ends" in e for e in check_schedule(JOBS, early))
    short = _with(sched, 0, ((0, 2), (2, 3), (3, 5)))
    assert any("its split needs" in e for e in check_schedule(JOBS, short))
    assert any("scheduled 0 times" in e for e in check_schedule(JOBS, sched[:2]))
    assert any("scheduled 2 times" in e for e in check_schedule(JOBS, [*sched, sched[0]]))


def test_zero_length_stages_take_their_turn_in_the_order() -> None:
    """Flow-shop semantics: a zero-length stage still keeps its place in the order (so the
    permutation theory and the MILP apply); the best order puts it where it costs nothing.
    The checker, which checks physical rules only, accepts both."""
    jobs = [job("local-only", (5, 0, 0)), job("remote-only", (0, 2, 2))]
    late = simulate(jobs, [0, 1], [0, 0])
    early = simulate(jobs, [1, 0], [0, 0])
    assert check_schedule(jobs, late) == [] and check_schedule(jobs, early) == []
    assert schedule_makespan(late) == 9
    assert schedule_makespan(early) == 5
