"""Cost model: fitted on profiles made in the test (a synthetic bulk plus real timing runs)."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from harness.profile import Outcome, Stat, load_profile, save_profile
from harness.spec import JobSpec
from solver import costmodel
from solver.costmodel import CostModelError, Sample

WORK = {"simple_cnn": 2e-5, "resnet18_2d": 4e-4, "cnn3d": 1e-4}
SHAPES = {
    "simple_cnn": [[3, 28, 28], [1, 64, 64]],
    "resnet18_2d": [[3, 28, 28], [3, 64, 64]],
    "cnn3d": [[1, 28, 28, 28]],
}


def true_step(model: str, batch: int, dims: list[int], cpus: float, device: str) -> float:
    """A plausible law with a fixed overhead (which a pure power law only approximates)."""
    spatial = math.prod(dims[1:]) / 784
    work = WORK[model] * batch * spatial * (1 + 0.1 * dims[0])
    if device == "cuda":
        return 0.003 + work / 40
    return 0.002 + work / cpus**0.8


def synthetic_profiles(seed: int = 0, noise: float = 0.03):
    rng = random.Random(seed)
    out = []
    for model, shapes in SHAPES.items():
        for dims in shapes:
            job = JobSpec(name=f"{model}-{dims[-1]}", model=model, input_shape=dims, num_classes=9)
            for device in ("cpu", "cuda"):
                for batch in (8, 16, 32, 64, 128):
                    pts = []
                    for cpus in (1.0, 2.0, 4.0):
                        t = true_step(model, batch, dims, cpus, device)
                        pts.append((cpus, [t * math.exp(rng.gauss(0, noise)) for _ in range(5)]))
                    out.append(costmodel.train_profile(job, device, pts, batch_size=batch))
    return out


@pytest.fixture(scope="module")
def synth():
    return costmodel.samples_from_profiles(synthetic_profiles())


def test_samples_come_from_ok_probes_with_the_device_and_caps(synth):
    assert len(synth) == 5 * 2 * 5 * 3
    assert {s.device for s in synth} == {"cpu", "cuda"}
    assert {s.cpus for s in synth} == {1.0, 2.0, 4.0}
    s = next(x for x in synth if x.model == "cnn3d")
    assert s.dims == (1, 28, 28, 28) and s.spatial == 28**3 and s.channels == 1


def test_failed_probes_are_skipped_and_throughput_stands_in_for_timings():
    job = JobSpec(name="j", model="simple_cnn", input_shape=[3, 28, 28], batch_size=16)
    prof = costmodel.train_profile(job, "cpu", [(1.0, [0.2, 0.2]), (2.0, [0.1, 0.1])])
    assert prof.train is not None
    prof.train.probes[0].outcome = Outcome.oom
    prof.train.probes[1].timings = {}
    prof.train.probes[1].throughput = Stat.of([160.0])
    [s] = costmodel.samples_from_profile(prof)
    assert s.cpus == 2.0 and s.step_s == pytest.approx(0.1) and s.batch_size == 16
    prof.options["batch_size"] = 4  # `harness profile -b 4` ran batches of 4, not the spec's
    assert costmodel.samples_from_profile(prof)[0].batch_size == 4


@pytest.mark.parametrize("kind", ["linear", "gbt"])
def test_holdout_error_per_device_on_synthetic_profiles(synth, kind):
    h = costmodel.holdout_error(synth, kinds=(kind,), folds=5)[kind]
    assert set(h) == {"cpu", "cuda", "all"}
    for dev, st in h.items():
        assert st.n > 0 and st.uncovered == 0, dev
        assert st.median < 0.10, (dev, st)
        assert st.p90 < 0.30, (dev, st)


def test_boosting_the_residual_learns_what_the_law_cannot_bend_to():
    """Past 4 CPUs the step slows down (hyper-threads sharing cores): no single CPU exponent
    fits a curve that falls then rises, the boosted residual does."""
    rng = random.Random(3)
    samples = []
    for model, shapes in SHAPES.items():
        for dims in shapes:
            for b in (8, 16, 32, 64, 128):
                for c in (1.0, 2.0, 4.0, 6.0, 8.0):
                    t = true_step(model, b, dims, c, "cpu") * (1.6 if c > 4 else 1.0)
                    t *= math.exp(rng.gauss(0, 0.02))
                    samples.append(Sample(model, "cpu", b, tuple(dims), c, t))
    h = costmodel.holdout_error(samples, folds=5)
    assert h["gbt"]["all"].median < 0.10
    assert h["gbt"]["all"].median < 0.7 * h["linear"]["all"].median


def test_the_overhead_term_keeps_small_batches_right():
    """t = 20 ms + 1 ms x batch: a pure power law bends around the overhead, t0 + law does not."""
    samples = [
        Sample("m", "cpu", b, (3, 28, 28), 1.0, 0.02 + 0.001 * b) for b in (1, 2, 4, 8, 16, 32, 64)
    ]
    cm = costmodel.fit(samples, "linear")
    assert cm.linear.groups["cpu|m"]["overhead_s"] > 0.01
    for b in (1, 3, 128):
        assert cm.predict("m", b, (3, 28, 28), 1.0, "cpu") == pytest.approx(
            0.02 + 0.001 * b, rel=0.05
        )


def test_linear_law_is_exact_on_a_pure_power_law():
    samples = [
        Sample("m", "cpu", b, (3, s, s), c, 0.01 * b**0.9 * (s * s) ** 0.5 * c**-0.7)
        for b in (4, 8, 16, 32)
        for s in (28, 64)
        for c in (1.0, 2.0, 4.0)
    ]
    cm = costmodel.fit(samples, "linear")
    coef = cm.linear.groups["cpu|m"]
    assert coef["log_batch"] == pytest.approx(0.9, abs=0.01)
    assert coef["log_spatial"] == pytest.approx(0.5, abs=0.01)
    assert coef["log_cpus"] == pytest.approx(-0.7, abs=0.01)
    # extrapolates along the law: batch 128 and 3 CPUs were never measured
    want = 0.01 * 128**0.9 * 784**0.5 * 3**-0.7
    assert cm.predict("m", 128, (3, 28, 28), 3.0, "cpu") == pytest.approx(want, rel=0.02)


def test_json_round_trip_keeps_predictions_and_the_trees_match_sklearn(synth, tmp_path):
    from sklearn.ensemble import GradientBoostingRegressor

    cm, _ = costmodel.fit_with_holdout(synth, "both", folds=3)
    path = tmp_path / "costmodel.json"
    costmodel.save(cm, path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "harness.costmodel" and doc["gbt"]["trees"]
    assert doc["holdout"]["linear"]["cpu"]["median"] >= 0
    back = costmodel.load(path)
    for s in synth[::7]:
        for kind in ("linear", "gbt"):
            a = cm.predict(s.model, s.batch_size, s.dims, s.cpus, s.device, kind)
            b = back.predict(s.model, s.batch_size, s.dims, s.cpus, s.device, kind)
            assert a == pytest.approx(b, rel=1e-12)
    # the JSON tree walker against sklearn's own predict on the same fit
    models, devices = sorted(cm.models), sorted(cm.devices)
    rows = [(s.model, s.device, s.batch_size, s.dims, s.cpus) for s in synth]
    x = costmodel.BoostedResidual.encode(rows, models, devices)
    base = [cm.linear.log_predict(m, b, d, c, dev) for m, dev, b, d, c in rows]
    r = np.log([s.step_s for s in synth]) - np.array(base)
    gbr = GradientBoostingRegressor(loss="squared_error", **costmodel.GBT_PARAMS).fit(x, r)
    exported = costmodel.BoostedResidual.from_sklearn(gbr, models, devices, costmodel.GBT_PARAMS)
    assert np.allclose(exported.residual(x), gbr.predict(x), rtol=1e-9, atol=1e-12)


def test_step_time_uses_the_measurement_where_there_is_one(synth):
    cm = costmodel.fit(synth)
    s = synth[0]
    est = costmodel.step_time(cm, s.model, s.batch_size, s.dims, s.cpus, s.device)
    same = [
        x.step_s
        for x in synth
        if (x.model, x.batch_size, x.dims, x.cpus, x.device)
        == (s.model, s.batch_size, s.dims, s.cpus, s.device)
    ]
    assert est.source == "measured" and est.seconds == pytest.approx(float(np.median(same)))
    missing = costmodel.step_time(cm, s.model, 48, s.dims, 3.0, s.device)
    assert missing.source == "gbt" and missing.seconds > 0
    assert costmodel.predict(cm, s.model, 48, s.dims, 3.0, s.device, "linear") > 0


def test_auto_kind_follows_the_lower_holdout_error(synth):
    cm = costmodel.fit(synth)
    assert cm.best_kind() == "gbt"  # no hold-out measured: the boosted model
    cm.holdout = {"linear": {"all": {"median": 0.05}}, "gbt": {"all": {"median": 0.08}}}
    assert cm.best_kind() == "linear"
    s = synth[3]
    auto = cm.predict(s.model, 40, s.dims, 3.0, s.device)
    assert auto == cm.predict(s.model, 40, s.dims, 3.0, s.device, "linear")
    assert costmodel.fit(synth, "linear").best_kind() == "linear"


def test_unknown_model_or_device_is_a_clear_error(synth):
    cm = costmodel.fit(synth)
    with pytest.raises(CostModelError, match="no data for model 'vgg' on device 'cpu'"):
        cm.predict("vgg", 8, (3, 28, 28), 1.0, "cpu")
    with pytest.raises(CostModelError, match="device 'tpu'"):
        cm.predict("cnn3d", 8, (1, 28, 28, 28), 1.0, "tpu")


def test_bad_cost_model_file_is_one_line(tmp_path):
    bad = tmp_path / "cm.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(CostModelError, match=r"cm.json: field 'format'"):
        costmodel.load(bad)
    bad.write_text("not json")
    with pytest.raises(CostModelError, match="not a JSON cost model"):
        costmodel.load(bad)


def test_real_timing_runs_are_predicted_at_an_unmeasured_batch_size():
    """Real torch steps (tiny): fit on batches 2 and 8, predict 4. Contended CPU: loose bound."""
    from harness.workloads.medmnist import time_train_steps

    job = JobSpec(name="real", model="simple_cnn", input_shape=[1, 28, 28], num_classes=14)
    measured: dict[int, float] = {}
    profiles = []
    for batch in (2, 4, 8):
        rows = time_train_steps("simple_cnn", (1, 28, 28), 14, "multilabel", batch, 4, 1, 1)
        times = [r["batch_s"] for r in rows]
        measured[batch] = float(np.median(times))
        profiles.append(costmodel.train_profile(job, "cpu", [(1.0, times)], batch_size=batch))
    samples = costmodel.samples_from_profiles(profiles)
    train = [s for s in samples if s.batch_size != 4]
    cm = costmodel.fit(train, "linear")
    pred = cm.predict("simple_cnn", 4, (1, 28, 28), 1.0, "cpu")
    assert 0.5 < pred / measured[4] < 2.0, (pred, measured)
    # and a real measured run mixed into the synthetic bulk gets a finite hold-out error
    bulk = costmodel.samples_from_profiles(synthetic_profiles(1)) + samples
    h = costmodel.holdout_error(bulk, kinds=("linear",), folds=3)
    assert math.isfinite(h["linear"]["cpu"].median)


def _write_profiles(tmp_path, n=None):
    paths = []
    for i, prof in enumerate(synthetic_profiles()[:n]):
        p = tmp_path / f"p{i}.json"
        save_profile(prof, p)
        paths.append(p)
    return paths


def test_fit_command_writes_the_model_next_to_the_profiles(tmp_path):
    from harness.cli.fit import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `fit` a named subcommand
    paths = _write_profiles(tmp_path, 20)
    load_profile(paths[0])
    res = CliRunner().invoke(app, ["fit", *map(str, paths), "--kind", "both", "--folds", "3"])
    assert res.exit_code == 0, res.output
    assert "median rel err" in res.output and "cpu" in res.output
    cm = costmodel.load(tmp_path / "costmodel.json")
    assert cm.gbt is not None and set(cm.holdout) == {"linear", "gbt"}
    res = CliRunner().invoke(app, ["fit", *map(str, paths[:4]), "--kind", "linear", "-o",
                                   str(tmp_path / "lin.json")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert costmodel.load(tmp_path / "lin.json").gbt is None


def test_fit_command_bad_input_is_one_line_and_nonzero(tmp_path, capsys):
    from harness.cli.fit import run_fit

    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert run_fit([bad], None, "both") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json" in err[0] and "schema_version" in err[0]
    assert run_fit(_write_profiles(tmp_path, 1), None, "cubic") == 1
    assert "--kind" in capsys.readouterr().err


def test_committed_cost_model_is_the_fit_of_the_committed_profiles(tmp_path):
    """profiles/costmodel.json (what problems/hybrid.yaml reads) is what `harness fit
    profiles/costmodel/*.json` makes, the profiles name a real host, and W1-W7 are covered."""
    from pathlib import Path

    from harness.cli.fit import run_fit

    root = Path(__file__).resolve().parents[1]
    paths = sorted((root / "profiles" / "costmodel").glob("*.json"))
    assert len(paths) >= 12
    for p in paths:
        prof = load_profile(p)
        assert prof.kind == "train" and prof.job.workload_id in {f"W{i}" for i in range(1, 8)}
        assert prof.host.cpu_model != "unknown" and prof.host.memory_gb > 1.0
    assert run_fit(paths, tmp_path / "cm.json", "both", folds=5) == 0
    fresh = json.loads((tmp_path / "cm.json").read_text())
    committed = json.loads((root / "profiles" / "costmodel.json").read_text())
    assert fresh["training_hash"] == committed["training_hash"]
    cm = costmodel.load(root / "profiles" / "costmodel.json")
    assert {"simple_cnn", "resnet18_2d", "cnn3d"} <= set(cm.models)
    assert all(cm.covers(m, "cpu") for m in ("simple_cnn", "resnet18_2d", "cnn3d"))


def test_fit_can_be_rerun_on_a_folder_that_holds_its_own_output(tmp_path, capsys):
    """`harness fit dir/*.json` writes dir/costmodel.json; the next `dir/*.json` skips it, but
    any other file that is not a profile is still an error."""
    from harness.cli.fit import run_fit

    paths = _write_profiles(tmp_path, 6)
    assert run_fit(paths, None, "linear", folds=3) == 0
    again = sorted(tmp_path.glob("*.json"))
    assert tmp_path / "costmodel.json" in again
    assert len(costmodel.load_samples(again)) == len(costmodel.load_samples(paths))
    assert run_fit(again, None, "linear", folds=3) == 0
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="other.json"):
        costmodel.load_samples([tmp_path / "other.json"])
