"""A decision's predictions set against its run's measurements (pure: no Docker, no torch)."""

from __future__ import annotations

from harness.runsplit.compare import (
    Comparison,
    MakespanComparison,
    Prediction,
    Validation,
    compare_makespan,
    compare_phase,
    median_abs,
)
from harness.runsplit.decision import Decision, PlanCase
from harness.runsplit.idle import after_idle
from harness.runsplit.plan import Mode
from harness.runsplit.summary import RunSplitResult
from harness.runsplit.wakeups import beside_wakeups, received


def validation_of(decision: Decision, result: RunSplitResult, solution: str) -> Validation:
    rows: list[Comparison] = []
    for case in decision.plans:
        for i in case.phases.values():
            ph = result.phases[i]
            pred, idle, woke = as_run(case, ph.mode, ph.window)
            rows.append(compare_phase(case.name, pred, ph, case.predicted_accuracy, idle, woke))
    spans: list[MakespanComparison] = [
        compare_makespan(m.method, m.predicted_makespan_s, result.phases[m.phase])
        for m in decision.methods
    ]
    return Validation(
        solution=solution,
        decision=decision.kind,
        rows=rows,
        makespans=spans,
        median_abs_latency_error=median_abs([r.latency_error for r in rows]),
        median_abs_throughput_error=median_abs([r.throughput_error for r in rows]),
        median_abs_throughput_error_at_compute=median_abs(
            [r.throughput_error_at_compute for r in rows]
        ),
        median_abs_makespan_error=median_abs([m.makespan_error for m in spans]),
        max_abs_accuracy_error=max(
            (abs(r.accuracy_error) for r in rows if r.accuracy_error is not None), default=None
        ),
        run=result,
    )


def recompared(decision: Decision, run: RunSplitResult, stored: str, solution: str) -> Validation:
    """A stored run's measurements against the decision's prediction as it reads now (its
    profiles re-priced, say); ValueError (one line) when the run is not of this decision: other
    phases, or another accsplit domain."""
    want = [ph.name for ph in decision.session.phases]
    got = [ph.name for ph in run.phases]
    if got != want:
        raise ValueError(f"{stored} ran phases {got}; this decision's are {want}")
    ran, wanted = _domain_of(run.notes), _domain_of(decision.notes)
    if ran is not None and wanted is not None and ran != wanted:
        raise ValueError(f"{stored} ran {ran}; this decision's is {wanted} (--domain)")
    # the run's own notes, without those of the decision it ran (a file written before runs
    # recorded them: without any note the decision gives now)
    stale = set(run.decision_notes or decision.notes)
    own = [n for n in run.notes if n not in stale]
    now = list(decision.notes)
    mark = f"measurements from {stored}, set against {solution} as it reads now"
    run = run.model_copy(update={"notes": [*now, *own, mark], "decision_notes": [*now, mark]})
    return validation_of(decision, run, solution)


def _domain_of(notes: list[str]) -> str | None:
    """An accsplit run's domain, as its notes name it ('domain d0: variant p40, ...')."""
    return next(
        (n.split(":")[0] for n in notes if n.startswith("domain ") and ": variant " in n), None
    )


def as_run(
    case: PlanCase, mode: Mode, window: int | None
) -> tuple[Prediction, dict[str, float], dict[str, float]]:
    """The case's prediction as a run computes: streamed, each side slowed by the packets it
    receives while it computes (wakeups.py), then by the gap it idles (idle.py); and the
    ratios of each."""
    pred, woke = beside_wakeups(case.prediction, mode, window, case.wakes, received(case.steps))
    pred, idle = after_idle(pred, mode, window, case.idle)
    return pred, idle, woke
