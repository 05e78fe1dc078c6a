"""Solution JSON -> the session run-split runs, and the predictions it is held against (pure:
real solver runs on factory profiles; no Docker, no torch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.runsplit.compare import predict
from harness.runsplit.decision import DecisionError, RunOptions, load_decision
from harness.runsplit.plan import LinkSetting
from harness.runsplit.summary import ContainerOutcome, RunSplitResult, phase_result
from harness.runsplit.validate import validation_of
from tests.factory.split import edge_server_profiles, split_solution

runner = CliRunner()


def _pipeline_solution(tmp_path: Path, inline: bool = False) -> Path:
    from solver.pipeline import PipelineProblem, solve
    from solver.problem import SolveOptions
    from solver.profiles import ProfileSet

    pe, ps = edge_server_profiles(tmp_path)
    raw: dict[str, Any] = {"kind": "pipeline", "time_limit_s": 5, "heuristic_time_s": 0.2}
    if inline:
        raw["inline_jobs"] = [
            {
                "name": "a",
                "count": 2,
                "options": [{"cut": 0, "local_s": 0, "comm_s": 0.01, "remote_s": 0.01}],
            }
        ]
    else:
        raw |= {
            "devices": [
                {"name": "edge", "profiles": [str(pe)]},
                {"name": "server", "profiles": [str(ps)]},
            ],
            "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 50, "latency_ms": 2}],
            "jobs": [{"name": "cam", "count": 3, "local": "edge", "remote": "server"}],
        }
    sol = solve(PipelineProblem.model_validate(raw), ProfileSet(base_dir=tmp_path), SolveOptions())
    assert sol.summary().ok
    path = tmp_path / "out" / "pipeline-pipeline-solution.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sol.model_dump_json(indent=1))
    return path


def test_split_decision_runs_the_choice_and_each_distinct_baseline(tmp_path: Path) -> None:
    path = split_solution(tmp_path)
    sol = json.loads(path.read_text())
    d = load_decision(path, RunOptions(requests=3, window=2))
    assert d.kind == "split"
    names = [c.name for c in d.plans]
    assert names[0] == "chosen" and "all on edge" in names and "all on server" in names
    s = d.session
    assert (s.edge_cpus, s.server_cpus) == (1.0, 2.0)  # from the profiles' caps
    assert s.models[0].key == "toynet" and s.models[0].n_layers == 6
    # one latency + one throughput phase per distinct plan; duplicates share them
    distinct = {json.dumps(s.phases[c.phases["latency"]].plan.model_dump()) for c in d.plans}  # type: ignore[union-attr]
    assert len(s.phases) == 2 * len(distinct)
    assert all(p.requests == 3 and p.window == 2 for p in s.phases)
    # at the problem's own link the prediction is the solver's latency
    assert d.plans[0].prediction.latency_s == pytest.approx(sol["plan"]["latency_s"])
    link = s.phases[0].link
    assert link == LinkSetting(up_mbps=20, down_mbps=20, latency_ms=5)


def test_split_decision_overrides_the_link_and_reprices(tmp_path: Path) -> None:
    path = split_solution(tmp_path)
    d = load_decision(
        path, RunOptions(bandwidth_mbps=5.0, latency_ms=1.0, throughput=False, baselines=False)
    )
    assert [c.name for c in d.plans] == ["chosen"]
    assert [p.mode for p in d.session.phases] == ["latency"]
    assert d.session.phases[0].link.up_mbps == 5.0
    case = d.plans[0]
    assert case.prediction == predict(case.steps, 1, d.session.phases[0].link)


def test_split_decision_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = split_solution(tmp_path)
    raw = json.loads(path.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**raw, "profiles": [{**raw["profiles"][0], "path": "gone.json"}]}))
    with pytest.raises(DecisionError, match=r"bad.json: field 'profiles.0.path'.*gone.json"):
        load_decision(bad, RunOptions())
    bad.write_text(json.dumps({**raw, "plan": None}))
    with pytest.raises(DecisionError, match="field 'plan'"):
        load_decision(bad, RunOptions())
    bad.write_text(json.dumps({**raw, "problem": {**raw["problem"], "links": []}}))
    with pytest.raises(DecisionError, match="field 'problem.links'"):
        load_decision(bad, RunOptions())
    bad.write_text(json.dumps({**raw, "objective": 3}))
    with pytest.raises(DecisionError, match="field 'objective'"):
        load_decision(bad, RunOptions())
    bad.write_text("[]")
    with pytest.raises(DecisionError, match="expected a JSON object"):
        load_decision(bad, RunOptions())


def test_pipeline_decision_runs_each_distinct_schedule(tmp_path: Path) -> None:
    path = _pipeline_solution(tmp_path)
    sol = json.loads(path.read_text())
    d = load_decision(path, RunOptions(repeats=2))
    assert d.kind == "pipeline"
    assert [m.method for m in d.methods] == [m["method"] for m in sol["methods"]]
    schedules = {
        json.dumps(
            [(j["job"], j["cut"]) for j in sorted(m["schedule"], key=lambda j: j["position"])]
        )
        for m in sol["methods"]
    }
    assert len(d.session.phases) == len(schedules)
    for m, raw_m in zip(d.methods, sol["methods"], strict=True):
        ph = d.session.phases[m.phase]
        order = [j["job"] for j in sorted(raw_m["schedule"], key=lambda j: j["position"])]
        assert [j.name for j in ph.jobs] == order
        assert m.predicted_makespan_s == raw_m["makespan_s"]
        assert ph.mode == "pipeline" and ph.repeats == 2 and ph.jobs[0].n_layers == 6
    assert (d.session.edge_cpus, d.session.server_cpus) == (1.0, 2.0)
    assert d.session.phases[0].link == LinkSetting(up_mbps=50, down_mbps=50, latency_ms=2)


def test_pipeline_without_profiled_jobs_cannot_run(tmp_path: Path) -> None:
    path = _pipeline_solution(tmp_path, inline=True)
    with pytest.raises(DecisionError, match="field 'problem.jobs'.*inline"):
        load_decision(path, RunOptions())


def _validated_at_100ms(d: Any, path: Path) -> Any:
    """The decision's validation against a run whose every phase measured one 0.1 s request."""
    phases = []
    for i, ph in enumerate(d.session.phases):
        recs = [
            {"type": "request", "phase": i, "latency_s": 0.1},
            {"type": "phase_done", "phase": i, "samples": 1, "wall_s": 0.1, "outputs_match": True},
        ]
        phases.append(phase_result(i, ph, recs, None))
    box = ContainerOutcome(role="edge", name="e", outcome="ok", asked_cpus=1, cpus=1, cpuset=[0])
    res = RunSplitResult(
        source=str(path), models=["toynet"], containers=[box], phases=phases, ok=True
    )
    return validation_of(d, res, str(path))


