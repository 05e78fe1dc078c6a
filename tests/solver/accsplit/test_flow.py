"""`solve` on profiles: the solution's fields, the gain over the unpruned split, the one-line
answer when no variant can meet epsilon, and bad input named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from solver.accsplit import KIND, solve
from solver.accsplit.problem import AccSplitProblem, default_problem, per_family
from solver.kinds import get_kind
from solver.problem import FileError, ProblemError, SolveOptions
from solver.profiles import Loaded, ProfileSet
from tests.factory.accsplit import acc_problem, make_variant_profiles
from tests.solver.accsplit.conftest import loaded


def test_the_kind_is_found_by_name() -> None:
    assert get_kind("accsplit") is KIND


def test_a_solution_per_domain(family: ProfileSet) -> None:
    sol = solve(acc_problem(epsilon=0.03, domains=["d0", "d2"]), family, SolveOptions())
    assert [d.domain for d in sol.domains] == ["d0", "d2"]
    for d in sol.domains:
        c = d.choice
        assert c is not None and d.unpruned_best is not None and d.solver is not None
        assert d.bound == pytest.approx(d.reference_accuracy - 0.03)
        assert c.accuracy.value >= d.bound and c.accuracy.source == "measured"
        assert d.gain_over_unpruned == pytest.approx(
            c.throughput_rps / d.unpruned_best.throughput_rps
        )
        assert d.gain_over_unpruned is not None and d.gain_over_unpruned >= 1.0 - 1e-12
        assert d.unpruned_best.reference and d.unpruned_best.variant == "ref"
        assert c.weights.endswith(f"{c.variant}.pt") and len(c.weights_sha256) == 64
        assert c.plan.steps and c.stages.bottleneck in ("edge", "link", "server")
        assert max(c.stages.edge_s, c.stages.link_s, c.stages.server_s) == pytest.approx(
            1.0 / c.throughput_rps
        )
        names = {b.name for b in d.baselines}
        assert {"unpruned best split", "seed gradient descent", "edge only"} <= names
        assert all((b.throughput_gain or 1.0) >= 1.0 - 1e-9 for b in d.baselines)
        assert sum(p.chosen for p in d.front) == 1
    assert sol.summary().ok and sol.variants[0].reference


def test_no_variant_meeting_epsilon_is_one_line_naming_the_best_reachable(
    family: ProfileSet,
) -> None:
    problem = acc_problem(epsilon=0.001, variants=["p60"])
    with pytest.raises(ProblemError) as exc:
        solve(problem, family, SolveOptions())
    msg = str(exc.value)
    assert "\n" not in msg and "best reachable" in msg and "p60" in msg
    assert "epsilon 0.001" in msg and "d0" in msg


def test_a_latency_limit_holds_on_every_domain() -> None:
    profiles = loaded()
    sol = solve(acc_problem(epsilon=0.03), profiles, SolveOptions())
    lat = min(d.choice.latency_s for d in sol.domains if d.choice)
    tight = acc_problem(epsilon=0.03, constraints={"latency_max_s": lat * 1.0000001})
    sol2 = solve(tight, profiles, SolveOptions())
    assert all(d.choice is None or d.choice.latency_s <= lat * 1.0000002 for d in sol2.domains)


def test_bad_input_names_the_field(family: ProfileSet) -> None:
    with pytest.raises(ProblemError, match="field 'domains.0'"):
        solve(acc_problem(domains=["d99"]), family, SolveOptions())
    with pytest.raises(ProblemError, match="field 'variants.0'"):
        solve(acc_problem(variants=["nope"]), family, SolveOptions())
    with pytest.raises(ProblemError, match="field 'family'"):
        solve(acc_problem(family="other"), family, SolveOptions())
    with pytest.raises(ValidationError, match="pins.output"):
        acc_problem(pins={"input": "edge", "output": "server"})
    with pytest.raises(ProblemError, match="energy"):
        profs = loaded()
        bare = ProfileSet(
            [
                Loaded(
                    it.path,
                    it.profile.model_copy(
                        update={
                            "infer": it.profile.infer.model_copy(  # type: ignore[union-attr]
                                update={
                                    "bundles": [
                                        b.model_copy(update={"energy_j": None})
                                        for b in it.profile.infer.bundles  # type: ignore[union-attr]
                                    ]
                                }
                            )
                        }
                    ),
                )
                for it in profs
            ]
        )
        solve(acc_problem(objective="energy"), bare, SolveOptions())


def test_one_id_with_two_weights_is_a_file_error() -> None:
    profs = make_variant_profiles()
    v = profs[2].variant
    assert v is not None
    other = v.model_copy(update={"weights_sha256": "f" * 64})
    profs[2] = profs[2].model_copy(update={"variant": other})
    given = ProfileSet([Loaded(Path(f"p{i}.json"), p) for i, p in enumerate(profs)])
    with pytest.raises(FileError, match="weights_sha256"):
        solve(acc_problem(), given, SolveOptions())


def test_default_problem_and_per_family() -> None:
    two = ProfileSet(list(loaded(family="a")) + list(loaded(family="b")))
    with pytest.raises(ProblemError, match="several families"):
        default_problem(two)
    one = default_problem(loaded(family="a"))
    assert one.family == "a" and one.edge == "edge" and one.servers == ["server"]
    copies = per_family(AccSplitProblem.model_validate(one.model_dump() | {"family": None}), two)
    assert sorted(p.family or "" for p in copies) == ["a", "b"]
    edge_only = loaded(devices=(("edge", 1.0, (None,)),))
    with pytest.raises(ProblemError, match="one device only"):
        default_problem(edge_only)


def test_one_device_name_at_two_caps_is_two_devices() -> None:
    """Variants profiled as 'host' at 1 and 4 CPUs: the 1-CPU one is the edge."""
    profs = []
    for it in loaded(devices=(("slow", 1.0, (None,)), ("fast", 4.0, (None,)))):
        inf = it.profile.infer
        assert inf is not None and inf.caps is not None
        cpus = 1.0 if inf.device_name == "slow" else 4.0
        caps = inf.caps.model_copy(update={"cpus": cpus})
        infer = inf.model_copy(update={"device_name": "host", "caps": caps})
        profs.append(Loaded(it.path, it.profile.model_copy(update={"infer": infer})))
    given = ProfileSet(profs)
    problem = default_problem(given)
    assert [d.name for d in problem.devices] == ["host-1cpu", "host-4cpu"]
    assert problem.edge == "host-1cpu"
    sol = solve(problem, given, SolveOptions())
    assert all(d.choice is not None and not d.violations for d in sol.domains)
