"""Per-batch records of a profile as one table (the columns of the hybrid-scheduler seed).

A profile keeps its batches either inline (`Probe.records`) or in a JSON-lines sidecar
(`Probe.records_file`, relative to the profile file). Both end up as the same rows, one per
batch, with the probe's caps and outcome beside them, so a cost model or a notebook can read
every profile the same way. pandas is imported inside the functions that need it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.profile import BatchRecord, Probe, Profile

if TYPE_CHECKING:
    import pandas as pd

# allreduce is the gradient exchange of a multi-node step (None on one node).
PHASES = ("data", "forward", "backward", "allreduce", "step")

# Column order of the export; the names follow the seed's CSV (forward_time_ms, images_per_sec).
COLUMNS: tuple[str, ...] = (
    "profile_id",
    "job",
    "workload_id",
    "model",
    "probe_id",
    "backend",
    "cpus",
    "memory_gb",
    "gpus",
    "outcome",
    "node_rank",
    "epoch",
    "batch_idx",
    "global_step",
    "warmup",
    "batch_size",
    "C",
    "D",
    "H",
    "W",
    "dim1",
    "dim2",
    "dim3",
    "device_type",
    "device_index",
    "precision",
    "num_workers",
    "data_time_ms",
    "forward_time_ms",
    "backward_time_ms",
    "allreduce_time_ms",
    "step_time_ms",
    "batch_time_ms",
    "data_pct",
    "forward_pct",
    "backward_pct",
    "allreduce_pct",
    "step_pct",
    "images_per_sec",
    "loss",
    "lr",
    "rss_mb",
    "cuda_mem_allocated_mb",
    "cuda_mem_reserved_mb",
    "wall_time_s",
)

_INT_COLUMNS = (
    "gpus",
    "node_rank",
    "epoch",
    "batch_idx",
    "global_step",
    "batch_size",
    "C",
    "D",
    "H",
    "W",
    "dim1",
    "dim2",
    "dim3",
    "device_index",
    "num_workers",
)


class ExportError(ValueError):
    """Per-batch records that cannot be read; the message is one line naming file and field."""


def probe_records(probe: Probe, base_dir: str | Path | None = None) -> list[BatchRecord]:
    """The probe's batch records, inline or from its sidecar file (relative to `base_dir`)."""
    if probe.records is not None:
        return list(probe.records)
    if not probe.records_file:
        return []
    path = Path(probe.records_file)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return read_batch_records(path)


