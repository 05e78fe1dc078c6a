"""A decision's predictions set against its run's measurements (pure: no Docker, no torch)."""

from __future__ import annotations

from harness.runsplit.compare import (
    Comparison,
    MakespanComparison,
    Validation,
    compare_makespan,
    compare_phase,
    median_abs,
)
from harness.runsplit.decision import Decision
from harness.runsplit.summary import RunSplitResult


def validation_of(decision: Decision, result: RunSplitResult, solution: str) -> Validation:
    rows: list[Comparison] = []
    for case in decision.plans:
        for i in case.phases.values():
            ph = result.phases[i]
            rows.append(compare_phase(case.name, case.prediction, ph, case.predicted_accuracy))
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
