"""An accsplit solution read as a run (harness/runsplit/decision.py, no containers): the
committed digits profiles solved, then one domain's decision turned into a session that stages
the chosen variant's weights and the domain's labelled samples and carries the predicted
accuracy; a domain or weights it cannot run are one line."""

from __future__ import annotations

import io
import json
import tempfile
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
    solution: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)  # the weights are recorded relative to the repository
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    d = load_decision(solution, RunOptions(baselines=True, domain="d1"))
    assert list(scratch.iterdir()) == []  # reading a decision leaves nothing behind
    sol = json.loads(solution.read_text())
    chosen = next(x for x in sol["domains"] if x["domain"] == "d1")["choice"]
    assert d.kind == "accsplit"
    assert d.plans[0].name == "chosen"
    assert d.plans[0].predicted_accuracy == chosen["accuracy"]["value"]
    files, blobs = d.session.files, d.session.blobs
    assert f"variant-{chosen['variant']}.pt" in files and "domain.npz" in blobs
    refs = {m.weights for m in d.session.models}
    assert f"variant-{chosen['variant']}.pt" in refs
    assert all(m.inputs == "domain.npz" and m.n_layers == 7 for m in d.session.models)
    assert (d.session.edge_cpus, d.session.server_cpus) == (0.5, 1.0)
    from harness.workloads.digits import load_samples

    assert len(load_samples(io.BytesIO(blobs["domain.npz"])).labels) == 80  # d1's held-out


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


def _again(src: Path, factor: float, out: Path) -> Path:
    """`src` as if profiled once more: a new id, every bundle `factor` times as long."""
    from harness.profile import load_profile, save_profile

    prof = load_profile(src)
    assert prof.infer is not None
    bundles = [
        b.model_copy(
            update={"latency": b.latency.model_copy(update={"median": b.latency.median * factor})}
        )
        for b in prof.infer.bundles
    ]
    infer = prof.infer.model_copy(update={"bundles": bundles})
    save_profile(prof.model_copy(update={"id": f"again-{prof.id}", "infer": infer}), out)
    return out


