"""The hybrid-scheduler seed's workloads: its three model families and MedMNIST-shaped data.

Nothing can be downloaded, so the datasets are made locally in the shapes MedMNIST has
(PathMNIST 3x28x28 9 classes, ChestMNIST 1x28x28 14 labels, OrganMNIST3D 1x28^3 11 classes).
Volumes carry a class-dependent blob so that a model can actually learn from them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class DatasetInfo:
    task: str  # 'multiclass' | 'multilabel'
    num_classes: int
    in_channels: int
    spatial_dims: int  # 2 or 3


MEDMNIST_DATASETS: dict[str, DatasetInfo] = {
    "pathmnist": DatasetInfo("multiclass", 9, 3, 2),
    "chestmnist": DatasetInfo("multilabel", 14, 1, 2),
    "organmnist3d": DatasetInfo("multiclass", 11, 1, 3),
}


# ---------------------------------------------------------------- models


class ConvNet(nn.Module):
    """Three conv blocks and a global pool, in 2-D (28x28, 64x64 images) or 3-D (28^3 volumes)."""

    def __init__(self, num_classes: int, in_channels: int, width: int, dims: int) -> None:
        super().__init__()
        conv, norm, pool, gap = (
            (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d)
            if dims == 2
            else (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d, nn.AdaptiveAvgPool3d)
        )
        chans = [in_channels, width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for k in range(3):
            layers += [
                conv(chans[k], chans[k + 1], 3, padding=1, bias=False),
                norm(chans[k + 1]),
                nn.ReLU(inplace=True),
            ]
            layers.append(pool(2) if k < 2 else gap(1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def simple_cnn(num_classes: int, in_channels: int = 3, **kw: Any) -> nn.Module:
    return ConvNet(num_classes, in_channels, kw.pop("width", 32), dims=2, **kw)


def resnet18_2d(num_classes: int, in_channels: int = 3, **kw: Any) -> nn.Module:
    """ResNet18 with a CIFAR-style stem (3x3 stride-1 conv, no max-pool).

    ImageNet's 7x7/2 conv plus max-pool would shrink a 28x28 image to 7x7 before the first
    block; the small-image stem keeps the spatial work, as MedMNIST's own baselines do.
    """
    import torchvision

    model = torchvision.models.resnet18(weights=None, num_classes=num_classes, **kw)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()  # type: ignore[assignment]
    return model


def cnn3d(num_classes: int, in_channels: int = 1, **kw: Any) -> nn.Module:
    return ConvNet(num_classes, in_channels, kw.pop("width", 16), dims=3, **kw)


MEDMNIST_MODELS: dict[str, Callable[..., nn.Module]] = {
    "simple_cnn": simple_cnn,
    "resnet18_2d": resnet18_2d,
    "cnn3d": cnn3d,
}


# ---------------------------------------------------------------- volume data


def _blob_centres(num_classes: int, spatial: tuple[int, ...]) -> np.ndarray:
    """One fixed centre per class, spread over the volume (deterministic)."""
    rng = np.random.default_rng(12345)
    lo = np.array([s * 0.25 for s in spatial])
    hi = np.array([s * 0.75 for s in spatial])
    return lo + rng.random((num_classes, len(spatial))) * (hi - lo)


def make_volume_dataset(
    dir: str | Path,
    num: int,
    shape: tuple[int, ...] | list[int],
    num_classes: int,
    task: str,
    seed: int = 0,
) -> Path:
    """Write `num` volumes under dir and return the folder that holds them.

    The folder is a subfolder of `dir` named by the arguments (so `dir` can be a shared data
    cache): `vol_00000.npy` ... (uint8, C x D x H x W, one file per volume, read lazily by the
    loader), `labels.npy` (int64 (N,) for multiclass, uint8 (N, num_classes) for multilabel)
    and `meta.json`. Each present class adds a bright Gaussian blob at that class's centre on
    top of noise, so the data is learnable. A folder made with the same arguments is reused.
    """
    shape_t = tuple(int(s) for s in shape)
    if len(shape_t) != 4:
        raise ValueError(f"volume shape must be (C, D, H, W), got {shape_t}")
    task = str(task)
    if task not in ("multiclass", "multilabel"):
        raise ValueError(f"task must be 'multiclass' or 'multilabel', got {task!r}")
    dims = "x".join(map(str, shape_t))
    out = Path(dir) / f"volumes-{task}-{dims}-k{num_classes}-n{num}-s{seed}"
    meta = {
        "num": int(num),
        "shape": list(shape_t),
        "num_classes": int(num_classes),
        "task": task,
        "seed": int(seed),
        "format": "harness.medmnist.volumes/1",
    }
    meta_file = out / "meta.json"
    if meta_file.exists():
        try:
            if json.loads(meta_file.read_text()) == meta:
                return out
        except (OSError, json.JSONDecodeError):
            pass
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    c, *spatial = shape_t
    labels: np.ndarray
    if task == "multiclass":
        labels = rng.integers(0, num_classes, size=num, dtype=np.int64)
        present = np.zeros((num, num_classes), dtype=bool)
        present[np.arange(num), labels] = True
    else:
        present = rng.random((num, num_classes)) < 0.3
        labels = present.astype(np.uint8)
    centres = _blob_centres(num_classes, tuple(spatial))
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in spatial], indexing="ij"), axis=-1)
    sigma = max(1.5, min(spatial) / 8)
    blobs = np.stack(
        [np.exp(-((grid - centres[k]) ** 2).sum(-1) / (2 * sigma**2)) for k in range(num_classes)]
    ).astype(np.float32)  # (K, D, H, W)
    for i in range(num):
        signal = np.tensordot(present[i].astype(np.float32), blobs, axes=1)
        noise = rng.normal(0.2, 0.08, size=(c, *spatial)).astype(np.float32)
        vol = np.clip((noise + 0.7 * signal) * 255, 0, 255).astype(np.uint8)
        np.save(out / f"vol_{i:05d}.npy", vol)
    np.save(out / "labels.npy", labels)
    meta_file.write_text(json.dumps(meta, indent=1) + "\n")  # last: marks the folder complete
    return out


# ---------------------------------------------------------------- quick timing


def time_train_steps(
    model_name: str,
    input_shape: list[int] | tuple[int, ...],
    num_classes: int,
    task: str,
    batch_size: int,
    steps: int = 5,
    warmup: int = 1,
    threads: int | None = None,
    seed: int = 0,
    min_duration_s: float = 0.0,
    max_steps: int = 200,
) -> list[dict[str, float]]:
    """Seconds per phase of `steps` real training steps on in-memory tensors (plus cpu_s).

    A light in-process measurement for the cost-model tests and bench (no loader, no
    container); the probe path proper is harness.workloads.train. `threads` sets torch's
    intra-op pool for the duration and restores it after. As MLPerf LoadGen does, it times
    until both `steps` and `min_duration_s` are reached (at most `max_steps`): a few
    milliseconds-long steps are otherwise one scheduler hiccup away from a wrong median.
    """
    from harness.workloads.losses import make_loss, make_targets

    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    try:
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = MEDMNIST_MODELS[model_name](num_classes=num_classes, in_channels=input_shape[0])
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = make_loss(task)
        x = torch.rand((batch_size, *input_shape), generator=gen)
        y = make_targets(task, batch_size, num_classes, gen)
        out: list[dict[str, float]] = []
        i = 0
        timed = 0.0
        while i < warmup + steps or (timed < min_duration_s and i < warmup + max_steps):
            c0 = time.process_time()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            c3 = time.process_time()
            if i >= warmup:
                out.append(
                    {
                        "data_s": 0.0,
                        "forward_s": t1 - t0,
                        "backward_s": t2 - t1,
                        "step_s": t3 - t2,
                        "batch_s": t3 - t0,
                        "cpu_s": c3 - c0,  # CPU seconds of all threads: contention-robust
                        "loss": float(loss.detach()),
                    }
                )
                timed += t3 - t0
            i += 1
        return out
    finally:
        torch.set_num_threads(old_threads)
