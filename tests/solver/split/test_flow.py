"""SCIP against the DP, a hand-checked instance, constraints; `solve` on profiles (answers,
errors, the checker, the summary row) and `harness solve` on the committed profiles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from harness.cli import app
from harness.profile import save_profile
from solver.kinds import get_kind
from solver.problem import ProblemError, SolveOptions, validate_as
from solver.profiles import ProfileSet, profile_cpus
from solver.split import KIND, SplitSolution, solve
from solver.split.baselines import baselines
from solver.split.check import bound_violations, check_plan
from solver.split.dp import shortest_path
from solver.split.flow import plan_out
from solver.split.instance import build_instance
from solver.split.model import SplitModel, prune_options
from solver.split.problem import SplitProblem, default_problem, per_model
from tests.factory.infer_profiles import make_infer_profile, random_instance
from tests.factory.split import all_paths, hand_instance

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
    plans = all_paths(inst)
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


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), freqs=st.integers(1, 5), known=st.booleans())
def test_pruning_is_the_pairwise_rule(seed: int, freqs: int, known: bool) -> None:
    """The vectorised pruning keeps exactly the options the plain pairwise rule keeps."""
    inst = random_instance(7, 3, freqs, 3, seed=seed)
    inst.energy_known = known
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, o in enumerate(inst.options):
        groups.setdefault((o.device, o.start, o.end), []).append(i)

    def key(i: int) -> tuple[float, float, float]:
        o = inst.options[i]
        return (o.latency, o.energy if known else 0.0, o.memory_mb)

    want: set[int] = set()
    for members in groups.values():
        front: list[tuple[float, float, float]] = []
        for i in sorted(members, key=lambda i: (key(i), i)):
            if any(all(a <= b for a, b in zip(f, key(i), strict=True)) for f in front):
                continue
            front.append(key(i))
            want.add(i)
    kept = prune_options(inst)
    assert [id(o) for o in kept] == [id(inst.options[i]) for i in sorted(want)]


def test_columns_are_built_as_pricing_needs_them() -> None:
    """One objective builds only the edges its pricing leaves free; later objectives add what
    they need, and every optimum is the DP's."""
    inst = random_instance(40, 3, 4, 4, seed=3)
    model = SplitModel(inst)
    assert model.steps == []
    fast = model.solve("latency")
    built = len(model.steps)
    assert fast.path is not None and 0 < built < model.variables
    dp_fast = shortest_path(inst, 1.0, 0.0)
    assert dp_fast is not None and math.isclose(fast.path.latency, dp_fast.latency)
    lean = model.solve("energy")
    dp_lean = shortest_path(inst, 0.0, 1.0)
    assert lean.path is not None and dp_lean is not None
    assert math.isclose(lean.path.energy, dp_lean.energy) and len(model.steps) >= built
    again = model.solve("latency", energy_max=(fast.path.energy + lean.path.energy) / 2)
    assert again.path is not None and again.path.energy <= (
        fast.path.energy + lean.path.energy
    ) / 2 * (1 + 1e-9)
    full = SplitModel(inst, fixing=False)
    assert len(full.steps) == full.variables


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


# ---------------------------------------------------------------- profiles and solve


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


def _solve(raw: dict[str, object], paths: list[Path], **options: object) -> SplitSolution:
    """What `harness solve --problem p.yaml PROFILES` does for one split problem."""
    problem = validate_as(SplitProblem, raw, "p.yaml")
    return solve(problem, ProfileSet.from_paths(paths), SolveOptions(**options))  # type: ignore[arg-type]