def test_a_variant_profiled_again_is_held_to_that_profile(
    solution: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chosen variant was the fastest-looking of ten, each profiled once: the run is held to
    its profile made again (here the server's, 1.5x as slow), and a profile of another variant
    changes nothing."""
    monkeypatch.chdir(ROOT)
    sol = json.loads(solution.read_text())
    chosen = next(x for x in sol["domains"] if x["domain"] == "d1")["choice"]
    server = chosen["server_device"]
    ref = next(r for r in chosen["profiles"] if r["device_name"] == server)
    plain = load_decision(solution, RunOptions(baselines=False, domain="d1"))
    again = _again(ROOT / ref["path"], 1.5, tmp_path / "again.json")
    d = load_decision(solution, RunOptions(baselines=False, domain="d1", profiles=[again]))
    (before,), (after,) = plain.plans, d.plans
    assert before.prediction.server_s > 0
    assert after.prediction.server_s == pytest.approx(1.5 * before.prediction.server_s)
    assert after.prediction.edge_s == pytest.approx(before.prediction.edge_s)
    assert after.prediction.cycle_s > before.prediction.cycle_s  # a lower rate is promised
    v = chosen["variant"]
    want = f"chosen: server compute priced from another profile of variant {v} (again.json): "
    assert any(n.startswith(want) for n in d.notes), d.notes
    hint = f"domain d1: variant {v} looked best of "  # and how to take the curse out
    assert any(n.startswith(hint) for n in plain.notes), plain.notes
    assert not any(n.startswith(hint) for n in d.notes)
    other = next(
        p
        for p in sorted((ROOT / "profiles" / "accuracy").glob(f"digits-*-{server}.json"))
        if p.name != f"digits-{v}-{server}.json"
    )
    o_again = _again(other, 1.5, tmp_path / "o.json")
    o = load_decision(solution, RunOptions(baselines=False, domain="d1", profiles=[o_again]))
    assert o.plans[0].prediction == before.prediction


def test_a_stored_run_is_set_against_the_decision_as_it_reads_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate-decision --from-run: a committed real-mode run held to its solution again,
    nothing run; each row gains the error at the run's own compute. A run of another domain,
    of other phases, or a file that is no run is one line, and run-split refuses the option."""
    monkeypatch.chdir(ROOT)
    sol = "results/accuracy-split/accuracy-split-accsplit-solution.json"
    stored = ROOT / "results/accuracy-split/real-mode/d0-run1.json"
    out = tmp_path / "again.json"
    args = ["validate-decision", sol, "--domain", "d0", "--from-run", str(stored)]
    r = runner.invoke(app, [*args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "at its compute" in r.output and "at the run's own compute" in r.output
    doc = json.loads(out.read_text())
    old = json.loads(stored.read_text())
    assert doc["run"]["phases"] == old["run"]["phases"]  # the measurements as they were
    chosen = [x for x in doc["rows"] if x["plan"] == "chosen"]
    assert chosen and all(x["throughput_error_at_compute"] is not None for x in chosen)
    assert [x["measured_throughput"] for x in doc["rows"]] == [
        x["measured_throughput"] for x in old["rows"]
    ]
    assert any(n.startswith("measurements from ") for n in doc["run"]["notes"])
    # the notes of the decision it ran give way to the decision's as it reads now; the run's
    # own stay, and a re-comparison of a re-comparison does not pile up
    old["run"]["notes"] += ["chosen: a note its decision gave then", "the run's own note"]
    old["run"]["decision_notes"] = [*old["run"]["notes"][:-1]]
    then = tmp_path / "then.json"
    then.write_text(json.dumps(old))
    r5 = runner.invoke(app, [*args[:-1], str(then), "--out", str(out)])
    assert r5.exit_code == 0, r5.output
    notes = json.loads(out.read_text())["run"]["notes"]
    assert "chosen: a note its decision gave then" not in notes and "the run's own note" in notes
    r6 = runner.invoke(app, [*args[:-1], str(out), "--out", str(tmp_path / "twice.json")])
    assert r6.exit_code == 0, r6.output
    twice = json.loads((tmp_path / "twice.json").read_text())["run"]["notes"]
    assert sum(n.startswith("measurements from ") for n in twice) == 1
    assert "the run's own note" in twice and len(twice) == len(notes)
    other = runner.invoke(
        app, ["validate-decision", sol, "--domain", "d1", "--from-run", str(stored)]
    )
    assert other.exit_code == 2 and "ran domain d0; this decision's is domain d1" in other.output
    cut = tmp_path / "cut.json"
    old["run"]["phases"] = old["run"]["phases"][:2]
    cut.write_text(json.dumps(old))
    r2 = runner.invoke(app, ["validate-decision", sol, "--domain", "d0", "--from-run", str(cut)])
    assert (
        r2.exit_code == 2 and "ran phases ['chosen (latency)', 'chosen (throughput)']" in r2.output
    )
    junk = tmp_path / "junk.json"
    junk.write_text('{"kind": "run-split"}')
    r3 = runner.invoke(app, ["validate-decision", sol, "--from-run", str(junk)])
    assert (
        r3.exit_code == 2 and "not a run-split result (field 'source': Field required)" in r3.output
    )
    r4 = runner.invoke(app, ["run-split", sol, "--from-run", str(stored)])
    assert r4.exit_code == 2 and "only validate-decision" in r4.output


def test_a_committed_session_that_carries_profiles_carries_every_one_its_choices_cite() -> None:
    """A one-window session folder re-reads on any machine (`--from-run`) only if every profile
    its decided domains cite (the choice and the unpruned best) lies beside its solution, the
    same measurement by id: a folder with some of them and not others worked only where the
    rest still lay at their recorded paths."""
    from harness.profile import load_profile

    folders = sorted((ROOT / "results/accuracy-split/one-window").glob("session*"))
    carrying = [f for f in folders if any(f.glob("digits-*.json"))]
    assert carrying, "no session carries its profiles"
    for folder in carrying:
        (sol_path,) = folder.glob("*-accsplit-solution.json")
        sol = json.loads(sol_path.read_text())
        for dom in sol["domains"]:
            for key in ("choice", "unpruned_best"):
                for ref in (dom.get(key) or {}).get("profiles", []):
                    beside = folder / Path(ref["path"]).name
                    assert beside.is_file(), f"{folder.name}: {dom['domain']} {key}: {beside.name}"
                    assert load_profile(beside).id == ref["id"]
