"""Profiles + a split problem -> the plain instance the SCIP model, the DP and the checker share.

The instance is a graph on nodes (cut k, device d) = "the tensor at cut k is on device d":
a compute edge runs layers [i, j) on d at one frequency, (i, d) -> (j, d); a transfer edge moves
the tensor at cut k over a link, (k, a) -> (k, b). A plan is a path from (0, input device) to
(L, output device). Every cost is attached to one edge, so latency and energy are sums along
the path; that is what keeps the latency problem a shortest path (and its LP integral).
Energy of an edge: its own device's (or the link's radio) when counted, plus the idle power of
every other counted device while it runs. Pure Python: no SCIP, no numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from harness.profile import InferSection
from solver.problem import MAX_AMOUNT, MAX_SECONDS, FileError, ProblemError, beyond
from solver.profiles import Loaded, ProfileSet
from solver.split.problem import SplitDevice, SplitProblem, one_model


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
    profiles: list[Loaded] = field(default_factory=list)  # what it was built from

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


def device_profiles(problem: SplitProblem, profiles: ProfileSet) -> list[list[Loaded]]:
    """Each device's inference profiles, of one model (the problem's, or the only one)."""
    matched: list[list[Loaded]] = []
    for di, dev in enumerate(problem.devices):
        matched.append([it for it in _candidates(dev, di, profiles) if dev.matches(it)])
    union = list({id(it): it for group in matched for it in group}.values())
    if union:
        chosen = {id(it) for it in one_model(union, problem.model)}
        matched = [[it for it in group if id(it) in chosen] for group in matched]
    for di, (dev, group) in enumerate(zip(problem.devices, matched, strict=True)):
        if group:
            continue
        if not len(profiles) and not dev.profiles:
            raise ProblemError("no profiles given: pass inference profiles (profiles/*.json)")
        have = sorted({it.profile.infer.device_name for it in profiles if it.profile.infer})
        of = f" of model {problem.model!r}" if problem.model else ""
        raise ProblemError(
            f"no profile{of} for device {dev.name!r} (problem devices[{di}]); "
            f"the profiles given are for devices {have}"
        )
    return matched


def _candidates(dev: SplitDevice, di: int, profiles: ProfileSet) -> list[Loaded]:
    """The profiles a device names (each reference must name one), else every one given."""
    if not dev.profiles:
        return list(profiles)
    out: dict[int, Loaded] = {}
    for j, ref in enumerate(dev.profiles):
        for it in profiles.find(ref, f"devices.{di}.profiles.{j}"):
            if it.profile.infer is None:
                raise ProblemError(
                    f"devices.{di}.profiles.{j}: {it.path} is a {it.profile.kind!r} profile: "
                    "the split solver needs inference profiles"
                )
            out[id(it)] = it
    return list(out.values())


def _check_fit(items: list[Loaded]) -> InferSection:
    """Every profile is of the same network (layers and cut sizes); returns the first one's."""
    ref = items[0]
    ref_inf = ref.profile.infer
    assert ref_inf is not None
    names = [ly.name for ly in ref_inf.layers]
    for it in items[1:]:
        inf = it.profile.infer
        assert inf is not None
        if [ly.name for ly in inf.layers] != names:
            raise ProblemError(
                f"{it.path}: its {len(inf.layers)} layers differ from {ref.path.name}'s "
                f"{len(names)} layers: the cut points do not line up"
            )
        for cut, ref_cut in zip(inf.cuts, ref_inf.cuts, strict=True):
            if cut.bytes_fp32 != ref_cut.bytes_fp32:
                raise ProblemError(
                    f"{it.path}: cut {cut.index} is {cut.bytes_fp32} bytes, "
                    f"{ref.path.name} says {ref_cut.bytes_fp32}: not the same model"
                )
    return ref_inf


@dataclass(frozen=True)
class _Energy:
    """Which devices' energy counts, and the idle power each adds while another one works."""

    counted: set[str]
    idle: dict[str, float]

    @classmethod
    def of(cls, problem: SplitProblem) -> _Energy:
        names = [d.name for d in problem.devices]
        counted = set(problem.energy_devices if problem.energy_devices is not None else names)
        idle = {
            d.name: (d.power.idle_w if d.power is not None and d.name in counted else 0.0)
            for d in problem.devices
        }
        return cls(counted, idle)

    @property
    def idle_total(self) -> float:
        return sum(self.idle.values())


