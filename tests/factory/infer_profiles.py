"""Valid inference Profiles made without torch, for solver tests and for trying `harness solve`.

The numbers follow the shapes real profiles have: a bundle's latency is a little less than the
sum of its layers' (DIME's point), a higher clock is faster but costs more power, and
activations shrink along the network. Run as a script to write a few JSON files:

    python3 -m tests.factory.infer_profiles /tmp/synth-profiles
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path

from harness.profile import (
    BundleTiming,
    Caps,
    CutPoint,
    FrequencyInfo,
    HostFacts,
    IdleTiming,
    InferSection,
    Layer,
    Profile,
    Stat,
    WakeTiming,
    make_profile_id,
    save_profile,
)
from harness.spec import InferSpec, JobKind, JobSpec
from solver.split.instance import Option, SplitInstance, Transfer


def make_infer_profile(
    *,
    device_name: str,
    model: str = "toynet",
    n_layers: int = 6,
    max_bundle_len: int = 3,
    batch_sizes: tuple[int, ...] = (1,),
    frequencies: tuple[float | None, ...] = (None,),
    speed: float = 1.0,
    with_energy: bool = True,
    power_w: float = 10.0,
    cpus: float = 1.0,
    seed: int = 0,
    layer_latency_s: list[float] | None = None,
    cut_bytes: list[int] | None = None,
    after_idle: list[tuple[float, float]] | None = None,
    beside_wakeups: list[tuple[float, float]] | None = None,
) -> Profile:
    """One device's profile of `model`: every bundle up to max_bundle_len, at each batch size
    and frequency. `speed` divides latencies (a server is faster than an edge device); the
    layer structure (names, cuts) depends only on `model` and `n_layers`, so profiles of one
    model on several devices fit together. `after_idle`: (gap s, ratio), `beside_wakeups`:
    (wake-ups per s, ratio), at every batch size."""
    struct = random.Random(f"{model}-{n_layers}")
    rng = random.Random(f"{model}-{device_name}-{seed}")
    if layer_latency_s is None:
        layer_latency_s = [struct.uniform(0.002, 0.02) for _ in range(n_layers)]
    if cut_bytes is None:
        size = 3 * 224 * 224
        cut_bytes = [size * 4]
        for _ in range(n_layers - 1):
            size = max(16, int(size * struct.uniform(0.3, 1.6)))
            cut_bytes.append(size * 4)
        cut_bytes.append(1000 * 4)
    layers = [
        Layer(index=i, name=f"layer{i}", kind="Conv2d", params=struct.randint(1_000, 2_000_000))
        for i in range(n_layers)
    ]
    cuts = [
        CutPoint(
            index=k,
            after=None if k == 0 else f"layer{k - 1}",
            shape=[b // 4],
            numel=b // 4,
            bytes_fp32=b,
            bytes_fp16=b // 2,
        )
        for k, b in enumerate(cut_bytes)
    ]
    nominal = max((f for f in frequencies if f is not None), default=1000.0)
    bundles: list[BundleTiming] = []
    for bs in batch_sizes:
        for f in frequencies:
            scale = 1.0 if f is None else nominal / f
            # power grows with the clock: static + dynamic * (f / nominal)^3
            p = power_w * (0.4 + 0.6 * (1.0 / scale) ** 3)
            for i in range(n_layers):
                for j in range(i + 1, min(n_layers, i + max_bundle_len) + 1):
                    base = sum(layer_latency_s[i:j]) * (1.0 - 0.05 * (j - i - 1))
                    lat = base * scale * (0.6 + 0.4 * bs) / speed * rng.uniform(0.97, 1.03)
                    bundles.append(
                        BundleTiming(
                            start=i,
                            end=j,
                            batch_size=bs,
                            frequency_mhz=f,
                            observed_frequency_mhz=f,
                            latency=Stat.of([lat * 0.99, lat, lat * 1.01]),
                            energy_j=p * lat if with_energy else None,
                            energy_reason=None if with_energy else "no energy counter (factory)",
                            peak_mem_mb=5.0 + 2.0 * (j - i),
                        )
                    )
    infer = InferSection(
        device_name=device_name,
        model=model,
        layers=layers,
        cuts=cuts,
        batch_sizes=list(batch_sizes),
        max_bundle_len=max_bundle_len,
        frequencies=FrequencyInfo(
            domain="cpu" if any(f is not None for f in frequencies) else "none",
            available_mhz=[f for f in frequencies if f is not None],
            requested_mhz=[f for f in frequencies if f is not None],
        ),
        energy_source="factory" if with_energy else None,
        energy_reason=None if with_energy else "no energy counter (factory)",
        bundles=bundles,
        caps=Caps(cpus=cpus),
        after_idle=[
            IdleTiming(
                batch_size=bs, gap_s=g, calls=9, after_s=0.01 * r, back_to_back_s=0.01, ratio=r
            )
            for bs in batch_sizes
            for g, r in after_idle or []
        ],
        beside_wakeups=[
            WakeTiming(
                batch_size=bs, wakes_per_s=w, calls=9, beside_s=0.01 * r, alone_s=0.01, ratio=r
            )
            for bs in batch_sizes
            for w, r in beside_wakeups or []
        ],
    )
    created = datetime(2026, 1, 1, tzinfo=UTC)
    job = JobSpec(name=f"{model}-infer", kind=JobKind.infer, model=model, infer=InferSpec())
    host = HostFacts(
        hostname=f"{device_name}-host",
        cpu_model="factory cpu",
        cores=8,
        memory_gb=16.0,
        os="linux",
        python_version="3.11",
        node_label=device_name,
    )
    return Profile(
        id=make_profile_id(job.name, host.hostname, created, extra=f"{device_name}-{seed}"),
        created=created,
        harness_version="0.1.0",
        kind="infer",
        job=job,
        host=host,
        backend="factory",
        infer=infer,
    )


def write_examples(out: Path) -> list[Path]:
    """An edge and a server profile of one model (with DVFS on the edge), for the CLI."""
    out.mkdir(parents=True, exist_ok=True)
    edge = make_infer_profile(
        device_name="edge",
        n_layers=10,
        max_bundle_len=4,
        frequencies=(600.0, 900.0, 1200.0, 1500.0),
        power_w=6.0,
        cpus=1.0,
    )
    server = make_infer_profile(
        device_name="server", n_layers=10, max_bundle_len=4, speed=6.0, power_w=120.0, cpus=2.0
    )
    other = make_infer_profile(device_name="edge", model="othernet", n_layers=8)
    paths = []
    for name, prof in (("toynet-edge", edge), ("toynet-server", server), ("othernet", other)):
        p = out / f"{name}.json"
        save_profile(prof, p)
        paths.append(p)
    return paths


if __name__ == "__main__":
    for path in write_examples(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/synth-profiles")):
        print(path)


def random_instance(
    n_layers: int,
    n_devices: int = 2,
    n_freqs: int = 1,
    max_len: int = 4,
    seed: int = 0,
    *,
    latency_max: float | None = None,
    memory: bool = False,
) -> SplitInstance:
    """A plain instance shaped like real ones (no profiles): device 0 is a slow edge device with
    DVFS, the others are faster; every pair of devices is linked; energies from power models."""
    rng = random.Random(seed)
    layer = [rng.uniform(0.001, 0.02) for _ in range(n_layers)]
    size = 3 * 224 * 224 * 4.0
    cut_bytes = [size]
    for _ in range(n_layers - 1):
        size = max(64.0, size * rng.uniform(0.4, 1.5))
        cut_bytes.append(size)
    cut_bytes.append(4000.0)
    speeds = [1.0] + [rng.uniform(2.0, 8.0) for _ in range(n_devices - 1)]
    powers = [5.0] + [rng.uniform(0.5, 3.0) for _ in range(n_devices - 1)]
    options: list[Option] = []
    for d in range(n_devices):
        freqs: list[float | None] = (
            [None] if n_freqs == 1 else [600.0 + 900.0 * q / (n_freqs - 1) for q in range(n_freqs)]
        )
        for f in freqs:
            scale = 1.0 if f is None else 1500.0 / f
            power = powers[d] * (0.3 + 0.7 * (1.0 / scale) ** 3)
            for i in range(n_layers):
                for j in range(i + 1, min(n_layers, i + max_len) + 1):
                    base = sum(layer[i:j]) * (1.0 - 0.04 * (j - i - 1)) * rng.uniform(0.95, 1.05)
                    # part of the time is memory-bound and does not scale with the clock
                    lat = base * (0.3 + 0.7 * scale) / speeds[d]
                    mem = 10.0 + 5.0 * (j - i)
                    options.append(Option(d, f, i, j, lat, power * lat, mem))
    transfers: list[Transfer] = []
    for a in range(n_devices):
        for b in range(n_devices):
            if a == b:
                continue
            bw = rng.uniform(5.0, 100.0) * 1e6
            lat0 = rng.uniform(0.001, 0.02)
            radio = rng.uniform(0.5, 2.0)
            for k, nb in enumerate(cut_bytes):
                t = lat0 + nb * 8.0 / bw
                transfers.append(Transfer(k, a, b, t, radio * t, nb))
    caps: list[float | None] = [None] * n_devices
    if memory:
        caps[0] = 10.0 * n_layers
    return SplitInstance(
        n_layers=n_layers,
        devices=[f"dev{d}" for d in range(n_devices)],
        options=options,
        transfers=transfers,
        source=0,
        sink=0,
        memory_mb=caps,
        latency_max=latency_max,
    )