def read_batch_records(path: str | Path) -> list[BatchRecord]:
    """The {"type": "batch"} lines of a JSON-lines records file; other record types are skipped.

    A trailing partial line (a probe killed mid-write) is ignored, as the backend does.
    """
    from pydantic import ValidationError

    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ExportError(f"{p}: cannot read records file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ExportError(f"{p}: not a text file (expected JSON lines)") from None
    lines = text.split("\n")
    complete = lines[:-1] if not text.endswith("\n") else lines
    out: list[BatchRecord] = []
    for lineno, line in enumerate(complete, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExportError(f"{p}: line {lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(rec, dict) or rec.get("type") != "batch":
            continue
        body = {k: v for k, v in rec.items() if k != "type"}
        try:
            out.append(BatchRecord.model_validate(body))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or "(record)"
            raise ExportError(f"{p}: line {lineno}: field '{loc}': {err['msg']}") from None
    return out


def all_probes(profile: Profile) -> list[Probe]:
    """Every probe of the profile: training probes, then those of the inference section."""
    probes: list[Probe] = []
    if profile.train is not None:
        probes.extend(profile.train.probes)
    if profile.infer is not None:
        probes.extend(profile.infer.probes)
    return probes


def normalised_dims(shape: list[int]) -> dict[str, int | None]:
    """C/D/H/W and dim1/dim2/dim3 = (D, H, W), with D = 1 for 2-D inputs.

    One set of spatial columns for 2-D and 3-D jobs lets a cost model take both as the same
    features: an image is a volume one slice deep.
    """
    if len(shape) == 4:
        c, d, h, w = shape
        return {"C": c, "D": d, "H": h, "W": w, "dim1": d, "dim2": h, "dim3": w}
    if len(shape) == 3:
        c, h, w = shape
        return {"C": c, "D": None, "H": h, "W": w, "dim1": 1, "dim2": h, "dim3": w}
    return {k: None for k in ("C", "D", "H", "W", "dim1", "dim2", "dim3")}


def batch_rows(
    profile: Profile, base_dir: str | Path | None = None, include_warmup: bool = True
) -> list[dict[str, Any]]:
    """One dict per batch, keyed by COLUMNS, in probe order then batch order."""
    job = profile.job
    dims = normalised_dims(list(job.input_shape))
    precision = "amp" if job.amp else "fp32"
    spec_workers = job.loader.workers if isinstance(job.loader.workers, int) else None
    rows: list[dict[str, Any]] = []
    for probe in all_probes(profile):
        caps = probe.caps
        default_device = "cuda" if caps.gpus > 0 else "cpu"
        default_index: int | None = None
        if caps.gpus > 0:
            default_index = caps.gpu_ids[0] if caps.gpu_ids else 0
        workers = (
            probe.enforced.loader_workers
            if probe.enforced is not None and probe.enforced.loader_workers is not None
            else spec_workers
        )
        for rec in probe_records(probe, base_dir):
            if rec.warmup and not include_warmup:
                continue
            row: dict[str, Any] = {
                "profile_id": profile.id,
                "job": job.name,
                "workload_id": job.workload_id,
                "model": job.model,
                "probe_id": probe.id,
                "backend": probe.backend,
                "cpus": caps.cpus,
                "memory_gb": caps.memory_gb,
                "gpus": caps.gpus,
                "outcome": str(probe.outcome),
                "node_rank": rec.node_rank,
                "epoch": rec.epoch,
                "batch_idx": rec.batch_idx,
                "global_step": rec.global_step,
                "warmup": rec.warmup,
                "batch_size": rec.batch_size,
                **dims,
                "device_type": _first(rec.device_type, default_device),
                "device_index": _first(rec.device_index, default_index),
                "precision": _first(rec.precision, precision),
                "num_workers": _first(rec.num_workers, workers),
            }
            phases = {name: getattr(rec, f"{name}_s") for name in PHASES}
            total = sum(v for v in phases.values() if v is not None)
            for name, sec in phases.items():
                row[f"{name}_time_ms"] = None if sec is None else sec * 1e3
                row[f"{name}_pct"] = 100.0 * sec / total if sec is not None and total > 0 else None
            row["batch_time_ms"] = rec.batch_s * 1e3
            row["images_per_sec"] = rec.images_per_s
            row["loss"] = rec.loss
            row["lr"] = rec.lr
            row["rss_mb"] = rec.rss_mb
            row["cuda_mem_allocated_mb"] = rec.cuda_alloc_mb
            row["cuda_mem_reserved_mb"] = rec.cuda_reserved_mb
            row["wall_time_s"] = rec.wall_s
            rows.append(row)
    return rows


def batch_frame(
    profile: Profile, base_dir: str | Path | None = None, include_warmup: bool = True
) -> pd.DataFrame:
    """Per-batch records as a DataFrame with COLUMNS (empty, with the columns, if none).

    `%` columns are shares of the measured phases (data, forward, backward, allreduce on
    several nodes, step), so they add up to 100; a phase the workload did not time (an external
    training script times only whole batches) is empty, not zero.
    """
    return _typed_frame(batch_rows(profile, base_dir, include_warmup))


def profiles_frame(
    profiles: Iterable[tuple[Profile, str | Path | None]], include_warmup: bool = True
) -> pd.DataFrame:
    """Per-batch records of several (profile, base_dir) pairs as one table."""
    rows: list[dict[str, Any]] = []
    for profile, base_dir in profiles:
        rows.extend(batch_rows(profile, base_dir, include_warmup))
    return _typed_frame(rows)


_TEXT_COLUMNS = (
    "profile_id",
    "job",
    "workload_id",
    "model",
    "probe_id",
    "backend",
    "outcome",
    "device_type",
    "precision",
)


def _typed_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Fixed dtypes (nullable ints, strings) so CSV and parquet hold the same schema."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in COLUMNS:
        if col in _INT_COLUMNS:
            df[col] = df[col].astype("Int64")
        elif col in _TEXT_COLUMNS:
            df[col] = df[col].astype("string")
        elif col == "warmup":
            df[col] = df[col].astype("boolean")
        else:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(p, index=False)
    return p


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(p, index=False, engine="pyarrow")
    return p


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """CSV or parquet, chosen by the file's suffix (.csv, .parquet/.pq)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(df, path)
    if suffix in (".parquet", ".pq"):
        return write_parquet(df, path)
    raise ExportError(f"{path}: unknown table format '{suffix}' (expected .csv or .parquet)")


def _first(own: Any, default: Any) -> Any:
    """The record's own value (what the worker saw) wins over what the caps imply."""
    return default if own is None else own
