"""The `kind: split` problem (pydantic) and the plain instance the SCIP model and the DP share.

The instance is a graph on nodes (cut k, device d) = "the tensor at cut k is on device d":
a compute edge runs layers [i, j) on d at one frequency, (i, d) -> (j, d); a transfer edge moves
the tensor at cut k over a link, (k, a) -> (k, b). A plan is a path from (0, input device) to
(L, output device). Every cost is attached to one edge, so latency and energy are sums along
the path; that is what keeps the latency problem a shortest path (and its LP integral).
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.profile import Profile
from solver.problem import Device, Link, ProblemError, Strict

Objective = Literal["latency", "energy", "weighted"]


# ---------------------------------------------------------------- the problem file


class SplitDevice(Device):
    """A Device that may also pick its profiles by the CPU cap they were measured under."""

    cpus: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="use the profiles measured with this many CPUs"
    )


class Pins(Strict):
    input: str = Field(description="device holding the network input (cut 0)")
    output: str | None = Field(default=None, description="device that needs the output; = input")


class SplitConstraints(Strict):
    latency_max_s: Annotated[float, Field(gt=0)] | None = None
    energy_max_j: Annotated[float, Field(gt=0)] | None = None
    memory_mb: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="per device, for the weights of the layers placed there (MB); overrides "
        "devices[].memory_mb",
    )


class FrontSpec(Strict):
    enabled: bool = True
    resolution: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.0,
        description="relative latency step between front points; 0 = every point (exact)",
    )
    time_limit_s: Annotated[float, Field(gt=0)] = 120.0
    method: Literal["auto", "scip", "dp"] = Field(
        default="auto",
        description="scip: epsilon-constraints on one SCIP model until no plan is left; dp: the "
        "label DP with SCIP certifying both ends (no memory limits); auto: dp unless memory "
        "limits exist, else scip",
    )


class SplitProblem(Strict):
    kind: Literal["split"] = "split"
    name: str = "split"
    model: str | None = Field(default=None, description="which model, when profiles hold several")
    devices: Annotated[list[SplitDevice], Field(min_length=1)]
    links: list[Link] = Field(default_factory=list)
    pins: Pins
    max_bundle_len: Annotated[int, Field(gt=0)] | None = None
    objective: Objective = "latency"
    eta: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.5, description="weight of latency in 'weighted' (1 - eta on energy)"
    )
    constraints: SplitConstraints = Field(default_factory=SplitConstraints)
    batch_size: Annotated[int, Field(gt=0)] = 1
    precision: Literal["fp32", "fp16"] = "fp32"
    energy_devices: list[str] | None = Field(
        default=None, description="devices whose energy counts (None = all); DIME counts the edge"
    )
    front: FrontSpec = Field(default_factory=FrontSpec)

    @model_validator(mode="after")
    def _names(self) -> SplitProblem:
        names = [d.name for d in self.devices]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"device names must be unique, repeated: {sorted(dup)}")
        known = set(names)
        refs = [("pins.input", self.pins.input), ("pins.output", self.pins.output)]
        refs += [(f"links.{i}.src", lk.src) for i, lk in enumerate(self.links)]
        refs += [(f"links.{i}.dst", lk.dst) for i, lk in enumerate(self.links)]
        refs += [(f"energy_devices.{n}", n) for n in self.energy_devices or []]
        refs += [(f"constraints.memory_mb.{n}", n) for n in self.constraints.memory_mb]
        for where, n in refs:
            if n is not None and n not in known:
                raise ValueError(f"{where} names device {n!r}, not one of {sorted(known)}")
        return self

    @property
    def output_device(self) -> str:
        return self.pins.output or self.pins.input


# ---------------------------------------------------------------- the plain instance


@dataclass(frozen=True)
class Option:
    """Compute edge: layers [start, end) on `device` at `freq` (None = default clock)."""

    device: int
    freq: float | None
    start: int
    end: int
    latency: float
    energy: float  # own energy (if counted) + idle power of the other counted devices meanwhile
    memory_mb: float = 0.0


@dataclass(frozen=True)
class Transfer:
    """Transfer edge: the tensor at `cut` goes from device `src` to device `dst`."""

    cut: int
    src: int
    dst: int
    latency: float
    energy: float
    nbytes: float


@dataclass
class SplitInstance:
    n_layers: int
    devices: list[str]
    options: list[Option]
    transfers: list[Transfer]
    source: int
    sink: int
    memory_mb: list[float | None] = field(default_factory=list)
    energy_known: bool = True
    energy_note: str = ""
    layer_names: list[str] = field(default_factory=list)
    latency_max: float | None = None
    energy_max: float | None = None

    def __post_init__(self) -> None:
        if not self.memory_mb:
            self.memory_mb = [None] * len(self.devices)
        if not self.layer_names:
            self.layer_names = [f"layer{i}" for i in range(self.n_layers)]

    def restricted(
        self,
        keep_option: object = None,
        keep_transfer: object = None,
    ) -> SplitInstance:
        """Same instance with fewer edges (baselines: one device, one clock, one cut)."""
        opts = [o for o in self.options if keep_option is None or keep_option(o)]  # type: ignore[operator]
        trs = [t for t in self.transfers if keep_transfer is None or keep_transfer(t)]  # type: ignore[operator]
        return replace(self, options=opts, transfers=trs)

    def freqs_of(self, device: int) -> list[float | None]:
        return sorted(
            {o.freq for o in self.options if o.device == device},
            key=lambda f: -1.0 if f is None else f,
        )


# ---------------------------------------------------------------- profiles -> instance


@dataclass(frozen=True)
class Loaded:
    path: Path
    profile: Profile


def profile_cpus(profile: Profile) -> float | None:
    """CPUs a profile was measured with: its caps, its probes' caps, or a '-<n>cpu' name."""
    infer = profile.infer
    if infer is None:
        return None
    if infer.caps is not None:
        return infer.caps.cpus
    if infer.probes:
        return infer.probes[0].caps.cpus
    m = re.search(r"-(\d+(?:\.\d+)?)cpus?$", infer.device_name)
    return float(m.group(1)) if m else None


