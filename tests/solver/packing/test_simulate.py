"""Round-based simulator and `harness simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

import solver.packing.check as packing_check
from harness.cli.simulate import register
from harness.profile import save_profile
from solver.packing.baselines import proportional
from solver.packing.problem import Instance, ServerKind
from solver.packing.simulate import (
    PlacementError,
    Trace,
    TraceJob,
    job_tables,
    make_trace,
    simulate,
)
from solver.packing.solution import Placement, make_placement
from tests.factory.packing import profile_set, synthetic_set
from tests.factory.train_profiles import make_train_profile, synthetic_profiles

KINDS = [ServerKind(name="s", count=2, gpus=8, cpus=24, memory_gb=500)]


@pytest.mark.parametrize("policy", ["proportional", "greedy", "scip"])
def test_lone_job_runs_at_its_allocated_rate(policy: str) -> None:
    prof = make_train_profile(name="cpuhungry", peak=900, sat=9, knee_gb=None)
    trace = Trace(
        jobs=[TraceJob(name="a", arrival_s=0, gpus=1, work_iterations=1.0, profile="cpuhungry")]
    )
    tabs = job_tables(trace, KINDS, profile_set([prof]))
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
    profs = synthetic_set()
    trace = make_trace(profs, 20, KINDS, seed=2, mean_hours=0.5)
    tabs = job_tables(trace, KINDS, profs)
    results = {
        p: simulate(trace, tabs, KINDS, p, round_s=300, time_limit=1)  # type: ignore[arg-type]
        for p in ("proportional", "greedy", "scip")
    }
    for r in results.values():
        assert r.finished == 20
        assert r.checked == r.solves > 0  # every placement passed the independent checker
        assert 0 < r.utilisation["gpu"] <= 1 + 1e-9
        assert 0 < r.utilisation["cpu"] <= 1 + 1e-9
        assert 0 < r.utilisation["memory"] <= 1 + 1e-9
        assert r.makespan_s >= max(j.arrival_s for j in trace.jobs)
        for j in r.per_job:
            assert j.jct_s is not None and j.jct_s > 0
    # Proportional shares use CPUs and memory exactly as GPUs: the three utilisations agree.
    u = results["proportional"].utilisation
    assert u["gpu"] == pytest.approx(u["cpu"]) == pytest.approx(u["memory"])


@pytest.mark.parametrize("policy", ["proportional", "greedy", "scip"])
def test_every_round_placement_of_every_policy_is_checked(
    policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    profs = synthetic_set()
    # 30 jobs at load 2 on 16 GPUs: rounds where some jobs must queue, and rounds where all run
    trace = make_trace(profs, 30, KINDS, seed=4, load=2.0, mean_hours=0.5)
    tabs = job_tables(trace, KINDS, profs)
    seen: list[tuple[int, int, list[str]]] = []
    real = packing_check.check

    def spy(inst: Instance, pl: Placement, admitted: list[int] | None = None) -> list[str]:
        assert admitted is not None  # the simulator says which jobs must run
        errs = real(inst, pl, admitted)
        seen.append((len(inst.jobs), len(admitted), errs))
        return errs

    monkeypatch.setattr(packing_check, "check", spy)
    res = simulate(trace, tabs, KINDS, policy, round_s=300, time_limit=1)  # type: ignore[arg-type]
    assert res.finished == 30
    assert len(seen) == res.solves == res.checked > 1
    assert all(errs == [] for _n, _a, errs in seen)
    assert any(a < n for n, a, _e in seen)  # some rounds queued jobs: the admitted set mattered


def test_a_policy_that_drops_an_admitted_job_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake policy (proportional, then one placed job removed) must not pass silently."""

    def dropping(inst: Instance, order: list[int]) -> Placement:
        good = proportional(inst, order)
        keep = {
            j: [
                (
                    next(i for i, s in enumerate(inst.servers) if s.name == p.server),
                    p.gpus,
                    p.cpus,
                    p.memory_gb,
                )
                for p in jp.parts
            ]
            for j, jp in enumerate(good.jobs)
            if jp.placed
        }
        keep.pop(max(keep))
        return make_placement(inst, "fake-dropping", list(range(len(inst.jobs))), keep, "fake", 0)

    import solver.packing.simulate as sim

    monkeypatch.setattr(sim, "policy_fn", lambda policy, time_limit: dropping)
    profs = synthetic_set()
    trace = make_trace(profs, 6, KINDS, seed=1, mean_hours=0.3)
    tabs = job_tables(trace, KINDS, profs)
    with pytest.raises(PlacementError, match="admitted but left unplaced"):
        simulate(trace, tabs, KINDS, "proportional", round_s=300)
    # the check is what stops it: without it the run goes on with the job never served
    res = simulate(trace, tabs, KINDS, "proportional", round_s=300, max_rounds=50, verify=False)
    assert res.finished < 6 and res.checked == 0


def test_simulate_command(tmp_path: Path) -> None:
    for prof in synthetic_profiles():
        save_profile(prof, tmp_path / f"{prof.job.name}.json")
    trace = make_trace(synthetic_set(), 12, KINDS, seed=1, mean_hours=0.3)
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
    assert bad.exit_code == 2
    assert "--policy" in bad.output and "fifo" in bad.output

    (tmp_path / "broken.yaml").write_text("jobs:\n  - name: x\n")
    bad = runner.invoke(app, ["simulate", str(tmp_path / "broken.yaml")])
    assert bad.exit_code == 2
    assert "broken.yaml" in bad.output and "work_iterations" in bad.output
    assert "Traceback" not in bad.output


def test_a_replay_at_its_round_cap_says_so(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A job that cannot finish within the cap is no '0/1 finished, avg JCT 0.00 h' with exit 0:
    the replay says it stopped at the cap, which jobs are left, and exits 1."""
    import solver.packing.simulate as sim

    prof = make_train_profile(name="slow", peak=900, sat=9, knee_gb=None)
    save_profile(prof, tmp_path / "slow.json")
    job = {"name": "long", "gpus": 1, "work_iterations": 1e12, "profile": "slow.json"}
    (tmp_path / "trace.yaml").write_text(yaml.safe_dump({"jobs": [job]}))
    monkeypatch.setattr(sim, "MAX_ROUNDS", 20)
    app = typer.Typer()
    register(app)

    @app.callback()
    def _main() -> None:
        pass

    args = ["simulate", str(tmp_path / "trace.yaml"), "--policy", "proportional"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: policy proportional: stopped at the")
    assert "round cap (20 rounds of 300 s" in lines[0] and "1 of 1 jobs unfinished" in lines[0]
    assert "0/1" in res.stdout  # and no average of nothing: its JCT and makespan are "-"
    saved = json.loads((tmp_path / "out" / "simulate.json").read_text())
    assert saved[0]["stopped"].startswith("stopped at the round cap")
