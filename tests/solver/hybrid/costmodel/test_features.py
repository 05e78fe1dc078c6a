"""Samples from train profiles: one per ok probe, with its device, caps and batch."""

from __future__ import annotations

import pytest

from harness.profile import Outcome, Stat, save_profile
from harness.spec import JobSpec
from solver.hybrid.costmodel.features import (
    Sample,
    load_samples,
    samples_from_profile,
    training_hash,
)
from tests.factory.timed_profiles import timed_train_profile


def test_samples_come_from_ok_probes_with_the_device_and_caps(synth):
    assert len(synth) == 5 * 2 * 5 * 3
    assert {s.device for s in synth} == {"cpu", "cuda"}
    assert {s.cpus for s in synth} == {1.0, 2.0, 4.0}
    s = next(x for x in synth if x.model == "cnn3d")
    assert s.dims == (1, 28, 28, 28) and s.spatial == 28**3 and s.channels == 1


def test_failed_probes_are_skipped_and_throughput_stands_in_for_timings():
    job = JobSpec(name="j", model="simple_cnn", input_shape=[3, 28, 28], batch_size=16)
    prof = timed_train_profile(job, "cpu", [(1.0, [0.2, 0.2]), (2.0, [0.1, 0.1])])
    assert prof.train is not None
    prof.train.probes[0].outcome = Outcome.oom
    prof.train.probes[1].timings = {}
    prof.train.probes[1].throughput = Stat.of([160.0])
    [s] = samples_from_profile(prof)
    assert s.cpus == 2.0 and s.step_s == pytest.approx(0.1) and s.batch_size == 16
    prof.options["batch_size"] = 4  # `harness profile -b 4` ran batches of 4, not the spec's
    assert samples_from_profile(prof)[0].batch_size == 4


def test_load_samples_skips_a_cost_model_but_no_other_file_that_is_not_a_profile(tmp_path):
    job = JobSpec(name="j", model="simple_cnn", input_shape=[3, 28, 28], batch_size=16)
    path = tmp_path / "p.json"
    save_profile(timed_train_profile(job, "cpu", [(1.0, [0.2])]), path)
    (tmp_path / "cm.json").write_text('{"format": "harness.costmodel"}')
    [s] = load_samples([path, tmp_path / "cm.json"])
    assert s.source == "p.json"
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="other.json"):
        load_samples([tmp_path / "other.json"])


def test_the_training_hash_is_the_same_for_the_same_samples_in_any_order(synth):
    assert training_hash(synth) == training_hash(list(reversed(synth)))
    assert training_hash(synth) != training_hash(synth[1:])
    s = synth[0]
    assert Sample.of_row(s.row()) == s