def _matches(dev: SplitDevice, item: Loaded) -> bool:
    infer = item.profile.infer
    assert infer is not None
    if not dev.profiles and dev.cpus is None:
        return infer.device_name == dev.name
    ok = True
    if dev.profiles:
        keys = {str(item.path), item.path.name, item.path.stem, item.profile.id}
        ok = any(fnmatch.fnmatch(k, pat) for pat in dev.profiles for k in keys)
    if dev.cpus is not None:
        cpus = profile_cpus(item.profile)
        ok = ok and cpus is not None and abs(cpus - dev.cpus) < 1e-9
    return ok


def select_model(items: list[Loaded], model: str | None) -> list[Loaded]:
    """Keep the inference profiles of one model; mixed models are an error unless chosen."""
    for it in items:
        if it.profile.infer is None:
            raise ProblemError(
                f"{it.path}: kind {it.profile.kind!r}: the split solver needs inference profiles"
            )
    models = sorted({it.profile.infer.model for it in items if it.profile.infer})
    if model is not None:
        chosen = [it for it in items if it.profile.infer and it.profile.infer.model == model]
        if not chosen:
            raise ProblemError(f"field 'model': no profile of model {model!r}; profiles: {models}")
        return chosen
    if len(models) > 1:
        by = {m: next(it.path.name for it in items if it.profile.infer.model == m) for m in models}  # type: ignore[union-attr]
        desc = ", ".join(f"{p} is {m!r}" for m, p in by.items())
        raise ProblemError(
            f"profiles are of different models ({desc}); pass one model's profiles "
            "or set 'model:' in the problem"
        )
    return items


