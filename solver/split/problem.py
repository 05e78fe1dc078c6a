"""The `kind: split` problem file (pydantic), the default problem and the per-model copies.

A device picks its profiles by name (`infer.device_name`), by the references in `profiles`
(resolved by `solver.profiles`), or by the CPU cap they were measured under (`cpus`). Without a
problem file, `default_problem` derives one from one model's profiles; `per_model` turns a
problem that names no model into one problem per model the profiles hold. Pure pydantic.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.spec import Strict
from solver.problem import (
    MAX_DEVICES,
    Device,
    Link,
    PositiveAmount,
    PositiveSeconds,
    ProblemError,
    TimeLimit,
    check_device_names,
)
from solver.profiles import Loaded, ProfileSet, profile_cpus

Objective = Literal["latency", "energy", "weighted"]


class SplitDevice(Device):
    """A Device that may also pick its profiles by the CPU cap they were measured under."""

    cpus: Annotated[float, Field(gt=0, le=1e6)] | None = Field(
        default=None, description="use the profiles measured with this many CPUs"
    )

    def matches(self, item: Loaded) -> bool:
        """`item` is an inference profile of this device: by its `profiles` references and its
        `cpus`, or (with neither) by `infer.device_name`."""
        infer = item.profile.infer
        if infer is None:
            return False
        if not self.profiles and self.cpus is None:
            return infer.device_name == self.name
        if self.profiles and not any(item.matches(ref) for ref in self.profiles):
            return False
        if self.cpus is not None:
            cpus = profile_cpus(item.profile)
            return cpus is not None and abs(cpus - self.cpus) < 1e-9
        return True


class Pins(Strict):
    input: str = Field(description="device holding the network input (cut 0)")
    output: str | None = Field(default=None, description="device that needs the output; = input")


class SplitConstraints(Strict):
    latency_max_s: PositiveSeconds | None = None
    energy_max_j: PositiveAmount | None = None
    memory_mb: dict[str, PositiveAmount] = Field(
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
    time_limit_s: TimeLimit = 120.0
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
    devices: Annotated[list[SplitDevice], Field(min_length=1, max_length=MAX_DEVICES)]
    links: list[Link] = Field(default_factory=list)
    pins: Pins
    max_bundle_len: Annotated[int, Field(gt=0, le=100_000)] | None = None
    objective: Objective = "latency"
    eta: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.5, description="weight of latency in 'weighted' (1 - eta on energy)"
    )
    constraints: SplitConstraints = Field(default_factory=SplitConstraints)
    batch_size: Annotated[int, Field(gt=0, le=1_000_000)] = 1
    precision: Literal["fp32", "fp16"] = "fp32"
    energy_devices: list[str] | None = Field(
        default=None, description="devices whose energy counts (None = all); DIME counts the edge"
    )
    front: FrontSpec = Field(default_factory=FrontSpec)

    @model_validator(mode="after")
    def _names(self) -> SplitProblem:
        check_device_names(
            self.devices,
            self.links,
            [("pins.input", self.pins.input), ("pins.output", self.pins.output)],
            [(f"energy_devices.{n}", n) for n in self.energy_devices or []]
            + [(f"constraints.memory_mb.{n}", n) for n in self.constraints.memory_mb],
        )
        return self

    @property
    def output_device(self) -> str:
        return self.pins.output or self.pins.input


# ---------------------------------------------------------------- one model's profiles


def one_model(items: list[Loaded], model: str | None) -> list[Loaded]:
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


def per_model(problem: SplitProblem, profiles: ProfileSet) -> list[SplitProblem]:
    """A problem that names no model, given inference profiles of several models that its
    devices match: one copy per model, named `<name>-<model>`; otherwise the problem itself."""
    if problem.model is not None:
        return [problem]
    models: dict[str, None] = {}
    for it in profiles.of_kind("infer"):
        if it.profile.infer is not None and any(d.matches(it) for d in problem.devices):
            models[it.profile.infer.model] = None
    if len(models) < 2:
        return [problem]
    return [
        problem.model_copy(update={"model": m, "name": f"{problem.name}-{m}"}, deep=True)
        for m in models
    ]


def default_problem(profiles: ProfileSet) -> SplitProblem:
    """No problem file: the device with 'edge' in its name, else the fewest CPUs, holds input
    and output; every other device is a server behind a 10 Mbit/s, 5 ms link; minimise latency.
    Profiles of one device name made under different CPU caps become separate devices. The
    profiles must be of one model and cover two devices or more; the problem is named after the
    model (`harness solve` writes OUT/<model>-split-solution.json)."""
    items = one_model(list(profiles), None)
    if not items:
        raise ProblemError("no profiles given: pass inference profiles (profiles/*.json)")
    groups: dict[tuple[str, float | None], list[Loaded]] = {}
    for it in items:
        inf = it.profile.infer
        assert inf is not None
        groups.setdefault((inf.device_name, profile_cpus(it.profile)), []).append(it)
    model = items[0].profile.infer.model if items[0].profile.infer else None
    if len(groups) < 2:
        ((name, _),) = groups
        where = ", ".join(str(it.path) for it in items)
        raise ProblemError(
            f"{where}: {model}: profiled on one device only ({name}): nothing to split"
        )
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
    return SplitProblem(
        name=model or "split",
        model=model,
        devices=[edge] + [d for d in devices if d.name != edge.name],
        links=links,
        pins=Pins(input=edge.name),
        objective="latency",
    )
