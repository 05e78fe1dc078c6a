"""A side the host clips is priced at the CPUs it gets, from a profile of its own machine at
those CPUs; a side measured again is priced from that measurement, not the one the choice was
made by (pure: real solver runs on factory profiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.profile import save_profile
from harness.runsplit.decision import RunOptions, load_decision
from harness.runsplit.reprice import at_cpus, remeasured
from tests.factory.infer_profiles import make_infer_profile
from tests.factory.split import split_solution


def _server_at_one_cpu(tmp_path: Path) -> Path:
    """The server's machine (same host) measured at 1 CPU: twice as slow as at 2."""
    prof = make_infer_profile(device_name="server", n_layers=6, speed=2.0, cpus=1.0, seed=1)
    path = tmp_path / "server-1cpu.json"
    save_profile(prof, path)
    return path


def test_a_clipped_server_is_repriced_from_its_one_cpu_profile(tmp_path: Path) -> None:
    path = split_solution(tmp_path, bw=100.0)
    one = _server_at_one_cpu(tmp_path)
    plain = load_decision(path, RunOptions(profiles=[one]))
    # a 2-core host: the edge holds 1 core, the server asked 2 and gets 1
    d = load_decision(path, RunOptions(profiles=[one], host_cpus=2))
    assert d.repriced == ["server"] and any("predicted from server" in n for n in d.notes)
    from harness.profile import load_profile

    alt = load_profile(one).infer
    assert alt is not None
    for before, after in zip(plain.plans, d.plans, strict=True):
        for a, b in zip(before.steps, after.steps, strict=True):
            if b.kind == "compute" and b.role == "server":
                bundle = alt.bundle(b.start, b.end, 1)
                assert bundle is not None and b.latency_s == bundle.latency.median
            else:
                assert a == b  # the edge's compute and the transfers as they were
    server_heavy = [
        (a, b) for a, b in zip(plain.plans, d.plans, strict=True) if a.prediction.server_s > 0
    ]
    assert server_heavy
    for a, b in server_heavy:  # the server's compute takes longer at 1 CPU
        assert b.prediction.server_s > a.prediction.server_s
        assert b.prediction.edge_s == pytest.approx(a.prediction.edge_s)


def test_without_a_profile_at_the_cpus_it_gets_the_side_keeps_its_prediction(
    tmp_path: Path,
) -> None:
    path = split_solution(tmp_path, bw=100.0)
    plain = load_decision(path, RunOptions())
    d = load_decision(path, RunOptions(host_cpus=2))
    assert d.repriced == []
    assert [c.prediction for c in d.plans] == [c.prediction for c in plain.plans]
    roomy = load_decision(path, RunOptions(profiles=[_server_at_one_cpu(tmp_path)], host_cpus=3))
    assert roomy.repriced == []  # nothing clipped: nothing re-priced


def test_only_a_profile_of_the_same_machine_stands_in() -> None:
    server = make_infer_profile(device_name="server", n_layers=6, speed=4.0, cpus=2.0)
    edge_one = make_infer_profile(device_name="edge", n_layers=6, cpus=1.0)  # another machine
    server_one = make_infer_profile(device_name="server", n_layers=6, speed=2.0, cpus=1.0)
    assert at_cpus([edge_one], server, 1.0) is None
    assert at_cpus([edge_one, server_one], server, 1.0) is server_one
    assert at_cpus([server_one], server, 0.5) is None


def test_the_cli_says_before_the_run_which_side_it_repriced_and_warns_no_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import harness.cli.runsplit as cli
    import harness.runsplit.orchestrate as orch
    from harness.cli import app

    def refuse(*a: object, **k: object) -> None:
        raise orch.RunSplitError("stopped by the test before any container")

    monkeypatch.setattr(orch, "run_session", refuse)
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    one = _server_at_one_cpu(tmp_path)
    r = CliRunner().invoke(
        app, ["run-split", str(split_solution(tmp_path)), "--profiles", str(one)]
    )
    assert r.exit_code == 1
    out = r.output
    assert "note: server: this host gives it 1 of the 2 CPUs" in out
    assert "measured at 1 CPU)" in out and "will not match the prediction" not in out
    assert out.index("note: server") < out.index("running ")


def _server_again(tmp_path: Path, cpus: float = 2.0) -> Path:
    """The solution's server (same job, host and CPUs) profiled once more, at half the speed."""
    prof = make_infer_profile(device_name="server", n_layers=6, speed=2.0, cpus=cpus, seed=1)
    path = tmp_path / f"server-again-{cpus:g}.json"
    save_profile(prof, path)
    return path


def test_a_side_profiled_again_is_priced_from_that_profile(tmp_path: Path) -> None:
    """The winner's curse: the plan was chosen by the profile that read fastest; the run is
    held to one measured independently. Only the server's compute moves."""
    path = split_solution(tmp_path, bw=100.0)
    plain = load_decision(path, RunOptions())
    again = _server_again(tmp_path)
    d = load_decision(path, RunOptions(profiles=[again]))
    from harness.profile import load_profile

    alt = load_profile(again).infer
    assert alt is not None
    moved = 0
    for before, after in zip(plain.plans, d.plans, strict=True):
        for a, b in zip(before.steps, after.steps, strict=True):
            if b.kind == "compute" and b.role == "server":
                bundle = alt.bundle(b.start, b.end, 1)
                assert bundle is not None and b.latency_s == bundle.latency.median
                assert b.latency_s > a.latency_s
            else:
                assert a == b
        if before.prediction.server_s > 0:
            moved += 1
            assert after.prediction.server_s > before.prediction.server_s
            assert any(
                n.startswith(f"{after.name}: server compute priced from another") for n in d.notes
            )
        else:
            assert after.prediction == before.prediction
    assert moved and d.repriced == []  # not a clipped side: a measurement of the same one


def test_another_profile_at_other_cpus_or_of_itself_is_not_a_remeasurement(
    tmp_path: Path,
) -> None:
    server = make_infer_profile(device_name="server", n_layers=6, speed=4.0, cpus=2.0)
    other_cpus = make_infer_profile(device_name="server", n_layers=6, speed=2.0, cpus=1.0, seed=1)
    other_model = make_infer_profile(
        device_name="server", model="othernet", n_layers=6, speed=2.0, cpus=2.0, seed=1
    )
    edge = make_infer_profile(device_name="edge", n_layers=6, cpus=2.0, seed=1)
    assert remeasured([server, other_cpus, other_model, edge], server) is None
    again = make_infer_profile(device_name="server", n_layers=6, speed=2.0, cpus=2.0, seed=1)
    assert remeasured([server, again], server) is again
    from datetime import timedelta

    later = again.model_copy(update={"id": "later", "created": again.created + timedelta(hours=1)})
    assert remeasured([later, again], server) is later  # of several, the latest
    path = split_solution(tmp_path, bw=100.0)
    plain = load_decision(path, RunOptions())
    d = load_decision(path, RunOptions(profiles=[_server_again(tmp_path, cpus=1.0)]))
    assert [c.prediction for c in d.plans] == [c.prediction for c in plain.plans]