def build_instance(problem: SplitProblem, items: list[Loaded]) -> SplitInstance:
    """Check that the profiles fit together and the problem, and make the plain instance."""
    items = select_model(items, problem.model)
    ref = items[0]
    ref_inf = ref.profile.infer
    assert ref_inf is not None
    n = len(ref_inf.layers)
    names = [ly.name for ly in ref_inf.layers]
    for it in items[1:]:
        inf = it.profile.infer
        assert inf is not None
        if [ly.name for ly in inf.layers] != names:
            raise ProblemError(
                f"{it.path}: its {len(inf.layers)} layers differ from {ref.path.name}'s {n} "
                "layers: the cut points do not line up"
            )
        for cut, ref_cut in zip(inf.cuts, ref_inf.cuts, strict=True):
            if cut.bytes_fp32 != ref_cut.bytes_fp32:
                raise ProblemError(
                    f"{it.path}: cut {cut.index} is {cut.bytes_fp32} bytes, "
                    f"{ref.path.name} says {ref_cut.bytes_fp32}: not the same model"
                )
    cut_bytes = [
        float((c.bytes_fp32 if problem.precision == "fp32" else c.bytes_fp16) * problem.batch_size)
        for c in ref_inf.cuts
    ]
    param_bytes = 4.0 if problem.precision == "fp32" else 2.0
    dev_names = [d.name for d in problem.devices]
    counted = set(problem.energy_devices if problem.energy_devices is not None else dev_names)
    idle = {
        d.name: (d.power.idle_w if d.power is not None and d.name in counted else 0.0)
        for d in problem.devices
    }
    idle_total = sum(idle.values())
    options: list[Option] = []
    unknown_energy: list[str] = []
    memory: list[float | None] = []
    for di, dev in enumerate(problem.devices):
        theirs = [it for it in items if _matches(dev, it)]
        if not theirs:
            have = sorted({it.profile.infer.device_name for it in items if it.profile.infer})
            raise ProblemError(
                f"no profile for device {dev.name!r} (problem devices[{di}]); "
                f"the profiles given are for devices {have}"
            )
        memory.append(problem.constraints.memory_mb.get(dev.name, dev.memory_mb))
        seen: set[tuple[int, int, float | None]] = set()
        sizes: set[int] = set()
        freqs_have: set[float | None] = set()
        for item in theirs:
            inf = item.profile.infer
            assert inf is not None
            sizes.update(inf.batch_sizes)
            params = [ly.params for ly in inf.layers]
            for b in inf.bundles:
                sizes.add(b.batch_size)
                if b.batch_size != problem.batch_size:
                    continue
                freqs_have.add(b.frequency_mhz)
                if dev.frequencies_mhz is not None and b.frequency_mhz not in dev.frequencies_mhz:
                    continue
                if problem.max_bundle_len is not None and b.end - b.start > problem.max_bundle_len:
                    continue
                key = (b.start, b.end, b.frequency_mhz)
                if key in seen:
                    continue
                seen.add(key)
                lat = b.latency.median
                own: float | None = b.energy_j
                if own is None and dev.power is not None:
                    own = dev.power.compute_w * lat
                if dev.name in counted and own is None:
                    unknown_energy.append(dev.name)
                    own = math.nan
                energy = (own if dev.name in counted else 0.0) + (idle_total - idle[dev.name]) * lat  # type: ignore[operator]
                # weights stay resident where their layers run; a bundle's peak RSS includes
                # the runtime itself, so summing those over bundles would count it many times
                mem = param_bytes * sum(params[b.start : b.end]) / 1e6
                options.append(Option(di, b.frequency_mhz, b.start, b.end, lat, energy, mem))
        if problem.batch_size not in sizes:
            raise ProblemError(
                f"field 'batch_size': {problem.batch_size} was not profiled on device "
                f"{dev.name!r} (its profiles have batch sizes {sorted(sizes)})"
            )
        if dev.frequencies_mhz is not None:
            missing = [f for f in dev.frequencies_mhz if f not in freqs_have]
            if missing:
                raise ProblemError(
                    f"devices[{di}].frequencies_mhz: {missing} MHz not profiled on {dev.name!r} "
                    f"(profiled: {sorted(f for f in freqs_have if f is not None)})"
                )
    transfers = _transfers(problem, cut_bytes, counted, idle_total)
    inst = SplitInstance(
        n_layers=n,
        devices=dev_names,
        options=options,
        transfers=transfers,
        source=dev_names.index(problem.pins.input),
        sink=dev_names.index(problem.output_device),
        memory_mb=memory,
        energy_known=not unknown_energy,
        energy_note=(
            f"energy unknown: device {unknown_energy[0]!r} has bundles without measured energy "
            "and no power model (give devices[].power)"
            if unknown_energy
            else ""
        ),
        layer_names=names,
        latency_max=problem.constraints.latency_max_s,
        energy_max=problem.constraints.energy_max_j,
    )
    _check_coverage(inst)
    return inst


