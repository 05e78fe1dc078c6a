"""One side's model: same seed, same weights; the split's output checked to float tolerance."""

from __future__ import annotations

import pytest
import torch

from harness.runsplit.net import Net, outputs_agree, weights_checksum
from harness.runsplit.plan import ModelRef

SPEC = {
    "name": "net-tiny",
    "kind": "infer",
    "model": "resnet18",
    "input_shape": [3, 32, 32],
    "num_classes": 10,
    "data": {"source": "synthetic"},
}


def test_same_seed_same_weights_and_the_chain_composes_to_the_model() -> None:
    a = Net(ModelRef(key="r", spec=SPEC, seed=3), None, with_inputs=True, samples=2)
    b = Net(ModelRef(key="r", spec=SPEC, seed=3), None, with_inputs=False, samples=2)
    c = Net(ModelRef(key="r", spec=SPEC, seed=4), None, with_inputs=False, samples=2)
    assert a.checksum == b.checksum != c.checksum
    assert weights_checksum(a.model) == a.checksum
    assert a.n_layers == 10 and b.images is None
    x = a.batch(5, 3)  # inputs cycle over the samples
    assert x.shape == (3, 3, 32, 32)
    split = b.run(4, 10, a.run(0, 4, x))
    ok, diff = outputs_agree(split, a.reference(5, 3), "fp32")
    assert ok and diff < 1e-4


def test_a_profile_of_another_chain_is_refused() -> None:
    with pytest.raises(RuntimeError, match="the profile has 7 layers"):
        Net(ModelRef(key="r", spec=SPEC, n_layers=7), None, with_inputs=False, samples=1)


def test_tolerance_depends_on_the_wire_precision() -> None:
    ref = torch.randn(2, 10)
    assert outputs_agree(ref.clone(), ref, "fp32") == (True, 0.0)
    assert not outputs_agree(ref + 1e-2, ref, "fp32")[0]
    assert outputs_agree(ref + 1e-3, ref, "fp16")[0]
    assert not outputs_agree(ref[:1], ref, "fp32")[0]
