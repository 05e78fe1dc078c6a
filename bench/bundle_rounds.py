"""Bundle timing in one stretch against rounds over the pass (`infer.rounds`), alternated.

On a machine whose speed switches every few seconds (this shared VM), a bundle timed in one
stretch of a quarter second measures one moment of it, and the interval of its median, from
those calls alone, is too narrow to say so. In rounds over the pass, each bundle's calls span
the pass. This bench profiles one model (in-process, on one core, inputs synthetic: the time
does not depend on them) with `rounds: 1` and `rounds: 3` alternated (1, 3, 3, 1, ...), and
prints per setting: the spread (CV) of the whole model's median latency from profile to
profile, the median relative half-width of its interval, and the infer section's wall time.
Honest intervals are about as wide as the spread from profile to profile. First it times the
whole model back to back for `--series` seconds and prints its one-second medians: how this
machine's speed moves.

    python3 bench/bundle_rounds.py                      # p40 of the digits variants, 8 + 8
    python3 bench/bundle_rounds.py --pairs 2 --series 0 # quicker
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def series(net: Any, x: Any, seconds: float) -> list[float]:
    """One-second medians (ms) of the whole model called back to back."""
    import torch

    by: dict[int, list[float]] = {}
    t_end = time.perf_counter() + seconds
    with torch.inference_mode():
        while (now := time.perf_counter()) < t_end:
            net(x)
            by.setdefault(int(seconds - (t_end - now)), []).append(time.perf_counter() - now)
    return [statistics.median(v) * 1e3 for _, v in sorted(by.items())]


def profile_once(raw: dict[str, Any], weights: str, folder: str, rounds: int) -> dict[str, Any]:
    from harness.spec import JobSpec
    from harness.workloads.infer import collect

    raw["infer"]["rounds"] = rounds
    request = {
        "overrides": {"variant_weights": weights, "energy": False},
        "threads": 1,
        "records": str(Path(folder) / "records.jsonl"),
    }
    section, _ = collect(JobSpec.model_validate(raw), request)
    whole = max(section["bundles"], key=lambda b: (b["end"] - b["start"], b["batch_size"]))
    return {
        "total_s": section["total_s"],
        "median_ms": whole["latency"]["median"] * 1e3,
        "half_width": whole["median_ci"]["rel_half_width"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--job", default="jobs/digits-infer.yaml")
    ap.add_argument("--weights", default="variants/digits/p40.pt")
    ap.add_argument("--pairs", type=int, default=4, help="(1, 3, 3, 1) blocks: 2 profiles each")
    ap.add_argument("--series", type=float, default=30.0, help="seconds of back-to-back calls")
    ap.add_argument("--core", type=int, default=max(os.sched_getaffinity(0)))
    a = ap.parse_args()
    os.sched_setaffinity(0, {a.core})
    import torch
    import yaml

    from harness.workloads.models import set_threads
    from harness.workloads.repvgg import load_variant

    set_threads(1)
    raw = yaml.safe_load((ROOT / a.job).read_text())
    raw["data"] = {"source": "synthetic"}
    folder = tempfile.mkdtemp(prefix="bundle-rounds-")
    try:
        shutil.copy(ROOT / a.weights, folder)
        weights = Path(a.weights).name
        if a.series > 0:
            net = load_variant(str(Path(folder) / weights))
            shape = [max(raw["infer"]["batch_sizes"]), *raw["input_shape"]]
            meds = series(net, torch.randn(*shape), a.series)
            print(
                f"{a.weights}, batch {shape[0]}, back to back on core {a.core} for "
                f"{a.series:g} s: one-second medians {min(meds):.1f}-{max(meds):.1f} ms "
                f"(median {statistics.median(meds):.1f}): {[round(m, 1) for m in meds]}"
            )
        got: dict[int, list[dict[str, Any]]] = {1: [], 3: []}
        for k in range(4 * a.pairs):
            r = (1, 3, 3, 1)[k % 4]
            got[r].append(profile_once(raw, weights, folder, r))
        for r, runs in got.items():
            meds = [x["median_ms"] for x in runs]
            cv = statistics.stdev(meds) / statistics.mean(meds) if len(meds) > 1 else 0.0
            hw = statistics.median(x["half_width"] for x in runs)
            print(
                f"rounds {r}: {len(runs)} profiles, whole model {min(meds):.1f}-{max(meds):.1f} "
                f"ms, cv across profiles {cv:.1%}, median interval half-width {hw:.1%}, infer "
                f"section {statistics.median(x['total_s'] for x in runs):.2f} s (median)"
            )
        one = statistics.median(x["total_s"] for x in got[1])
        three = statistics.median(x["total_s"] for x in got[3])
        print(f"cost of rounds: x{three / one:.2f} the wall time of one stretch")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
