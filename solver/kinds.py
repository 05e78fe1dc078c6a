"""One record per kind, and the one factory that finds it by name (Gavel's, kept lazy).

A kind's package (`solver/<kind>/__init__.py`) defines its `KIND`; nothing is imported until a
kind is asked for, so `harness --help` and `harness validate` never load a solver model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from solver.problem import KIND_NAMES, ProblemError, ProblemKind, SolveOptions
from solver.profiles import ProfileSet


@dataclass(frozen=True)
class Kind:
    """One record per kind: everything the dispatcher needs, nothing imported before it asks.

    `solve(problem, profiles, options)` returns the kind's pydantic solution; `default_problem`
    derives a problem from profiles alone (None where a kind needs a file); `per_model` splits
    one problem into one per model where the profiles hold several.
    """

    name: ProblemKind
    problem: type[BaseModel]
    solution: type[BaseModel]
    solve: Callable[[Any, ProfileSet, SolveOptions], Any]
    default_problem: Callable[[ProfileSet], Any] | None = None
    per_model: Callable[[Any, ProfileSet], list[Any]] | None = None


def get_kind(name: str) -> Kind:
    """The record of kind `name`, from its package `solver/<name>/` (imported on first use)."""
    if name not in KIND_NAMES:
        raise ProblemError(f"field 'kind': expected one of {list(KIND_NAMES)}, got {name!r}")
    kind: Kind = importlib.import_module(f"solver.{name}").KIND
    return kind
