"""The kind's tables and Gantt chart, and `harness pipeline sample` / `harness solve` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app
from harness.profile import save_profile
from solver.pipeline import PipelineProblem, solve
from solver.pipeline.cli import plots
from solver.problem import SolveOptions
from solver.profiles import ProfileSet
from tests.factory.pipeline import chain_profile

runner = CliRunner()


def test_plots_write_one_gantt_chart(tmp_path: Path) -> None:
    problem = PipelineProblem(sample={"num_jobs": 4})  # type: ignore[arg-type]
    sol = solve(problem, ProfileSet(), SolveOptions(extra={"heuristic_time": 0.2}))
    (png,) = plots(sol, tmp_path / "x-pipeline")
    assert png == tmp_path / "x-pipeline-gantt.png" and png.stat().st_size > 1000


def test_solve_prices_jobs_by_profiles_and_writes_its_files(tmp_path: Path) -> None:
    edge, server = tmp_path / "edge.json", tmp_path / "server.json"
    save_profile(chain_profile("edge", 10.0), edge)
    save_profile(chain_profile("server", 1.0), server)
    raw = {
        "kind": "pipeline",
        "devices": [{"name": "edge"}, {"name": "server"}],
        "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 8, "latency_ms": 1}],
        "jobs": [{"name": "cam", "count": 4, "local": "edge", "remote": "server"}],
        "time_limit_s": 20,
        "heuristic_time_s": 0.3,
    }
    prob = tmp_path / "p.yaml"
    prob.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    args = ["solve", str(edge), str(server), "--problem", str(prob), "--out", str(out)]
    r = runner.invoke(app, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    (d,) = json.loads(r.stdout)["decisions"]
    sol = d["solution"]
    assert d["ok"] and d["name"] == "p" and d["summary"]["subjects"] == ["cam"]
    assert sol["num_jobs"] == 4 and sol["profiles"] == ["tiny-edge", "tiny-server"]
    opt = sol["methods"][-1]
    assert opt["method"] == "Offline OPT (exact)" and opt["exact"]
    assert all(m["makespan_s"] >= opt["makespan_s"] - 1e-12 for m in sol["methods"])
    # comm at cut 1: 8000 B at 8 Mbps + 1 ms
    cut1 = [s for m in sol["methods"] for s in m["schedule"] if s["cut"] == 1]
    for s in cut1:
        assert s["comm"]["end_s"] - s["comm"]["start_s"] == pytest.approx(0.009)
    assert d["files"] == [
        str(out / "p-pipeline-solution.json"),
        str(out / "p-pipeline-gantt.png"),
    ]
    assert json.loads((out / "p-pipeline-solution.json").read_text()) == sol
    assert (out / "p-pipeline-gantt.png").stat().st_size > 1000


def test_a_bad_problem_is_one_clear_line(tmp_path: Path) -> None:
    prob = tmp_path / "p.yaml"
    prob.write_text("kind: pipeline\nsample: {num_jobs: 0}\n")
    r = runner.invoke(app, ["solve", "--problem", str(prob), "--out", str(tmp_path)])
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert err.startswith(f"error: {prob}: field 'sample.num_jobs'") and "\n" not in err
    prob.write_text(
        "kind: pipeline\ndevices: [{name: edge}]\njobs: [{local: edge, remote: cloud}]\n"
    )
    r = runner.invoke(app, ["solve", "--problem", str(prob), "--out", str(tmp_path)])
    assert r.exit_code == 1
    assert "device 'cloud' is not in 'devices'" in r.stderr


def test_pipeline_sample_goes_through_the_solve_flow(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "pipeline",
            "sample",
            "--num-jobs",
            "4",
            "--seed",
            "3",
            "--alpha-min",
            "2",
            "--alpha-max",
            "6",
            "--log-uniform",
            "--comms-uniform",
            "--lower-bound",
            "0.01",
            "--upper-bound",
            "0.03",
            "--time-limit",
            "20",
            "--print-jobs",
            "--heuristic-time",
            "0.3",
            "--out",
            str(tmp_path),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    (d,) = json.loads(res.stdout)["decisions"]
    sol = d["solution"]
    assert sol["problem"]["sample"]["comms_uniform"] is True
    assert sol["methods"][-1]["exact"] and sol["num_jobs"] == 4
    written = yaml.safe_load((tmp_path / "sample-pipeline-problem.yaml").read_text())
    assert written["sample"]["seed"] == 3 and written["heuristic_time_s"] == 0.3
    assert (tmp_path / "sample-pipeline-solution.json").is_file()
    table = runner.invoke(app, ["pipeline", "sample", "--num-jobs", "3", "--heuristic-time", "0.2",
                                "--print-jobs", "--out", str(tmp_path / "t")])  # fmt: skip
    assert table.exit_code == 0, table.output
    assert "local start-end" in table.stdout and "Offline optimal makespan" in table.stdout
    bad = runner.invoke(app, ["pipeline", "sample", "--num-jobs", "0", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "error: --num-jobs: " in bad.stderr
    for opt, value in (("--time-limit", "nan"), ("--time-limit", "-5"), ("--num-jobs", "10001")):
        bad = runner.invoke(app, ["pipeline", "sample", opt, value, "--out", str(tmp_path)])
        assert bad.exit_code == 2 and bad.stderr.startswith(f"error: {opt}: "), bad.output
