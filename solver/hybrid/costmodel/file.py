"""The cost-model JSON (`harness fit`'s output): its schema, its check, and reading it.

`CostModelFile` is what is written and what is read back; `validate_file` is what
`harness validate` calls on a file whose `format` is 'harness.costmodel'. Pydantic only: no
numpy here, so checking a file costs nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from harness.profile import read_json
from solver.problem import Strict

FORMAT: Literal["harness.costmodel"] = "harness.costmodel"
VERSION: Literal[1] = 1
TARGET = "seconds per training batch (median of probe timings['batch'])"
SLOTS = ("log_batch", "log_spatial", "log_channels", "log_cpus")
GBT_FEATURES = (*SLOTS, "model_code", "device_code", "spatial_rank")

Positive = Annotated[float, Field(gt=0)]


class CostModelError(ValueError):
    """No data for what was asked, or a bad cost-model file; one line."""


class SampleRow(Strict):
    """One measured point the model was fitted on."""

    model: str
    device: str
    batch_size: Annotated[int, Field(gt=0)]
    dims: list[Annotated[int, Field(gt=0)]] = Field(
        min_length=3, max_length=4, description="[C, H, W] or [C, D, H, W]"
    )
    cpus: Positive
    step_s: Positive = Field(description="seconds per training batch")
    source: str = Field(default="", description="the profile file it came from")


class PooledFit(Strict):
    """One device's pooled fit: shared slopes, one intercept per model (log space)."""

    intercepts: dict[str, float]
    slopes: dict[str, float]
    n: Annotated[int, Field(ge=0)]


class GroupFit(Strict):
    """One (device, model): log(t - overhead_s) = intercept + sum slope * feature."""

    intercept: float
    log_batch: float
    log_spatial: float
    log_channels: float
    log_cpus: float
    overhead_s: Annotated[float, Field(ge=0)] = 0.0
    n: Annotated[float, Field(ge=0)]


class LinearFile(Strict):
    lambda_: Annotated[float, Field(ge=0)] = Field(alias="lambda")
    pooled: dict[str, PooledFit]
    groups: dict[str, GroupFit] = Field(description="'device|model' -> its law")

    @field_validator("groups")
    @classmethod
    def _group_keys(cls, v: dict[str, GroupFit]) -> dict[str, GroupFit]:
        bad = [k for k in v if k.count("|") != 1 or "" in k.split("|")]
        if bad:
            raise ValueError(f"keys are 'device|model', got {bad[0]!r}")
        return v


class TreeArrays(Strict):
    """One regression tree as sklearn keeps it: node i's children, split and leaf value."""

    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    value: list[float]

    @model_validator(mode="after")
    def _consistent(self) -> TreeArrays:
        n = len(self.left)
        if n == 0 or any(len(a) != n for a in (self.right, self.feature, self.threshold)):
            raise ValueError("left, right, feature and threshold must have one entry per node")
        if len(self.value) != n:
            raise ValueError("value must have one entry per node")
        for i, (lo, hi, f) in enumerate(zip(self.left, self.right, self.feature, strict=True)):
            if (lo == -1) != (hi == -1):
                raise ValueError(f"node {i}: a node has two children or none")
            if lo != -1 and not (0 < lo < n and 0 < hi < n and 0 <= f < len(GBT_FEATURES)):
                raise ValueError(f"node {i}: child or feature index out of range")
        return self


class BoostedFile(Strict):
    models: list[str]
    devices: list[str]
    baseline: float
    learning_rate: Positive
    trees: list[TreeArrays]
    params: dict[str, Any] = Field(description="the GradientBoostingRegressor's parameters")


class ErrorRow(Strict):
    """Relative hold-out error |pred - true| / true of one kind on one device."""

    n: Annotated[int, Field(ge=0)]
    median: float | None = Field(description="None when no point was held out")
    p90: float | None
    mean: float | None
    uncovered: Annotated[int, Field(ge=0)] = Field(
        default=0, description="held-out points whose (device, model) had no training data"
    )


class CostModelFile(Strict):
    """A fitted cost model as `harness fit` writes it: plain JSON, no pickle."""

    format: Literal["harness.costmodel"] = FORMAT
    version: Literal[1] = VERSION
    created: str = Field(description="when it was fitted (ISO 8601)")
    target: str = TARGET
    features: list[str] = Field(default_factory=lambda: list(SLOTS))
    training_hash: str = Field(description="hash of the samples (same data, same hash)")
    samples: list[SampleRow]
    linear: LinearFile
    gbt: BoostedFile | None = None
    holdout: dict[Literal["linear", "gbt"], dict[str, ErrorRow]] = Field(default_factory=dict)

    @field_validator("features")
    @classmethod
    def _features(cls, v: list[str]) -> list[str]:
        if tuple(v) != SLOTS:
            raise ValueError(f"expected {list(SLOTS)}")
        return v

    def dump(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=1) + "\n"


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        out.append(f"field '{loc}': {err['msg']}")
    return out


def validate_file(raw: dict[str, Any]) -> list[str]:
    """Every problem with a cost-model document, one line each; empty when it is valid."""
    if not isinstance(raw, dict):
        return ["(top level): expected a JSON object"]
    if raw.get("format") != FORMAT:
        return [f"field 'format': expected {FORMAT!r}, got {raw.get('format')!r}"]
    try:
        CostModelFile.model_validate(raw)
    except ValidationError as exc:
        return _problems(exc)
    return []


def read_file(path: str | Path) -> CostModelFile:
    """Read and validate a cost-model JSON; every failure is one CostModelError naming it."""
    p = Path(path)
    raw = read_json(p, "a JSON cost model (harness fit)", CostModelError)
    problems = validate_file(raw)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CostModelError(f"{p}: {problems[0]}{more}")
    return CostModelFile.model_validate(raw)


def is_cost_model(path: str | Path) -> bool:
    """The file claims to be a cost model (its `format`), whatever else is in it."""
    try:
        d = read_json(path, "a JSON cost model")
    except (ValueError, RecursionError):
        return False
    return isinstance(d, dict) and d.get("format") == FORMAT
