"""Where Slurm probes go and what the compute nodes need, read once from the environment.

The two settings a user changes for their own cluster:

- `HARNESS_SLURM_PARTITION` (or `--partition`): the partition(s) probes are submitted to.
  Several, comma-separated, are several node types: one profile per job per partition.
- `HARNESS_SLURM_SHARED`: a folder every compute node sees at the same path (NFS, Lustre...):
  each probe's request, records and log live there while it runs. Default: the folder beside
  the profile (`<out>/.work`), which is shared only on one machine or a shared home.

And, where the defaults do not fit: `HARNESS_SLURM_PYTHON` (the interpreter on the nodes;
default this one), `HARNESS_SLURM_SOURCE` (the folder holding the `harness` package on the
nodes; default this checkout, so that the nodes run the code that submitted them),
`HARNESS_SLURM_TYPES` (`partition` | `feature` | `none`: how node types are told apart) and
`HARNESS_SLURM_ARGS` (more sbatch options, e.g. `--account=x --qos=y`).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ROOT = Path(__file__).resolve().parents[2]  # the checkout holding the harness package


class SlurmSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    partitions: list[str] = Field(default_factory=list, description="[] = the default one")
    shared: Path | None = Field(default=None, description="work folder every node sees")
    python: str = sys.executable
    source: Path = ROOT
    types: Literal["partition", "feature", "none"] = "partition"
    extra: list[str] = Field(default_factory=list, description="more sbatch options")
    poll_s: float = Field(default=0.5, gt=0, description="how often its records file is read")
    state_s: float = Field(
        default=2.0, gt=0, description="how often Slurm is asked a job's state (scontrol)"
    )

    @classmethod
    def from_env(
        cls, env: dict[str, str] | None = None, partition: str | None = None
    ) -> SlurmSettings:
        """The settings from HARNESS_SLURM_* (see the module docstring); `partition` (the
        command line's --partition) wins over the environment's."""
        env = dict(os.environ) if env is None else env
        parts = partition if partition is not None else env.get("HARNESS_SLURM_PARTITION", "")
        values: dict[str, object] = {
            "partitions": [p.strip() for p in parts.split(",") if p.strip()],
            "extra": shlex.split(env.get("HARNESS_SLURM_ARGS", "")),
        }
        if env.get("HARNESS_SLURM_SHARED"):
            values["shared"] = Path(env["HARNESS_SLURM_SHARED"])
        if env.get("HARNESS_SLURM_PYTHON"):
            values["python"] = env["HARNESS_SLURM_PYTHON"]
        if env.get("HARNESS_SLURM_SOURCE"):
            values["source"] = Path(env["HARNESS_SLURM_SOURCE"])
        if env.get("HARNESS_SLURM_TYPES"):
            values["types"] = env["HARNESS_SLURM_TYPES"]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:  # one line naming the variable
            err = exc.errors()[0]
            name = f"HARNESS_SLURM_{str(err['loc'][0]).upper()}" if err["loc"] else "HARNESS_SLURM"
            raise ValueError(f"{name}: {err['msg']}, got {err['input']!r}") from None
