"""The batch scripts Slurm runs for a probe, as text (pure).

One probe: the script runs the workload entry point in the job's own allocation, so the
batch step's cgroups (Slurm's task/cgroup: the cpuset of the cores allocated, the memory limit
of --mem) hold it. The nodes run the submitting checkout's code (`source` on PYTHONPATH, as
the Docker backend bind-mounts it) with the interpreter named in the settings.

Several nodes: the script runs on the allocation's first node, takes the rendezvous from the
allocation (the first node's NodeAddr, a port derived from the job id unless one was given)
and starts one torchrun node per allocated node with `srun`, each reading its own request
(`nodeK/request.json`, K = SLURM_NODEID). `--kill-on-bad-exit` ends every node when one fails.
"""

from __future__ import annotations

import shlex
from pathlib import Path

# variables of a harness that may itself run inside a probe: never passed on to the job
DROP = ("HARNESS_CGROUP_PROCS", "HARNESS_AFFINITY")


def _env(source: Path, threads: int, gpus: int, env: dict[str, str]) -> list[str]:
    q = shlex.quote
    lines = [f"unset {' '.join(DROP)}"]
    lines.append(f'export PYTHONPATH={q(str(source))}"${{PYTHONPATH:+:$PYTHONPATH}}"')
    lines.append(f"export PYTHONUNBUFFERED=1 OMP_NUM_THREADS={threads}")
    if gpus == 0:  # Slurm sets it only for a job with GPUs: never inherit the submitter's
        lines.append("export CUDA_VISIBLE_DEVICES=")
    lines += [f"export {k}={q(v)}" for k, v in sorted(env.items())]
    return lines


def probe_script(
    *,
    python: str,
    source: Path,
    workdir: Path,
    threads: int,
    gpus: int,
    env: dict[str, str] | None = None,
) -> str:
    """The batch script of a one-node probe."""
    q = shlex.quote
    lines = ["#!/bin/bash", "# harness probe: one job, the workload in its batch step"]
    lines += _env(source, threads, gpus, env or {})
    lines.append(f"cd {q(str(workdir))}")
    lines.append(f"exec {q(python)} -m harness.workloads.run {q(str(workdir / 'request.json'))}")
    return "\n".join(lines) + "\n"


def nodes_script(
    *,
    python: str,
    source: Path,
    workdir: Path,
    nnodes: int,
    threads: int,
    gpus: int,
    master_port: int | None,
    env: dict[str, str] | None = None,
) -> str:
    """The batch script of a multi-node probe: the rendezvous from the allocation, then one
    torchrun node per allocated node (srun, one task per node)."""
    q = shlex.quote
    port = str(master_port) if master_port else "$((20000 + SLURM_JOB_ID % 20000))"
    node_dir = f"{q(str(workdir))}/node$SLURM_NODEID"
    node_cmd = (
        f"cd {node_dir} && exec {q(python)} -m torch.distributed.run"
        f" --nnodes {nnodes} --nproc-per-node 1 --node-rank $SLURM_NODEID"
        " --master-addr $MASTER_ADDR --master-port $MASTER_PORT --max-restarts 0"
        f" -m harness.workloads.run {node_dir}/request.json"
    )
    lines = ["#!/bin/bash", f"# harness probe: {nnodes} nodes, one torchrun node on each"]
    lines += _env(source, threads, gpus, env or {})
    lines += [
        'first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)',
        "addr=$(scontrol show node -o \"$first\" | sed -n 's/.*NodeAddr=\\([^ ]*\\).*/\\1/p')",
        'export MASTER_ADDR="${addr:-$first}"',
        f"export MASTER_PORT={port}",
        'echo "rendezvous: $MASTER_ADDR:$MASTER_PORT ($SLURM_JOB_NODELIST)"',
        f"exec srun --kill-on-bad-exit=1 --ntasks-per-node=1 --cpus-per-task={threads}"
        f" --output={q(str(workdir))}/node%n.log bash -c {q(node_cmd)}",
    ]
    return "\n".join(lines) + "\n"
