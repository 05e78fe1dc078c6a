"""The user's time limit as one budget, shared by every phase of a solve.

A solve runs phases: bounds, heuristics, a dynamic programme, building a model, SCIP, a front
walk, column generation. Each asks the budget what it may spend (`limit`) and gets at most what
is left, so the whole solve ends within the user's limit: the phases before SCIP count, and a
phase that would start with nothing left is skipped with its reason. `RESERVE_S` is kept back
for what follows the last phase (reading out, the checker, the solution's files), and a phase is
never handed less than `MIN_PHASE_S` (SCIP needs a moment to stop). Without a limit every phase
keeps its own default.

Only the user's limit is in seconds: a phase bounded by work (nodes, iterations, labels) keeps
that bound, and answers stay repeatable on a loaded machine wherever the budget does not bind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

RESERVE_S = 0.25  # kept back from the phases for the read-out, the checker and the files
MIN_PHASE_S = 0.05  # the least a phase that runs is given
# The promise: a solve (or a phase given a limit) ends within this of it. What runs past the
# limit is the last check's stretch, SCIP's stop and, on a loaded process with a large heap, a
# garbage collection (0.4 s here with three million objects alive).
OVERRUN_S = 1.0


@dataclass
class Budget:
    """`total_s` seconds from `start` (None: no limit), shared by the phases that ask."""

    total_s: float | None
    start: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float | None:
        """Seconds the phases may still spend (None: no limit), never below 0."""
        if self.total_s is None:
            return None
        return max(0.0, self.total_s - RESERVE_S - self.elapsed())

    def rest(self) -> float | None:
        """The seconds left of the total (None: no limit): the total of a budget handed on to
        a part of the solve that keeps its own (its reserve is then the one kept back)."""
        if self.total_s is None:
            return None
        return max(MIN_PHASE_S, self.total_s - self.elapsed())

    def limit(self, default: float | None = None, share: float = 1.0) -> float | None:
        """What the next phase may spend: `share` of what is left, at most its own `default`
        (None: unbounded), at least MIN_PHASE_S. None only when neither bounds it."""
        left = self.left()
        if left is None:
            return default
        mine = max(MIN_PHASE_S, share * left)
        return mine if default is None else min(default, mine)

    def deadline(self, default: float | None = None, share: float = 1.0) -> float | None:
        """`limit` as a time.perf_counter() value to stop at."""
        lim = self.limit(default, share)
        return None if lim is None else time.perf_counter() + lim

    @property
    def spent(self) -> bool:
        """Nothing is left: a phase that can be skipped should be."""
        left = self.left()
        return left is not None and left <= MIN_PHASE_S
