"""The accuracy surrogate: exact on data it can represent, its held-out error reported, and a
predicted accuracy never reported as measured."""

from __future__ import annotations

import pytest

from harness.profile import DomainSplit, VariantInfo
from solver.accsplit import solve
from solver.accsplit.surrogate import features, fit, leave_one_out
from solver.problem import SolveOptions
from tests.factory.accsplit import acc_problem
from tests.solver.accsplit.conftest import loaded


def _info(vid: str, r: float, macs: int) -> VariantInfo:
    return VariantInfo(
        family="f",
        id=vid,
        reference=r == 0,
        method="m",
        ratios={"s0": r, "s1": r / 2},
        params=1,
        macs=macs,
        weights="w",
        weights_sha256="0" * 64,
        domains=DomainSplit(
            dataset="x", holdout_fraction=0.3, split_seed=0, count=2, alpha=1.0, seed=0
        ),
        accuracy=0.9,
        domain_accuracy={},
    )


def test_a_law_it_can_represent_is_recovered_and_held_out_error_is_near_zero() -> None:
    ref = _info("ref", 0.0, 1000)
    ref_acc = {"d0": 0.95, "d1": 0.90}
    data = {}
    for vid, r, macs in (("a", 0.2, 800), ("b", 0.4, 500), ("c", 0.5, 450), ("e", 0.7, 200)):
        x = features(_info(vid, r, macs), ref)
        acc = {"d0": 0.95 - (0.1 * x[0] + 0.02 * x[1]), "d1": 0.90 - (0.3 * x[0] + 0.01 * x[1])}
        data[vid] = (x, acc)
    s = fit(data, ref_acc, ridge=0.0)
    assert s.weights["d0"] == pytest.approx([0.1, 0.02], abs=1e-9)
    held = leave_one_out(data, ref_acc, ridge=0.0)
    assert held.mae is not None and held.mae < 1e-9 and held.n_variants == 4
    assert leave_one_out(dict(list(data.items())[:2]), ref_acc, 0.0).mae is None


def test_an_unmeasured_domain_is_predicted_and_marked_so() -> None:
    profiles = loaded(missing=[("p20", "d1"), ("p20", "d2")])
    sol = solve(acc_problem(epsilon=0.03), profiles, SolveOptions())
    assert sol.surrogate is not None and sol.surrogate.loo_mae is not None
    assert sorted(sol.surrogate.used_for) == ["p20@d1", "p20@d2"]
    p20 = next(v for v in sol.variants if v.id == "p20")
    assert p20.domain_accuracy["d1"].source == "surrogate"
    assert p20.domain_accuracy["d0"].source == "measured"
    assert any("surrogate" in n for n in sol.notes)
    for d in sol.domains:
        for p in d.front:
            measured = p.variant != "p20" or d.domain not in ("d1", "d2")
            assert (p.accuracy_source == "measured") == measured


def test_off_leaves_an_unmeasured_variant_out() -> None:
    profiles = loaded(missing=[("p20", "d1")])
    problem = acc_problem(epsilon=0.03, surrogate={"use": "off"})
    sol = solve(problem, profiles, SolveOptions())
    d1 = next(d for d in sol.domains if d.domain == "d1")
    assert "p20" not in {p.variant for p in d1.front}
    assert sol.surrogate is not None and sol.surrogate.used_for == []
