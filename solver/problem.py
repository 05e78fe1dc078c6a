"""The declarative problem file: one YAML, a `kind`, and the parts every kind shares.

Each kind's own model lives beside its solver (split.py, pipeline.py, packing.py, hybrid.py);
this module only holds what they share (devices, links) and dispatches on `kind`. Pure
pydantic: importing it imports neither pyscipopt, torch nor docker.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ProblemKind = Literal["split", "pipeline", "packing", "hybrid"]

# kind -> "module:function"; each function has the SolveCommand signature below.
SOLVERS: dict[str, str] = {
    "split": "solver.split_cli:solve_command",
    "pipeline": "solver.pipeline_cli:solve_command",
    "packing": "solver.packing_cli:solve_command",
    "hybrid": "solver.hybrid_cli:solve_command",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    if kind not in SOLVERS:
        raise ProblemError(f"{p}: field 'kind': expected one of {sorted(SOLVERS)}, got {kind!r}")
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


class SolveCommand(Protocol):
    def __call__(
        self,
        raw: dict[str, Any] | None,
        problem_path: Path | None,
        profiles: list[Path],
        out_dir: Path,
        fmt: str,
        options: dict[str, Any],
    ) -> int:
        """Solve, print (table or json), write outputs under out_dir; return the exit code."""
        ...


def solver_for(kind: str) -> SolveCommand:
    mod_name, func = SOLVERS[kind].split(":")
    mod = importlib.import_module(mod_name)
    fn: SolveCommand = getattr(mod, func)
    return fn
