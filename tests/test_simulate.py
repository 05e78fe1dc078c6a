"""Round-based simulator and `harness simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from harness.commands.simulate import register
from harness.profile import save_profile
from solver.packing_problem import ServerKind
from solver.simulate import Trace, TraceJob, job_tables, make_trace, simulate
from tests.train_profile_factory import make_train_profile, synthetic_profiles

KINDS = [ServerKind(name="s", count=2, gpus=8, cpus=24, memory_gb=500)]


def profiles() -> dict:
    return {p.job.name: p for p in synthetic_profiles()}


@pytest.mark.parametrize("policy", ["proportional", "greedy", "scip"])
def test_lone_job_runs_at_its_allocated_rate(policy: str) -> None:
    prof = make_train_profile(name="cpuhungry", peak=900, sat=9, knee_gb=None)
    trace = Trace(
        jobs=[TraceJob(name="a", arrival_s=0, gpus=1, work_iterations=1.0, profile="cpuhungry")]
    )
    tabs = job_tables(trace, KINDS, None, {"cpuhungry": prof})
    tab = tabs[0]
    # 1000 s of work at the proportional share (3 CPUs): 1000 s under proportional, a third of
    # that when the job may take the 9 CPUs its curve wants.
    trace.jobs[0].work_iterations = 1000 * tab.prop_throughput / tab.images_per_iteration
    res = simulate(trace, tabs, KINDS, policy, round_s=300, time_limit=5)  # type: ignore[arg-type]
    expect = 1000.0 if policy == "proportional" else 1000.0 / 3.0
    assert res.finished == 1
    assert res.avg_jct_s == pytest.approx(expect, rel=1e-6)
    assert res.makespan_s == pytest.approx(expect, rel=1e-6)


def test_trace_all_policies_finish_and_report() -> None:
    profs = profiles()
    trace = make_trace(profs, 20, KINDS, seed=2, mean_hours=0.5)
    tabs = job_tables(trace, KINDS, None, profs)
    results = {
        p: simulate(trace, tabs, KINDS, p, round_s=300, time_limit=1)  # type: ignore[arg-type]
        for p in ("proportional", "greedy", "scip")
    }
    for r in results.values():
        assert r.finished == 20
        assert 0 < r.utilisation["gpu"] <= 1 + 1e-9
        assert 0 < r.utilisation["cpu"] <= 1 + 1e-9
        assert 0 < r.utilisation["memory"] <= 1 + 1e-9
        assert r.makespan_s >= max(j.arrival_s for j in trace.jobs)
        for j in r.per_job:
            assert j.jct_s is not None and j.jct_s > 0
    # Proportional shares use CPUs and memory exactly as GPUs: the three utilisations agree.
    u = results["proportional"].utilisation
    assert u["gpu"] == pytest.approx(u["cpu"]) == pytest.approx(u["memory"])


def test_simulate_command(tmp_path: Path) -> None:
    profs = profiles()
    for name, prof in profs.items():
        save_profile(prof, tmp_path / f"{name}.json")
    trace = make_trace(profs, 12, KINDS, seed=1, mean_hours=0.3)
    raw = {"jobs": [dict(j.model_dump(), profile=f"{j.profile}.json") for j in trace.jobs]}
    (tmp_path / "trace.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "cluster.yaml").write_text(
        yaml.safe_dump({"servers": [k.model_dump() for k in KINDS]})
    )
    app = typer.Typer()
    register(app)

    @app.callback()
    def _main() -> None:  # keep `simulate` a named sub-command
        pass

    runner = CliRunner()
    args = [
        "simulate",
        str(tmp_path / "trace.yaml"),
        "--cluster",
        str(tmp_path / "cluster.yaml"),
        "--policy",
        "proportional",
        "--policy",
        "scip",
        "--time-limit",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--format",
        "json",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [r["policy"] for r in out] == ["proportional", "scip"]
    assert all(r["finished"] == 12 for r in out)
    assert (tmp_path / "out" / "simulate.json").exists()

    bad = runner.invoke(app, ["simulate", str(tmp_path / "trace.yaml"), "--policy", "fifo"])
    assert bad.exit_code == 1
    assert "--policy" in bad.output and "fifo" in bad.output

    (tmp_path / "broken.yaml").write_text("jobs:\n  - name: x\n")
    bad = runner.invoke(app, ["simulate", str(tmp_path / "broken.yaml")])
    assert bad.exit_code == 1
    assert "broken.yaml" in bad.output and "work_iterations" in bad.output
    assert "Traceback" not in bad.output
