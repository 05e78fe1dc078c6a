"""Cut points found from the traced graph: each cut's tensor feeds the rest of the model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torchvision
from torch import nn

from harness.profile import CutPoint, Layer
from harness.workloads.cuts import CutError, cut_points, layers, stages

SMALL = [3, 32, 32]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread is faster, and the test machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiny_vit() -> nn.Module:
    """vit's architecture (conv_proj, class token, encoder, heads) at a size a test can afford."""
    return torchvision.models.VisionTransformer(
        image_size=32,
        patch_size=8,
        num_layers=3,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
        num_classes=7,
    )


MODELS = {
    "alexnet": ([3, 64, 64], lambda: torchvision.models.alexnet(num_classes=7)),
    "vgg11": (SMALL, lambda: torchvision.models.vgg11(num_classes=7)),
    "resnet18": (SMALL, lambda: torchvision.models.resnet18(num_classes=7)),
    "mobilenet_v2": (SMALL, lambda: torchvision.models.mobilenet_v2(num_classes=7)),
    "shufflenet_v2_x0_5": (SMALL, lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=7)),
    "vit": ([3, 32, 32], _tiny_vit),
}


def _check_chain(model: nn.Module, shape: list[int], chain: list[tuple[str, nn.Module]]) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        ref = model(x)
        acts = [x]
        for _, stage in chain:
            acts.append(stage(acts[-1]))
        cps = cut_points(chain, shape)
        assert len(cps) == len(chain) + 1
        for k, cp in enumerate(cps):
            CutPoint.model_validate(cp)
            t = acts[k]
            # the tensor at this cut, fed to the rest, gives the full model's output
            y = t
            for _, stage in chain[k:]:
                y = stage(y)
            assert torch.allclose(y, ref, atol=1e-4, rtol=1e-4), f"cut {k} ({cp['after']})"
            assert cp["shape"] == list(t.shape[1:])
            assert cp["numel"] == t[0].numel()
            assert cp["bytes_fp32"] == t[0].numel() * t.element_size() == cp["numel"] * 4
            assert cp["bytes_fp16"] == t[0].half().numel() * t.half().element_size()
    assert cps[0]["after"] is None and cps[0]["shape"] == shape
    assert cps[-1]["shape"] == [7]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cuts_reproduce_the_model(name: str) -> None:
    shape, make = MODELS[name]
    model = make().eval()
    chain = stages(model, shape)
    assert len(chain) >= 5, [n for n, _ in chain]
    _check_chain(model, shape, chain)
    ls = layers(chain)
    for d in ls:
        Layer.model_validate(d)
    # every parameter belongs to exactly one stage
    assert sum(d["params"] for d in ls) == sum(p.numel() for p in model.parameters())


def test_blocks_stay_whole_and_glue_is_merged() -> None:
    model = torchvision.models.resnet18(num_classes=7).eval()
    names = [n for n, _ in stages(model, SMALL)]
    assert names[0] == "conv1+bn1+relu+maxpool"
    assert names[1:9] == [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)][:7] + [
        "layer4.1+avgpool"
    ]
    assert names[-1] == "fc"
    kinds = [s.kind for _, s in stages(model, SMALL)]  # type: ignore[attr-defined]
    assert kinds[1] == "BasicBlock"


def test_vit_glue_and_encoder_blocks() -> None:
    model = _tiny_vit().eval()
    chain = stages(model, [3, 32, 32])
    names = [n for n, _ in chain]
    # class token joins the patch embedding; each encoder block is a stage; heads last
    assert names[0] == "conv_proj+class_token"
    assert sum("encoder_layer_" in n for n in names) == 3
    assert names[-1] == "heads"
    shapes = [c["shape"] for c in cut_points(chain, [3, 32, 32])]
    assert shapes[1] == [17, 16]  # 16 patches + class token, hidden 16
    assert shapes[-2] == [16]  # x[:, 0] after the encoder's LayerNorm


def test_fine_granularity_cuts_inside_blocks() -> None:
    model = torchvision.models.squeezenet1_0(num_classes=7).eval()
    block = stages(model, [3, 64, 64])
    fine = stages(model, [3, 64, 64], granularity="fine")
    assert len(fine) > len(block)
    assert any(".squeeze" in n for n, _ in fine)  # a cut inside a Fire block
    _check_chain(model, [3, 64, 64], fine)


def test_unmerged_keeps_relu_and_pool_cuts() -> None:
    model = torchvision.models.alexnet(num_classes=7).eval()
    merged = stages(model, [3, 64, 64])
    raw = stages(model, [3, 64, 64], merge_trivial=False)
    assert len(raw) > len(merged)
    assert any(s.kind == "ReLU" for _, s in raw)  # type: ignore[attr-defined]


class _DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.lin(x)
        return x


def test_untraceable_model_fails_with_one_line() -> None:
    with pytest.raises(CutError) as err:
        stages(_DataDependent(), [4])
    assert "_DataDependent" in str(err.value) and "\n" not in str(err.value)


def test_wrong_input_shape_fails_with_one_line() -> None:
    with pytest.raises(CutError, match="does not fit"):
        stages(torchvision.models.resnet18(num_classes=7).eval(), [5, 32, 32])
