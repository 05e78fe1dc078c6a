"""How far is the sum of per-layer latencies from the measured latency of a bundle?

DIME's reason for profiling bundles: running layers [i, j) together does not take the sum of
their separate times (thread start-up per operator call, caches warm with the previous layer's
output, allocator reuse). For resnet18 and vgg11 at 1 and 2 CPUs this prints, per batch size,
the relative error (sum of single-layer medians - bundle median) / bundle median over all
bundles of 2+ layers, the same for the whole network (timed in one call), and how long the
whole inference profile took to make.

Each cap runs in its own subprocess pinned with os.sched_setaffinity and sized with
torch.set_num_threads, so threads match the CPUs granted. Timings on a shared machine are
contended: read them as such.

    python3 bench/bundle_additivity.py            # 224x224, batch 1 (--batch 1,4 for more)
    python3 bench/bundle_additivity.py --quick    # 112x112, batch 1, fewer repeats
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def child(model: str, cpus: int, size: int, batches: list[int], repeats: int, max_len: int) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(allowed[:cpus]))
    import torch

    from harness.spec import JobSpec
    from harness.workloads.infer import collect, load_inputs, time_call
    from harness.workloads.models import build_model, set_threads

    set_threads(cpus)
    spec = JobSpec.model_validate(
        {
            "name": f"{model}-additivity",
            "kind": "infer",
            "model": model,
            "input_shape": [3, size, size],
            "num_classes": 1000,
            "data": {"source": "jpeg", "num_samples": 4},
            "infer": {
                "batch_sizes": batches,
                "max_bundle_len": max_len,
                "repeats": repeats,
                "warmup": 2,
                "samples": 4,
            },
        }
    )
    data_dir = os.environ.get("HARNESS_DATA", str(ROOT / ".cache" / "data"))
    request = {"threads": cpus, "data_dir": data_dir, "caps": {"cpus": cpus}, "overrides": {}}
    t0 = time.perf_counter()
    section, _ = collect(spec, request)
    profile_s = time.perf_counter() - t0
    # the whole network in one call, same inputs, same timing rules
    net = build_model(model, 1000, [3, size, size]).eval()
    images, _ = load_inputs(spec, data_dir, 4)
    whole: dict[int, float] = {}
    with torch.inference_mode():
        for b in batches:
            x = images[[k % 4 for k in range(b)]]
            whole[b] = statistics.median(time_call(_call(net, x), torch.device("cpu"), repeats, 2))
    print(
        "RESULT "
        + json.dumps(
            {
                "section": section,
                "profile_s": profile_s,
                "whole": whole,
                "threads": torch.get_num_threads(),
                "affinity": sorted(os.sched_getaffinity(0)),
            }
        ),
        flush=True,
    )


def _call(net: Any, x: Any) -> Any:
    return lambda: net(x)


def summarise(res: dict[str, Any]) -> list[dict[str, Any]]:
    sec = res["section"]
    n = len(sec["layers"])
    rows = []
    for b in sec["batch_sizes"]:
        med = {
            (x["start"], x["end"]): x["latency"]["median"]
            for x in sec["bundles"]
            if x["batch_size"] == b
        }
        single = [med[(i, i + 1)] for i in range(n)]
        rels = []
        for (i, j), m in med.items():
            if j - i >= 2:
                rels.append((sum(single[i:j]) - m) / m)
        whole = float(res["whole"][str(b)] if str(b) in res["whole"] else res["whole"][b])
        rows.append(
            {
                "batch": b,
                "layers": n,
                "bundles": len(med),
                "n_multi": len(rels),
                "mean_abs": statistics.fmean(abs(r) for r in rels) if rels else 0.0,
                "max_abs": max((abs(r) for r in rels), default=0.0),
                "mean_signed": statistics.fmean(rels) if rels else 0.0,
                "whole_rel": (sum(single) - whole) / whole,
                "whole_ms": whole * 1e3,
                "sum_ms": sum(single) * 1e3,
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="112x112, batch 1, 5 repeats")
    ap.add_argument("--models", default="resnet18,vgg11")
    ap.add_argument("--cpus", default="1,2")
    ap.add_argument("--batch", default=None, help="batch sizes, e.g. 1,4 (default 1)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per (model, cap)")
    ap.add_argument("--child", nargs=6, metavar="X", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        m, c, s, b, r, ln = args.child
        child(m, int(c), int(s), [int(x) for x in b.split(",")], int(r), int(ln))
        return 0
    size, batches, repeats, max_len = (112, "1", 5, 3) if args.quick else (224, "1", 5, 3)
    batches = args.batch or batches
    host = len(os.sched_getaffinity(0))
    print(
        f"bundle additivity: input 3x{size}x{size}, batch {batches}, repeats {repeats}, "
        f"bundles up to {max_len} layers; host has {host} CPUs (timings on a shared host)"
    )
    print(
        f"{'model':9} {'cpus':>4} {'batch':>5} {'L':>3} {'bund':>4} {'|err| mean':>10} "
        f"{'|err| max':>9} {'signed':>7} {'sum/whole':>9} {'whole ms':>9} {'profile s':>9}"
    )
    for model in args.models.split(","):
        for cpus in [int(c) for c in args.cpus.split(",")]:
            if cpus > host:
                print(f"{model:9} {cpus:>4}  skipped: host has {host} CPUs")
                continue
            cmd = [sys.executable, __file__, "--child", model, str(cpus), str(size), batches,
                   str(repeats), str(max_len)]  # fmt: skip
            t0 = time.perf_counter()
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=args.timeout, check=False
                )
            except subprocess.TimeoutExpired:
                print(f"{model:9} {cpus:>4}  timed out after {args.timeout:g} s")
                continue
            wall = time.perf_counter() - t0
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"{model:9} {cpus:>4}  failed: {tail}")
                continue
            res = json.loads(line[len("RESULT ") :])
            for row in summarise(res):
                print(
                    f"{model:9} {cpus:>4} {row['batch']:>5} {row['layers']:>3} "
                    f"{row['bundles']:>4} {row['mean_abs']:>9.1%} {row['max_abs']:>9.1%} "
                    f"{row['mean_signed']:>+7.1%} {1 + row['whole_rel']:>9.3f} "
                    f"{row['whole_ms']:>9.1f} {res['profile_s']:>9.1f}"
                )
            print(
                f"{'':9} {'':>4} threads={res['threads']} affinity={res['affinity']} "
                f"section total_s={res['section']['total_s']:.1f} child wall={wall:.1f}s"
            )
    print(
        "err = (sum of single-layer medians - bundle median) / bundle median, bundles of 2+ "
        "layers (+: the layers' sum overestimates the bundle); sum/whole = sum of single-layer "
        "medians / whole-network median"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
