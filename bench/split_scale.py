"""How the split solver scales: SCIP model-build and solve time over chain length, devices and
frequencies (bundles up to 8 layers), and the whole Pareto front of 100 layers x 3 devices x 10
frequencies. Targets: a solve under 1 s and the front under 30 s for that instance.

    python3 bench/split_scale.py [--quick]

Instances are synthetic (tests/profile_factory.random_instance): device 0 is a slow edge device,
every pair of devices is linked, energies follow a static + f^3 power model.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solver.pareto import pareto_front  # noqa: E402
from solver.split import SplitModel  # noqa: E402
from solver.split_dp import pareto_labels, shortest_path  # noqa: E402
from tests.profile_factory import random_instance  # noqa: E402

MAX_LEN = 8


def scale_row(n: int, d: int, f: int, fixing: bool = True) -> dict[str, float]:
    inst = random_instance(n, d, f, MAX_LEN, seed=1)
    model = SplitModel(inst, fixing=fixing)
    t0 = time.perf_counter()
    out = model.solve("latency")
    wall = time.perf_counter() - t0
    dp = shortest_path(inst)
    assert out.path is not None and dp is not None
    assert abs(out.path.latency - dp.latency) <= 1e-9, "SCIP and DP disagree"
    return {
        "edges": len(inst.options) + len(inst.transfers),
        "vars": len(model.steps),
        "build": model.build_time_s,
        "pricing": model.prep_time_s,
        "scip": out.stats.solve_time_s,
        "wall": wall,
        "nodes": out.stats.nodes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer sizes, front at 1%% only")
    args = ap.parse_args()
    sizes = [20, 100] if args.quick else [20, 50, 100, 200]
    print("(timings on a shared 2-core machine: other jobs run beside this one)")
    print(f"{'layers':>6} {'dev':>3} {'freq':>4} {'edges':>7} {'vars':>6} {'build s':>8} "
          f"{'pricing s':>9} {'SCIP s':>7} {'solve s':>8} {'nodes':>5}")  # fmt: skip
    target_solve = None
    for n in sizes:
        for d in (2, 3):
            for f in (1, 10):
                r = scale_row(n, d, f)
                print(f"{n:>6} {d:>3} {f:>4} {r['edges']:>7.0f} {r['vars']:>6.0f} "
                      f"{r['build']:>8.3f} {r['pricing']:>9.3f} {r['scip']:>7.3f} "
                      f"{r['wall']:>8.3f} {r['nodes']:>5.0f}")  # fmt: skip
                if (n, d, f) == (100, 3, 10):
                    target_solve = r["wall"]
    r = scale_row(100, 3, 10, fixing=False)
    print(f"100x3x10 without shortest-path pricing: SCIP {r['scip']:.3f} s, "
          f"solve {r['wall']:.3f} s, {r['nodes']:.0f} nodes")  # fmt: skip
    assert target_solve is not None
    print(f"target solve < 1 s for 100x3x10 (pricing + SCIP, excluding build): "
          f"{target_solve:.3f} s -> {'MET' if target_solve < 1 else 'NOT MET'}")  # fmt: skip

    if not args.quick:
        # exactness at a size the DP's label sets can still enumerate
        small = random_instance(20, 2, 10, MAX_LEN, seed=1)
        t0, c0 = time.perf_counter(), time.process_time()
        front = pareto_front(SplitModel(small))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        labels = pareto_labels(small)
        same = len(labels) == len(front.points) and all(
            math.isclose(a, c, rel_tol=1e-9) and math.isclose(b, d, rel_tol=1e-9)
            for (a, b), (c, d) in zip(sorted(labels), front.pairs(), strict=True)
        )
        print(f"front 20x2x10 (exact): {len(front.points)} points in {wall:.1f} s wall "
              f"({cpu:.1f} s CPU); DP labels: {len(labels)} points; identical: {same}")  # fmt: skip

    inst = random_instance(100, 3, 10, MAX_LEN, seed=1)
    runs = [(0.01, 120.0)] if args.quick else [(0.01, 120.0), (0.0, 60.0)]
    for res, cap in runs:
        model = SplitModel(inst)
        t0, c0 = time.perf_counter(), time.process_time()
        front = pareto_front(model, resolution=res, time_limit=cap)
        total = time.perf_counter() - t0 + model.build_time_s
        cpu = time.process_time() - c0
        state = "complete" if front.complete else f"INCOMPLETE: {front.reason}"
        label = "exact" if res == 0 else f"resolution {res:g}"
        rate = len(front.points) / max(total, 1e-9)
        print(f"front 100x3x10 ({label}): {len(front.points)} points ({rate:.1f}/s), "
              f"{front.solves} solves, "
              f"{total:.1f} s wall incl. build ({cpu:.1f} s CPU), {state}; target < 30 s -> "
              f"{'MET' if front.complete and total < 30 else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
