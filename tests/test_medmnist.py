"""The seed's three model families and the generated 3-D volumes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from harness.spec import load_spec
from harness.workloads.losses import make_loss
from harness.workloads.medmnist import MEDMNIST_MODELS, make_volume_dataset, time_train_steps


@pytest.mark.parametrize(
    ("name", "shape", "k"),
    [
        ("simple_cnn", (3, 28, 28), 9),
        ("simple_cnn", (1, 64, 64), 14),
        ("resnet18_2d", (3, 28, 28), 9),
        ("resnet18_2d", (1, 64, 64), 14),
        ("cnn3d", (1, 28, 28, 28), 11),
    ],
)
def test_models_map_inputs_to_one_logit_per_class(name, shape, k):
    model = MEDMNIST_MODELS[name](num_classes=k, in_channels=shape[0])
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(2, *shape))
    assert out.shape == (2, k)


def test_resnet18_2d_keeps_small_images_spatial():
    """The CIFAR stem: no stride-2 conv or max-pool before the first residual block."""
    model = MEDMNIST_MODELS["resnet18_2d"](num_classes=9, in_channels=3)
    feats: dict[str, tuple[int, ...]] = {}

    def hook(_m, _i, o):
        feats["l1"] = tuple(o.shape)

    layer1 = model.get_submodule("layer1")
    layer1.register_forward_hook(hook)
    model(torch.rand(1, 3, 28, 28))
    assert feats["l1"][-2:] == (28, 28)
    n_params = sum(p.numel() for p in model.parameters())
    assert 11_000_000 < n_params < 11_300_000  # ResNet18's size


def test_the_lead_build_model_finds_the_registry():
    from harness.workloads.models import build_model

    m = build_model("cnn3d", num_classes=11, input_shape=[1, 28, 28, 28])
    assert m(torch.rand(1, 1, 28, 28, 28)).shape == (1, 11)


def _volumes(d):
    return np.stack([np.load(f) for f in sorted(d.glob("vol_*.npy"))])


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_volume_dataset_is_written_reused_and_read_by_the_loader(tmp_path, task):
    from harness.workloads.data import VolumeDataset

    d = make_volume_dataset(tmp_path, 12, (1, 16, 16, 16), 11, task, seed=3)
    assert d.parent == tmp_path  # a keyed subfolder: the cache root can hold many datasets
    vols = _volumes(d)
    labels = np.load(d / "labels.npy")
    assert vols.shape == (12, 1, 16, 16, 16) and vols.dtype == np.uint8
    if task == "multiclass":
        assert labels.shape == (12,) and labels.max() < 11
    else:
        assert labels.shape == (12, 11) and set(np.unique(labels)) <= {0, 1}
    mtime = (d / "vol_00000.npy").stat().st_mtime_ns
    assert make_volume_dataset(tmp_path, 12, (1, 16, 16, 16), 11, task, seed=3) == d
    assert (d / "vol_00000.npy").stat().st_mtime_ns == mtime  # reused, not rewritten
    assert json.loads((d / "meta.json").read_text())["task"] == task
    other = make_volume_dataset(tmp_path, 12, (1, 16, 16, 16), 11, task, seed=4)
    assert other != d and not np.array_equal(_volumes(other), vols)
    ds = VolumeDataset(d)
    x, y = ds[0]
    assert len(ds) == 12 and x.shape == (1, 16, 16, 16)
    loss = make_loss(task)(torch.zeros(1, 11), y.unsqueeze(0))  # uint8 / int64 labels cast
    assert torch.isfinite(loss)


def test_volume_labels_are_visible_in_the_data(tmp_path):
    """Each class brightens its own region: same-class volumes correlate more."""
    d = make_volume_dataset(tmp_path, 40, (1, 16, 16, 16), 3, "multiclass", seed=0)
    vols = _volumes(d).reshape(40, -1).astype(float)
    labels = np.load(d / "labels.npy")
    means = np.stack([vols[labels == k].mean(0) for k in range(3)])
    pred = np.argmin(((vols[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == labels).mean() > 0.9


def test_bad_volume_shape_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\(C, D, H, W\)"):
        make_volume_dataset(tmp_path, 2, (28, 28, 28), 11, "multiclass")


def test_w1_to_w7_are_valid_job_specs_of_the_seed():
    specs = {s.workload_id: s for s in (load_spec(f"jobs/W{i}.yaml") for i in range(1, 8))}
    assert sorted(str(k) for k in specs) == [f"W{i}" for i in range(1, 8)]
    for s in specs.values():
        assert s.model in MEDMNIST_MODELS
        if len(s.input_shape) == 4:
            assert s.data.source == "volume" and s.model == "cnn3d" and s.num_classes == 11
        else:
            assert s.data.source == "jpeg" and s.data.stored_size == tuple(s.input_shape[1:])
            assert (s.num_classes, s.data.task, s.input_shape[0]) in {
                (9, "multiclass", 3),
                (14, "multilabel", 1),
            }
    assert {s.input_shape[-1] for s in specs.values() if len(s.input_shape) == 3} == {28, 64}
    assert len({s.batch_size for s in specs.values()}) >= 3


def test_time_train_steps_measures_real_steps():
    rows = time_train_steps("simple_cnn", (1, 28, 28), 14, "multilabel", 4, steps=2, threads=1)
    assert len(rows) == 2
    for r in rows:
        assert r["batch_s"] >= r["forward_s"] > 0 and r["backward_s"] > 0


# ---------------------------------------------------------------- the real training workload


@pytest.mark.parametrize(
    ("workload", "metric_keys"),
    [
        ("W4", {"accuracy", "hamming_accuracy", "exact_match"}),  # 2-D multi-label, BCE
        ("W6", {"accuracy"}),  # 3-D volumes, cnn3d, cross-entropy
    ],
)
def test_w_spec_trains_on_the_local_backend_with_loss_and_metrics_per_batch(
    tmp_path, workload, metric_keys
):
    """`harness profile` of a W spec, shrunk (few samples, batch 4, 2 steps), really run in a
    child process under a 1-CPU cap: every batch record carries the loss and the task's
    metrics, the profile validates and the cost model reads a sample from it."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from harness.profile import Outcome, load_profile
    from solver.hybrid.costmodel.features import samples_from_profile

    root = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((root / "jobs" / f"{workload}.yaml").read_text())
    raw["data"]["num_samples"] = 16
    raw["iterations"] = {"warmup": 1, "measured": 2}
    spec_path = tmp_path / f"{workload}.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "profile.json"
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(spec_path), "--cpu", "1"]
    cmd += ["--backend", "local", "--strategy", "exhaustive", "--max-iterations", "2"]
    cmd += ["-b", "4", "--data-dir", str(tmp_path / "data"), "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    prof = load_profile(out)
    assert prof.kind == "train" and prof.job.workload_id == workload and prof.train is not None
    (probe,) = prof.train.probes
    assert probe.outcome == Outcome.ok, probe.reason
    recs = probe.records or []
    assert sum(not rec.warmup for rec in recs) >= 2
    for rec in recs:
        extra = rec.model_extra or {}
        assert rec.batch_size == 4 and rec.loss is not None and math.isfinite(rec.loss)
        assert metric_keys <= set(extra), sorted(extra)
        assert all(0.0 <= extra[k] <= 1.0 for k in metric_keys)
    (sample,) = samples_from_profile(prof)
    assert (sample.model, sample.batch_size, sample.cpus) == (raw["model"], 4, 1.0)
    v = subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", str(out)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
    assert v.returncode == 0, v.stderr
