"""An accsplit solution read as a run (harness/runsplit/decision.py, no containers): the
committed digits profiles solved, then one domain's decision turned into a session that stages
the chosen variant's weights and the domain's labelled samples and carries the predicted
accuracy; a domain or weights it cannot run are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sklearn  # noqa: F401  (the ml extra: missing, it fails, never skips)
from typer.testing import CliRunner

from harness.cli import app
from harness.runsplit.decision import DecisionError, RunOptions, load_decision

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def solution(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("acc")
    profs = sorted(str(p) for p in (ROOT / "profiles" / "accuracy").glob("digits-*.json"))
    problem = str(ROOT / "problems" / "accuracy-split.yaml")
    r = runner.invoke(app, ["solve", *profs, "--problem", problem, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out / "accuracy-split-accsplit-solution.json"


def test_a_domain_decision_stages_its_variant_and_samples(
    solution: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the weights are recorded relative to the repository
    d = load_decision(solution, RunOptions(baselines=True, domain="d1"))
    sol = json.loads(solution.read_text())
    chosen = next(x for x in sol["domains"] if x["domain"] == "d1")["choice"]
    assert d.kind == "accsplit"
    assert d.plans[0].name == "chosen"
    assert d.plans[0].predicted_accuracy == chosen["accuracy"]["value"]
    files = d.session.files
    assert f"variant-{chosen['variant']}.pt" in files and "domain.npz" in files
    refs = {m.weights for m in d.session.models}
    assert f"variant-{chosen['variant']}.pt" in refs
    assert all(m.inputs == "domain.npz" and m.n_layers == 7 for m in d.session.models)
    assert (d.session.edge_cpus, d.session.server_cpus) == (0.5, 1.0)
    from harness.workloads.digits import load_samples

    assert len(load_samples(files["domain.npz"]).labels) == 80  # d1's held-out samples


def test_an_unknown_domain_is_one_line(solution: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(DecisionError, match=r"--domain: .* decides no domain 'd42'"):
        load_decision(solution, RunOptions(domain="d42"))


def test_weights_that_changed_are_refused(
    solution: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.loads(solution.read_text())
    for dom in raw["domains"]:
        if dom["choice"] is not None:
            dom["choice"]["weights_sha256"] = "0" * 64
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps(raw))
    monkeypatch.chdir(ROOT)
    with pytest.raises(DecisionError, match="is not the weights the decision was measured"):
        load_decision(bad, RunOptions())
