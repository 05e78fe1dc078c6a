"""The cost model: hold-out error on a known law and on real timing runs, the measured point
where there is one, the kind with the lower error, clear errors where there is no data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.spec import JobSpec
from solver.hybrid.costmodel.features import samples_from_profiles
from solver.hybrid.costmodel.file import CostModelError
from solver.hybrid.costmodel.fit import default_path, fit, holdout_error, step_time
from tests.factory.timed_profiles import law_profiles, timed_train_profile


@pytest.mark.parametrize("kind", ["linear", "gbt"])
def test_holdout_error_per_device_on_synthetic_profiles(synth, kind):
    h = holdout_error(synth, kinds=(kind,), folds=5)[kind]
    assert set(h) == {"cpu", "cuda", "all"}
    for dev, st in h.items():
        assert st.n > 0 and st.uncovered == 0, dev
        assert st.median < 0.10, (dev, st)
        assert st.p90 < 0.30, (dev, st)


def test_step_time_uses_the_measurement_where_there_is_one(synth):
    cm = fit(synth)
    s = synth[0]
    est = step_time(cm, s.model, s.batch_size, s.dims, s.cpus, s.device)
    same = [
        x.step_s
        for x in synth
        if (x.model, x.batch_size, x.dims, x.cpus, x.device)
        == (s.model, s.batch_size, s.dims, s.cpus, s.device)
    ]
    assert est.source == "measured" and est.seconds == pytest.approx(float(np.median(same)))
    missing = step_time(cm, s.model, 48, s.dims, 3.0, s.device)
    assert missing.source == "gbt" and missing.seconds > 0
    assert cm.predict(s.model, 48, s.dims, 3.0, s.device, "linear") > 0


def test_auto_kind_follows_the_lower_holdout_error(synth):
    cm = fit(synth)
    assert cm.best_kind() == "gbt"  # no hold-out measured: the boosted model
    cm.holdout = {"linear": {"all": {"median": 0.05}}, "gbt": {"all": {"median": 0.08}}}
    assert cm.best_kind() == "linear"
    s = synth[3]
    auto = cm.predict(s.model, 40, s.dims, 3.0, s.device)
    assert auto == cm.predict(s.model, 40, s.dims, 3.0, s.device, "linear")
    assert fit(synth, "linear").best_kind() == "linear"
    cm.holdout = {"linear": {"all": {"median": None}}, "gbt": {"all": {"median": 0.08}}}
    assert cm.best_kind() == "gbt"  # no held-out point for linear: not a measured error


def test_unknown_model_or_device_is_a_clear_error(synth):
    cm = fit(synth)
    with pytest.raises(CostModelError, match="no data for model 'vgg' on device 'cpu'"):
        cm.predict("vgg", 8, (3, 28, 28), 1.0, "cpu")
    with pytest.raises(CostModelError, match="device 'tpu'"):
        cm.predict("cnn3d", 8, (1, 28, 28, 28), 1.0, "tpu")
    with pytest.raises(CostModelError, match="no training samples"):
        fit([])


def test_real_timing_runs_are_predicted_at_an_unmeasured_batch_size():
    """Real torch steps (tiny): fit on batches 2 and 8, predict 4. Contended CPU: loose bound."""
    from harness.telemetry.host import host_facts
    from harness.workloads.medmnist import time_train_steps

    job = JobSpec(name="real", model="simple_cnn", input_shape=[1, 28, 28], num_classes=14)
    measured: dict[int, float] = {}
    profiles = []
    host = host_facts()  # measured here: the profiles name this host
    for batch in (2, 4, 8):
        rows = time_train_steps("simple_cnn", (1, 28, 28), 14, "multilabel", batch, 4, 1, 1)
        times = [r["batch_s"] for r in rows]
        measured[batch] = float(np.median(times))
        profiles.append(timed_train_profile(job, "cpu", [(1.0, times)], batch, host=host))
    samples = samples_from_profiles(profiles)
    train = [s for s in samples if s.batch_size != 4]
    cm = fit(train, "linear")
    pred = cm.predict("simple_cnn", 4, (1, 28, 28), 1.0, "cpu")
    assert 0.5 < pred / measured[4] < 2.0, (pred, measured)
    # and a real measured run mixed into the synthetic bulk gets a finite hold-out error
    bulk = samples_from_profiles(law_profiles(1)) + samples
    h = holdout_error(bulk, kinds=("linear",), folds=3)
    assert math.isfinite(h["linear"]["cpu"].median)


def test_the_default_output_is_out_of_the_profiles_glob(tmp_path):
    assert default_path([tmp_path / "a.json", "b.json"]) == tmp_path / "fitted" / "costmodel.json"
