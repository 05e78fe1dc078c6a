"""bench/accuracy_split.py's real-mode hook: errors only from the runs it is given."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from solver.accsplit import solve
from solver.problem import SolveOptions
from solver.profiles import ProfileSet
from tests.factory.accsplit import acc_problem

BENCH = Path(__file__).resolve().parents[3] / "bench" / "accuracy_split.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("accuracy_split_bench", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_real_mode_errors_use_only_measured_runs(family: ProfileSet) -> None:
    b = _bench()
    sol = solve(acc_problem(epsilon=0.03, domains=["d0", "d1"]), family, SolveOptions())
    c0 = sol.domains[0].choice
    assert c0 is not None
    runs = [b.MeasuredRun("d0", c0.throughput_rps * 0.9, c0.accuracy.value - 0.005)]
    e = b.real_mode_errors(sol, runs)
    assert e.domains == ["d0"] and e.missing == ["d1"]
    assert e.throughput_rel[0] == pytest.approx(0.1 / 0.9)
    assert e.accuracy_abs[0] == pytest.approx(0.005)
    assert b.real_mode_errors(sol, []).domains == []
    # several runs of a domain: their median throughput is the measurement
    c = c0.throughput_rps
    runs3 = [b.MeasuredRun("d0", t, c0.accuracy.value) for t in (c * 0.5, c * 0.9, c * 1.1)]
    e3 = b.real_mode_errors(sol, runs3)
    assert e3.throughput_rel[0] == pytest.approx(0.1 / 0.9) and e3.runs == {"d0": 3}
    # runs held to a profile made after the choice: that prediction, when asked for
    again = [
        b.MeasuredRun("d0", c * 0.9, c0.accuracy.value, predicted_rps=c * 0.72, remeasured=True)
    ]
    assert b.real_mode_errors(sol, again).throughput_rel[0] == pytest.approx(0.1 / 0.9)
    e4 = b.real_mode_errors(sol, again, remeasured=True)
    assert e4.throughput_rel[0] == pytest.approx(0.18 / 0.9)


def test_a_validate_decision_file_is_read(tmp_path: Path) -> None:
    b = _bench()
    doc = {
        "kind": "validate-decision",
        "rows": [
            {"plan": "chosen", "mode": "latency", "measured_throughput": 1.0,
             "measured_accuracy": 0.5, "predicted_stages": {"edge": 0.25, "server": 0.75},
             "measured_stages": {"edge": 0.25, "server": 1.25, "up": 2.0}},
            {"plan": "chosen", "mode": "pipeline", "measured_throughput": 400.0,
             "measured_accuracy": 0.962},
            {"plan": "unpruned best", "mode": "pipeline", "measured_throughput": 190.0,
             "measured_accuracy": 0.962},
        ],
        "run": {"notes": ["domain d0: variant p50, predicted accuracy 0.9620 (measured)"]},
    }  # fmt: skip
    path = tmp_path / "v.json"
    path.write_text(__import__("json").dumps(doc))
    # the streamed phase has no stages here: the one-at-a-time phase's, 1.5 s where the
    # profiles said 1.0, give the drift
    assert b.read_measured(str(path)) == [b.MeasuredRun("d0", 400.0, 0.962, 1.5, str(path))]
    # a run validate-decision re-priced from a later profile says so in its notes
    doc["rows"][1]["predicted_throughput"] = 420.0  # type: ignore[index]
    doc["rows"][1]["throughput_error_at_compute"] = 0.02  # type: ignore[index]
    doc["run"]["notes"].append(  # type: ignore[index]
        "chosen: server compute priced from another profile of variant p50 (abc): 9.0 ms a "
        "batch, where the profile it was chosen by read 7.0 ms"
    )
    path.write_text(__import__("json").dumps(doc))
    (run,) = b.read_measured(str(path))
    assert run.remeasured and run.predicted_rps == 420.0 and run.error_at_compute == 0.02


def test_fresh_mode_remakes_each_profile_as_it_was_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--fresh profiles every variant again with its own job, variant, device name, CPUs and
    backend; the commands are recorded here, not run (the flow itself is the bench's run)."""
    b = _bench()
    root = BENCH.parents[1]
    given = [str(root / "profiles/accuracy/digits-p40-edge.json")]
    given.append(str(root / "profiles/accuracy/digits-ref-server.json"))
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(b, "harness_cli", lambda *argv: calls.append(argv))
    out = b.fresh_profiles(given, tmp_path, reuse=False)
    assert [Path(p).name for p in out] == ["digits-p40-edge.json", "digits-ref-server.json"]
    assert len(calls) == 2 and all(c[0] == "profile" for c in calls)
    edge, server = (dict(zip(c[2::2], c[3::2], strict=False)) for c in calls)
    assert edge["--variant"].endswith("variants/digits/manifest.json:p40")
    assert (edge["--device-name"], edge["--cpu"], edge["--backend"]) == ("edge", "0.5", "docker")
    assert server["--variant"].endswith(":ref") and server["--cpu"] == "1"
    assert (tmp_path / "digits-infer.yaml").exists()  # the job as the profile recorded it
    # --reuse keeps what is there; a profile of no saved variant cannot be remade
    (tmp_path / "digits-p40-edge.json").write_text("{}")
    calls.clear()
    b.fresh_profiles(given, tmp_path, reuse=True)
    assert [c[c.index("--out") + 1] for c in calls] == [str(tmp_path / "digits-ref-server.json")]
    with pytest.raises(SystemExit, match="saved variants"):
        b.fresh_profiles([str(root / "profiles/res18-1cpu.json")], tmp_path, reuse=False)


def test_remeasure_profiles_what_each_choice_was_priced_by_once_more(
    family: ProfileSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--remeasure: after solving, the profiles the decided choices cite are made again (each
    once, however many domains chose it), found as validate-decision finds them."""
    import shutil

    b = _bench()
    root = BENCH.parents[1]
    sol = solve(acc_problem(epsilon=0.03, domains=["d0", "d1"]), family, SolveOptions())
    real = {
        "edge": root / "profiles/accuracy/digits-p40-edge.json",
        "server": root / "profiles/accuracy/digits-p40-server.json",
    }
    for d in sol.domains:  # cite real variant profiles, by name, beside the solution
        if d.choice is not None:
            for r in d.choice.profiles:
                r.path = f"elsewhere/{real[r.device_name].name}"
    for f in real.values():
        shutil.copy(f, tmp_path / f.name)
    solution = tmp_path / "s.json"
    solution.write_text(sol.model_dump_json())
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(b, "harness_cli", lambda *argv: calls.append(argv))
    out = b.remeasured_profiles(sol, solution, tmp_path / "again", reuse=False)
    cited = {r.device_name for d in sol.domains if d.choice for r in d.choice.profiles}
    assert sorted(Path(p).name for p in out) == sorted(real[c].name for c in cited)
    assert [c[0] for c in calls] == ["profile"] * len(cited)
