"""Slurm as the engine that runs probes across a cluster; each module has one job.

- `settings.py`: where probes go and what the nodes need (partition, shared folder, python),
  from the environment and the command line (pydantic, one-line errors).
- `commands.py`: Slurm's own commands (sbatch, scontrol, sacct, squeue, scancel, sinfo) run
  and their output parsed; the parsers are pure.
- `script.py`: the batch script one probe (or one multi-node probe) runs, as text (pure).
- `outcome.py`: a finished job's state, exit code and records -> ok / oom / timed_out /
  crashed / refused, with the reason (pure).
- `nodes.py`: the cluster's node types (partitions or feature sets) from sinfo (pure).

The backend itself is `harness/backends/slurm.py`; concurrent sweeps are `harness/fleet.py`.
Nothing here imports torch or docker.
"""
