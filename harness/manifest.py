"""The variant manifest: what `harness variants make` wrote, and how a profile names a variant.

One JSON file beside the weights lists every variant's `VariantInfo` (the contract the solver
reads, carried into each of the variant's profiles), the training job and the domains. A
variant is named on the command line as `MANIFEST:ID` (`variants/digits/manifest.json:p50`).
Pydantic and the standard library only: the host CLI reads it without torch.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from harness.profile import DomainSplit, VariantInfo, read_json, write_atomic
from harness.spec import JobSpec, Strict

MANIFEST_VERSION: Literal["1.0"] = "1.0"


class ManifestError(ValueError):
    """A manifest or a variant reference that cannot be used: one line naming file and field."""


class VariantManifest(Strict):
    schema_version: Literal["1.0"] = MANIFEST_VERSION
    family: str
    created: datetime
    job: JobSpec = Field(description="the train job the reference was trained by")
    input_shape: list[Annotated[int, Field(gt=0)]]
    domains: DomainSplit
    train_samples: Annotated[int, Field(ge=0)]
    holdout_samples: Annotated[int, Field(ge=0)]
    domain_labels: dict[str, list[int]] = Field(
        default_factory=dict, description="domain id -> held-out samples per class (label skew)"
    )
    train_seconds: float | None = Field(default=None, description="the reference's training")
    threads: int | None = Field(default=None, description="torch threads it was made with")
    variants: list[VariantInfo]

    @model_validator(mode="after")
    def _one_reference(self) -> VariantManifest:
        refs = [v.id for v in self.variants if v.reference]
        if len(refs) != 1:
            raise ValueError(f"expected exactly one reference variant, got {refs}")
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError(f"variant ids must be unique, got {ids}")
        return self

    def variant(self, vid: str) -> VariantInfo | None:
        return next((v for v in self.variants if v.id == vid), None)


def load_manifest(path: str | Path) -> VariantManifest:
    p = Path(path)
    raw = read_json(p, "a JSON variant manifest", ManifestError)
    if not isinstance(raw, dict):
        raise ManifestError(f"{p}: expected a JSON object, got {type(raw).__name__}")
    try:
        return VariantManifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise ManifestError(f"{p}: field '{loc}': {err['msg']}") from None


def save_manifest(m: VariantManifest, path: str | Path) -> None:
    write_atomic(path, m.model_dump_json(indent=1) + "\n")


def weights_path(info: VariantInfo, manifest: Path) -> Path:
    """The weights file: as written when it exists from here, else beside the manifest (a
    manifest moved with its folder still finds them)."""
    given = Path(info.weights)
    if given.is_file():
        return given
    return manifest.parent / given.name


def resolve(ref: str, option: str = "--variant") -> tuple[Path, VariantInfo, Path]:
    """`MANIFEST:ID` -> (manifest path, its VariantInfo, the weights file, checked against the
    manifest's sha256); ManifestError names the option and what is wrong."""
    path_text, sep, vid = ref.rpartition(":")
    if not sep or not path_text or not vid:
        raise ManifestError(f"{option}: expected MANIFEST.json:ID, got {ref!r}")
    path = Path(path_text)
    try:
        m = load_manifest(path)
    except ManifestError as exc:
        raise ManifestError(f"{option}: {exc}") from None
    info = m.variant(vid)
    if info is None:
        known = ", ".join(v.id for v in m.variants)
        raise ManifestError(f"{option}: {path} has no variant {vid!r} (it has: {known})")
    w = weights_path(info, path)
    if not w.is_file():
        raise ManifestError(f"{option}: {path}: variant {vid!r}: weights {info.weights} not found")
    digest = hashlib.sha256(w.read_bytes()).hexdigest()
    if digest != info.weights_sha256:
        raise ManifestError(
            f"{option}: {w}: sha256 {digest[:12]}... is not the manifest's "
            f"{info.weights_sha256[:12]}... (weights changed since they were measured)"
        )
    return path, info, w
