"""Variants for real (harness/workloads/variants.py, repvgg.py): the reference trained on the
digits well above chance, re-parameterised exactly, pruned with torch-pruning into a smaller
network whose accuracy is measured on every domain, saved and loaded with plain torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sklearn  # noqa: F401  (the ml extra: missing, it fails, never skips)
import torch
import torch_pruning  # noqa: F401  (the ml extra: missing, it fails, never skips)

from harness.workloads import digits, repvgg, variants
from tests.factory.digits_jobs import TINY_STAGES

SHAPE = [1, 12, 12]


@pytest.fixture(scope="module")
def data() -> digits.DigitsSplit:
    return digits.make_split(digits.default_split(count=4), SHAPE[-1])


@pytest.fixture(scope="module")
def reference(data: digits.DigitsSplit) -> repvgg.DeployNet:
    torch.set_num_threads(1)
    cfg = variants.TrainSettings(epochs=3, batch_size=32, lr=0.01)
    return variants.train_reference(data, cfg, TINY_STAGES)


def test_the_reference_learns_the_digits_well_above_chance(
    data: digits.DigitsSplit, reference: repvgg.DeployNet
) -> None:
    m = variants.measure(reference, data)
    assert m.samples == len(data.holdout.labels) == 898
    assert m.accuracy > 0.6  # chance is 0.1
    assert set(m.domains) == {"d0", "d1", "d2", "d3"}
    assert sum(d.samples for d in m.domains.values()) == m.samples
    assert sum(d.correct for d in m.domains.values()) == m.correct


def test_reparameterisation_is_exact() -> None:
    torch.manual_seed(0)
    rep = repvgg.RepNet(10, 1, TINY_STAGES)
    rep.train()
    with torch.no_grad():  # move the BN statistics off their defaults
        rep(torch.randn(16, *SHAPE) * 3 + 1)
    rep.eval()
    x = torch.randn(5, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(rep(x), rep.deploy()(x), atol=1e-5)


def test_a_pruned_variant_is_smaller_and_measured_on_every_domain(
    data: digits.DigitsSplit, reference: repvgg.DeployNet, tmp_path: Path
) -> None:
    pruned = variants.prune(reference, {"s0": 0.5, "s1": 0.5}, SHAPE)
    assert [b[1] for b in pruned.current_arch()["blocks"]] == [4, 8]
    ref_macs, ref_params = variants.macs_params(reference, SHAPE)
    macs, params = variants.macs_params(pruned, SHAPE)
    assert macs < 0.5 * ref_macs and params < 0.6 * ref_params
    variants.finetune(pruned, data, variants.TrainSettings(epochs=1, batch_size=32, lr=3e-3))
    assert all(len(b) == 2 for b in pruned.features)  # BN folded away: conv + ReLU again
    m = variants.measure(pruned, data)
    assert m.accuracy > 0.2
    assert {d: a.samples for d, a in m.domains.items()} == {
        d: len(s.labels) for d, s in data.domains.items()
    }
    path = tmp_path / "p50.pt"
    repvgg.save_variant(str(path), pruned)
    loaded = repvgg.load_variant(str(path))
    assert np.array_equal(
        variants.predict(loaded, data.holdout.images), variants.predict(pruned, data.holdout.images)
    )


def test_a_branch_configuration_deploys_the_block_without_its_3x3_branch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rep = repvgg.RepNet(10, 1, [[1, 8, 1], [2, 16, 2]])
    rep.train()
    with torch.no_grad():
        rep(torch.randn(16, *SHAPE) * 2 + 1)
    rep.eval()
    config = variants.branch_config(rep, [1])
    assert config == [repvgg.FULL, repvgg.NO3X3, repvgg.NO3X3]
    net = rep.deploy(config)
    assert [net.conv(i).kernel_size for i in range(3)] == [(3, 3), (1, 1), (1, 1)]
    block = rep.features[2]  # 16 -> 16, stride 1: 1x1 and identity branches
    x = torch.randn(3, 16, 6, 6)
    with torch.no_grad():
        want = block.act(block.bn1(block.conv1(x)) + block.bnid(x))
        assert torch.allclose(net.features[2](x), want, atol=1e-5)
    full, _ = variants.macs_params(rep.deploy(), SHAPE)
    dropped, _ = variants.macs_params(net, SHAPE)
    assert dropped < 0.5 * full
    repvgg.save_variant(str(tmp_path / "b.pt"), net)
    back = repvgg.load_variant(str(tmp_path / "b.pt"))
    assert back.current_arch()["blocks"][1] == [8, 16, 2, 1]