def test_validation_sets_predictions_against_phases(tmp_path: Path) -> None:
    path = split_solution(tmp_path)
    d = load_decision(path, RunOptions(throughput=False))
    v = _validated_at_100ms(d, path)
    assert len(v.rows) == len(d.plans)
    for row, case in zip(v.rows, d.plans, strict=True):
        assert row.measured_latency_s == pytest.approx(0.1)
        assert row.latency_error == pytest.approx((case.prediction.latency_s - 0.1) / 0.1)
    assert v.median_abs_latency_error is not None


def test_each_side_is_held_to_its_profiles_ratio_after_the_gap_it_idles(tmp_path: Path) -> None:
    """Profiles that measured their sides 1.5x slower after 1 ms idle: one request at a time a
    plan's computing sides are predicted that much slower (a side alone never idles), and the
    row says by what; streamed, the busiest resource is not slowed."""
    path = split_solution(tmp_path, after_idle=[(0.001, 1.5)], beside_wakeups=[(1.0, 1.2)])
    d = load_decision(path, RunOptions(throughput=True))
    assert all(c.idle == {"edge": [(0.001, 1.5)], "server": [(0.001, 1.5)]} for c in d.plans)
    assert all(c.wakes == {"edge": [(1.0, 1.2)], "server": [(1.0, 1.2)]} for c in d.plans)
    v = _validated_at_100ms(d, path)
    rows = {(r.plan, r.mode): r for r in v.rows}
    split = [c for c in d.plans if c.prediction.edge_s > 0 and c.prediction.server_s > 0]
    assert split, "a plan that computes on both sides"
    row = rows[(split[0].name, "latency")]
    p = split[0].prediction
    assert row.after_idle == {"edge": pytest.approx(1.5), "server": pytest.approx(1.5)}
    assert row.predicted_latency_s == pytest.approx(p.latency_s + 0.5 * (p.edge_s + p.server_s))
    alone = [c for c in d.plans if c.prediction.server_s == 0 and c.prediction.up_s == 0]
    for c in alone:  # all on the edge: it never waits
        assert rows[(c.name, "latency")].after_idle is None
    streamed = rows[(split[0].name, "throughput")]
    busy = {"edge": p.edge_busy_s or p.edge_s, "server": p.server_busy_s or p.server_s}
    slowest = max(busy, key=lambda k: busy[k])
    if busy[slowest] > max(p.up_busy_s or 0.0, p.down_busy_s or 0.0):  # a side sets the rate
        assert slowest not in (streamed.after_idle or {})
    woke = streamed.beside_wakeups or {}
    assert woke["server"] == pytest.approx(1.2)  # woken more than once a second
    assert ("edge" in woke) == any(st.kind == "transfer" and not st.up for st in split[0].steps)
    assert rows[(split[0].name, "latency")].beside_wakeups is None  # it receives while waiting


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    r = runner.invoke(app, ["run-split", str(tmp_path / "none.json")])
    assert r.exit_code == 2
    assert "none.json: cannot read" in r.output and len(r.output.strip().splitlines()) == 1
    bad = tmp_path / "hybrid.json"
    bad.write_text(json.dumps({"kind": "hybrid"}))
    r = runner.invoke(app, ["validate-decision", str(bad)])
    assert r.exit_code == 2 and "field 'kind'" in r.output
    packing = tmp_path / "packing.json"  # a packing decision goes its own way (harness/packrun)
    packing.write_text(json.dumps({"kind": "packing"}))
    r = runner.invoke(app, ["validate-decision", str(packing)])
    assert r.exit_code == 2 and "packing.json: field 'name'" in r.output
    r = runner.invoke(app, ["run-split", str(bad), "--shaping", "netem"])
    assert r.exit_code == 2 and "--shaping" in r.output
    r = runner.invoke(app, ["run-split", str(bad), "--requests", "0"])
    assert r.exit_code == 2 and "--requests" in r.output


def test_run_split_warns_before_it_runs_when_cores_would_be_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The split's profiles were measured at 1 (edge) and 2 (server) CPUs; on a 2-core host the
    server would get 1: the warning comes before any container starts."""
    import harness.cli.runsplit as cli
    import harness.runsplit.orchestrate as orch

    started: list[str] = []

    def refuse(*a: object, **k: object) -> None:
        started.append("run")
        raise orch.RunSplitError("stopped by the test before any container")

    monkeypatch.setattr(orch, "run_session", refuse)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    r = runner.invoke(app, ["run-split", str(split_solution(tmp_path))])
    assert r.exit_code == 1 and started == ["run"]
    out = r.output
    assert "warning: server: asked 2 CPUs" in out and "will not match the prediction" in out
    assert out.index("warning:") < out.index("running ")
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 8)
    r = runner.invoke(app, ["run-split", str(split_solution(tmp_path))])
    assert "warning:" not in r.output
