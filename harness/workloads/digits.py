"""Real labelled data that ships here, and its seeded non-IID domains.

scikit-learn's handwritten digits (1,797 real 8x8 scans, 16 grey levels, ten classes) are the one
real image set available without a download. They are upsampled bilinearly to the model's
input (a network that only sees 8x8 costs too little per sample for pruning to matter), split
into train / held-out per class (stratified, seeded), and the held-out part is cut into domains
by Dirichlet label skew, as the accuracy-aware split seed runs its 10 non-IID domains.

Everything here is numpy and deterministic from a `DomainSplit` (plus the upsampled size): the
variant maker, the profiler and `harness run-split` rebuild the same samples from it alone.
scikit-learn is imported only by `load_digits_images`, on the host; a job image gets the
samples as a file (`save_samples` / `load_samples`) and needs no scikit-learn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from harness.profile import DomainSplit

DATASET = "sklearn-digits"
NUM_CLASSES = 10
MAX_LEVEL = 16.0  # the scans' grey levels run 0..16
MIN_DOMAIN = 5  # fewest held-out samples a domain may get (an accuracy needs samples)
MAX_DRAWS = 100  # Dirichlet draws tried before the smallest domain is topped up instead


class DigitsError(ValueError):
    """The digits cannot be loaded or split as asked; one line naming what and why."""


@dataclass(frozen=True)
class Samples:
    """Images [n, 1, H, W] float32 in [0, 1] and labels [n] int64, with their dataset indices."""

    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray


def default_split(
    holdout_fraction: float = 0.5,
    split_seed: int = 0,
    count: int = 10,
    alpha: float = 0.5,
    seed: int = 0,
) -> DomainSplit:
    return DomainSplit(
        dataset=DATASET,
        holdout_fraction=holdout_fraction,
        split_seed=split_seed,
        count=count,
        alpha=alpha,
        seed=seed,
    )


# ---------------------------------------------------------------- loading


def load_digits_images(size: int) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 scans upsampled to size x size ([n, 1, size, size] float32 in [0, 1]) and
    their labels; scikit-learn ships the data (`pip install scikit-learn`, the `ml` extra)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DigitsError(
            "the digits need scikit-learn (pip install 'harness[ml]'), which ships them"
        ) from None
    d = load_digits()
    raw = np.asarray(d.images, dtype=np.float64) / MAX_LEVEL
    return upsample(raw, size)[:, None].astype(np.float32), np.asarray(d.target, dtype=np.int64)


def upsample(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of [n, h, w] to [n, size, size] as two matrix products (align_corners,
    so the scan's border pixels stay where they were)."""
    if size < 1:
        raise DigitsError(f"upsampled size: expected >= 1, got {size}")
    h, w = images.shape[1:]
    return np.einsum("ih,nhw,jw->nij", _interp(h, size), images, _interp(w, size))


def _interp(src: int, dst: int) -> np.ndarray:
    """[dst, src] weights of linear interpolation from src points to dst points."""
    m = np.zeros((dst, src))
    pos = np.linspace(0.0, src - 1.0, dst) if dst > 1 else np.zeros(1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, src - 1)
    frac = pos - lo
    m[np.arange(dst), lo] += 1.0 - frac
    m[np.arange(dst), hi] += frac
    return m


# ---------------------------------------------------------------- splits


def train_holdout(labels: np.ndarray, split: DomainSplit) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out): per class, a seeded shuffle and its first
    round(n_c * holdout_fraction) held out, so every class keeps its share on both sides."""
    rng = np.random.default_rng(split.split_seed)
    train: list[np.ndarray] = []
    held: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * split.holdout_fraction))
        held.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def domains(labels: np.ndarray, held: np.ndarray, split: DomainSplit) -> list[np.ndarray]:
    """`split.count` disjoint domains covering the held-out indices `held`, by Dirichlet label
    skew: each class's samples are dealt to the domains in shares drawn from Dir(alpha). Draws
    are repeated (at most MAX_DRAWS) until every domain gets MIN_DOMAIN samples; if none does,
    the last draw is kept and its smallest domains take samples from the largest (bounded by
    count x MIN_DOMAIN moves), so the answer always exists and is always the same."""
    if split.count * MIN_DOMAIN > len(held):
        raise DigitsError(
            f"domains.count: {split.count} domains of >= {MIN_DOMAIN} samples need "
            f"{split.count * MIN_DOMAIN} held-out samples, there are {len(held)}"
        )
    rng = np.random.default_rng(split.seed)
    parts: list[list[int]] = []
    for _ in range(MAX_DRAWS):
        parts = _deal(labels, held, split, rng)
        if min(len(p) for p in parts) >= MIN_DOMAIN:
            break
    else:
        _top_up(parts)
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def _deal(
    labels: np.ndarray, held: np.ndarray, split: DomainSplit, rng: np.random.Generator
) -> list[list[int]]:
    parts: list[list[int]] = [[] for _ in range(split.count)]
    for c in np.unique(labels[held]):
        idx = rng.permutation(held[labels[held] == c])
        shares = rng.dirichlet(np.full(split.count, split.alpha))
        cuts = (np.cumsum(shares)[:-1] * len(idx)).round().astype(int)
        for d, chunk in enumerate(np.split(idx, cuts)):
            parts[d].extend(int(i) for i in chunk)
    return parts


def _top_up(parts: list[list[int]]) -> None:
    for _ in range(len(parts) * MIN_DOMAIN):
        small = min(range(len(parts)), key=lambda d: len(parts[d]))
        if len(parts[small]) >= MIN_DOMAIN:
            return
        big = max(range(len(parts)), key=lambda d: len(parts[d]))
        parts[small].append(parts[big].pop())


def domain_ids(split: DomainSplit) -> list[str]:
    return [f"d{k}" for k in range(split.count)]


# ---------------------------------------------------------------- what callers use


@dataclass(frozen=True)
class DigitsSplit:
    """The train set, the held-out set and each domain of it (domain id -> Samples)."""

    train: Samples
    holdout: Samples
    domains: dict[str, Samples]


def make_split(split: DomainSplit, size: int) -> DigitsSplit:
    """The digits at size x size, split as `split` says (see the module docstring)."""
    if split.dataset != DATASET:
        raise DigitsError(f"domains.dataset: expected '{DATASET}', got {split.dataset!r}")
    images, labels = load_digits_images(size)
    train, held = train_holdout(labels, split)
    parts = domains(labels, held, split)

    def take(idx: np.ndarray) -> Samples:
        return Samples(images[idx], labels[idx], idx)

    return DigitsSplit(
        take(train),
        take(held),
        {d: take(p) for d, p in zip(domain_ids(split), parts, strict=True)},
    )


def label_counts(s: Samples) -> list[int]:
    return [int(x) for x in np.bincount(s.labels, minlength=NUM_CLASSES)]


def head(s: Samples, n: int) -> Samples:
    return Samples(s.images[:n], s.labels[:n], s.index[:n])


def save_samples(path: str | Path, s: Samples) -> None:
    """One .npz (images, labels, index) a job image reads with numpy alone."""
    Path(path).write_bytes(samples_bytes(s))


def samples_bytes(s: Samples) -> bytes:
    """The .npz `save_samples` writes, as bytes (staged into a probe folder as they are)."""
    buf = io.BytesIO()
    np.savez(buf, images=s.images, labels=s.labels, index=s.index)
    return buf.getvalue()


def load_samples(path: str | Path | IO[bytes]) -> Samples:
    with np.load(path) as z:
        return Samples(z["images"], z["labels"], z["index"])
