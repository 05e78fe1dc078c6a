"""Build any torchvision classification model (or a MedMNIST-seed model) with random weights.

Nothing can be downloaded here, so weights are always random: throughput and latency do not
depend on the values of the weights, only on the architecture.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn


def available_models() -> list[str]:
    import torchvision

    names = set(torchvision.models.list_models(module=torchvision.models))
    try:
        from harness.workloads.medmnist import MEDMNIST_MODELS

        names |= set(MEDMNIST_MODELS)
    except ImportError:
        pass
    return sorted(names | {REPVGG_DIGITS})


REPVGG_DIGITS = "repvgg_digits"  # harness/workloads/repvgg.py: the accuracy-split model


def build_model(
    name: str, num_classes: int, input_shape: list[int] | tuple[int, ...], **kwargs: Any
) -> nn.Module:
    """A fresh model; unknown names fail with the list of known ones."""
    if name == REPVGG_DIGITS:
        from harness.workloads.repvgg import build_deploy

        return build_deploy(num_classes, input_shape[0], **kwargs)
    try:
        from harness.workloads.medmnist import MEDMNIST_MODELS
    except ImportError:
        MEDMNIST_MODELS = {}
    if name in MEDMNIST_MODELS:
        return MEDMNIST_MODELS[name](num_classes=num_classes, in_channels=input_shape[0], **kwargs)
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models)
    if name not in known:
        raise ValueError(
            f"model {name!r} is not a torchvision classification model "
            f"(known: {', '.join(sorted(known)[:12])}, ...)"
        )
    if name.startswith("vit_") and "image_size" not in kwargs and len(input_shape) == 3:
        kwargs["image_size"] = input_shape[-1]
    model: nn.Module = torchvision.models.get_model(
        name, weights=None, num_classes=num_classes, **kwargs
    )
    if input_shape[0] != 3:
        _adapt_first_conv(model, input_shape[0])
    return model


def _adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    """Swap the first Conv2d for one with `in_channels` inputs (e.g. grayscale data)."""
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                new = nn.Conv2d(
                    in_channels,
                    child.out_channels,
                    kernel_size=child.kernel_size,  # type: ignore[arg-type]
                    stride=child.stride,  # type: ignore[arg-type]
                    padding=child.padding,  # type: ignore[arg-type]
                    bias=child.bias is not None,
                )
                setattr(parent, child_name, new)
                return


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def set_threads(n: int) -> int:
    """Size torch's pools from the cap granted, never from os.cpu_count() (DESIGN pitfall)."""
    n = max(1, int(n))
    torch.set_num_threads(n)
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(max(1, min(n, 4)))
    return n
