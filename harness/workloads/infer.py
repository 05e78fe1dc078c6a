"""The inference workload: per-layer cut points and measured bundle latencies (and energy).

DIME's point: the time of a run of layers is not the sum of the layers' times (caches, thread
start-up, operator fusion), so every contiguous run [i, j) up to `max_bundle_len` layers is
timed as one unit, starting from its real input: the activation that real JPEG images produce
at cut i, never zeros. One InferSection per call, for each batch size and each requested clock.

Records written through `emit`: {"type": "progress", ...} while it runs, {"type": "refused",
"reason": ...} when a requested clock cannot be locked here (then ClockLockRefused is raised),
and at the end {"type": "infer", "section": <InferSection without caps/enforced/probes>}.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from harness.profile import InferSection, MedianCI, Stat
from harness.spec import InferSpec, JobSpec
from harness.stopping import Stream
from harness.telemetry import energy as energy_mod
from harness.telemetry.freq import ClockLockRefused, Clocks
from harness.workloads import cuts

Emit = Callable[[dict[str, Any]], None]
MAX_REPEATS = 10_000  # bound on repeats when min_window_s asks for more


# ---------------------------------------------------------------- inputs


def _jpeg_dir(spec: JobSpec, data_dir: str | None) -> Path:
    """The job's own JPEG folder (the one the backend prepared and mounted, read-only)."""
    from harness.workloads.data import prepare_data

    root = prepare_data(spec, data_dir)
    if root is None:  # pragma: no cover - only synthetic data has no folder
        raise FileNotFoundError("no dataset folder for a jpeg job")
    return root


