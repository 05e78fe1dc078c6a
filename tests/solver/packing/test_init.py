"""The package's face: the kind record, found by name, and an import that stays light."""

from __future__ import annotations

import subprocess
import sys

from solver.kinds import get_kind
from solver.packing import KIND, default_problem, solve
from solver.packing.problem import PackingProblem
from solver.packing.solution import PackingSolution


def test_the_kind_record_is_found_by_name() -> None:
    assert get_kind("packing") is KIND
    assert (KIND.name, KIND.problem, KIND.solution) == ("packing", PackingProblem, PackingSolution)
    assert KIND.solve is solve and KIND.default_problem is default_problem


def test_importing_the_package_loads_no_solver_and_no_plotting() -> None:
    code = (
        "import sys, solver.packing, solver.packing.simulate as s; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pyscipopt', 'numpy', 'matplotlib', 'rich', 'torch'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
