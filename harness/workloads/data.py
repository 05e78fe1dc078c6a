"""Datasets made locally (nothing can be downloaded) and the loaders that feed a job.

JPEG data is a folder of real JPEG files, so decode and augmentation cost real CPU as in a
real job; synthetic data is random tensors (no input pipeline cost at all).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def data_cache() -> Path:
    return Path(os.environ.get("HARNESS_DATA", Path.home() / ".cache" / "harness" / "data"))


def _structured_image(rng: np.random.Generator, h: int, w: int, channels: int) -> np.ndarray:
    """Smooth blobs plus texture: compresses and decodes like a photo, not like flat noise."""
    coarse = rng.random((max(2, h // 16), max(2, w // 16), channels))
    ys = np.linspace(0, coarse.shape[0] - 1, h)
    xs = np.linspace(0, coarse.shape[1] - 1, w)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, coarse.shape[0] - 1)
    x1 = np.minimum(x0 + 1, coarse.shape[1] - 1)
    fy = (ys - y0)[:, None, None]
    fx = (xs - x0)[None, :, None]
    img = (
        coarse[y0][:, x0] * (1 - fy) * (1 - fx)
        + coarse[y1][:, x0] * fy * (1 - fx)
        + coarse[y0][:, x1] * (1 - fy) * fx
        + coarse[y1][:, x1] * fy * fx
    )
    img = img * 200 + rng.normal(0, 12, (h, w, channels))
    return np.clip(img, 0, 255).astype(np.uint8)


def ensure_jpeg_dataset(
    root: str | Path | None,
    num: int,
    size: tuple[int, int],
    seed: int = 0,
    *,
    num_classes: int = 10,
    channels: int = 3,
    quality: int = 90,
) -> Path:
    """A folder `class_k/img_i.jpg` of real JPEGs, made once and reused (keyed by parameters).

    Made in a temp folder and renamed, so an interrupted generation never leaves half a set.
    """
    from PIL import Image

    key = hashlib.sha256(
        f"{num}|{size}|{seed}|{num_classes}|{channels}|{quality}".encode()
    ).hexdigest()[:10]
    base = Path(root) if root is not None else data_cache()
    target = base / f"jpeg-{num}x{size[0]}x{size[1]}-c{channels}-{key}"
    if (target / ".complete").exists():
        return target
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=".gen-"))
    try:
        rng = np.random.default_rng(seed)
        classes = max(1, min(num_classes, num))
        for i in range(num):
            k = i % classes
            d = tmp / f"class_{k:03d}"
            d.mkdir(exist_ok=True)
            arr = _structured_image(rng, size[0], size[1], channels)
            mode = "RGB" if channels == 3 else "L"
            img = Image.fromarray(arr if channels == 3 else arr[:, :, 0], mode=mode)
            img.save(d / f"img_{i:06d}.jpg", quality=quality)
        (tmp / ".complete").write_text(str(num))
        try:
            tmp.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def dataset_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def evict_page_cache(root: Path) -> int:
    """Drop the dataset's pages from the page cache (posix_fadvise DONTNEED), so that a probe
    starts cold: what it caches is then charged to its own memory cgroup, and a memory cap
    below the dataset really sends the next epoch back to the disk. Without this, pages read
    by an earlier probe (or written by the data preparation) sit in the host's cache, charged
    elsewhere, and every memory cap measures the same warm cache. Returns the bytes advised.
    """
    n = 0
    for f in root.rglob("*"):
        if not f.is_file():
            continue
        try:
            fd = os.open(f, os.O_RDONLY)
        except OSError:
            continue
        try:
            with contextlib.suppress(OSError):
                os.fdatasync(fd)  # dirty pages (fresh from generation) are not dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += os.fstat(fd).st_size
        except OSError:
            pass
        finally:
            os.close(fd)
    return n


def _proc_read_bytes(pid: int | str) -> int:
    with open(f"/proc/{pid}/io") as fh:
        for line in fh:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    return 0


def disk_read_bytes() -> int | None:
    """Bytes this process and its live children (the loader's workers) fetched from storage,
    page-cache hits excluded (/proc/PID/io read_bytes). None where the kernel keeps no count."""
    me = os.getpid()
    try:
        total = _proc_read_bytes(me)
    except (OSError, ValueError):
        return None
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            if ppid == me:
                total += _proc_read_bytes(d)
        except (OSError, ValueError, IndexError):
            continue
    return total


def list_files(root: Path, suffix: str = ".jpg") -> list[tuple[Path, int]]:
    classes = sorted(d for d in root.iterdir() if d.is_dir())
    out: list[tuple[Path, int]] = []
    for k, d in enumerate(classes):
        out.extend((f, k) for f in sorted(d.glob(f"*{suffix}")))
    return out


def _targets(task: str, n: int, num_classes: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    try:
        from harness.workloads.losses import make_targets

        return make_targets(task, n, num_classes, g)
    except ImportError:
        return torch.randint(0, num_classes, (n,), generator=g)


class JpegDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Decode + random-resized-crop + flip + normalise, as an ImageNet training loader does."""

    def __init__(
        self, root: Path, input_shape: list[int], task: str, num_classes: int, train: bool = True
    ) -> None:
        from torchvision import transforms as T

        self.files = list_files(root)
        if not self.files:
            raise FileNotFoundError(f"{root}: no .jpg files")
        c, h, w = input_shape
        mean, std = (MEAN, STD) if c == 3 else ((0.5,), (0.5,))
        crop = T.RandomResizedCrop((h, w), antialias=True) if train else T.Resize((h, w))
        self.tf = T.Compose([crop, T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
        self.channels = c
        self.labels = (
            _targets(task, len(self.files), num_classes, 0)
            if task == "multilabel"
            else torch.tensor([k % num_classes for _, k in self.files])
        )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        path, _ = self.files[i]
        with Image.open(path) as im:
            img = im.convert("RGB" if self.channels == 3 else "L")
            x = self.tf(img)
        return x, self.labels[i]


class SyntheticDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(self, n: int, input_shape: list[int], task: str, num_classes: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.n = n
        self.x = torch.randn((min(n, 64), *input_shape), generator=g)
        self.y = _targets(task, n, num_classes, seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i % len(self.x)], self.y[i]


class VolumeDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """MedMNIST-3D shaped volumes stored as .npy (made by medmnist.make_volume_dataset)."""

    def __init__(self, root: Path) -> None:
        self.files = sorted(root.glob("vol_*.npy"))
        self.labels = torch.from_numpy(np.load(root / "labels.npy"))
        if not self.files:
            raise FileNotFoundError(f"{root}: no vol_*.npy files")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(np.load(self.files[i]).astype(np.float32)), self.labels[i]


def prepare_data(spec: Any, data_dir: str | None) -> Path | None:
    """Make (or find) the job's dataset on disk; None for synthetic data."""
    d = spec.data
    if d.source == "synthetic":
        return None
    if d.path:
        return Path(d.path)
    root = Path(data_dir) if data_dir else None
    if d.source == "volume":
        from harness.workloads.medmnist import make_volume_dataset

        return Path(
            make_volume_dataset(
                root or data_cache(),
                d.num_samples,
                tuple(spec.input_shape),
                spec.num_classes,
                d.task,
                d.seed,
            )
        )
    c, h, w = spec.input_shape
    size = tuple(d.stored_size) if d.stored_size else (max(h, int(h * 1.14)), max(w, int(w * 1.14)))
    return ensure_jpeg_dataset(
        root,
        d.num_samples,
        (int(size[0]), int(size[1])),
        d.seed,
        num_classes=min(spec.num_classes, 100),
        channels=c,
        quality=d.jpeg_quality,
    )


def make_loader(
    spec: Any, root: Path | None, batch_size: int, workers: int, seed: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An endless iterator of batches from the spec's data and loader."""
    task = spec.data.task
    if spec.loader.kind == "dali":
        if root is None or spec.data.source != "jpeg":
            raise ValueError("loader 'dali' needs data.source 'jpeg'")
        yield from _dali_batches(root, spec, batch_size, max(1, workers), seed)
        return
    ds: Dataset[tuple[torch.Tensor, torch.Tensor]]
    if root is None:
        ds = SyntheticDataset(spec.data.num_samples, spec.input_shape, task, spec.num_classes, seed)
    elif spec.data.source == "volume":
        ds = VolumeDataset(root)
    else:
        ds = JpegDataset(root, spec.input_shape, task, spec.num_classes)
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs = {"prefetch_factor": spec.loader.prefetch_factor, "persistent_workers": True}
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        drop_last=len(ds) >= batch_size,
        num_workers=workers,
        pin_memory=spec.loader.pin_memory,
        generator=g,
        **kwargs,
    )
    while True:
        yield from loader


def _dali_batches(
    root: Path, spec: Any, batch_size: int, threads: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """DALI's CPU pipeline (device_id=None): decode, random-resized-crop, flip, normalise."""
    from nvidia.dali import fn, pipeline_def, types

    c, h, w = spec.input_shape

    @pipeline_def(batch_size=batch_size, num_threads=threads, device_id=None, seed=seed)  # type: ignore[call-overload]
    def pipe():  # type: ignore[no-untyped-def]
        jpegs, labels = fn.readers.file(file_root=str(root), random_shuffle=True, name="reader")
        images = fn.decoders.image(
            jpegs,
            device="cpu",
            output_type=types.RGB if c == 3 else types.GRAY,  # type: ignore[attr-defined]
        )
        images = fn.random_resized_crop(images, size=(h, w))
        images = fn.crop_mirror_normalize(
            images,
            dtype=types.FLOAT,  # type: ignore[attr-defined]
            output_layout="CHW",
            mean=[m * 255 for m in MEAN[:c]],
            std=[s * 255 for s in STD[:c]],
            mirror=fn.random.coin_flip(),
        )
        return images, labels

    p = pipe()
    p.build()
    while True:
        images, labels = p.run()
        x = torch.from_numpy(np.array(images.as_tensor()))
        y = torch.from_numpy(np.array(labels.as_tensor())).reshape(-1).long() % spec.num_classes
        yield x, y
