"""What every kind's solution shares: the one row it gives `harness solve`'s plan table.

Each kind's full solution is its own pydantic model (`solver/<kind>/solution.py`), the contract
that users, `harness run-split` and `harness validate-decision` read; each has a `summary()`
that fills this row from its own fields.
"""

from __future__ import annotations

from pydantic import Field

from harness.spec import Strict


class Summary(Strict):
    """One decision, in the terms every kind has."""

    kind: str
    name: str
    subjects: list[str] = Field(description="the models or jobs the decision is about")
    objective: str = Field(description="what was minimised or maximised, in words")
    value: float | None = Field(default=None, description="the objective's value at the answer")
    status: str = Field(description="SCIP's status (or the method that proved the answer)")
    gap: float | None = Field(default=None, description="SCIP's relative gap; 0 = proven")
    best_baseline: str | None = None
    gain: float | None = Field(
        default=None, description="improvement over the best baseline, as a share of its value"
    )
    ok: bool = Field(default=True, description="an answer was found")
    notes: list[str] = Field(default_factory=list)
