"""The `kind: accsplit` problem file (pydantic): which model variant, where to split it and at
which clocks, per data domain, under an accuracy bound.

A family of model variants (the unpruned reference and its pruned / branch-configured copies,
each an inference profile carrying `Profile.variant`) was profiled on an edge device and on one
or more servers. For each domain the solver picks a variant whose accuracy on that domain is at
least the reference's minus `epsilon`, a cut, a server and a clock per device, for the
objective. Devices pick their profiles as a split problem's do (`SplitDevice.matches`); the
edge is `pins.input`, every other device a server reached over a link from it. Pure pydantic.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.spec import Strict
from solver.problem import (
    MAX_DEVICES,
    Link,
    PositiveAmount,
    PositiveSeconds,
    ProblemError,
    check_device_names,
)
from solver.profiles import Loaded, ProfileSet, profile_cpus
from solver.split.problem import Pins, SplitDevice

Objective = Literal["throughput", "latency", "energy"]

OBJECTIVE_WORDS: dict[str, str] = {
    "throughput": "max streamed throughput (requests/s)",
    "latency": "min end-to-end latency (s)",
    "energy": "min energy per batch (J)",
}


class AccConstraints(Strict):
    latency_max_s: PositiveSeconds | None = None
    energy_max_j: PositiveAmount | None = None


class SurrogateSpec(Strict):
    """The accuracy surrogate fit from the measured variants (solver/accsplit/surrogate.py)."""

    use: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: a variant profiled without a measured accuracy on a domain gets the "
        "surrogate's prediction there (marked so, never reported as measured); off: such a "
        "variant is left out on that domain",
    )
    ridge: Annotated[float, Field(ge=0, le=1e6)] = Field(
        default=1e-3, description="ridge penalty of the least-squares fit"
    )


class GradientSpec(Strict):
    """The seed's own method, kept as a baseline: gradient descent over the LUT."""

    steps: Annotated[int, Field(gt=0, le=100_000)] = 800
    learning_rate: Annotated[float, Field(gt=0, le=100)] = 0.5
    temperature: Annotated[float, Field(gt=0, le=10)] = Field(
        default=0.05, description="of the smooth max over the three stages (relative)"
    )


class AccSplitProblem(Strict):
    kind: Literal["accsplit"] = "accsplit"
    name: str = "accuracy-split"
    family: str | None = Field(
        default=None, description="the variants' family, when the profiles hold several"
    )
    devices: Annotated[list[SplitDevice], Field(min_length=2, max_length=MAX_DEVICES)]
    links: list[Link] = Field(default_factory=list)
    pins: Pins = Field(description="pins.input: the edge device that holds the input")
    epsilon: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.01, description="accuracy a domain may lose against the reference (a share)"
    )
    domains: list[str] = Field(
        default_factory=list, description="domain ids to decide for ('d0', ...); empty = all"
    )
    variants: list[str] = Field(
        default_factory=list,
        description="the variant ids that may run (empty = every one profiled); the bound is "
        "taken from the reference whether or not it may run",
    )
    objective: Objective = "throughput"
    constraints: AccConstraints = Field(default_factory=AccConstraints)
    batch_size: Annotated[int, Field(gt=0, le=1_000_000)] = 1
    precision: Literal["fp32", "fp16"] = "fp32"
    energy_devices: list[str] | None = Field(
        default=None, description="devices whose energy counts (None = all)"
    )
    surrogate: SurrogateSpec = Field(default_factory=SurrogateSpec)
    gradient: GradientSpec = Field(default_factory=GradientSpec)

    @model_validator(mode="after")
    def _names(self) -> AccSplitProblem:
        check_device_names(
            self.devices,
            self.links,
            [("pins.input", self.pins.input), ("pins.output", self.pins.output)],
            [(f"energy_devices.{n}", n) for n in self.energy_devices or []],
        )
        if self.pins.output is not None:
            raise ValueError(
                "pins.output: an accsplit decision leaves the output where the last layer runs "
                "(a server, or the edge when nothing is offloaded); leave pins.output out"
            )
        dup_dom = {d for d in self.domains if self.domains.count(d) > 1}
        if dup_dom:
            raise ValueError(f"domains must be unique, repeated: {sorted(dup_dom)}")
        return self

    @property
    def edge(self) -> str:
        return self.pins.input

    @property
    def servers(self) -> list[str]:
        return [d.name for d in self.devices if d.name != self.pins.input]


