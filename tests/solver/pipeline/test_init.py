"""The kind's public face: KIND, solve(problem, profiles, options), and a light import."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from harness.profile import save_profile
from solver.kinds import get_kind
from solver.pipeline import KIND, PipelineProblem, solve
from solver.pipeline.cli import render
from solver.pipeline.solution import PipelineSolution
from solver.problem import ProblemError, SolveOptions, read_problem, validate_as
from solver.profiles import ProfileSet
from tests.factory.pipeline import chain_profile

ROOT = Path(__file__).resolve().parents[3]
QUICK = {"heuristic_time": 0.3}


def _text(solution: PipelineSolution, **kw: bool) -> str:
    con = Console(file=io.StringIO(), width=130, record=True)
    render(solution, con, SolveOptions(**kw))
    return con.export_text()


def test_the_record_and_a_light_import() -> None:
    assert get_kind("pipeline") is KIND
    assert KIND.problem is PipelineProblem and KIND.solution is PipelineSolution
    assert KIND.solve is solve and KIND.per_model is None
    code = (
        "import sys, solver.pipeline\n"
        "print(','.join(m for m in ('numpy', 'pyscipopt', 'matplotlib', 'scipy', 'rich') "
        "if m in sys.modules))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"heavy modules imported by solver.pipeline: {r.stdout}"


def test_the_example_problem_file_solves_with_ratios() -> None:
    path = ROOT / "problems" / "batch-pipeline.yaml"
    problem = validate_as(PipelineProblem, read_problem(path), path)
    sol = solve(problem, ProfileSet(base_dir=path.parent), SolveOptions(extra=QUICK))
    out = _text(sol, print_jobs=True)
    for line in (
        "DOPart FIFO / Offline OPT",
        "DOPart best schedule / Offline OPT",
        "SAIG split-aware greedy / Offline OPT",
        "local start-end",
    ):
        assert line in out
    assert sol.ratios["DOPart FIFO / Offline OPT"] >= 1.0
    assert sol.num_jobs == 6 and sol.source == "inline" and sol.optimum.exact


def test_a_time_limit_prints_bound_and_gap() -> None:
    # 20 jobs skip the bounded DP (N > 14); SCIP cannot prove them in 0.3 s, so it stops
    problem = PipelineProblem(sample={"num_jobs": 20, "seed": 2})  # type: ignore[arg-type]
    sol = solve(problem, ProfileSet(), SolveOptions(time_limit=0.3, extra={"heuristic_time": 0.2}))
    out = _text(sol)
    line = re.search(
        r"^Offline OPT not proven \(stopped: (\w+)\): best schedule found ([0-9.]+) s, "
        r"proven lower bound ([0-9.]+) s, gap ([0-9.]+)%$",
        out,
        re.MULTILINE,
    )
    assert line is not None, out
    status, best, lower, gap = line[1], float(line[2]), float(line[3]), float(line[4]) / 100
    opt = sol.optimum
    assert status == opt.status == "timelimit" and not opt.exact
    assert best == pytest.approx(opt.makespan_s, abs=1e-6)
    assert lower == pytest.approx(opt.lower_bound_s, abs=1e-6)
    assert 0 < lower < best and gap > 0
    assert gap == pytest.approx((best - lower) / best, abs=1e-4)
    assert opt.schedule and len(opt.schedule) == 20  # the best schedule itself is kept
    assert sol.time_limit_s == 0.3


def test_the_default_problem_of_two_devices_solves(tmp_path: Path) -> None:
    paths = []
    for device, scale in (("edge", 10.0), ("server", 1.0)):
        paths.append(tmp_path / f"{device}.json")
        save_profile(chain_profile(device, scale), paths[-1])
    profiles = ProfileSet.from_paths(paths)
    problem = KIND.default_problem(profiles)  # type: ignore[misc]
    sol = solve(problem, profiles, SolveOptions(time_limit=10, extra=QUICK))
    assert sol.num_jobs == 10 and sol.profiles == ["tiny-edge", "tiny-server"]
    assert "Offline optimal makespan" in _text(sol)


def test_sample_options_override_a_sampled_problem_only() -> None:
    problem = PipelineProblem(sample={"num_jobs": 9})  # type: ignore[arg-type]
    opts = SolveOptions(time_limit=10, extra={**QUICK, "num_jobs": 3, "seed": 7})
    sol = solve(problem, ProfileSet(), opts)
    assert sol.num_jobs == 3 and sol.problem.sample is not None and sol.problem.sample.seed == 7
    with pytest.raises(ProblemError, match="option 'num_jobs'"):
        solve(problem, ProfileSet(), SolveOptions(extra={"num_jobs": 0}))
    inline = validate_as(
        PipelineProblem, read_problem(ROOT / "problems" / "batch-pipeline.yaml"), "p.yaml"
    )
    with pytest.raises(ProblemError, match="sampled problem"):
        solve(inline, ProfileSet(), SolveOptions(extra={"seed": 3}))