def build_instance(problem: SplitProblem, profiles: ProfileSet) -> SplitInstance:
    """Check that the profiles fit together and the problem, and make the plain instance."""
    per_device = device_profiles(problem, profiles)
    items = list({id(it): it for group in per_device for it in group}.values())
    ref_inf = _check_fit(items)
    cut_bytes = [
        float((c.bytes_fp32 if problem.precision == "fp32" else c.bytes_fp16) * problem.batch_size)
        for c in ref_inf.cuts
    ]
    energy = _Energy.of(problem)
    options: list[Option] = []
    unknown_energy: list[str] = []
    for di, (dev, theirs) in enumerate(zip(problem.devices, per_device, strict=True)):
        opts = _options(problem, di, dev, theirs, energy)
        unknown_energy += [dev.name] if any(math.isnan(o.energy) for o in opts) else []
        options += opts
    dev_names = [d.name for d in problem.devices]
    inst = SplitInstance(
        n_layers=len(ref_inf.layers),
        devices=dev_names,
        options=options,
        transfers=_transfers(problem, cut_bytes, energy),
        source=dev_names.index(problem.pins.input),
        sink=dev_names.index(problem.output_device),
        memory_mb=[problem.constraints.memory_mb.get(d.name, d.memory_mb) for d in problem.devices],
        energy_known=not unknown_energy,
        energy_note=(
            f"energy unknown: device {unknown_energy[0]!r} has bundles without measured energy "
            "and no power model (give devices[].power)"
            if unknown_energy
            else ""
        ),
        layer_names=[ly.name for ly in ref_inf.layers],
        latency_max=problem.constraints.latency_max_s,
        energy_max=problem.constraints.energy_max_j,
        profiles=items,
    )
    _check_coverage(inst)
    return inst


def _options(
    problem: SplitProblem, di: int, dev: SplitDevice, theirs: list[Loaded], energy: _Energy
) -> list[Option]:
    """The compute edges of one device: one per profiled bundle and clock at the batch size
    (the first profile that has it wins); energy NaN where it is counted but unknown."""
    param_bytes = 4.0 if problem.precision == "fp32" else 2.0
    counted = dev.name in energy.counted
    others_idle = energy.idle_total - energy.idle[dev.name]
    out: list[Option] = []
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
            mine = (math.nan if own is None else own) if counted else 0.0
            # weights stay resident where their layers run; a bundle's peak RSS includes
            # the runtime itself, so summing those over bundles would count it many times
            mem = param_bytes * sum(params[b.start : b.end]) / 1e6
            en = mine + others_idle * lat
            unknown = math.isnan(en)  # counted but not measured: the energy check says so
            if (
                beyond(lat, MAX_SECONDS)
                or beyond(mem, MAX_AMOUNT)
                or (not unknown and beyond(en, MAX_AMOUNT))
            ):
                raise FileError(
                    f"{item.path}: field 'infer.bundles' (layers {b.start}-{b.end}, batch "
                    f"{b.batch_size}): {lat:g} s, {en:g} J, {mem:g} MB: past what a model takes "
                    f"(at most {MAX_SECONDS:g} s, {MAX_AMOUNT:g} J and MB)"
                )
            out.append(Option(di, b.frequency_mhz, b.start, b.end, lat, en, mem))
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
    return out


def _transfers(problem: SplitProblem, cut_bytes: list[float], energy: _Energy) -> list[Transfer]:
    names = [d.name for d in problem.devices]
    out: list[Transfer] = []
    for lk in problem.links:
        a, b = names.index(lk.src), names.index(lk.dst)
        for src, dst, bw in ((a, b, lk.bandwidth_up_mbps), (b, a, lk.bandwidth_down_mbps)):
            bw = bw if bw is not None else lk.bandwidth_up_mbps
            radio = lk.alpha_w_per_mbps * bw + lk.beta_w
            charged = names[src] in energy.counted or names[dst] in energy.counted
            for k, nbytes in enumerate(cut_bytes):
                t = lk.latency_ms / 1e3 + nbytes * 8.0 / (bw * 1e6)
                e = (radio * t if charged else 0.0) + energy.idle_total * t
                if beyond(t, MAX_SECONDS) or beyond(e, MAX_AMOUNT):
                    raise ProblemError(
                        f"field 'links': the tensor at cut {k} ({nbytes:g} bytes) takes {t:g} s "
                        f"and {e:g} J from {names[src]!r} to {names[dst]!r}: past what a model "
                        f"takes (at most {MAX_SECONDS:g} s, {MAX_AMOUNT:g} J)"
                    )
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
