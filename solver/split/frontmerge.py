"""The non-dominated merge of shifted label runs, compiled: the label sweep's inner loop.

A node's arrivals are runs: each is a label set sorted by latency up and energy down, shifted by
one edge's (latency, energy). Materialising every shifted label and sorting them all did ~60
times the work the front keeps (500 x 4 x 10: 841 M candidates for 14 M kept labels). Here the
runs are merged by a heap on their heads, and a run whose head is dominated skips, by binary
search, every label no leaner than the front so far: the work follows the labels kept, not the
candidates. numba compiles it on first use and caches it beside this file; the label sweep
imports this module only when it runs, so the solver's start-up never loads numba.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _before(hkey: Any, a: int, b: int) -> bool:
    return hkey[a] < hkey[b] or (hkey[a] == hkey[b] and a < b)


@numba.njit(cache=True, nogil=True)
def _sift_down(heap: Any, size: int, hkey: Any, i: int) -> None:
    while True:
        c = 2 * i + 1
        if c >= size:
            return
        if c + 1 < size and _before(hkey, heap[c + 1], heap[c]):
            c += 1
        if not _before(hkey, heap[c], heap[i]):
            return
        heap[c], heap[i] = heap[i], heap[c]
        i = c


@numba.njit(cache=True, nogil=True)
def _merge(lat: Any, en: Any, lo: Any, hi: Any, dl: Any, de: Any) -> Any:
    n_runs = lo.shape[0]
    total = 0
    for r in range(n_runs):
        total += hi[r] - lo[r]
    out_run = np.empty(total, np.int64)
    out_pos = np.empty(total, np.int64)
    out_lat = np.empty(total)
    out_en = np.empty(total)
    head = lo.copy()
    hkey = np.empty(n_runs)
    heap = np.empty(n_runs, np.int64)
    size = 0
    for r in range(n_runs):
        if lo[r] < hi[r]:
            hkey[r] = lat[lo[r]] + dl[r]
            heap[size] = r
            size += 1
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(heap, size, hkey, i)
    best = np.inf
    n = 0
    while size > 0:
        r = heap[0]
        p = head[r]
        e = en[p] + de[r]
        if e < best:
            ell = lat[p] + dl[r]
            if n > 0 and out_lat[n - 1] == ell:
                n -= 1  # same latency, less energy: this one replaces it
            out_run[n], out_pos[n], out_lat[n], out_en[n] = r, p, ell, e
            n += 1
            best = e
            p += 1
        # every later label of run r is no faster; those no leaner than `best` are dominated
        end = hi[r]
        if p < end and not en[p] + de[r] < best:
            step = 1
            while p + step < end and not en[p + step] + de[r] < best:
                step *= 2
            a, b = p + step // 2, min(p + step, end)  # en[a] no leaner; answer in (a, b]
            while b - a > 1:
                mid = (a + b) // 2
                if en[mid] + de[r] < best:
                    b = mid
                else:
                    a = mid
            p = b
        if p >= end:
            size -= 1
            heap[0] = heap[size]
        else:
            head[r] = p
            hkey[r] = lat[p] + dl[r]
        _sift_down(heap, size, hkey, 0)
    return out_run[:n], out_pos[:n], out_lat[:n], out_en[:n]


def merge_front(lat: Any, en: Any, lo: Any, hi: Any, dl: Any, de: Any) -> tuple[Any, ...]:
    """The non-dominated labels of runs r = lat/en[lo[r]:hi[r]] + (dl[r], de[r]), fastest first:
    (run, position in lat/en, latency, energy) arrays. Each run must be sorted by latency up and
    energy down. The rule of `dp._nondominated` over the runs laid end to end: of equal
    latencies the least energy; of equal pairs the first (lowest run, then position)."""
    return tuple(_merge(lat, en, lo, hi, dl, de))
