"""A small RepVGG-style network: trained with three branches per block, deployed as one conv.

RepVGG (Ding et al., 2021) trains each block as 3x3 conv+BN, 1x1 conv+BN and (where shapes
allow) an identity BN, summed before the ReLU; at inference the three are folded into one 3x3
conv with a bias, exactly (same outputs up to float rounding). The deployed network is then a
plain chain of conv+ReLU blocks: the form that structured pruning (torch-pruning) cuts channels
from, that `cuts.py` splits between blocks, and that loads with plain torch from an `arch`
record (`DeployNet.from_arch`): no pruning library is needed to run a variant.

Written here rather than taken from timm so that a variant is rebuilt from widths alone
(timm's RepVGG is a ByobNet whose pruned widths would need its own config machinery).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

# stage -> (blocks, width, stride of its first block); input 1 x 32 x 32 in the digits jobs
DEFAULT_STAGES: tuple[tuple[int, int, int], ...] = ((2, 32, 1), (2, 64, 2), (2, 96, 2))
FULL = "3x3+1x1+id"  # a block's branch configurations: all three, fused into a 3x3 conv
NO3X3 = "1x1+id"  # the 3x3 branch dropped: the block deploys as a 1x1 conv


class RepBlock(nn.Module):
    """Training form: 3x3+BN, 1x1+BN, identity BN (when in == out and stride 1), then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride
        self.conv3 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bnid = nn.BatchNorm2d(cout) if cin == cout and stride == 1 else None
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn3(self.conv3(x)) + self.bn1(self.conv1(x))
        if self.bnid is not None:
            y = y + self.bnid(x)
        out: torch.Tensor = self.act(y)
        return out

    @torch.no_grad()
    def fused(self, branches: str = FULL) -> nn.Conv2d:
        """The one conv (with bias) equal to the branches kept (BN in eval mode): FULL gives a
        3x3 conv; NO3X3 drops the 3x3 branch and gives a 1x1 conv (a ninth of the MACs)."""
        if branches not in (FULL, NO3X3):
            raise ValueError(f"branches: expected {FULL!r} or {NO3X3!r}, got {branches!r}")
        k1, b1 = _fold(self.conv1.weight, self.bn1)
        if branches == FULL:
            k3, b3 = _fold(self.conv3.weight, self.bn3)
            kernel, bias, size = k3 + nn.functional.pad(k1, [1, 1, 1, 1]), b3 + b1, 3
        else:
            kernel, bias, size = k1, b1, 1
        if self.bnid is not None:
            ident = torch.zeros_like(kernel)
            for c in range(self.cin):
                ident[c, c, size // 2, size // 2] = 1.0
            ki, bi = _fold(ident, self.bnid)
            kernel, bias = kernel + ki, bias + bi
        conv = nn.Conv2d(self.cin, self.cout, size, self.stride, size // 2, bias=True)
        conv.weight.copy_(kernel)
        assert conv.bias is not None
        conv.bias.copy_(bias)
        return conv


def _fold(kernel: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    assert bn.running_var is not None and bn.running_mean is not None
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return kernel * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


class RepNet(nn.Module):
    """The training form: stages of RepBlocks, global average pool, a linear head."""

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        stages: tuple[tuple[int, int, int], ...] | list[list[int]] = DEFAULT_STAGES,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        cin = in_channels
        for n, width, stride in stages:
            for b in range(n):
                blocks.append(RepBlock(cin, width, stride if b == 0 else 1))
                cin = width
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        self.stage_of = [s for s, (n, _, _) in enumerate(stages) for _ in range(n)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(torch.flatten(self.pool(self.features(x)), 1))
        return out

    def deploy(self, branches: list[str] | None = None) -> DeployNet:
        """The re-parameterised network (call in eval mode: BN statistics are folded in), each
        block with the branch configuration `branches` gives it (default: all three)."""
        chosen = branches or [FULL] * len(self.features)
        arch = arch_of_rep(self)
        arch["blocks"] = [
            [*b, 3 if c == FULL else 1] for b, c in zip(arch["blocks"], chosen, strict=True)
        ]
        net = DeployNet.from_arch(arch)
        for i, block in enumerate(self.features):
            assert isinstance(block, RepBlock)
            net.conv(i).load_state_dict(block.fused(chosen[i]).state_dict())
        net.fc.load_state_dict(self.fc.state_dict())
        return net


class DeployNet(nn.Module):
    """The inference form: blocks of Sequential(conv with bias, ReLU), pool, linear head.
    Rebuilt from its `arch` (per block: in, out, stride, kernel (3 when absent); the stage each
    block belongs to)."""

    def __init__(self, arch: dict[str, Any]) -> None:
        super().__init__()
        self.arch = arch
        blocks: list[nn.Module] = []
        for cin, cout, stride, *kernel in arch["blocks"]:
            k = kernel[0] if kernel else 3  # [in, out, stride] or [in, out, stride, kernel]
            conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=True)
            blocks.append(nn.Sequential(conv, nn.ReLU()))
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(arch["blocks"][-1][1], arch["num_classes"])

    @classmethod
    def from_arch(cls, arch: dict[str, Any]) -> DeployNet:
        return cls(arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(torch.flatten(self.pool(self.features(x)), 1))
        return out

    def conv(self, i: int) -> nn.Conv2d:
        """Block i's conv (the first module of its Sequential)."""
        block = self.features[i]
        assert isinstance(block, nn.Sequential)
        conv = block[0]
        assert isinstance(conv, nn.Conv2d)
        return conv

    def current_arch(self) -> dict[str, Any]:
        """The arch as the weights now are (after pruning the widths differ from the start)."""
        blocks = []
        for i in range(len(self.features)):
            conv = self.conv(i)
            block = [conv.in_channels, conv.out_channels, int(conv.stride[0])]
            k = int(conv.kernel_size[0])
            blocks.append(block if k == 3 else [*block, k])  # 3x3 blocks read as they always did
        return {**self.arch, "blocks": blocks}


def arch_of_rep(net: RepNet) -> dict[str, Any]:
    blocks = []
    for b in net.features:
        assert isinstance(b, RepBlock)
        blocks.append([b.cin, b.cout, b.stride])
    return {
        "family": "repvgg-digits",
        "blocks": blocks,
        "stage_of": list(net.stage_of),
        "num_classes": net.fc.out_features,
    }


def build_deploy(num_classes: int, in_channels: int, **kwargs: Any) -> DeployNet:
    """An unpruned deployed network with random weights (for `model: repvgg_digits` jobs that
    name no variant): same layers and costs as the reference, weights not trained."""
    rep = RepNet(num_classes, in_channels, kwargs.get("stages", DEFAULT_STAGES)).eval()
    return rep.deploy()


def save_variant(path: str, net: DeployNet, extra: dict[str, Any] | None = None) -> None:
    """The weights and the arch that rebuilds the network, in one file plain torch reads."""
    torch.save({"arch": net.current_arch(), "state_dict": net.state_dict(), **(extra or {})}, path)


def load_variant(path: str) -> DeployNet:
    """A saved variant, rebuilt from its arch and loaded with its weights (plain torch)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    net = DeployNet.from_arch(blob["arch"])
    net.load_state_dict(blob["state_dict"])
    return net.eval()
