"""The options of `harness profile`, written once: what the CLI parses, the sweep and the
multi-node run read, and the profile records in its `options` field.

The field checks live here (positive CPUs, a knee in (0, 1], ...), so a bad value is refused
the same way from the command line or from code; the checks that need the host or the job
spec (more CPUs than this host has, clocks only for inference jobs) stay with the command,
and those that need the job's dataset with the sweep (`harness.sweep.check_plan`). No number
is ever nan or infinite, and sizes no machine can hold are refused with the limit named
(`MAX_BATCH` images per batch, `MAX_NODES` nodes).
Only pydantic and the standard library are imported: `harness --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_BATCH = 2**20  # images per batch: far above what any device holds for any model here
MAX_NODES = 1024  # nodes of one data-parallel probe


class OptionError(ValueError):
    """A bad option value; the message is one line naming the option (`--cpu: ...`)."""


class ProfileOptions(BaseModel):
    """Everything `harness profile JOB` is told besides the job (units in the field names or
    descriptions). Frozen: a resolved copy (`resolved`) is made, never an edit in place."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # recorded in the profile, in this order (see `recorded`)
    cpu: float | None = Field(default=None, description="max CPUs; None = all of the host's")
    memory: float | None = Field(default=None, description="memory cap, GB")
    memory_sweep: list[float] = Field(default_factory=list, description="memory caps, GB")
    num_gpus: int = Field(default=0, description="GPUs per node")
    disk_read_mbps: float | None = Field(default=None, description="dataset disk read cap, MB/s")
    strategy: str = "adaptive"
    budget: int | None = Field(default=None, description="max probes for the search")
    knee: float = Field(
        default=0.9, serialization_alias="knee_fraction", description="share of peak"
    )
    batch: int | None = Field(default=None, serialization_alias="batch_size", description="per GPU")
    max_iterations: int | None = None
    device_name: str | None = None
    frequencies: list[float] = Field(default_factory=list, description="clocks, MHz")
    allow_clock_locking: bool = False
    power_log: Path | None = Field(default=None, description="CSV of timestamp,watts")
    variant: str | None = Field(
        default=None, description="MANIFEST:ID of a model variant to profile (inference)"
    )
    nnodes: int = 1
    hosts: list[str] = Field(default_factory=list, description="Docker engine URLs, per node")
    allow_oversubscribe: bool = Field(
        default=False,
        description="run probes or nodes that share a host's cores (recorded in the profile) "
        "instead of refusing them",
    )
    # how the run is carried out, not what it measured: not recorded
    master_addr: str | None = None
    master_port: int | None = None
    backend: str = "auto"
    partition: str | None = Field(default=None, description="slurm partition(s), comma-separated")
    image: str | None = None
    out: Path | None = None
    resume: bool = False
    timeout: float = Field(default=900.0, description="seconds before a probe is killed")
    data_dir: Path | None = None

    RECORDED: ClassVar[tuple[str, ...]] = (
        "cpu",
        "memory",
        "memory_sweep",
        "num_gpus",
        "disk_read_mbps",
        "strategy",
        "budget",
        "knee",
        "batch",
        "max_iterations",
    )
    RECORDED_INFER: ClassVar[tuple[str, ...]] = (
        "device_name",
        "frequencies",
        "allow_clock_locking",
        "power_log",
        "variant",
    )
    RECORDED_MULTINODE: ClassVar[tuple[str, ...]] = ("nnodes", "hosts")

    # ------------------------------------------------------------ building

    @classmethod
    def parse(cls, values: dict[str, Any]) -> ProfileOptions:
        """Validate `values` (the CLI's parameters by name); OptionError names the option."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise OptionError(_one_line(exc)) from None

    def resolved(self, *, cpu: float | None = None, batch: int | None = None) -> ProfileOptions:
        """A copy with the values the run settled on (all the host's CPUs, the spec's batch)
        filled in where the user gave none; what the profile then records."""
        update: dict[str, Any] = {}
        if self.cpu is None and cpu is not None:
            update["cpu"] = float(cpu)
        if self.batch is None and batch is not None:
            update["batch"] = batch
        return self.model_copy(update=update)

    def recorded(self, kind: str) -> dict[str, Any]:
        """The profile's `options` field: the names and values profiles have always held
        (`knee_fraction`, `batch_size`; clocks and energy only for inference; nodes and hosts
        only for a multi-node run)."""
        keep = set(self.RECORDED)
        if kind == "infer":
            keep |= set(self.RECORDED_INFER)
        if self.nnodes > 1:
            keep |= set(self.RECORDED_MULTINODE)
        out = self.model_dump(mode="json", by_alias=True, include=keep)
        if out.get("variant", "") is None:
            del out["variant"]  # profiles of no variant read as they always have
        if self.nnodes > 1:
            out["per_node_caps"] = True  # every node gets the caps asked for
        return out

    # ------------------------------------------------------------ checks of one field

    @field_validator("memory_sweep", "frequencies", mode="before")
    @classmethod
    def _numbers(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v if v is not None else []
        try:
            return [float(x) for x in v.replace(" ", "").split(",") if x]
        except ValueError:
            raise ValueError(f"expected comma-separated numbers, got {v!r}") from None

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts(cls, v: Any) -> Any:
        if v is None:
            return []
        return [h for h in v.split(",") if h] if isinstance(v, str) else v

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        from harness.search import STRATEGIES  # pure, but it loads the profile schema

        if v not in STRATEGIES:
            raise ValueError(f"expected one of {', '.join(STRATEGIES)}, got {v!r}")
        return v

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError(f"expected a positive number, got {v:g}")
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError(f"expected a positive number of GB, got {v:g}")
        return v

    @field_validator("memory_sweep")
    @classmethod
    def _memory_sweep(cls, v: list[float]) -> list[float]:
        if any(m <= 0 for m in v):
            raise ValueError(f"expected positive numbers of GB, got {v}")
        return v

    @field_validator("num_gpus")
    @classmethod
    def _num_gpus(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"expected >= 0, got {v}")
        return v

    @field_validator("nnodes")
    @classmethod
    def _nnodes(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"expected >= 1, got {v}")
        if v > MAX_NODES:
            raise ValueError(f"expected at most {MAX_NODES} nodes, got {v}")
        return v

    @field_validator("knee")
    @classmethod
    def _knee(cls, v: float) -> float:
        if not 0 < v <= 1:
            raise ValueError(f"expected a share of peak in (0, 1], got {v:g}")
        return v

    @field_validator("disk_read_mbps")
    @classmethod
    def _disk_read_mbps(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError(f"expected a bandwidth above 0 MB/s, got {v:g}")
        return v

    @field_validator("frequencies")
    @classmethod
    def _frequencies(cls, v: list[float]) -> list[float]:
        if any(f <= 0 for f in v):
            raise ValueError(f"expected positive MHz, got {v}")
        return v

    @field_validator("budget", "batch", "max_iterations")
    @classmethod
    def _count(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"expected >= 1, got {v}")
        return v

    @field_validator("batch")
    @classmethod
    def _batch(cls, v: int | None) -> int | None:
        if v is not None and v > MAX_BATCH:
            raise ValueError(f"expected at most {MAX_BATCH} (2**20) images per batch, got {v}")
        return v

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError(f"expected a positive number of seconds, got {v:g}")
        return v

    @field_validator("master_port")
    @classmethod
    def _port(cls, v: int | None) -> int | None:
        if v is not None and not 0 < v < 65536:
            raise ValueError(f"expected a port in 1-65535, got {v}")
        return v


def option_flag(field: str) -> str:
    """The command-line spelling of a field: `max_iterations` -> `--max-iterations`."""
    return "--" + field.replace("_", "-")


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else "options"
    cause = (err.get("ctx") or {}).get("error")
    msg = str(cause) if isinstance(cause, ValueError) else err["msg"]
    if err["type"] == "finite_number":  # nan or inf, in a field or a list's item
        msg = f"expected a finite number, got {err['input']}"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{option_flag(field)}: {msg}{more}"
