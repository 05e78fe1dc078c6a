"""The cluster's node types, from sinfo: one profile per job per type.

A heterogeneous cluster tells its kinds of server apart by partition (`gpu-a100`, `gpu-v100`)
or by node features (`a100`, `v100` within one partition). `node_types` groups the nodes the
settings name into types, each with what a probe must pass sbatch to land on one of its nodes
(`--partition`, `--constraint`) and the smallest node's CPUs and memory (the most a probe can
ask of every node of the type). Pure: it reads sinfo's rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from harness.slurm.commands import NodeRow

Split = Literal["partition", "feature", "none"]


@dataclass(frozen=True)
class NodeType:
    name: str  # a file-name-safe label: the partition, or the features joined by '+'
    partition: str | None
    constraint: str | None  # sbatch --constraint (features joined by '&')
    cpus: int
    memory_mb: int
    nodes: list[str] = field(default_factory=list)
    gres: str = ""
    gpus: int = 0  # GPUs of the type's node with the fewest

    def sbatch_args(self) -> list[str]:
        out = [f"--partition={self.partition}"] if self.partition else []
        return out + ([f"--constraint={self.constraint}"] if self.constraint else [])


class NoNodes(ValueError):
    """The settings name no node sinfo lists (one line naming the partition)."""


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text) or "default"


def _type(name: str, part: str | None, constraint: str | None, rows: list[NodeRow]) -> NodeType:
    return NodeType(
        name=_safe(name),
        partition=part,
        constraint=constraint,
        cpus=min(r.cpus for r in rows),
        memory_mb=min(r.memory_mb for r in rows),
        nodes=sorted({r.name for r in rows}),
        gres=",".join(sorted({r.gres for r in rows if r.gres})),
        gpus=min(gpu_count(r.gres) for r in rows),
    )


def gpu_count(gres: str) -> int:
    """GPUs of one node, from sinfo's gres ('gpu:a100:8', 'gpu:4(S:0-1)'); 0 when none."""
    total = 0
    for item in gres.split(","):
        parts = item.split("(")[0].split(":")
        if parts[0] == "gpu" and parts[-1].isdigit():
            total += int(parts[-1])
    return total


def node_types(
    rows: list[NodeRow], partitions: list[str], default: str | None, split: Split
) -> list[NodeType]:
    """The types to profile on: by partition (each partition named, else the default one),
    by feature set within them, or one type for all of them (`none`)."""
    wanted = partitions or ([default] if default else sorted({r.partition for r in rows}))
    chosen = [r for r in rows if r.partition in wanted]
    missing = [p for p in wanted if not any(r.partition == p for r in rows)]
    if missing:
        known = ", ".join(sorted({r.partition for r in rows})) or "none"
        raise NoNodes(f"--partition: no partition {missing[0]!r} on this cluster (it has {known})")
    if split == "none" or (split == "partition" and len(wanted) == 1):
        part = ",".join(wanted) if partitions else None
        return [_type(",".join(wanted), part, None, chosen)]
    if split == "partition":
        return [_type(p, p, None, [r for r in chosen if r.partition == p]) for p in wanted]
    part = ",".join(wanted) if partitions else None
    groups: dict[str, list[NodeRow]] = {}
    for r in chosen:
        groups.setdefault(",".join(sorted(f for f in r.features.split(",") if f)), []).append(r)
    return [
        _type(feats.replace(",", "+") or "no-features", part, feats.replace(",", "&") or None, g)
        for feats, g in sorted(groups.items())
    ]
