"""Synthetic model variants for the accuracy-aware split: inference profiles that carry
`Profile.variant` (made without torch), plain instances, and the brute-force optimum.

A family has a reference and pruned variants; pruning a stage by ratio r scales its layers'
latency by about (1 - r)^1.5 and its activations by (1 - r), and costs accuracy that grows with
r^2 and differs per domain (some domains are more sensitive): the shapes real variants have.
Run as a script to write a family's profiles for trying `harness solve`:

    python3 -m tests.factory.accsplit /tmp/acc-profiles
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.profile import (
    DomainAccuracy,
    DomainSplit,
    Enforcement,
    Profile,
    VariantInfo,
    save_profile,
)
from solver.accsplit.instance import AccInstance, Point
from solver.accsplit.problem import AccSplitProblem
from solver.problem import Link
from solver.split.problem import Pins, SplitDevice
from tests.factory.infer_profiles import make_infer_profile

DEFAULT_VARIANTS: tuple[tuple[str, tuple[float, float]], ...] = (
    ("ref", (0.0, 0.0)),
    ("p20", (0.2, 0.2)),
    ("p40a", (0.4, 0.1)),
    ("p40b", (0.1, 0.4)),
    ("p60", (0.6, 0.6)),
)
DEVICES: tuple[tuple[str, float, tuple[float | None, ...]], ...] = (
    ("edge", 1.0, (600.0, 1200.0)),
    ("server", 5.0, (None,)),
)
SAMPLES = 1000  # held-out samples per domain


def domain_split(count: int) -> DomainSplit:
    return DomainSplit(
        dataset="synthetic", holdout_fraction=0.3, split_seed=0, count=count, alpha=0.5, seed=0
    )


def make_variant_profiles(
    *,
    family: str = "toynet",
    variants: Sequence[tuple[str, tuple[float, float]]] = DEFAULT_VARIANTS,
    devices: Sequence[tuple[str, float, tuple[float | None, ...]]] = DEVICES,
    n_layers: int = 6,
    n_domains: int = 4,
    seed: int = 0,
    drop: float = 0.12,
    missing: Sequence[tuple[str, str]] = (),
    branches: dict[str, tuple[list[str], float]] | None = None,
    batch_sizes: tuple[int, ...] = (1, 32),
    quotas: dict[str, float] | None = None,
) -> list[Profile]:
    """Every variant's profile on every device. Stage 0 is the first half of the layers, stage
    1 the rest; `(r0, r1)` are a variant's pruning ratios. `missing` lists (variant, domain)
    pairs whose accuracy is left unmeasured (for the surrogate). `branches`: variant -> (its
    branch configuration per block, a factor on its second stage's latency): variants that
    share ratios and differ in branches (the seed's gamma). `quotas`: device -> the CFS quota
    (CPUs) its profiles say was enforced; their bundles then carry cpu_s = their latency (one
    thread at full speed), so streamed they are busy latency / quota each."""
    rng = random.Random(f"{family}-{seed}")
    base_lat = [rng.uniform(0.004, 0.02) for _ in range(n_layers)]
    size = 3 * 32 * 32
    base_cut = [size * 4]
    for _ in range(n_layers - 1):
        size = max(64, int(size * rng.uniform(0.5, 1.8)))
        base_cut.append(size * 4)
    base_cut.append(10 * 4)
    ref_acc = [rng.uniform(0.88, 0.97) for _ in range(n_domains)]
    sens = [[rng.uniform(0.5, 1.5) for _ in range(2)] for _ in range(n_domains)]
    half = n_layers // 2
    out: list[Profile] = []
    for vid, (r0, r1) in variants:
        ratio = [r0 if i < half else r1 for i in range(n_layers)]
        lat = [t * (1 - r) ** 1.5 for t, r in zip(base_lat, ratio, strict=True)]
        gamma, factor = (branches or {}).get(vid, (None, 1.0))
        lat = [t * (factor if i >= half else 1.0) for i, t in enumerate(lat)]
        cut = [base_cut[0]] + [
            max(4, int(b * (1 - ratio[k - 1]))) for k, b in enumerate(base_cut) if k > 0
        ]
        cut[-1] = base_cut[-1]
        noise = random.Random(f"{family}-{seed}-{vid}")
        doms: dict[str, DomainAccuracy] = {}
        for d in range(n_domains):
            if (vid, f"d{d}") in missing:
                continue
            loss = drop * (sens[d][0] * r0**2 + sens[d][1] * r1**2)
            acc = ref_acc[d] - loss + (noise.uniform(-0.004, 0.004) if r0 or r1 else 0.0)
            correct = max(0, min(SAMPLES, round(acc * SAMPLES)))
            doms[f"d{d}"] = DomainAccuracy(
                accuracy=correct / SAMPLES, samples=SAMPLES, correct=correct
            )
        mean_acc = sum(a.accuracy for a in doms.values()) / max(1, len(doms))
        params = int(1_000_000 * (0.5 * (1 - r0) ** 2 + 0.5 * (1 - r1) ** 2))
        info = VariantInfo(
            family=family,
            id=vid,
            reference=(r0 == 0 and r1 == 0),
            method="factory: synthetic pruning",
            ratios={"stage0": r0, "stage1": r1},
            branches=gamma,
            params=params,
            macs=params * 40,
            weights=f"variants/{family}/{vid}.pt",
            weights_sha256=f"{abs(hash((family, vid))) % 10**16:016d}" + "0" * 48,
            finetune_epochs=1,
            domains=domain_split(n_domains),
            accuracy=mean_acc,
            domain_accuracy=doms,
        )
        for name, speed, freqs in devices:
            prof = make_infer_profile(
                device_name=name,
                model=f"{family}-{vid}",
                n_layers=n_layers,
                max_bundle_len=3,
                batch_sizes=batch_sizes,
                frequencies=freqs,
                speed=speed,
                power_w=8.0 if speed <= 1 else 100.0,
                seed=seed,
                layer_latency_s=lat,
                cut_bytes=cut,
            )
            if quotas and name in quotas:
                prof = with_quota(prof, quotas[name])
            out.append(prof.model_copy(update={"variant": info}))
    return out


def with_quota(prof: Profile, quota: float) -> Profile:
    """`prof` as if profiled under a CFS quota of `quota` CPUs, each bundle's CPU time its
    latency (so a stream of them is throttled to latency / quota each when quota < 1)."""
    inf = prof.infer
    assert inf is not None
    bundles = [b.model_copy(update={"cpu_s": b.latency.median}) for b in inf.bundles]
    enforced = Enforcement(cpu=f"docker --cpus={quota:g}", cpu_quota=quota, torch_threads=1)
    return prof.model_copy(
        update={"infer": inf.model_copy(update={"bundles": bundles, "enforced": enforced})}
    )


def write_family(out: Path, **kw: object) -> list[Path]:
    """`make_variant_profiles(**kw)` as JSON files `<family>-<variant>-<device>.json`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for prof in make_variant_profiles(**kw):  # type: ignore[arg-type]
        assert prof.variant is not None and prof.infer is not None
        p = out / f"{prof.variant.family}-{prof.variant.id}-{prof.infer.device_name}.json"
        save_profile(prof, p)
        paths.append(p)
    return paths


def acc_problem(
    *,
    epsilon: float = 0.03,
    bandwidth_mbps: float = 20.0,
    objective: str = "throughput",
    servers: Sequence[str] = ("server",),
    **kw: object,
) -> AccSplitProblem:
    """Edge + servers, one link each, the given epsilon and objective."""
    return AccSplitProblem.model_validate(
        {
            "devices": [SplitDevice(name="edge")] + [SplitDevice(name=s) for s in servers],
            "links": [
                Link(src="edge", dst=s, bandwidth_up_mbps=bandwidth_mbps, latency_ms=2.0)
                for s in servers
            ],
            "pins": Pins(input="edge"),
            "epsilon": epsilon,
            "objective": objective,
            **kw,
        }
    )


def brute_force(inst: AccInstance, domain: str) -> tuple[float, Point | None]:
    """The least objective over every variant x cut x server x clock pair that meets the
    domain's accuracy bound and the limits (inf, None when nothing does)."""
    best: tuple[float, Point | None] = (math.inf, None)
    bound = inst.bound(domain) - 1e-12
    for v in inst.candidates:
        acc = inst.variants[v].accuracy.get(domain)
        if acc is None or acc.value < bound:
            continue
        for p in inst.points(v):
            if inst.within_limits(p) and inst.value(p) < best[0]:
                best = (inst.value(p), p)
    return best


if __name__ == "__main__":
    for path in write_family(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/acc-profiles")):
        print(path)