def _transfers(
    problem: SplitProblem, cut_bytes: list[float], counted: set[str], idle_total: float
) -> list[Transfer]:
    names = [d.name for d in problem.devices]
    out: list[Transfer] = []
    for lk in problem.links:
        a, b = names.index(lk.src), names.index(lk.dst)
        for src, dst, bw in ((a, b, lk.bandwidth_up_mbps), (b, a, lk.bandwidth_down_mbps)):
            bw = bw if bw is not None else lk.bandwidth_up_mbps
            radio = lk.alpha_w_per_mbps * bw + lk.beta_w
            charged = names[src] in counted or names[dst] in counted
            for k, nbytes in enumerate(cut_bytes):
                t = lk.latency_ms / 1e3 + nbytes * 8.0 / (bw * 1e6)
                e = (radio * t if charged else 0.0) + idle_total * t
                out.append(Transfer(k, src, dst, t, e, nbytes))
    return out


def _check_coverage(inst: SplitInstance) -> None:
    """Every layer must start some bundle somewhere, or no plan exists; say which one."""
    starts = {o.start for o in inst.options}
    for i in range(inst.n_layers):
        if i not in starts:
            raise ProblemError(
                f"no bundle starts at layer {i} ({inst.layer_names[i]!r}) on any device at this "
                "batch size and frequency choice: the profiles miss that cut point"
            )


def default_problem(items: list[Loaded]) -> SplitProblem:
    """No problem file: the device with 'edge' in its name, else the fewest CPUs, holds input
    and output; every other device is a server behind a 10 Mbit/s, 5 ms link; minimise latency.
    Profiles of one device name made under different CPU caps become separate devices."""
    items = select_model(items, None)
    groups: dict[tuple[str, float | None], list[Loaded]] = {}
    for it in items:
        inf = it.profile.infer
        assert inf is not None
        cpus = profile_cpus(it.profile)
        groups.setdefault((inf.device_name, cpus), []).append(it)
    names = [n for n, _ in groups]
    devices: list[SplitDevice] = []
    cpus_of: dict[str, float] = {}
    for (name, cpus), group in groups.items():
        if names.count(name) > 1:
            ids = [it.profile.id for it in group]
            dev_name = f"{name}-{cpus:g}cpu" if cpus is not None else f"{name}-uncapped"
            devices.append(SplitDevice(name=dev_name, profiles=ids))
        else:
            dev_name = name
            devices.append(SplitDevice(name=name))
        cpus_of[dev_name] = cpus if cpus is not None else math.inf

    def edginess(d: SplitDevice) -> tuple[int, float]:
        return (0 if "edge" in d.name.lower() else 1, cpus_of[d.name])

    edge = min(devices, key=edginess)
    links = [
        Link(src=edge.name, dst=d.name, bandwidth_up_mbps=10.0, latency_ms=5.0)
        for d in devices
        if d.name != edge.name
    ]
    model = items[0].profile.infer.model if items[0].profile.infer else None
    return SplitProblem(
        name=f"{model}-default",
        devices=[edge] + [d for d in devices if d.name != edge.name],
        links=links,
        pins=Pins(input=edge.name),
        objective="latency",
    )
