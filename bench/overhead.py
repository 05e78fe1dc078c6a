"""Per-batch instrumentation overhead, and run-to-run spread of images/s against the host's own.

Targets: overhead under 2%; the harness probe's run-to-run coefficient of variation of images/s
at most 1.2 times a bare loop's, the two alternated (ABBA) on the same core in one window. An
absolute CV target cannot be met on a host whose own spread is larger (a bare torch loop spreads
4-18% on a shared VM); the ratio can be met anywhere. A CV from a handful of runs is itself
noisy: two normal samples of the same spread read a CV ratio above 1.2 in 35% of draws with 6
runs each and in 28% with 12. So the bench takes 12 runs of each, prints the ratio's bootstrap
90% interval, and beside the CV the robust one (1.4826 x MAD / median), which one disturbed run
cannot move.
Run on a quiet machine: anything else on the cores shows up as both overhead and spread.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time, os
os.sched_setaffinity(0, {int(c) for c in sys.argv[3].split(",")})
import torch
torch.set_num_threads(len(os.sched_getaffinity(0)))
from harness.spec import JobSpec
from harness.workloads.data import make_loader
from harness.workloads.models import build_model
from harness.workloads.run import Emitter
from harness.workloads.train import _loss_fn, _optimizer, run_train
rounds, n = int(sys.argv[1]), int(sys.argv[2])
spec = JobSpec.model_validate({
    "name": "overhead", "kind": "train", "model": "resnet18", "input_shape": [3, 64, 64],
    "num_classes": 10, "batch_size": 16, "data": {"source": "synthetic", "num_samples": 64},
    "loader": {"kind": "torch", "workers": 0}, "iterations": {"warmup": 3, "measured": n},
})


def plain():  # the same model, loader, loss and optimiser; no clock, no record
    torch.manual_seed(spec.data.seed)
    model = build_model(spec.model, spec.num_classes, spec.input_shape)
    model.train()
    loss_fn, opt = _loss_fn(spec.data.task), _optimizer(spec, model.parameters())
    loader = make_loader(spec, None, spec.batch_size, 0, seed=spec.data.seed)
    def step():
        x, y = next(loader)
        loss = loss_fn(model(x), y.long()); loss.backward(); opt.step()
        opt.zero_grad(set_to_none=True)
    for _ in range(spec.iterations.warmup): step()
    t0 = time.perf_counter()
    for _ in range(n): step()
    return time.perf_counter() - t0


def instrumented():  # the harness's own loop, its records written and flushed as in a probe
    recs = []
    with open(sys.argv[4], "w") as fh:
        emit = Emitter(fh)
        def keep(r):
            emit(r)
            recs.append(r)
        run_train(spec, {"caps": {"cpus": 1}, "overrides": {}}, keep)
    b = [r for r in recs if r.get("type") == "batch"]
    warm = [r for r in b if r["warmup"]][-1]
    # from the end of the warm-up to the end of the last batch: the records' own cost included
    inside = sum(r["batch_s"] for r in b if not r["warmup"])
    return b[-1]["wall_s"] - warm["wall_s"], inside


out = []
for k in range(rounds):  # alternating in one process (ABBA), so drift hits both alike
    if k % 2 == 0:
        a = plain(); i, inside = instrumented()
    else:
        i, inside = instrumented(); a = plain()
    out.append({"plain_s": a, "inst_s": i, "inside_s": inside})
print(json.dumps({"n": n, "rounds": out}))
"""


