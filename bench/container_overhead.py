"""What a container costs a probe: start-up time and images/s, local backend vs Docker backend.

The same probe (job spec, caps, dataset) runs on both backends, interleaved (local, docker,
local, docker...) so that drift on a shared machine hits both alike; one unmeasured warm-up
run per backend first (it also makes the dataset). Start-up is timed on the host: from the
run_probe call to the arrival of the first measured batch record.

Targets: throughput within 3%, start-up overhead under 3 s.

    python3 bench/container_overhead.py [--quick] [--job jobs/tiny-train.yaml] [--cpus 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.base import ProbeRequest  # noqa: E402
from harness.profile import Caps, Outcome  # noqa: E402
from harness.spec import load_spec  # noqa: E402


def one_probe(backend: Any, spec: dict[str, Any], caps: Caps, work: Path, data: Path) -> dict:
    first: list[float] = []
    t0 = time.monotonic()

    def on_record(rec: dict[str, Any]) -> None:
        if rec.get("type") == "batch" and not rec.get("warmup") and not first:
            first.append(time.monotonic())

    req = ProbeRequest(spec=spec, caps=caps, workdir=work, data_dir=data, timeout_s=600)
    run = backend.run_probe(req, on_record)
    if run.outcome != Outcome.ok:
        raise SystemExit(f"{backend.name} probe ended {run.outcome}: {run.reason} {run.log_tail}")
    ips = [r["images_per_s"] for r in run.records if r.get("type") == "batch" and not r["warmup"]]
    return {"startup_s": first[0] - t0, "ips": statistics.median(ips)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny job, 2 rounds")
    ap.add_argument("--job", default=None, help="job spec (default: jobs/tiny-train.yaml)")
    ap.add_argument("--cpus", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--measured", type=int, default=None, help="measured batches per probe")
    ap.add_argument("--image", default=None)
    args = ap.parse_args()

    from harness.backends.docker import DockerBackend
    from harness.backends.local import LocalBackend

    spec = load_spec(args.job or ROOT / "jobs" / "tiny-train.yaml")
    rounds = args.rounds or (2 if args.quick else 4)
    measured = args.measured or (10 if args.quick else 30)
    spec.iterations.measured = measured
    spec.iterations.min_duration_s = 0.0
    raw = spec.model_dump(mode="json")
    caps = Caps(cpus=args.cpus)
    backends: dict[str, Any] = {"local": LocalBackend(), "docker": DockerBackend(args.image)}
    results: dict[str, list[dict]] = {k: [] for k in backends}
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        data = Path(tmp) / "data"
        for name, be in backends.items():  # warm-up: dataset, page cache, image layers
            one_probe(be, raw, caps, Path(tmp) / f"warm-{name}", data)
        for i in range(rounds):
            for name, be in backends.items():
                r = one_probe(be, raw, caps, Path(tmp) / f"{name}-{i}", data)
                results[name].append(r)
                print(f"round {i} {name:6s}: start-up {r['startup_s']:.2f} s, {r['ips']:.1f} img/s")
        for be in backends.values():
            be.cleanup()
    loc_ips = statistics.median(r["ips"] for r in results["local"])
    dk_ips = statistics.median(r["ips"] for r in results["docker"])
    loc_up = statistics.median(r["startup_s"] for r in results["local"])
    dk_up = statistics.median(r["startup_s"] for r in results["docker"])
    diff = (dk_ips - loc_ips) / loc_ips
    over = dk_up - loc_up
    print()
    print(
        f"job {spec.name} ({spec.model}, batch {spec.batch_size}), {args.cpus:g} CPU, "
        f"{rounds} rounds x {measured} measured batches, medians:"
    )
    print(f"{'backend':8s} {'start-up s':>11s} {'images/s':>10s}")
    print(f"{'local':8s} {loc_up:11.2f} {loc_ips:10.1f}")
    print(f"{'docker':8s} {dk_up:11.2f} {dk_ips:10.1f}")
    ok_t = abs(diff) <= 0.03
    ok_s = over < 3.0
    print(f"throughput difference: {diff:+.1%} (target within 3%): {'holds' if ok_t else 'MISSED'}")
    print(f"start-up overhead: {over:+.2f} s (target under 3 s): {'holds' if ok_s else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
