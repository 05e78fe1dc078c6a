"""Dataset-aware loss and metrics: the three modes of the seed, with the real models."""

from __future__ import annotations

import math

import pytest
import torch

from harness.workloads.losses import batch_metrics, make_loss, make_targets
from harness.workloads.medmnist import MEDMNIST_MODELS

# (task, model, input shape, classes): PathMNIST, ChestMNIST, OrganMNIST3D shapes
MODES = [
    ("multiclass", "simple_cnn", (3, 28, 28), 9),
    ("multilabel", "simple_cnn", (1, 28, 28), 14),
    ("multiclass", "cnn3d", (1, 16, 16, 16), 11),
]


def _learnable(task: str, shape: tuple[int, ...], k: int, n: int, g: torch.Generator):
    """Inputs whose mean brightness encodes the target, so a few steps can fit them."""
    y = make_targets(task, n, k, g)
    x = torch.rand((n, *shape), generator=g) * 0.1
    code = y.float() if task == "multiclass" else y.argmax(1).float()
    return x + (code / k).view(-1, *([1] * len(shape))), y


@pytest.mark.parametrize(("task", "model_name", "shape", "k"), MODES)
def test_real_training_steps_lower_the_loss_and_metrics_stay_in_range(task, model_name, shape, k):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = MEDMNIST_MODELS[model_name](num_classes=k, in_channels=shape[0], width=8)
    x, y = _learnable(task, shape, k, 8, g)
    loss_fn = make_loss(task)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        m = batch_metrics(task, logits.detach(), y)
        assert all(0.0 <= v <= 1.0 for v in m.values()), m
    assert all(math.isfinite(v) for v in losses)
    assert min(losses[-3:]) < losses[0]


def test_targets_have_the_dtype_and_shape_each_loss_needs():
    g = torch.Generator().manual_seed(1)
    mc = make_targets("multiclass", 5, 9, g)
    ml = make_targets("multilabel", 5, 14, g)
    assert mc.dtype == torch.long and mc.shape == (5,) and int(mc.max()) < 9
    assert ml.dtype == torch.float32 and ml.shape == (5, 14)
    assert set(ml.unique().tolist()) <= {0.0, 1.0}


def test_losses_cast_targets_stored_as_uint8():
    logits = torch.randn(4, 3)
    ce = make_loss("multiclass")(logits, torch.tensor([0, 1, 2, 1], dtype=torch.uint8))
    assert torch.isclose(ce, torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 1])))
    t = torch.tensor([[1, 0, 1]] * 4, dtype=torch.uint8)
    bce = make_loss("multilabel")(logits, t)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits, t.float())
    assert torch.isclose(bce, ref)


def test_multilabel_metrics_threshold_the_sigmoid():
    logits = torch.tensor([[3.0, -3.0, 3.0], [3.0, 3.0, -3.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    m = batch_metrics("multilabel", logits, targets)
    assert m["exact_match"] == pytest.approx(0.5)
    assert m["hamming_accuracy"] == pytest.approx(5 / 6)
    # a higher threshold flips the 0.95 sigmoids to negatives
    assert batch_metrics("multilabel", logits, targets, threshold=0.99)["hamming_accuracy"] == (
        pytest.approx(3 / 6)
    )


def test_multiclass_accuracy_counts_argmax_hits():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    assert batch_metrics("multiclass", logits, torch.tensor([0, 1, 1]))["accuracy"] == (
        pytest.approx(2 / 3)
    )


def test_unknown_task_is_one_clear_error():
    with pytest.raises(ValueError, match="task must be one of"):
        make_loss("regression")
