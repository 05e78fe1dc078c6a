"""The declarative problem file: one YAML, a `kind`, and the parts every kind shares.

Each kind's own problem model lives in its package (`solver/<kind>/problem.py`); this module
holds what they share (devices, links, the options of a solve, the stated limits every model
enforces: MAX_SECONDS, MAX_AMOUNT, MAX_JOBS ...) and reads the `kind`; the kind's record lives
in `solver/kinds.py`. Bad input is a ProblemError (one line naming the file and the field); a
file the problem is solved with that cannot be read or is not valid is a FileError, bad input
even when it shows while solving. Pure pydantic: importing it imports neither pyscipopt, torch
nor docker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from harness.spec import Strict, read_yaml

ProblemKind = Literal["split", "pipeline", "packing", "hybrid", "accsplit"]
KIND_NAMES: tuple[ProblemKind, ...] = ("split", "pipeline", "packing", "hybrid", "accsplit")

# ---------------------------------------------------------------- the limits of a problem file
# Stated once, enforced by the models (so `harness validate` and every solve refuse the same
# files, with the limit in the message). No float is infinite or NaN anywhere (the `Strict`
# base); these bound the finite ones. SCIP takes 1e20 and past for infinity, and a model sums
# products of the numbers below, so each stays far under it; sizes are what a model or a
# simulation can be built for on one machine.

MAX_SECONDS = 1e9  # any duration in a file: stage and step times, rounds, time limits (31 years)
MAX_AMOUNT = 1e12  # any other quantity: rates, work, bandwidths, watts, MB, MHz
MAX_JOBS = 100_000  # jobs of a packing problem or a trace (counts included), of a hybrid problem
MAX_PIPELINE_JOBS = 1_000  # jobs of a batch pipeline: its heuristics are quadratic in them
# (NEH, SAIG's insertions; about a second at 1,000 jobs, before any time limit can bind)
MAX_SERVERS = 10_000  # physical servers of a cluster (the kinds' counts summed)
MAX_SERVER_GPUS = 1024  # GPUs of one server (the pricing DP's table is GPUs x CPUs)
MAX_SERVER_CPUS = 4096  # CPUs of one server
MAX_DEVICES = 64  # devices of a split or pipeline problem
MAX_WORKERS = 1024  # workers of a hybrid problem


def beyond(value: float, limit: float) -> bool:
    """`value` is no number a model can be built with: infinite, NaN, or past +-`limit` (what a
    time or an amount derived from profiles, not read from a field, is checked against)."""
    return not (math.isfinite(value) and abs(value) <= limit)


Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]
PositiveAmount = Annotated[float, Field(gt=0, le=MAX_AMOUNT)]
TimeLimit = Annotated[
    float,
    Field(gt=0, le=MAX_SECONDS, description="seconds for the whole solve, every phase in it"),
]


class PowerModel(Strict):
    """Used where a profile has no measured energy: P = idle_w + (compute_w - idle_w) * busy."""

    idle_w: Amount = 0.0
    compute_w: Amount = 0.0


class Device(Strict):
    name: str
    profiles: list[str] = Field(
        default_factory=list,
        description="profile files or ids that are this device's (matched by infer.device_name "
        "when empty)",
    )
    frequencies_mhz: list[PositiveAmount] | None = Field(
        default=None, description="allowed frequencies; None = every one the profile has"
    )
    power: PowerModel | None = None
    memory_mb: PositiveAmount | None = None


class Link(Strict):
    """A network link; radio power as alpha * bandwidth + beta (JointDNN / DIME)."""

    src: str
    dst: str
    bandwidth_up_mbps: PositiveAmount
    bandwidth_down_mbps: PositiveAmount | None = None
    latency_ms: Amount = 0.0
    alpha_w_per_mbps: Amount = 0.0
    beta_w: Amount = 0.0


def check_device_names(
    devices: Sequence[Device],
    links: Sequence[Link],
    pins: Sequence[tuple[str, str | None]],
    more: Sequence[tuple[str, str]] = (),
) -> None:
    """The device names of a split-like problem are unique, and every place that names a
    device (pins, links, `more`: e.g. energy_devices, memory limits) names one of them;
    ValueError naming the field otherwise."""
    names = [d.name for d in devices]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"device names must be unique, repeated: {sorted(dup)}")
    known = set(names)
    refs: list[tuple[str, str | None]] = list(pins)
    refs += [(f"links.{i}.src", lk.src) for i, lk in enumerate(links)]
    refs += [(f"links.{i}.dst", lk.dst) for i, lk in enumerate(links)]
    refs += list(more)
    for where, n in refs:
        if n is not None and n not in known:
            raise ValueError(f"{where} names device {n!r}, not one of {sorted(known)}")


class ProblemError(ValueError):
    """Bad problem file or inputs that do not fit together; one line, names file and field."""


class FileError(ProblemError):
    """A file a problem is solved with (a profile, a cost model: given, or named by the problem)
    cannot be read or is not valid. Raised while solving, it is still bad input: `harness
    solve` exits 2, where a problem that is valid but has no answer exits 1."""


def read_problem(path: str | Path) -> dict[str, Any]:
    """Read the YAML and check `kind`; the kind's own module validates the rest."""
    p = Path(path)
    raw = read_yaml(p, "a YAML problem file", ProblemError)
    if not isinstance(raw, dict):
        raise ProblemError(f"{p}: expected a mapping with a 'kind' field, got {_kind_of(raw)}")
    kind = raw.get("kind")
    if kind not in KIND_NAMES:
        raise ProblemError(f"{p}: field 'kind': expected one of {sorted(KIND_NAMES)}, got {kind!r}")
    return raw


def _kind_of(value: Any) -> str:
    return "an empty file" if value is None else type(value).__name__


M = TypeVar("M", bound=BaseModel)


def validate_as(model: type[M], raw: dict[str, Any], path: str | Path) -> M:
    """Validate `raw` as `model`, turning pydantic's report into one ProblemError line."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ProblemError(f"{path}: {first_error(exc)}") from None
    except RecursionError:  # a value nested past what pydantic walks
        raise ProblemError(f"{path}: nested too deeply to validate") from None


def first_error(exc: ValidationError) -> str:
    """The first of pydantic's errors as "field 'a.0.b': what was expected (got X)"."""
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    got = ""
    if err["type"] not in ("missing", "extra_forbidden") and not isinstance(
        err.get("input"), dict | list
    ):
        text = repr(err.get("input"))
        got = f" (got {text if len(text) <= 40 else text[:37] + '...'})"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"field '{loc}': {msg}{got}{more}"


@dataclass(frozen=True)
class SolveOptions:
    """What the command line may add to a problem file; `extra` holds a kind's own options."""

    time_limit: float | None = None
    print_jobs: bool = False
    front_method: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
