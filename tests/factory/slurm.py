"""Shared builders of the Slurm tests: the cluster check, sinfo/scontrol texts, a tiny request."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import ProbeRequest
from harness.profile import Caps
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI") == "true"

# sinfo -h -N -o '%N|%P|%f|%c|%m|%G|%T' of a cluster with two kinds of GPU server
SINFO_HETERO = """\
a1|gpu*|a100,ib|64|512000|gpu:a100:8|idle
a2|gpu*|a100,ib|64|512000|gpu:a100:8|mixed
v1|gpu*|v100|32|256000+|gpu:v100:4|idle
c1|cpu|(null)|128|1024000|(null)|idle
"""

SCONTROL_OOM = (
    "JobId=2 JobName=oom.sh UserId=root(0) JobState=OUT_OF_MEMORY Reason=OutOfMemory "
    "Dependency=(null) ExitCode=0:125 RunTime=00:00:01 TimeLimit=UNLIMITED NodeList=n1 "
    "BatchHost=n1 NumNodes=1 NumCPUs=1"
)


def need_cluster() -> None:
    """A Slurm controller must answer: with CI=true its absence fails, elsewhere it skips."""
    from harness.slurm.commands import available

    ok, why = available()
    if ok:
        return
    reason = f"no Slurm controller answers ({why}); start one with .ci/slurm.sh"
    if CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def tiny_request(
    workdir: Path, data_dir: Path, caps: Caps, timeout_s: float = 300, **spec_changes: Any
) -> ProbeRequest:
    spec = load_spec(ROOT / "jobs" / "tiny-train.yaml").model_dump(mode="json")
    spec.update(spec_changes)
    return ProbeRequest(
        spec=spec, caps=caps, workdir=workdir, data_dir=data_dir, timeout_s=timeout_s
    )


def cli_env() -> dict[str, str]:
    """A `harness` subprocess running this checkout's code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    return env
