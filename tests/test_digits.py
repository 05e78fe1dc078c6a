"""The digits and their domains: real scans, a stratified held-out split, seeded non-IID
domains that are the same every time and really skewed (harness/workloads/digits.py)."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn  # noqa: F401  (the ml extra: missing, it fails, never skips)

from harness.profile import DomainSplit
from harness.workloads import digits


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return digits.load_digits_images(8)[1]


def _split(**kw: object) -> DomainSplit:
    return digits.default_split().model_copy(update=kw)


def test_the_real_scans_upsampled_keep_their_pixels() -> None:
    images, labels = digits.load_digits_images(22)
    assert images.shape == (1797, 1, 22, 22) and images.dtype == np.float32
    assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))
    assert images.min() >= 0.0 and images.max() <= 1.0
    raw = digits.load_digits_images(8)[0]
    # align_corners: the corners of the upsampled scan are the scan's corners
    assert np.allclose(images[:, 0, 0, 0], raw[:, 0, 0, 0])
    assert np.allclose(images[:, 0, -1, -1], raw[:, 0, -1, -1])


def test_held_out_split_is_stratified_disjoint_and_seeded(labels: np.ndarray) -> None:
    train, held = digits.train_holdout(labels, _split())
    assert set(train.tolist()).isdisjoint(held.tolist())
    assert len(train) + len(held) == len(labels)
    per_class = np.bincount(labels[held], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(per_class - 0.5) < 0.01)
    again = digits.train_holdout(labels, _split())
    assert np.array_equal(held, again[1])
    other = digits.train_holdout(labels, _split(split_seed=1))[1]
    assert not np.array_equal(held, other)


def test_domains_cover_the_held_out_part_and_are_deterministic(labels: np.ndarray) -> None:
    split = _split()
    held = digits.train_holdout(labels, split)[1]
    parts = digits.domains(labels, held, split)
    assert len(parts) == 10
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == sorted(held.tolist())  # disjoint and covering
    assert min(len(p) for p in parts) >= digits.MIN_DOMAIN
    again = digits.domains(labels, held, split)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    moved = digits.domains(labels, held, _split(seed=1))
    assert not all(np.array_equal(a, b) for a, b in zip(parts, moved, strict=True))


def _skew(labels: np.ndarray, parts: list[np.ndarray]) -> float:
    """Mean total-variation distance of a domain's label mix from the held-out mix."""
    whole = np.bincount(np.concatenate([labels[p] for p in parts]), minlength=10)
    whole = whole / whole.sum()
    tvs = []
    for p in parts:
        mix = np.bincount(labels[p], minlength=10) / len(p)
        tvs.append(0.5 * np.abs(mix - whole).sum())
    return float(np.mean(tvs))


def test_small_alpha_skews_the_labels_large_alpha_does_not(labels: np.ndarray) -> None:
    held = digits.train_holdout(labels, _split())[1]
    skewed = _skew(labels, digits.domains(labels, held, _split(alpha=0.5)))
    near_iid = _skew(labels, digits.domains(labels, held, _split(alpha=1000.0)))
    assert skewed > 0.3  # non-IID: a third of a domain's labels would have to move
    assert near_iid < 0.12
    assert skewed > 3 * near_iid


def test_too_many_domains_for_the_held_out_part_is_one_line(labels: np.ndarray) -> None:
    held = digits.train_holdout(labels, _split())[1]
    with pytest.raises(digits.DigitsError, match="domains.count: 1000 domains"):
        digits.domains(labels, held, _split(count=1000))


def test_samples_round_trip_through_a_file(tmp_path: object) -> None:
    from pathlib import Path

    data = digits.make_split(_split(count=3), 12)
    path = Path(str(tmp_path)) / "d0.npz"
    digits.save_samples(path, data.domains["d0"])
    back = digits.load_samples(path)
    assert np.array_equal(back.images, data.domains["d0"].images)
    assert np.array_equal(back.labels, data.domains["d0"].labels)
    assert np.array_equal(back.index, data.domains["d0"].index)
