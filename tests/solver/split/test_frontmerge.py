"""The compiled merge against the numpy rule it replaces: every shifted label laid out, sorted
and reduced by `dp._nondominated`. Small integer costs make equal latencies and equal pairs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.split.dp import _nondominated
from solver.split.frontmerge import merge_front


def _label_set(points: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    lat = np.array([p[0] for p in points], dtype=float)
    en = np.array([p[1] for p in points], dtype=float)
    keep = _nondominated(lat, en)
    return lat[keep], en[keep]


costs = st.integers(0, 12)
label_sets = st.lists(st.lists(st.tuples(costs, costs), min_size=0, max_size=12), max_size=4)


@settings(max_examples=300, deadline=None)
@given(sets=label_sets, shifts=st.lists(st.tuples(st.integers(0, 3), costs, costs), max_size=9))
def test_merge_front_is_the_sorted_reduction(
    sets: list[list[tuple[int, int]]], shifts: list[tuple[int, int, int]]
) -> None:
    fronts = [_label_set(s) for s in sets]
    runs = [(i, dl, de) for i, dl, de in shifts if i < len(fronts)]
    offsets = np.cumsum([0] + [len(f[0]) for f in fronts])
    lat = np.concatenate([f[0] for f in fronts]) if fronts else np.zeros(0)
    en = np.concatenate([f[1] for f in fronts]) if fronts else np.zeros(0)
    which = np.array([r[0] for r in runs], dtype=np.int64)
    run, pos, out_lat, out_en = merge_front(
        lat,
        en,
        offsets[which] if runs else np.zeros(0, dtype=np.int64),
        offsets[which + 1] if runs else np.zeros(0, dtype=np.int64),
        np.array([r[1] for r in runs], dtype=float),
        np.array([r[2] for r in runs], dtype=float),
    )
    # the reference: each run's labels laid out in run order, shifted, reduced
    ref_lat, ref_en, ref_id = [], [], []
    for r, (i, dl, de) in enumerate(runs):
        lo, hi = offsets[i], offsets[i + 1]
        ref_lat += (lat[lo:hi] + dl).tolist()
        ref_en += (en[lo:hi] + de).tolist()
        ref_id += [(r, p) for p in range(lo, hi)]
    keep = _nondominated(np.array(ref_lat), np.array(ref_en))
    assert [ref_id[i] for i in keep] == list(zip(run.tolist(), pos.tolist(), strict=True))
    assert out_lat.tolist() == [ref_lat[i] for i in keep]
    assert out_en.tolist() == [ref_en[i] for i in keep]


def test_merge_front_skips_a_dominated_run_whole() -> None:
    """A run far behind the front contributes nothing (its labels are skipped, not kept)."""
    lat = np.arange(1000, dtype=float)
    en = 1000.0 - lat
    lo, hi, shift = np.array([0, 0]), np.array([1000, 1000]), np.array([0.0, 5.0])
    run, _, out_lat, _ = merge_front(lat, en, lo, hi, shift, shift)
    assert set(run.tolist()) == {0} and len(out_lat) == 1000
