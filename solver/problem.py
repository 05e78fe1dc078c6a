"""The declarative problem file: one YAML, a `kind`, and the parts every kind shares.

Each kind's own problem model lives in its package (`solver/<kind>/problem.py`); this module
holds what they share (devices, links, the options of a solve) and reads the `kind`; the kind's
record lives in `solver/kinds.py`. Pure pydantic: importing it imports neither pyscipopt, torch
nor docker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from harness.spec import Strict

ProblemKind = Literal["split", "pipeline", "packing", "hybrid"]
KIND_NAMES: tuple[ProblemKind, ...] = ("split", "pipeline", "packing", "hybrid")


class PowerModel(Strict):
    """Used where a profile has no measured energy: P = idle_w + (compute_w - idle_w) * busy."""

    idle_w: Annotated[float, Field(ge=0)] = 0.0
    compute_w: Annotated[float, Field(ge=0)] = 0.0


class Device(Strict):
    name: str
    profiles: list[str] = Field(
        default_factory=list,
        description="profile files or ids that are this device's (matched by infer.device_name "
        "when empty)",
    )
    frequencies_mhz: list[float] | None = Field(
        default=None, description="allowed frequencies; None = every one the profile has"
    )
    power: PowerModel | None = None
    memory_mb: Annotated[float, Field(gt=0)] | None = None


class Link(Strict):
    """A network link; radio power as alpha * bandwidth + beta (JointDNN / DIME)."""

    src: str
    dst: str
    bandwidth_up_mbps: Annotated[float, Field(gt=0)]
    bandwidth_down_mbps: Annotated[float, Field(gt=0)] | None = None
    latency_ms: Annotated[float, Field(ge=0)] = 0.0
    alpha_w_per_mbps: Annotated[float, Field(ge=0)] = 0.0
    beta_w: Annotated[float, Field(ge=0)] = 0.0


class ProblemError(ValueError):
    """Bad problem file or inputs that do not fit together; one line, names file and field."""


def read_problem(path: str | Path) -> dict[str, Any]:
    """Read the YAML and check `kind`; the kind's own module validates the rest."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ProblemError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ProblemError(f"{p}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ProblemError(f"{p}: expected a mapping with a 'kind' field")
    kind = raw.get("kind")
    if kind not in KIND_NAMES:
        raise ProblemError(f"{p}: field 'kind': expected one of {sorted(KIND_NAMES)}, got {kind!r}")
    return raw


M = TypeVar("M", bound=BaseModel)


def validate_as(model: type[M], raw: dict[str, Any], path: str | Path) -> M:
    """Validate `raw` as `model`, turning pydantic's report into one ProblemError line."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise ProblemError(f"{path}: field '{loc}': {err['msg']}") from None


@dataclass(frozen=True)
class SolveOptions:
    """What the command line may add to a problem file; `extra` holds a kind's own options."""

    time_limit: float | None = None
    print_jobs: bool = False
    front_method: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