def run(rounds: int, n: int, cpus: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(
            [sys.executable, "-c", CHILD, str(rounds), str(n), cpus, str(Path(d) / "rec.jsonl")],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    return json.loads(r.stdout.strip().splitlines()[-1])


BARE = r"""
import os, statistics, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
import torch, torchvision
torch.set_num_threads(1)
torch.manual_seed(0)
model = torchvision.models.squeezenet1_1(num_classes=10)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = torch.rand(8, 3, 64, 64), torch.randint(0, 10, (8,))
ips, t_end, i = [], None, 0
while t_end is None or time.perf_counter() < t_end or i < 3 + int(sys.argv[2]):
    t0 = time.perf_counter()
    torch.nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    opt.zero_grad(set_to_none=True)
    i += 1
    if i > 3:  # the probe's warm-up
        ips.append(8 / (time.perf_counter() - t0))
        t_end = t_end or time.perf_counter() + float(sys.argv[3])
print(statistics.median(ips))
"""


def cv_of_harness_probes(
    reps: int, iters: int, min_s: float = 3.0
) -> tuple[list[float], list[float]]:
    """images/s of the same probe run `reps` times through the real local backend, and of the
    same step in a bare loop (no harness: no backend, cgroup, records or loader) on the same
    core for the same window, alternated with the probes so that both see the host's drift."""
    from harness.backends.base import ProbeRequest
    from harness.backends.local import LocalBackend, pick_cpuset
    from harness.profile import Caps
    from harness.spec import load_spec
    from harness.sweep import summarise

    spec = load_spec(ROOT / "jobs" / "tiny-train.yaml").model_dump(mode="json")
    spec["data"]["source"] = "synthetic"
    spec["iterations"] = {"warmup": 3, "measured": iters, "min_duration_s": min_s}
    backend = LocalBackend()
    core = pick_cpuset(1, backend.cpus)[0]
    vals, bare = [], []

    def probe(d: Path, i: int) -> None:
        req = ProbeRequest(spec=spec, caps=Caps(cpus=1), workdir=d / str(i))
        run_ = backend.run_probe(req)
        p = summarise(run_, req.caps, str(i), "local", datetime.now(UTC), keep_records=False)
        assert p.throughput is not None, run_.log_tail
        vals.append(p.throughput.median)

    def loop() -> None:
        out = subprocess.run(
            [sys.executable, "-c", BARE, str(core), str(iters), str(min_s)],
            capture_output=True,
            text=True,
            check=True,
        )
        bare.append(float(out.stdout.strip().splitlines()[-1]))

    with tempfile.TemporaryDirectory() as d:
        for i in range(reps):  # ABBA: each sees the host's drift alike
            if i % 2 == 0:
                probe(Path(d), i)
                loop()
            else:
                loop()
                probe(Path(d), i)
    return vals, bare


def _cv(vals: list[float]) -> float:
    return statistics.stdev(vals) / statistics.mean(vals) if len(vals) > 1 else 0.0


def _robust_cv(vals: list[float]) -> float:
    """1.4826 x MAD / median: the CV of a normal sample, unmoved by one disturbed run."""
    med = statistics.median(vals)
    return 1.4826 * statistics.median(abs(v - med) for v in vals) / med


def _ratio_interval(a: list[float], b: list[float], draws: int = 2000) -> tuple[float, float]:
    """Bootstrap 90% interval of cv(a) / cv(b), each resampled on its own (seeded)."""
    rng = random.Random(0)
    rs = []
    for _ in range(draws):
        cb = _cv(rng.choices(b, k=len(b)))
        if cb > 0:
            rs.append(_cv(rng.choices(a, k=len(a))) / cb)
    rs.sort()
    return rs[int(0.05 * len(rs))], rs[int(0.95 * len(rs)) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    n, rounds, reps = (15, 4, 4) if a.quick else (30, 10, 12)
    res = run(rounds, n, "1")
    ratios = sorted((r["inst_s"] - r["plain_s"]) / r["plain_s"] for r in res["rounds"])
    overhead = statistics.median(ratios)
    # the loop's own bookkeeping, timed from inside: wall time between the timed spans
    between = statistics.median((r["inst_s"] - r["inside_s"]) / r["inst_s"] for r in res["rounds"])
    mp = statistics.median(16 * n / r["plain_s"] for r in res["rounds"])
    mi = statistics.median(16 * n / r["inst_s"] for r in res["rounds"])
    print(
        f"resnet18 16x3x64x64 on 1 CPU, {n} batches x {rounds} rounds alternating in one "
        "process: the harness's run_train (clocks, metrics, flushed JSON records) against "
        "the same loop bare"
    )
    print(f"  uninstrumented  median {mp:8.2f} img/s")
    print(f"  instrumented    median {mi:8.2f} img/s")
    print(
        f"  overhead, median of paired time ratios {overhead:+.2%} (rounds {ratios[0]:+.1%} .. "
        f"{ratios[-1]:+.1%})  (target < 2%: {'holds' if overhead < 0.02 else 'MISSED'})"
    )
    print(f"  time between the timed spans of a batch (records, metrics, RSS): {between:.3%}")
    vals, bare = cv_of_harness_probes(reps, 8 if a.quick else 15)
    cv, cv_bare = _cv(vals), _cv(bare)
    print(
        f"harness probe, tiny job (squeezenet1_1, 8x3x64x64), 1 CPU, synthetic data, {reps} runs "
        f"(median images/s each): {[round(v, 1) for v in vals]}"
    )
    print(f"  run-to-run cv of images/s {cv:.2%}")
    print(
        f"the same step in a bare loop on the same core, same windows, alternated with the probes: "
        f"{[round(v, 1) for v in bare]}"
    )
    print(
        f"  run-to-run cv of images/s {cv_bare:.2%}: the host's own spread, the floor for the "
        "harness's (the probe adds to it only what exceeds this)"
    )
    # An absolute CV target cannot be met on a host whose own spread is larger; the ratio to
    # a bare loop measured alternately in the same window can be met anywhere.
    ratio = cv / cv_bare if cv_bare > 0 else float("inf")
    lo, hi = _ratio_interval(vals, bare)
    rcv, rcv_bare = _robust_cv(vals), _robust_cv(bare)
    print(
        f"  robust cv (1.4826 x MAD / median): harness {rcv:.2%}, bare {rcv_bare:.2%}, "
        f"ratio {rcv / rcv_bare if rcv_bare > 0 else float('inf'):.2f}"
    )
    print(
        f"  cv ratio, harness probe / bare loop: {ratio:.2f} (bootstrap 90% interval "
        f"{lo:.2f}-{hi:.2f})  (target <= 1.2: {'holds' if ratio <= 1.2 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