def test_transfer_costs_follow_the_link(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    profiles = ProfileSet.from_paths(paths)
    raw = _problem(links=[{"src": "edge", "dst": "server", "bandwidth_up_mbps": 20,
                           "bandwidth_down_mbps": 40, "latency_ms": 10, "alpha_w_per_mbps": 0.1,
                           "beta_w": 1.0}], batch_size=1)  # fmt: skip
    inst = build_instance(SplitProblem.model_validate(raw), profiles)
    cut0 = profiles.given[0].profile.infer.cuts[0].bytes_fp32  # type: ignore[union-attr]
    up = next(t for t in inst.transfers if (t.cut, t.src, t.dst) == (0, 0, 1))
    down = next(t for t in inst.transfers if (t.cut, t.src, t.dst) == (0, 1, 0))
    assert math.isclose(up.latency, 0.010 + cut0 * 8 / 20e6)
    assert math.isclose(down.latency, 0.010 + cut0 * 8 / 40e6)
    assert math.isclose(up.energy, (0.1 * 20 + 1.0) * up.latency)


def test_solve_answers_with_plan_baselines_front_and_summary(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    sol = _solve(_problem(), paths, time_limit=10.0)
    assert sol.solver.status == "optimal" and sol.plan is not None and sol.violations == []
    assert sol.plan.latency_s == pytest.approx(sol.plan.compute_latency_s + sol.plan.comm_latency_s)
    assert {p.path for p in sol.profiles} == {str(p) for p in paths}
    names = [b.name for b in sol.baselines]
    assert names[:3] == ["all on edge", "all on server", "best single split"]
    assert sol.front is not None and sol.front.method == "dp" and len(sol.front.points) > 1
    row = sol.summary()
    assert (row.kind, row.name, row.subjects, row.objective) == (
        "split",
        "t",
        ["toynet"],
        "latency",
    )
    assert row.status == "optimal" and row.gap == 0.0 and row.ok
    assert row.value == pytest.approx(sol.plan.latency_s)
    best = min((b for b in sol.baselines if b.meets_constraints), key=lambda b: b.objective or 0)
    assert row.best_baseline == best.name
    assert row.gain == pytest.approx(1 - sol.plan.latency_s / best.plan.latency_s)  # type: ignore[union-attr]
    # the JSON is the contract run-split reads back
    again = SplitSolution.model_validate_json(sol.model_dump_json())
    assert again == sol
    # the front is off by the option, and energy objectives follow the problem
    lean = _solve(_problem(objective="energy"), paths, extra={"front": False})
    assert lean.front is None and lean.summary().objective == "energy"
    assert lean.plan is not None and lean.plan.energy_j is not None
    assert lean.plan.energy_j <= sol.plan.energy_j * (1 + 1e-12)  # type: ignore[operator]


def test_gain_is_over_baselines_that_meet_the_constraints(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    free = _solve(_problem(), paths, extra={"front": False})
    assert free.plan is not None
    bound = free.plan.latency_s * 1.5
    sol = _solve(_problem(objective="energy", constraints={"latency_max_s": bound}), paths,
                 extra={"front": False})  # fmt: skip
    assert sol.plan is not None and sol.plan.latency_s <= bound * (1 + 1e-9)
    ok = [b for b in sol.baselines if b.meets_constraints]
    assert all(b.plan is not None and b.plan.latency_s <= bound * (1 + 1e-9) for b in ok)
    late = [b for b in sol.baselines if b.plan is not None and b.plan.latency_s > bound * 1.01]
    assert all(not b.meets_constraints for b in late)
    row = sol.summary()
    if ok:
        best = min(ok, key=lambda b: b.objective or 0.0)
        assert row.best_baseline == best.name and row.gain is not None and row.gain >= -1e-12
    else:
        assert row.best_baseline is None and row.gain is None


def test_checker_recomputes_every_plan(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    problem = SplitProblem.model_validate(_problem(constraints={"memory_mb": {"edge": 1e6}}))
    inst = build_instance(problem, ProfileSet.from_paths(paths))
    path = shortest_path(inst)
    assert path is not None
    plan = plan_out(inst, path)
    assert check_plan(inst, plan) == [] and bound_violations(inst, plan) == []
    bad = plan.model_copy(update={"latency_s": plan.latency_s * 1.01})
    assert any("latency_s is" in e for e in check_plan(inst, bad))
    step = plan.steps[0].model_copy(update={"latency_s": plan.steps[0].latency_s / 2})
    bad = plan.model_copy(update={"steps": [step, *plan.steps[1:]]})
    assert any(e.startswith("step 1: latency") for e in check_plan(inst, bad))
    bad = plan.model_copy(update={"steps": plan.steps[1:]})
    assert check_plan(inst, bad)  # no longer a path from the input, or wrong totals
    other = "server" if plan.steps[0].device == "edge" else "edge"
    bad = plan.model_copy(update={"steps": [plan.steps[0].model_copy(update={"device": other}),
                                            *plan.steps[1:]]})  # fmt: skip
    assert check_plan(inst, bad)
    on_edge = sum(o.memory_mb for o in path.options if o.device == 0)
    if on_edge > 0:
        inst.memory_mb = [on_edge / 2, None]
        assert any("MB of weights" in e for e in bound_violations(inst, plan))
    inst.latency_max = plan.latency_s / 2
    assert any("latency_max_s" in e for e in bound_violations(inst, plan))


def test_solution_reports_what_the_checker_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import solver.split.flow as flow

    paths = _profiles(tmp_path)
    real = flow.plan_out

    def wrong(inst, path):  # type: ignore[no-untyped-def]
        out = real(inst, path)
        return out.model_copy(update={"latency_s": out.latency_s * 0.9})

    monkeypatch.setattr(flow, "plan_out", wrong)
    sol = _solve(_problem(), paths, extra={"front": False})
    assert sol.violations and sol.violations[0].startswith("plan: latency_s is")
    row = sol.summary()
    assert not row.ok and row.notes[0].startswith("checker: plan:")


def test_unknown_energy_latency_only(tmp_path: Path) -> None:
    """Profiles without energy and no power model: latency still solves, every baseline has
    its plan (an unknown energy must not poison a latency comparison), and no front."""
    edge = make_infer_profile(device_name="edge", n_layers=6, with_energy=False, cpus=1.0)
    server = make_infer_profile(device_name="server", n_layers=6, speed=5.0, with_energy=False)
    paths = [tmp_path / "e.json", tmp_path / "s.json"]
    save_profile(edge, paths[0])
    save_profile(server, paths[1])
    raw = _problem(links=[{"src": "edge", "dst": "server", "bandwidth_up_mbps": 1000}])
    sol = _solve(raw, paths)
    assert sol.plan is not None and sol.plan.energy_j is None and sol.violations == []
    assert sol.front is None and any("energy is unknown" in n for n in sol.notes)
    assert all(b.plan is not None for b in sol.baselines)
    assert all(b.plan.latency_s >= sol.plan.latency_s * (1 - 1e-12) for b in sol.baselines)  # type: ignore[union-attr]
    with pytest.raises(ProblemError, match="needs energy"):
        _solve(_problem(objective="energy"), paths)


def test_kind_record_default_problem_and_per_model(tmp_path: Path) -> None:
    assert get_kind("split") is KIND and KIND.solve is solve and KIND.solution is SplitSolution
    paths = _profiles(tmp_path)
    prob = KIND.default_problem(ProfileSet.from_paths(paths))  # type: ignore[misc]
    assert prob.model == "toynet" and prob.name == "toynet"
    assert prob.pins.input == "edge" and prob.links[0].bandwidth_up_mbps == 10.0
    with pytest.raises(ProblemError, match="one device only"):
        default_problem(ProfileSet.from_paths(paths[:1]))
    other = make_infer_profile(device_name="server", model="othernet")
    save_profile(other, tmp_path / "other.json")
    mixed = ProfileSet.from_paths([*paths, tmp_path / "other.json"])
    with pytest.raises(ProblemError, match="different models"):
        default_problem(mixed)
    base = SplitProblem.model_validate(_problem())
    copies = per_model(base, mixed)
    want = [("toynet", "t-toynet"), ("othernet", "t-othernet")]
    assert [(p.model, p.name) for p in copies] == want
    assert per_model(base, ProfileSet.from_paths(paths)) == [base]
    named = base.model_copy(update={"model": "toynet"})
    assert per_model(named, mixed) == [named]
    # a device that names its profiles sees one model: one problem
    pinned = _problem(devices=[{"name": "edge", "profiles": [str(paths[0])]},
                               {"name": "server", "profiles": [str(paths[1])]}])  # fmt: skip
    assert len(per_model(SplitProblem.model_validate(pinned), mixed)) == 1
    sol = solve(copies[0], mixed, SolveOptions())
    assert sol.plan is not None and {p.model for p in sol.profiles} == {"toynet"}


def test_devices_name_profiles_by_reference(tmp_path: Path) -> None:
    """A device's `profiles` go through the one resolver: by path (even when not given), by
    stem or id, or a glob; a reference that names nothing is an error naming its field."""
    paths = _profiles(tmp_path)
    raw = _problem(devices=[{"name": "edge", "profiles": [str(paths[0])]},
                            {"name": "server", "profiles": ["toy-serv*"]}])  # fmt: skip
    sol = _solve(raw, paths[1:])
    assert sol.plan is not None and len(sol.profiles) == 2
    raw = _problem(devices=[{"name": "edge", "profiles": ["nope.json"]}, {"name": "server"}])
    with pytest.raises(ProblemError, match=r"devices.0.profiles.0: no profile matches 'nope.json'"):
        _solve(raw, paths)


def test_harness_solve_table_and_files(tmp_path: Path) -> None:
    import yaml

    paths = _profiles(tmp_path)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(_problem()))
    args = ["solve", *map(str, paths), "--problem", str(tmp_path / "t.yaml"), "--out",
            str(tmp_path / "out")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "split plan" in out and "best single split" in out and "Pareto front" in out
    assert (tmp_path / "out" / "t-split-front.png").stat().st_size > 1000
    sol = json.loads((tmp_path / "out" / "t-split-solution.json").read_text())
    assert {p["id"] for p in sol["profiles"]} and sol["problem"]["name"] == "t"
    assert sol["plot"] == str(tmp_path / "out" / "t-split-front.png")


def test_harness_solve_json_default_problem(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    args = ["solve", *map(str, paths), "--format", "json", "--time-limit", "10", "--out",
            str(tmp_path / "out")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    (d,) = [d for d in doc["decisions"] if d["kind"] == "split"]
    assert d["problem_inferred"] is True and d["ok"]
    sol = d["solution"]
    assert sol["problem"]["pins"]["input"] == "edge"
    assert sol["problem"]["links"][0]["bandwidth_up_mbps"] == 10.0
    assert sol["solver"]["status"] == "optimal"
    names = [b["name"] for b in sol["baselines"]]
    assert "all on edge" in names and "best single split" in names
    assert d["summary"]["subjects"] == ["toynet"] and d["summary"]["objective"] == "latency"


def test_default_problem_picks_the_fewest_cpus_as_edge(tmp_path: Path) -> None:
    a = make_infer_profile(device_name="host", model="m", cpus=1.0)
    b = make_infer_profile(device_name="host", model="m", cpus=2.0, speed=2.0, seed=1)
    save_profile(a, tmp_path / "a.json")
    save_profile(b, tmp_path / "b.json")
    profiles = ProfileSet.from_paths([tmp_path / "b.json", tmp_path / "a.json"])
    prob = default_problem(profiles)
    assert [d.name for d in prob.devices] == ["host-1cpu", "host-2cpu"]
    assert prob.pins.input == "host-1cpu"
    inst = build_instance(prob, profiles)
    assert len(inst.devices) == 2


def test_error_different_models(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    other = make_infer_profile(device_name="server", model="othernet")
    save_profile(other, tmp_path / "other.json")
    with pytest.raises(ProblemError, match="different models"):
        _solve(_problem(), [paths[0], tmp_path / "other.json"])


def test_error_no_profile_for_device(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    with pytest.raises(ProblemError, match="no profile for device 'server'"):
        _solve(_problem(), paths[:1])
    with pytest.raises(ProblemError, match="no profiles given"):
        _solve(_problem(), [])


def test_error_missing_cut_points(tmp_path: Path) -> None:
    prof = make_infer_profile(device_name="edge", n_layers=6, cpus=1.0)
    assert prof.infer is not None
    prof.infer.bundles = [b for b in prof.infer.bundles if b.start != 3]
    save_profile(prof, tmp_path / "e.json")
    raw = _problem(devices=[{"name": "edge"}], links=[])
    with pytest.raises(ProblemError, match="no bundle starts at layer 3"):
        _solve(raw, [tmp_path / "e.json"])


def test_error_mismatched_layers(tmp_path: Path) -> None:
    a = make_infer_profile(device_name="edge", model="m", n_layers=6)
    b = make_infer_profile(device_name="server", model="m", n_layers=5)
    save_profile(a, tmp_path / "a.json")
    save_profile(b, tmp_path / "b.json")
    with pytest.raises(ProblemError, match="cut points do not line up"):
        _solve(_problem(), [tmp_path / "a.json", tmp_path / "b.json"])


def test_error_latency_bound_names_best_value(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    raw = _problem(constraints={"latency_max_s": 0.001})
    with pytest.raises(ProblemError, match="latency_max_s=0.001 cannot be met: the fastest plan"):
        _solve(raw, paths)


def test_bounds_clash_is_a_solution_without_plan(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    inst = build_instance(SplitProblem.model_validate(_problem()), ProfileSet.from_paths(paths))
    fast = shortest_path(inst, 1.0, 0.0)
    lean = shortest_path(inst, 0.0, 1.0)
    assert fast is not None and lean is not None and fast.energy > lean.energy
    raw = _problem(constraints={"latency_max_s": fast.latency * 1.0001,
                                "energy_max_j": lean.energy * 1.0001})  # fmt: skip
    sol = _solve(raw, paths, extra={"front": False})
    assert sol.plan is None and sol.solver.status == "infeasible"
    row = sol.summary()
    assert not row.ok and row.gain is None
    assert any("cannot both be met: within the latency bound the least energy is" in n
               for n in row.notes)  # fmt: skip


def test_error_bad_field(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    with pytest.raises(ProblemError, match=r"^p.yaml: field 'eta'"):
        _solve(_problem(eta=2), paths)
    with pytest.raises(ProblemError, match="batch_size"):
        _solve(_problem(batch_size=8), paths)


def test_memory_limits_reported(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    raw = _problem(devices=[{"name": "edge"}], links=[], constraints={"memory_mb": {"edge": 0.001}})
    sol = _solve(raw, paths[:1], extra={"front": False})
    assert sol.plan is None
    assert any("memory limits (edge=0.001 MB) cannot be met" in n for n in sol.notes)


def test_cpus_selector_falls_back_to_device_name(tmp_path: Path) -> None:
    """Real profiles name a device 'host-1cpu' when the user gave no name; caps may be absent."""
    a = make_infer_profile(device_name="box-1cpu", model="m")
    b = make_infer_profile(device_name="box-2cpu", model="m", speed=2.0)
    for p in (a, b):
        assert p.infer is not None
        p.infer.caps = None
    assert profile_cpus(a) == 1.0 and profile_cpus(b) == 2.0
    save_profile(a, tmp_path / "a.json")
    save_profile(b, tmp_path / "b.json")
    profiles = ProfileSet.from_paths([tmp_path / "b.json", tmp_path / "a.json"])
    raw = _problem(devices=[{"name": "edge", "cpus": 1}, {"name": "server", "cpus": 2}])
    inst = build_instance(SplitProblem.model_validate(raw), profiles)
    assert inst.devices == ["edge", "server"]
    assert default_problem(profiles).pins.input == "box-1cpu"


def test_front_method_from_problem_and_option(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    fronts = {}
    for method in ("scip", "dp", "auto"):
        sol = _solve(_problem(front={"method": method}), paths)
        assert sol.front is not None and sol.front.requested_method == method
        used = "dp" if method == "auto" else method
        assert sol.front.method == used and sol.violations == []
        fronts[method] = [(p.latency_s, p.energy_j) for p in sol.front.points]
    assert len(fronts["scip"]) > 1
    assert fronts["scip"] == pytest.approx(fronts["dp"], rel=1e-9) == fronts["auto"]
    # the option overrides the problem file (harness solve --front-method)
    sol = _solve(_problem(front={"method": "dp"}), paths, front_method="scip")
    assert sol.front is not None and sol.front.method == "scip"


def test_front_method_dp_refuses_memory_limits(tmp_path: Path) -> None:
    paths = _profiles(tmp_path)
    raw = _problem(front={"method": "dp"}, constraints={"memory_mb": {"edge": 1000.0}})
    with pytest.raises(ProblemError, match="front.method 'dp' cannot see memory limits"):
        _solve(raw, paths)
    with pytest.raises(ProblemError, match="field 'front.method'"):
        _solve(_problem(front={"method": "sweep"}), paths)


def test_the_solution_schema_imports_no_solver() -> None:
    """run-split reads solutions through solver.split.solution alone: no SCIP, no numpy."""
    import subprocess
    import sys

    code = (
        "import sys; import solver.split.solution; "
        "print(sorted(m for m in ('pyscipopt', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- the committed profiles

ROOT = Path(__file__).resolve().parents[3]


def _harness_solve(problem: str, model: str, out: Path) -> tuple[str, dict[str, object]]:
    """`harness solve profiles/<model>-*.json --problem problems/<problem> --out OUT`."""
    profiles = sorted(str(p) for p in (ROOT / "profiles").glob(f"{model}-*cpu.json"))
    assert len(profiles) == 2, profiles
    args = ["solve", *profiles, "--problem", str(ROOT / "problems" / problem), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    name = Path(problem).stem
    assert (out / f"{name}-split-front.png").stat().st_size > 1000
    return res.output, json.loads((out / f"{name}-split-solution.json").read_text())


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