def load_inputs(spec: JobSpec, data_dir: str | None, samples: int) -> tuple[torch.Tensor, str]:
    """[samples, *input_shape] network inputs and a line saying where they came from.

    JPEGs are decoded, resized (shorter side to 1.14 x crop), centre-cropped and normalised the
    way an ImageNet-style eval transform does.
    """
    shape = list(spec.input_shape)
    g = torch.Generator().manual_seed(spec.data.seed)
    if spec.data.source == "synthetic" or len(shape) != 3:
        if len(shape) == 4 and spec.data.source == "volume":
            from harness.workloads.data import list_files, prepare_data

            root = prepare_data(spec, data_dir)
            if root is not None:
                import numpy as np

                files = [f for f, _ in list_files(root, ".npy")][:samples]
                if files:
                    arrs = [torch.from_numpy(np.load(f).astype("float32")) for f in files]
                    x = torch.stack([a.reshape(shape) for a in arrs])
                    return _cycle(x, samples), f"volume:{root}"
        return torch.randn(samples, *shape, generator=g), "synthetic (random normal)"

    from PIL import Image
    from torchvision.transforms import functional as tf

    from harness.workloads.data import MEAN, STD, list_files

    root = _jpeg_dir(spec, data_dir)
    every = [f for f, _ in list_files(root)]
    files = every[:: max(1, len(every) // samples)][:samples]  # spread over the classes
    if not files:
        raise FileNotFoundError(f"{root}: no .jpg files for the profile's inputs")
    c, h, w = shape
    mean, std = (list(MEAN), list(STD)) if c == 3 else ([0.5] * c, [0.5] * c)
    out = []
    for f in files:
        with Image.open(f) as im:
            img = im.convert("RGB" if c == 3 else "L")
            img = tf.resize(img, [int(min(h, w) * 1.14)])
            img = tf.center_crop(img, [h, w])
            t = tf.to_tensor(img)
        out.append(tf.normalize(t, mean, std))
    return _cycle(torch.stack(out), samples), f"jpeg:{root} ({len(files)} files)"


def staged(request: dict[str, Any], name: str) -> Path:
    """A file the host staged beside the probe's records (its folder is the probe's own, in a
    container as on the host): a variant's weights, the digits to push through."""
    return Path(str(request["records"])).parent / name


def digits_inputs(request: dict[str, Any], samples: int) -> tuple[torch.Tensor, str]:
    """Real held-out digits, from the file the host staged (a job image has no scikit-learn)."""
    from harness.workloads.digits import load_samples

    name = (request.get("overrides") or {}).get("inputs_file")
    if not name:
        raise FileNotFoundError("data.source 'digits': no staged inputs file in the request")
    s = load_samples(staged(request, str(name)))
    return _cycle(torch.from_numpy(s.images), samples), f"digits: {len(s.labels)} held-out scans"


def _model(spec: JobSpec, request: dict[str, Any]) -> nn.Module:
    """The job's model: a saved variant when the request names one (its weights staged beside
    the records), else a fresh one with random weights."""
    from harness.workloads.models import build_model

    weights = (request.get("overrides") or {}).get("variant_weights")
    if weights:
        from harness.workloads.repvgg import load_variant

        return load_variant(str(staged(request, str(weights))))
    return build_model(spec.model, spec.num_classes, spec.input_shape, **spec.model_kwargs).eval()


def _cycle(x: torch.Tensor, n: int) -> torch.Tensor:
    idx = [k % x.shape[0] for k in range(n)]
    return x[idx]


def activations(chain: Sequence[tuple[str, nn.Module]], batch: torch.Tensor) -> list[torch.Tensor]:
    """The real tensor at every cut (len(chain) + 1 of them) for one input batch."""
    acts = [batch]
    with torch.inference_mode():
        for _, stage in chain:
            acts.append(stage(acts[-1]))
    return acts


# ---------------------------------------------------------------- timing


def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_call(
    fn: Callable[[], object],
    device: torch.device,
    repeats: int,
    warmup: int,
    min_window_s: float = 0.0,
) -> list[float]:
    """Seconds per call: perf_counter on the CPU, CUDA events on a GPU.

    Runs until both `repeats` calls and `min_window_s` seconds are done (LoadGen's habit).
    """
    sync = _sync(device)
    for _ in range(warmup):
        fn()
    sync()
    out: list[float] = []
    start = time.perf_counter()
    if device.type == "cuda":
        pairs: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        while len(pairs) < repeats or (
            time.perf_counter() - start < min_window_s and len(pairs) < MAX_REPEATS
        ):
            a = torch.cuda.Event(enable_timing=True)
            b = torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            pairs.append((a, b))
            if len(pairs) >= repeats:
                sync()  # so the wall-clock window reflects finished work
        sync()
        out = [a.elapsed_time(b) / 1000.0 for a, b in pairs]
    else:
        while len(out) < repeats or (
            time.perf_counter() - start < min_window_s and len(out) < MAX_REPEATS
        ):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return out


def time_bundle(
    fn: Callable[[], object], device: torch.device, cfg: InferSpec
) -> tuple[list[float], Stream]:
    """Seconds per call of one bundle under the spec's stopping rule, and the stream the rule
    saw (its interval and why it stopped). Fixed mode is `time_call` unchanged; confidence
    mode times one call at a time (on a GPU, each call's end event is waited for) and asks the
    rule after each."""
    rule = cfg.rule()
    stream = Stream(rule)
    if rule.mode == "fixed":
        out = time_call(fn, device, cfg.repeats, cfg.warmup, cfg.min_window_s)
        stream.values = sorted(out)
        stream.stopped = "max_count" if len(out) >= MAX_REPEATS else "fixed_count"
        return out, stream
    sync = _sync(device)
    for _ in range(cfg.warmup):
        fn()
    sync()
    out = []
    start = time.perf_counter()
    while True:
        if device.type == "cuda":
            a = torch.cuda.Event(enable_timing=True)
            b = torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            dt = a.elapsed_time(b) / 1000.0
        else:
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
        out.append(dt)
        if stream.add(dt, time.perf_counter() - start) is not None:
            return out, stream


@dataclass
class AsRun:
    """The whole model timed as a split side runs it (seconds per call): right after another
    call, after each idle gap, and beside a sibling thread sleeping each period in a loop (with
    its wake-ups a second as counted)."""

    back_to_back: list[float] = field(default_factory=list)
    after: dict[float, list[float]] = field(default_factory=dict)
    beside: dict[float, list[float]] = field(default_factory=dict)
    wakes_per_s: dict[float, float] = field(default_factory=dict)


def time_as_run(
    fn: Callable[[], object],
    device: torch.device,
    gaps_s: Sequence[float],
    periods_s: Sequence[float],
    calls: int,
    rounds: int,
) -> AsRun:
    """`rounds` x `calls` times: per gap, a call right after a call, then one after sleeping
    the gap; per period, a call beside a sibling thread that sleeps the period in a loop. The
    back-to-back calls are the reference of both, taken in the same rounds so that a drift of
    the machine's speed falls on all alike. Bounded by counts; the gaps and the sibling are
    the only sleeps."""
    sync = _sync(device)

    def timed() -> float:
        t0 = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - t0

    out = AsRun(after={g: [] for g in gaps_s}, beside={p: [] for p in periods_s})
    woken = {p: [0, 0.0] for p in periods_s}  # wake-ups, seconds the sibling ran
    timed()
    for _ in range(max(1, rounds) * calls):
        for g in gaps_s:
            out.back_to_back.append(timed())
            time.sleep(g)
            out.after[g].append(timed())
        if not gaps_s:
            out.back_to_back.append(timed())
        for p in periods_s:
            stop, woke = threading.Event(), [0]
            th = threading.Thread(target=_sibling, args=(p, stop, woke), daemon=True)
            t0 = time.perf_counter()
            th.start()
            out.beside[p].append(timed())
            stop.set()
            th.join()
            woken[p][0] += woke[0]
            woken[p][1] += time.perf_counter() - t0
    out.wakes_per_s = {p: n / secs if secs > 0 else 0.0 for p, (n, secs) in woken.items()}
    return out


def _sibling(period: float, stop: threading.Event, woke: list[int]) -> None:
    """A thread that sleeps `period` in a loop, counting its wake-ups, until `stop`."""
    while not stop.is_set():
        time.sleep(period)
        woke[0] += 1


def round_counts(repeats: int, rounds: int) -> list[int]:
    """`repeats` calls cut into at most `rounds` rounds, as even as counts allow.

    >>> round_counts(15, 3), round_counts(20, 3), round_counts(2, 3)
    ([5, 5, 5], [7, 7, 6], [1, 1])
    """
    n = max(1, min(rounds, repeats))
    return [repeats // n + (1 if r < repeats % n else 0) for r in range(n)]


@dataclass
class Timed:
    """One bundle's timing over a pass: seconds per timed call, the stream its rule saw, the
    rounds it was taken in, which of its calls (warm-ups included) were timed, in call order,
    and its peak GPU memory (MiB; None on a CPU)."""

    latencies: list[float]
    stream: Stream
    rounds: int = 1
    timed: list[bool] = field(default_factory=list)
    peak_mb: float | None = None


def time_bundles(
    fns: Sequence[Callable[[], object]], device: torch.device, cfg: InferSpec
) -> list[Timed]:
    """Each bundle's timing, for one pass.

    Fixed mode takes each bundle's `repeats` in `cfg.rounds` round-robin rounds over all of
    them (the full warm-up before a bundle's first round, one call before each later one), so
    each median spans the pass; confidence mode times each bundle in one stretch, its rule
    deciding where the stretch ends."""
    counts = round_counts(cfg.repeats, cfg.rounds)
    if cfg.stop != "fixed" or len(counts) <= 1 or len(fns) <= 1:
        counts = [cfg.repeats]
    out = [Timed([], Stream(cfg.rule()), len(counts)) for _ in fns]
    for r, n in enumerate(counts):
        warm = cfg.warmup if r == 0 else min(cfg.warmup, 1)
        for fn, t in zip(fns, out, strict=True):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            if len(counts) == 1:
                lat, t.stream = time_bundle(fn, device, cfg)
            else:
                lat = time_call(fn, device, n, warm, cfg.min_window_s / len(counts))
            t.latencies += lat
            t.timed += [False] * warm + [True] * len(lat)
            if device.type == "cuda":
                peak = torch.cuda.max_memory_allocated(device) / 2**20
                t.peak_mb = max(t.peak_mb or 0.0, peak)
    if len(counts) > 1:
        for t in out:
            t.stream.values = sorted(t.latencies)
            t.stream.stopped = "max_count" if len(t.latencies) >= MAX_REPEATS else "fixed_count"
    return out


def _bundle_fn(
    chain: Sequence[tuple[str, nn.Module]], i: int, j: int, x: torch.Tensor
) -> Callable[[], object]:
    mods = [m for _, m in chain[i:j]]

    def run() -> object:
        y = x
        for m in mods:
            y = m(y)
        return y

    return run


def _cpu_counted(fn: Callable[[], object], into: list[float]) -> Callable[[], object]:
    """`fn`, also appending the process's CPU seconds per call (all threads) to `into`."""

    def run() -> object:
        c0 = time.process_time()
        out = fn()
        into.append(time.process_time() - c0)
        return out

    return run


def bundle_ranges(n_layers: int, max_len: int) -> list[tuple[int, int]]:
    """Every contiguous [i, j) with 1 <= j - i <= max_len."""
    return [(i, j) for i in range(n_layers) for j in range(i + 1, min(n_layers, i + max_len) + 1)]


# ---------------------------------------------------------------- the workload


def _device(request: dict[str, Any]) -> torch.device:
    want = (request.get("overrides") or {}).get("device")
    caps = request.get("caps") or {}
    if want:
        return torch.device(str(want))
    if int(caps.get("gpus") or 0) > 0:
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"caps ask for {caps.get('gpus')} GPU(s) but torch sees no CUDA device here"
            )
        return torch.device("cuda", 0)
    return torch.device("cpu")


def _requested_frequencies(request: dict[str, Any]) -> list[float | None]:
    over = request.get("overrides") or {}
    freqs = over.get("frequencies")
    if freqs:
        return [float(f) for f in freqs]
    f = (request.get("caps") or {}).get("frequency_mhz")
    return [float(f)] if f is not None else [None]


def run_infer(spec: JobSpec, request: dict[str, Any], emit: Emit) -> None:
    """Profile `spec` (kind: infer) under the caps this process runs in; see the module doc.

    request keys used: threads (CPUs granted), data_dir, caps.gpus, caps.frequency_mhz, and
    overrides: device_name, device ('cpu'/'cuda'), frequencies [MHz...], allow_clock_locking,
    shared_gpu (default True), power_log (CSV of timestamp,watts to join), energy (False to
    skip energy windows), batch_sizes / max_bundle_len / repeats / warmup (override the spec).
    """
    t_begin = time.perf_counter()
    over = request.get("overrides") or {}
    cfg = (spec.infer or InferSpec()).model_copy(
        update={
            k: over[k]
            for k in ("batch_sizes", "max_bundle_len", "repeats", "warmup", "samples")
            if k in over and over[k] is not None
        }
    )
    threads = int(request.get("threads") or len(os.sched_getaffinity(0)))
    from harness.workloads.models import set_threads

    set_threads(threads)
    device = _device(request)
    domain: Literal["cpu", "gpu"] = "gpu" if device.type == "cuda" else "cpu"

    # Clocks first: a refused lock should cost nothing else.
    nvml = None
    if domain == "gpu":
        nvml, _ = energy_mod.load_nvml()
    gpu_index = device.index or 0
    clocks = Clocks(domain, gpu_index, tuple(sorted(os.sched_getaffinity(0))), nvml=nvml)
    freqs = _requested_frequencies(request)
    allow = bool(over.get("allow_clock_locking", False))
    shared = bool(over.get("shared_gpu", True))
    for f in freqs:
        reason = (
            None if f is None else clocks.check(f, shared_gpu=shared, allow_clock_locking=allow)
        )
        if reason:
            emit({"type": "refused", "reason": reason, "frequency_mhz": f})
            raise ClockLockRefused(reason)
    available, avail_reason = clocks.available()
    default_observed = clocks.observed()

    model = _model(spec, request)
    chain = cuts.stages(model, spec.input_shape)
    cut_dicts = cuts.cut_points(chain, spec.input_shape)
    layer_dicts = cuts.layers(chain)
    for _, stage in chain:
        stage.to(device).eval()
    images, source = (
        digits_inputs(request, cfg.samples)
        if spec.data.source == "digits"
        else load_inputs(spec, request.get("data_dir"), cfg.samples)
    )
    ranges = bundle_ranges(len(chain), cfg.max_bundle_len)
    total = len(ranges) * len(cfg.batch_sizes) * len(freqs)
    emit(
        {
            "type": "progress",
            "stage": "setup",
            "layers": len(chain),
            "bundles_total": total,
            "threads": threads,
            "device": str(device),
            "inputs": source,
            "setup_s": time.perf_counter() - t_begin,
        }
    )

    power_log = over.get("power_log")
    # An external log, when given, is the energy source: its windows must be recorded for every
    # bundle, and a RAPL/NVML reading beside it would be a second, different answer.
    counter, energy_desc = (
        (None, "external power log") if power_log else _energy_counter(device, over)
    )
    energy_source = "powerlog" if power_log else (counter.source if counter else None)
    energy_reason = None if (counter or power_log) else energy_desc
    windows: list[tuple[int, float, float, int]] = []  # (bundle idx, t0, t1, calls)

    bundles: list[dict[str, Any]] = []
    ctx = _Pass(chain, images, device, cfg, ranges, clocks, counter, bool(power_log), emit, total)
    ctx.energy_reason = energy_reason
    for f in freqs:
        try:
            with clocks.locked(f, shared_gpu=shared, allow_clock_locking=allow):
                bundles += ctx.run(f, windows, len(bundles))
        except ClockLockRefused as exc:
            emit({"type": "refused", "reason": str(exc), "frequency_mhz": f})
            raise

    if power_log:
        energy_mod.apply_power_log(bundles, windows, power_log)

    section = InferSection.model_validate(
        {
            "device_name": str(
                over.get("device_name") or request.get("device_name") or _default_name(request)
            ),
            "device_kind": "cuda" if device.type == "cuda" else "cpu",
            "model": spec.model,
            "layers": layer_dicts,
            "cuts": cut_dicts,
            "batch_sizes": list(cfg.batch_sizes),
            "max_bundle_len": cfg.max_bundle_len,
            "frequencies": {
                "domain": domain,
                "available_mhz": available,
                "requested_mhz": [f for f in freqs if f is not None],
                "default_observed_mhz": default_observed,
                "locking": _locking_line(freqs, avail_reason),
            },
            "energy_source": energy_source,
            "energy_reason": (
                energy_reason
                if energy_source is None
                else f"external power log {power_log}, joined by timestamps"
                if power_log
                else energy_desc
            ),
            "bundles": bundles,
            "after_idle": ctx.after_idle,
            "beside_wakeups": ctx.beside_wakeups,
            "total_s": time.perf_counter() - t_begin,
        }
    )
    emit(
        {
            "type": "infer",
            "section": section.model_dump(mode="json", exclude={"caps", "enforced", "probes"}),
        }
    )


class _Pass:
    """One pass over every batch size and bundle at one clock setting."""

    def __init__(
        self,
        chain: Sequence[tuple[str, nn.Module]],
        images: torch.Tensor,
        device: torch.device,
        cfg: InferSpec,
        ranges: list[tuple[int, int]],
        clocks: Clocks,
        counter: energy_mod.EnergyCounter | None,
        power_log: bool,
        emit: Emit,
        total: int,
    ) -> None:
        self.chain, self.images, self.device, self.cfg = chain, images, device, cfg
        self.ranges, self.clocks, self.counter, self.power_log = ranges, clocks, counter, power_log
        self.emit, self.total, self.done = emit, total, 0
        self.energy_reason: str | None = None
        self.after_idle: list[dict[str, Any]] = []  # at the first clock setting only
        self.beside_wakeups: list[dict[str, Any]] = []
        self.idle_done: set[int] = set()

    def run(
        self, f: float | None, windows: list[tuple[int, float, float, int]], offset: int
    ) -> list[dict[str, Any]]:
        cfg, device = self.cfg, self.device
        sync = _sync(device)
        out: list[dict[str, Any]] = []
        for bs in cfg.batch_sizes:
            batch = _cycle(self.images, bs).to(device)
            acts = activations(self.chain, batch)
            fns = [_bundle_fn(self.chain, i, j, acts[i]) for i, j in self.ranges]
            cpu_calls: list[list[float]] = [[] for _ in fns]
            timed = [
                fn if device.type == "cuda" else _cpu_counted(fn, cpu_calls[k])
                for k, fn in enumerate(fns)
            ]
            with torch.inference_mode():
                timings = time_bundles(timed, device, cfg)
            for k, (i, j) in enumerate(self.ranges):
                tm = timings[k]
                lat, stream = tm.latencies, tm.stream
                cpu_timed = [c for c, on in zip(cpu_calls[k], tm.timed, strict=False) if on]
                e_j, e_reason = None, self.energy_reason
                if self.counter is not None or self.power_log:
                    meter = self.counter or _NullCounter()
                    with torch.inference_mode():
                        joules, calls, t0, t1 = energy_mod.measure_window(
                            meter, fns[k], cfg.energy_window_s, sync
                        )
                    if self.counter is not None:
                        e_j, e_reason = _per_call(joules, calls, cfg.energy_window_s)
                    else:
                        windows.append((offset + len(out), t0, t1, calls))
                stat = Stat.of(lat)
                rec: dict[str, Any] = {
                    "start": i,
                    "end": j,
                    "batch_size": bs,
                    "frequency_mhz": f,
                    "observed_frequency_mhz": self.clocks.observed(),
                    "latency": stat.model_dump(),
                    "cpu_s": statistics.median(cpu_timed) if cpu_timed else None,
                    "median_ci": MedianCI.of(lat, "latency_s", stream.record("latency_s")),
                    "rounds": tm.rounds,
                    "energy_j": e_j,
                    "energy_reason": e_reason,
                    "peak_mem_mb": tm.peak_mb,
                }
                out.append(rec)
                self.done += 1
                self.emit(
                    {
                        "type": "progress",
                        "stage": "bundle",
                        "done": self.done,
                        "total": self.total,
                        "start": i,
                        "end": j,
                        "batch_size": bs,
                        "frequency_mhz": f,
                        "median_s": stat.median,
                        **(
                            {"window": list(windows[-1][1:]), "bundle_index": offset + len(out) - 1}
                            if windows and windows[-1][0] == offset + len(out) - 1
                            else {}
                        ),
                    }
                )
            if (cfg.idle_gaps_ms or cfg.wake_periods_us) and bs not in self.idle_done:
                self.idle_done.add(bs)
                whole = _bundle_fn(self.chain, 0, len(self.chain), acts[0])
                with torch.inference_mode():
                    idle, woke = as_run_records(whole, device, cfg, bs)
                self.after_idle += idle
                self.beside_wakeups += woke
            del acts, batch
        return out


def as_run_records(
    fn: Callable[[], object], device: torch.device, cfg: InferSpec, batch_size: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """InferSection.after_idle and .beside_wakeups entries for one batch size."""
    gaps = [g / 1000.0 for g in cfg.idle_gaps_ms]
    periods = [p / 1e6 for p in cfg.wake_periods_us]
    got = time_as_run(fn, device, gaps, periods, cfg.idle_calls, cfg.rounds)
    ref = statistics.median(got.back_to_back)
    idle = [
        {
            "batch_size": batch_size,
            "gap_s": g,
            "calls": len(xs),
            "after_s": statistics.median(xs),
            "back_to_back_s": ref,
            "ratio": statistics.median(xs) / ref if ref > 0 else 1.0,
        }
        for g, xs in got.after.items()
    ]
    woke = [
        {
            "batch_size": batch_size,
            "wakes_per_s": got.wakes_per_s[p],
            "calls": len(xs),
            "beside_s": statistics.median(xs),
            "alone_s": ref,
            "ratio": statistics.median(xs) / ref if ref > 0 else 1.0,
        }
        for p, xs in got.beside.items()
    ]
    return idle, woke


def _default_name(request: dict[str, Any]) -> str:
    """host-<cpus>cpu, as the sweep names a device when the user gave no --device-name."""
    cpus = (request.get("caps") or {}).get("cpus") or request.get("threads") or 1
    return f"{socket.gethostname()}-{float(cpus):g}cpu"


class _NullCounter:
    source = "none"

    def read_j(self) -> float:
        return 0.0


def _energy_counter(
    device: torch.device, over: dict[str, Any]
) -> tuple[energy_mod.EnergyCounter | None, str]:
    if over.get("energy", True) is False:
        return None, "energy measurement switched off (overrides.energy = false)"
    kind = "cuda" if device.type == "cuda" else "cpu"
    return energy_mod.best_counter(
        kind, device.index or 0, rapl_root=over.get("rapl_root", energy_mod.RAPL_ROOT)
    )


def _per_call(joules: float, calls: int, window_s: float) -> tuple[float | None, str | None]:
    if joules <= 0 or calls <= 0:
        return None, f"energy counter did not advance over a {window_s:g} s window"
    return joules / calls, None


def _locking_line(freqs: Sequence[float | None], avail_reason: str | None) -> str:
    asked = [f for f in freqs if f is not None]
    if not asked:
        base = "not requested: default clock, observed clocks recorded"
        return f"{base} ({avail_reason})" if avail_reason else base
    return f"locked at {', '.join(f'{f:g}' for f in asked)} MHz for each pass, restored after"


def collect(spec: JobSpec, request: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the workload in this process; (section dict, all records). For benches and tests."""
    records: list[dict[str, Any]] = []
    run_infer(spec, request, records.append)
    section = next(r["section"] for r in records if r.get("type") == "infer")
    return section, records
