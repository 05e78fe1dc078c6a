"""A bundle timed back to back against the same bundle after an idle gap (issues 16, 19).

An inference profile times each bundle's calls back to back; in a split run a side computes
after waiting for the link (one request at a time: the whole transfer), so each call starts on
a core that was idle or busy with the network. This prints, in the job container at the caps a
split side runs with (one CPU, one pinned core), a model's forward at one batch size:
back to back, after an idle gap of 2, 11 and 50 ms, and after sweeping a buffer the size of a
received batch and more (memory traffic, no idle), alternated in rounds; the medians and each
one's ratio to back to back. Work is bounded by counts (calls per round, rounds).

    python3 bench/idle_gap.py                                # the digits variant p50, batch 32
    python3 bench/idle_gap.py --variant p40 --batch 32 --rounds 8
    python3 bench/idle_gap.py --local                        # on this host, not in a container
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GAPS_MS = (0.0, 2.0, 11.0, 50.0)
SWEEP_MB = 8.0

PROBE = r"""
import json, sys, time, statistics
import torch
torch.set_num_threads(1)
from harness.workloads.repvgg import load_variant
weights, batch, side, calls, rounds, gaps, sweep_mb = json.loads(sys.argv[1])
m = load_variant(weights).eval()
x = torch.randn(batch, 1, side, side, generator=torch.Generator().manual_seed(0))
buf = torch.zeros(int(sweep_mb * 2**20 / 4))
def call():
    with torch.inference_mode():
        t0 = time.perf_counter(); m(x); return time.perf_counter() - t0
for _ in range(10):
    call()
settings = [("gap", g) for g in gaps] + [("sweep", sweep_mb)]
out = {f"{k}:{v:g}": [] for k, v in settings}
for _ in range(rounds):
    for kind, v in settings:
        ts = []
        for _ in range(calls):
            if kind == "gap" and v:
                time.sleep(v / 1000)
            elif kind == "sweep":
                buf.add_(1.0)
            ts.append(call())
        out[f"{kind}:{v:g}"].append(statistics.median(ts))
print(json.dumps(out))
"""


def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    """Per setting, the median call of each round (seconds)."""
    weights = f"variants/digits/{args.variant}.pt"
    if not (ROOT / weights).is_file():
        raise SystemExit(f"--variant: {ROOT / weights} not found (python3 -m harness ...)")
    cfg = json.dumps([weights, args.batch, 24, args.calls, args.rounds, list(GAPS_MS), SWEEP_MB])
    if args.local:
        cmd = [sys.executable, "-c", PROBE, cfg]
    else:
        cmd = ["docker", "run", "--rm", "--cpus", "1", "--cpuset-cpus", str(args.core),
               "-v", f"{ROOT}:/src:ro", "-w", "/src", "-e", "PYTHONPATH=/src", args.image,
               "python3", "-c", PROBE, cfg]  # fmt: skip
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"the probe failed (exit {r.returncode}): {r.stderr.strip()[-400:]}")
    out: dict[str, list[float]] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def report(res: dict[str, list[float]], where: str) -> None:
    base = statistics.median(res["gap:0"])
    print(f"{where}: median of per-round medians, and over back to back")
    for key, vals in res.items():
        kind, v = key.split(":")
        what = "back to back" if key == "gap:0" else (
            f"after {v} ms idle" if kind == "gap" else f"after sweeping {v} MB"
        )  # fmt: skip
        med = statistics.median(vals)
        spread = f"{min(vals) * 1e3:.2f}-{max(vals) * 1e3:.2f}"
        print(f"   {what:22s} {med * 1e3:7.2f} ms  x{med / base:.2f}  (rounds {spread} ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--variant", default="p50", help="a saved digits variant (variants/digits)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--calls", type=int, default=20, help="timed calls per setting and round")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--core", type=int, default=1, help="the core the container is pinned to")
    ap.add_argument("--image", default="harness-job:cpu")
    ap.add_argument("--local", action="store_true", help="on this host (one thread), no container")
    args = ap.parse_args()
    where = "this host, one thread" if args.local else f"{args.image}, --cpus 1 on core {args.core}"
    report(measure(args), f"digits {args.variant} at batch {args.batch}, {where}")


if __name__ == "__main__":
    main()