# ---------------------------------------------------------------- from profiles alone


def families(profiles: ProfileSet) -> dict[str, list[Loaded]]:
    """The inference profiles that carry a model variant, by the variant's family."""
    out: dict[str, list[Loaded]] = {}
    for it in profiles.of_kind("infer"):
        if it.profile.variant is not None:
            out.setdefault(it.profile.variant.family, []).append(it)
    return out


def per_family(problem: AccSplitProblem, profiles: ProfileSet) -> list[AccSplitProblem]:
    """A problem that names no family, given variants of several: one copy per family, named
    `<name>-<family>`; otherwise the problem itself."""
    fams = families(profiles)
    if problem.family is not None or len(fams) < 2:
        return [problem]
    return [
        problem.model_copy(update={"family": f, "name": f"{problem.name}-{f}"}, deep=True)
        for f in fams
    ]


def default_problem(profiles: ProfileSet) -> AccSplitProblem:
    """No problem file: one family's variants over the devices they were profiled on (two or
    more). The device with 'edge' in its name, else the fewest CPUs, is the edge; every other
    device a server behind a 10 Mbit/s, 5 ms link (the split kind's default); epsilon 0.01,
    every domain, the least batch size every profile has, maximise streamed throughput. Named
    after the family."""
    fams = families(profiles)
    if not fams:
        raise ProblemError("no profile carries a model variant: nothing for accsplit to decide")
    if len(fams) > 1:
        raise ProblemError(f"profiles hold variants of several families {sorted(fams)}")
    ((family, items),) = fams.items()
    groups: dict[tuple[str, float | None], list[Loaded]] = {}
    for it in items:
        assert it.profile.infer is not None
        groups.setdefault((it.profile.infer.device_name, profile_cpus(it.profile)), []).append(it)
    if len(groups) < 2:
        where = ", ".join(str(it.path) for it in items[:3])
        names = sorted({n for n, _ in groups})
        raise ProblemError(
            f"{where}: {family}: variants profiled on one device only ({', '.join(names)}): "
            "nothing to split"
        )
    names = [n for n, _ in groups]
    devices: list[SplitDevice] = []
    cpus: dict[str, float] = {}
    for (name, c), group in groups.items():
        if names.count(name) > 1:  # one name at several caps: one device per cap, by id
            dev = f"{name}-{c:g}cpu" if c is not None else f"{name}-uncapped"
            devices.append(SplitDevice(name=dev, profiles=[it.profile.id for it in group]))
        else:
            dev = name
            devices.append(SplitDevice(name=name))
        cpus[dev] = c if c is not None else math.inf
    edge = min(cpus, key=lambda n: (0 if "edge" in n.lower() else 1, cpus[n], n))
    servers = [n for n in cpus if n != edge]
    ordered = sorted(devices, key=lambda d: d.name != edge)
    sizes = set.intersection(*({b.batch_size for b in it.profile.infer.bundles} for it in items))  # type: ignore[union-attr]
    if not sizes:
        raise ProblemError(
            f"{family}: no batch size was profiled for every variant on every device: "
            "profile them at one common batch size"
        )
    return AccSplitProblem(
        name=family,
        family=family,
        devices=ordered,
        links=[Link(src=edge, dst=n, bandwidth_up_mbps=10.0, latency_ms=5.0) for n in servers],
        pins=Pins(input=edge),
        batch_size=min(sizes),
    )
