"""`harness solve --problem` on a hybrid problem, through the real CLI: files, tables, exits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from harness.cli import app
from solver.hybrid.check import check_schedule
from tests.factory.hybrid import cpu_profiles, problem, with_step_s

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def _write(tmp_path: Path, raw: dict[str, Any], name: str = "hybrid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def _solve(problem_file: Path, out: Path, *args: str, profiles: Sequence[Path] = ()) -> Any:
    argv = ["solve", *map(str, profiles), "--problem", str(problem_file), "--out", str(out)]
    return runner.invoke(app, [*argv, *args])


def test_a_problem_file_with_profiles_writes_the_solution_and_the_gantt(tmp_path):
    paths = cpu_profiles(tmp_path)
    prob_file = _write(tmp_path, dict(problem(), name="mix"))
    out = tmp_path / "out"
    r = _solve(prob_file, out, "--format", "json", "--time-limit", "10", profiles=paths)
    assert r.exit_code == 0, r.output
    (d,) = json.loads(r.stdout)["decisions"]
    assert d["kind"] == "hybrid" and d["name"] == "mix" and d["ok"]
    sol = json.loads((out / "mix-hybrid-solution.json").read_text())
    assert sol == d["solution"]
    assert set(sol["methods"]) == {"cpu-only", "gpu-only", "greedy", "scip"}
    ms = {k: v["makespan"] for k, v in sol["methods"].items()}
    assert ms["scip"] <= min(ms.values()) + 1e-6
    for v in sol["methods"].values():
        assert check_schedule(v, sol["times_s"]) == []
    assert (out / "mix-hybrid-gantt.png").stat().st_size > 0
    assert d["files"] == [str(out / "mix-hybrid-solution.json"), str(out / "mix-hybrid-gantt.png")]
    assert d["summary"]["objective"] == "makespan" and d["summary"]["status"] == "optimal"
    r = _solve(prob_file, out, "--print-jobs", profiles=paths)
    assert r.exit_code == 0, r.output
    assert "scip schedule" in r.stdout and "greedy" in r.stdout and "speed-up model" in r.stdout


def test_bad_input_is_one_line(tmp_path):
    bad = _write(tmp_path, dict(problem(), workers=[{"name": "x", "device": "tpu"}]), "p.yaml")
    r = _solve(bad, tmp_path)
    assert r.exit_code == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "p.yaml" in err[0] and "workers.0.device" in err[0]
    r = _solve(_write(tmp_path, problem(), "p.yaml"), tmp_path)
    err = r.stderr.strip().splitlines()
    assert r.exit_code == 1 and len(err) == 1 and "no cost model" in err[0]
    r = _solve(_write(tmp_path, dict(problem(), cost_model="nowhere.json"), "p.yaml"), tmp_path)
    # a file the problem names that cannot be read is bad input, however late it shows
    err = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(err) == 1 and "nowhere.json" in err[0]


def test_given_step_times_need_no_cost_model(tmp_path):
    prob_file = _write(tmp_path, with_step_s(problem(), {"cpu": 2.0, "cuda": 0.1}))
    r = _solve(prob_file, tmp_path / "o", "--format", "json")
    assert r.exit_code == 0, r.output
    (d,) = json.loads(r.stdout)["decisions"]
    assert d["kind"] == d["solution"]["kind"] == "hybrid"
    assert d["solution"]["methods"]["scip"]["status"] == "optimal"
    assert d["solution"]["times_s"][0] == [200.0, 200.0, 10.0]


def test_workers_of_one_kind_only_leave_the_other_baseline_empty(tmp_path):
    raw = with_step_s(problem(), {"cpu": 1.0})
    raw["workers"] = [{"name": "c", "device": "cpu", "cpus": 1}]
    r = _solve(_write(tmp_path, raw), tmp_path / "o", "--time-limit", "5")
    assert r.exit_code == 0, r.output
    assert "no such worker" in r.stdout and "optimal" in r.stdout


def _check_committed_example(doc: dict[str, Any], out: Path) -> None:
    (d,) = doc["decisions"]
    sol = d["solution"]
    assert d["ok"] and d["name"] == "w1-w7"
    assert any(n.endswith("profiles/fitted/costmodel.json") for n in sol["notes"]), sol["notes"]
    assert set(sol["methods"]) == {"cpu-only", "gpu-only", "greedy", "scip"}
    for name, v in sol["methods"].items():
        assert check_schedule(v, sol["times_s"]) == [], name
    ms = {k: v["makespan"] for k, v in sol["methods"].items()}
    assert ms["scip"] <= min(ms.values()) + 1e-6
    devices = [w["device"] for w in sol["problem"]["workers"]]
    for job, row in zip(sol["problem"]["jobs"], sol["time_sources"], strict=True):
        for dev, src in zip(devices, row, strict=True):
            if job.get("step_s"):
                assert src == "given"
            elif dev == "cpu":
                assert src in ("measured", "linear", "gbt"), (job["name"], src)
    assert (out / "w1-w7-hybrid-gantt.png").stat().st_size > 0


def test_the_example_problem_solves_end_to_end_with_the_committed_cost_model(tmp_path):
    """The README flow: `harness solve --problem problems/hybrid.yaml` on a fresh clone reads
    the committed profiles/fitted/costmodel.json (fitted from profiles/costmodel/, W1-W7)."""
    args = ["--format", "json", "--time-limit", "20"]
    r = _solve(ROOT / "problems" / "hybrid.yaml", tmp_path, *args)
    assert r.exit_code == 0, r.output
    _check_committed_example(json.loads(r.stdout), tmp_path)


def test_the_example_problem_with_the_committed_profiles_still_reads_the_committed_model(
    tmp_path,
):
    """`harness solve profiles/costmodel/*.json --problem problems/hybrid.yaml`: the file the
    problem names wins over a fit of the profiles given beside it."""
    paths = sorted((ROOT / "profiles" / "costmodel").glob("*.json"))
    args = ["--format", "json", "--time-limit", "20"]
    r = _solve(ROOT / "problems" / "hybrid.yaml", tmp_path, *args, profiles=paths)
    assert r.exit_code == 0, r.output
    _check_committed_example(json.loads(r.stdout), tmp_path)
