"""SCIP against the DP, a hand-checked instance, constraints, and the CLI's answers and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.profile import save_profile
from solver.problem import ProblemError
from solver.split import SplitModel, baselines, prune_options
from solver.split_cli import solve_command
from solver.split_dp import shortest_path
from solver.split_problem import Loaded, SplitProblem, build_instance
from tests.factory.infer_profiles import make_infer_profile, random_instance
from tests.test_split_dp import _all_paths, hand_instance

MICROSECOND = 1e-6


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 8),
    devices=st.integers(1, 3),
    freqs=st.integers(1, 3),
    max_len=st.integers(1, 4),
    seed=st.integers(0, 10**6),
    fixing=st.booleans(),
    eta=st.floats(0.0, 1.0),
)
def test_scip_matches_dp_on_random_instances(
    n: int, devices: int, freqs: int, max_len: int, seed: int, fixing: bool, eta: float
) -> None:
    """Without pricing SCIP sees the whole model, so the DP is an independent check."""
    inst = random_instance(n, devices, freqs, max_len, seed)
    model = SplitModel(inst, fixing=fixing, prune=fixing)
    fast, lean = shortest_path(inst, 1.0, 0.0), shortest_path(inst, 0.0, 1.0)
    assert fast is not None and lean is not None
    out = model.solve("latency")
    assert out.stats.status == "optimal" and out.path is not None
    assert abs(out.path.latency - fast.latency) <= MICROSECOND / 1000
    assert out.stats.objective is not None
    assert abs(out.stats.objective - fast.latency) <= MICROSECOND
    assert out.stats.gap == 0.0
    out = model.solve("energy")
    assert out.path is not None
    assert abs(out.path.energy - lean.energy) <= 1e-9
    norms = (fast.latency, lean.energy)
    out = model.solve("weighted", eta=eta, norms=norms)
    w = (eta / norms[0], (1 - eta) / norms[1])
    mix = shortest_path(inst, *w)
    assert out.path is not None and mix is not None
    value = w[0] * out.path.latency + w[1] * out.path.energy
    assert abs(value - (w[0] * mix.latency + w[1] * mix.energy)) <= 1e-9


def test_hand_instance_scip_optimum() -> None:
    model = SplitModel(hand_instance(), fixing=False)
    out = model.solve("latency")
    assert out.path is not None
    assert math.isclose(out.path.latency, 0.0175, rel_tol=1e-12)
    assert [(o.device, o.start, o.end) for o in out.path.options] == [(0, 0, 1), (1, 1, 3)]
    out = model.solve("energy")
    assert out.path is not None and math.isclose(out.path.energy, 0.022, rel_tol=1e-12)
    # at most 20 ms: the split plan is the only one left
    out = model.solve("energy", latency_max=0.020)
    assert out.path is not None and math.isclose(out.path.energy, 0.056, rel_tol=1e-12)
    assert model.solve("latency", latency_max=0.017).stats.status == "infeasible"


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 5), freqs=st.integers(1, 3), seed=st.integers(0, 10**6),
       slack=st.floats(1.0, 1.6), fixing=st.booleans())  # fmt: skip
def test_epsilon_constrained_optimum_matches_brute_force(
    n: int, freqs: int, seed: int, slack: float, fixing: bool
) -> None:
    inst = random_instance(n, 2, freqs, 3, seed)
    plans = _all_paths(inst)
    bound = min(lat for lat, _ in plans) * slack
    out = SplitModel(inst, fixing=fixing).solve("energy", latency_max=bound)
    assert out.path is not None and out.path.latency <= bound * (1 + 1e-9)
    best = min(en for lat, en in plans if lat <= bound)
    assert abs(out.path.energy - best) <= 1e-9


def test_memory_cap_moves_layers_off_the_edge() -> None:
    inst = random_instance(10, 2, 1, 3, seed=5, memory=False)
    free = SplitModel(inst).solve("latency")
    assert free.path is not None
    on_edge = sum(o.memory_mb for o in free.path.options if o.device == 0)
    assert on_edge > 0
    inst.memory_mb = [on_edge / 2, None]
    capped = SplitModel(inst).solve("latency")
    assert capped.path is not None
    assert sum(o.memory_mb for o in capped.path.options if o.device == 0) <= on_edge / 2
    assert capped.path.latency >= free.path.latency


def test_pruning_keeps_only_non_dominated_frequencies() -> None:
    inst = random_instance(6, 2, 5, 3, seed=2)
    kept = prune_options(inst)
    assert len(kept) < len(inst.options)
    for o in inst.options:  # each dropped option is matched by a kept one, no worse anywhere
        assert any(k.device == o.device and (k.start, k.end) == (o.start, o.end)
                   and k.latency <= o.latency and k.energy <= o.energy for k in kept)  # fmt: skip


def test_baselines_are_never_better_than_the_optimum() -> None:
    inst = random_instance(12, 3, 4, 4, seed=9)
    best = shortest_path(inst)
    assert best is not None
    names = []
    for bl in baselines(inst, 1.0, 0.0):
        names.append(bl.name)
        assert bl.path is not None and bl.path.latency >= best.latency * (1 - 1e-12)
    assert names == ["all on dev0", "all on dev1", "all on dev2", "best single split",
                     "fastest clock only", "slowest clock only"]  # fmt: skip


# ---------------------------------------------------------------- profiles and the CLI


def _profiles(tmp: Path) -> list[Path]:
    edge = make_infer_profile(device_name="edge", n_layers=6, frequencies=(800.0, 1600.0),
                              power_w=5.0, cpus=1.0)  # fmt: skip
    server = make_infer_profile(device_name="server", n_layers=6, speed=5.0, power_w=50.0,
                                cpus=2.0)  # fmt: skip
    paths = [tmp / "toy-edge.json", tmp / "toy-server.json"]
    save_profile(edge, paths[0])
    save_profile(server, paths[1])
    return paths


def _problem(**over: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "kind": "split",
        "name": "t",
        "devices": [{"name": "edge"}, {"name": "server"}],
        "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 20, "latency_ms": 10}],
        "pins": {"input": "edge"},
    }
    raw.update(over)
    return raw


def test_transfer_costs_follow_the_link(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    from harness.profile import load_profile

    items = [Loaded(p, load_profile(p)) for p in paths]
    raw = _problem(links=[{"src": "edge", "dst": "server", "bandwidth_up_mbps": 20,
                           "bandwidth_down_mbps": 40, "latency_ms": 10, "alpha_w_per_mbps": 0.1,
                           "beta_w": 1.0}], batch_size=1)  # fmt: skip
    inst = build_instance(SplitProblem.model_validate(raw), items)
    cut0 = items[0].profile.infer.cuts[0].bytes_fp32  # type: ignore[union-attr]
    up = next(t for t in inst.transfers if (t.cut, t.src, t.dst) == (0, 0, 1))
    down = next(t for t in inst.transfers if (t.cut, t.src, t.dst) == (0, 1, 0))
    assert math.isclose(up.latency, 0.010 + cut0 * 8 / 20e6)
    assert math.isclose(down.latency, 0.010 + cut0 * 8 / 40e6)
    assert math.isclose(up.energy, (0.1 * 20 + 1.0) * up.latency)


def test_cli_table_with_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _profiles(tmp_path)
    rc = solve_command(_problem(), Path("p.yaml"), paths, tmp_path / "out", "table", {})
    out = capsys.readouterr().out
    assert rc == 0
    assert "split plan" in out and "best single split" in out and "Pareto front" in out
    assert (tmp_path / "out" / "t-front.png").stat().st_size > 1000
    sol = json.loads((tmp_path / "out" / "t-solution.json").read_text())
    assert {p["id"] for p in sol["profiles"]} and sol["problem"]["name"] == "t"


def test_cli_json_and_default_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _profiles(tmp_path)
    rc = solve_command(None, None, paths, tmp_path / "out", "json", {"time_limit": 10.0})
    assert rc == 0
    sol = json.loads(capsys.readouterr().out)
    assert sol["problem_inferred"] is True
    assert sol["problem"]["pins"]["input"] == "edge"
    assert sol["problem"]["links"][0]["bandwidth_up_mbps"] == 10.0
    assert sol["solver"]["status"] == "optimal"
    assert sol["plan"]["latency_s"] == pytest.approx(
        sol["plan"]["compute_latency_s"] + sol["plan"]["comm_latency_s"]
    )
    names = [b["name"] for b in sol["baselines"]]
    assert "all on edge" in names and "best single split" in names


def test_default_problem_picks_the_fewest_cpus_as_edge(tmp_path: Path) -> None:
    a = make_infer_profile(device_name="host", model="m", cpus=1.0)
    b = make_infer_profile(device_name="host", model="m", cpus=2.0, speed=2.0, seed=1)
    save_profile(a, tmp_path / "a.json")
    save_profile(b, tmp_path / "b.json")
    from harness.profile import load_profile
    from solver.split_problem import default_problem

    items = [Loaded(tmp_path / n, load_profile(tmp_path / n)) for n in ("b.json", "a.json")]
    prob = default_problem(items)
    assert [d.name for d in prob.devices] == ["host-1cpu", "host-2cpu"]
    assert prob.pins.input == "host-1cpu"
    inst = build_instance(prob, items)
    assert len(inst.devices) == 2


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_error_different_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _profiles(tmp_path)
    other = make_infer_profile(device_name="server", model="othernet")
    save_profile(other, tmp_path / "other.json")
    rc = solve_command(_problem(), None, [paths[0], tmp_path / "other.json"], tmp_path, "table", {})
    assert rc == 1
    assert "different models" in _err(capsys)


def test_error_no_profile_for_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _profiles(tmp_path)
    rc = solve_command(_problem(), None, paths[:1], tmp_path, "table", {})
    assert rc == 1
    assert "no profile for device 'server'" in _err(capsys)


def test_error_missing_cut_points(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prof = make_infer_profile(device_name="edge", n_layers=6, cpus=1.0)
    assert prof.infer is not None
    prof.infer.bundles = [b for b in prof.infer.bundles if b.start != 3]
    save_profile(prof, tmp_path / "e.json")
    raw = _problem(devices=[{"name": "edge"}], links=[])
    rc = solve_command(raw, None, [tmp_path / "e.json"], tmp_path, "table", {})
    assert rc == 1
    assert "no bundle starts at layer 3" in _err(capsys)


def test_error_mismatched_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_infer_profile(device_name="edge", model="m", n_layers=6)
    b = make_infer_profile(device_name="server", model="m", n_layers=5)
    save_profile(a, tmp_path / "a.json")
    save_profile(b, tmp_path / "b.json")
    rc = solve_command(_problem(), None, [tmp_path / "a.json", tmp_path / "b.json"], tmp_path,
                       "table", {})  # fmt: skip
    assert rc == 1
    assert "cut points do not line up" in _err(capsys)


def test_error_latency_bound_names_best_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _profiles(tmp_path)
    raw = _problem(constraints={"latency_max_s": 0.001})
    rc = solve_command(raw, None, paths, tmp_path, "table", {})
    assert rc == 1
    err = _err(capsys)
    assert "latency_max_s=0.001 cannot be met: the fastest plan takes" in err


def test_error_bounds_clash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _profiles(tmp_path)
    from harness.profile import load_profile

    items = [Loaded(p, load_profile(p)) for p in paths]
    inst = build_instance(SplitProblem.model_validate(_problem()), items)
    fast = shortest_path(inst, 1.0, 0.0)
    lean = shortest_path(inst, 0.0, 1.0)
    assert fast is not None and lean is not None and fast.energy > lean.energy
    raw = _problem(constraints={"latency_max_s": fast.latency * 1.0001,
                                "energy_max_j": lean.energy * 1.0001})  # fmt: skip
    rc = solve_command(raw, None, paths, tmp_path, "table", {"front": False})
    assert rc == 1
    assert "cannot both be met: within the latency bound the least energy is" in _err(capsys)


def test_error_bad_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _profiles(tmp_path)
    rc = solve_command(_problem(eta=2), Path("p.yaml"), paths, tmp_path, "table", {})
    assert rc == 1
    assert _err(capsys).startswith("error: p.yaml: field 'eta'")
    with pytest.raises(ProblemError):
        build_instance(
            SplitProblem.model_validate(_problem(batch_size=8)),
            [Loaded(p, __import__("harness.profile").profile.load_profile(p)) for p in paths],
        )


def test_memory_limits_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _profiles(tmp_path)
    raw = _problem(devices=[{"name": "edge"}], links=[], constraints={"memory_mb": {"edge": 0.001}})
    rc = solve_command(raw, None, paths[:1], tmp_path, "table", {"front": False})
    assert rc == 1
    assert "memory limits (edge=0.001 MB) cannot be met" in _err(capsys)


def test_cpus_selector_falls_back_to_device_name(tmp_path: Path) -> None:
    """Real profiles name a device 'host-1cpu' when the user gave no name; caps may be absent."""
    from harness.profile import load_profile
    from solver.split_problem import default_problem, profile_cpus

    a = make_infer_profile(device_name="box-1cpu", model="m")
    b = make_infer_profile(device_name="box-2cpu", model="m", speed=2.0)
    for p in (a, b):
        assert p.infer is not None
        p.infer.caps = None
    assert profile_cpus(a) == 1.0 and profile_cpus(b) == 2.0
    save_profile(a, tmp_path / "a.json")
    save_profile(b, tmp_path / "b.json")
    items = [Loaded(tmp_path / n, load_profile(tmp_path / n)) for n in ("b.json", "a.json")]
    raw = _problem(devices=[{"name": "edge", "cpus": 1}, {"name": "server", "cpus": 2}])
    inst = build_instance(SplitProblem.model_validate(raw), items)
    assert inst.devices == ["edge", "server"]
    assert default_problem(items).pins.input == "box-1cpu"


def test_front_method_from_problem_and_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _profiles(tmp_path)
    fronts = {}
    for method in ("scip", "dp", "auto"):
        raw = _problem(front={"method": method})
        rc = solve_command(raw, None, paths, tmp_path / method, "table", {})
        assert rc == 0
        out = capsys.readouterr().out
        sol = json.loads((tmp_path / method / "t-solution.json").read_text())
        assert sol["front"]["requested_method"] == method
        used = "dp" if method == "auto" else method
        assert sol["front"]["method"] == used
        name = "SCIP epsilon-constraint walk" if used == "scip" else "label DP"
        assert f"Pareto front by the {name}" in out
        fronts[method] = [(p["latency_s"], p["energy_j"]) for p in sol["front"]["points"]]
    assert len(fronts["scip"]) > 1
    assert fronts["scip"] == pytest.approx(fronts["dp"], rel=1e-9) == fronts["auto"]
    # the option overrides the problem file (the hook for a --front-method flag)
    rc = solve_command(_problem(front={"method": "dp"}), None, paths, tmp_path / "o", "json",
                       {"front_method": "scip"})  # fmt: skip
    assert rc == 0 and json.loads(capsys.readouterr().out)["front"]["method"] == "scip"


def test_front_method_dp_refuses_memory_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _profiles(tmp_path)
    raw = _problem(front={"method": "dp"}, constraints={"memory_mb": {"edge": 1000.0}})
    rc = solve_command(raw, None, paths, tmp_path, "table", {})
    assert rc == 1
    assert "front.method 'dp' cannot see memory limits" in _err(capsys)
    raw = _problem(front={"method": "sweep"})
    rc = solve_command(raw, Path("p.yaml"), paths, tmp_path, "table", {})
    assert rc == 1 and "field 'front.method'" in _err(capsys)


# ---------------------------------------------------------------- the committed profiles

ROOT = Path(__file__).resolve().parents[1]


def _harness_solve(problem: str, model: str, out: Path) -> tuple[str, dict[str, object]]:
    """`harness solve profiles/<model>-*.json --problem problems/<problem> --out OUT`."""
    from typer.testing import CliRunner

    from harness.cli import app

    profiles = sorted(str(p) for p in (ROOT / "profiles").glob(f"{model}-*cpu.json"))
    assert len(profiles) == 2, profiles
    args = ["solve", *profiles, "--problem", str(ROOT / "problems" / problem), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    name = Path(problem).stem
    assert (out / f"{name}-front.png").stat().st_size > 1000
    return res.output, json.loads((out / f"{name}-solution.json").read_text())


def test_cli_committed_profiles_edge_cloud(tmp_path: Path) -> None:
    out, sol = _harness_solve("edge-cloud.yaml", "res18", tmp_path)
    assert "split plan" in out and "baselines" in out and "Pareto front by the SCIP" in out
    plan = sol["plan"]
    assert isinstance(plan, dict) and plan["steps"]
    covered = sorted(tuple(s["layers"]) for s in plan["steps"] if s["kind"] == "compute")
    n_layers = len(
        json.loads((ROOT / "profiles" / "res18-1cpu.json").read_text())["infer"]["layers"]
    )
    assert covered[0][0] == 0 and covered[-1][1] == n_layers
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))
    names = [b["name"] for b in sol["baselines"]]  # type: ignore[attr-defined]
    assert names[:3] == ["all on edge", "all on server", "best single split"]
    for b in names[:3]:
        assert b in out
    assert sol["front"]["method"] == "scip"  # type: ignore[index]


@pytest.mark.parametrize("model", ["res18", "alexnet"])
def test_cli_committed_profiles_fast_link_offloads(tmp_path: Path, model: str) -> None:
    """On the fast link the answer is no longer 'all on edge', and the front is a trade-off."""
    out, sol = _harness_solve("edge-cloud-fast.yaml", model, tmp_path)
    plan = sol["plan"]
    assert isinstance(plan, dict)
    assert any(s["device"] == "server" for s in plan["steps"] if s["kind"] == "compute")
    front = sol["front"]
    assert isinstance(front, dict) and front["complete"] and len(front["points"]) > 1
    best = min(b["objective"] for b in sol["baselines"] if b["objective"] is not None)  # type: ignore[attr-defined]
    assert sol["solver"]["objective"] <= best * (1 + 1e-9)  # type: ignore[index]
