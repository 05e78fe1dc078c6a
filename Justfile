# harness: `just setup` once, then `just test`. `just` itself comes from pip (rust-just).
set shell := ["bash", "-euo", "pipefail", "-c"]

python := env_var_or_default("PYTHON", "python3")

default:
    @just --list

# Install the package with the workloads (torch, torchvision, DALI), SCIP and the dev tools.
setup:
    {{python}} -m pip install -e '.[workloads,ml,dev]'

# Docker engine up and job images built (installs docker.io/debootstrap when missing).
engine:
    bash .ci/docker.sh

# A one-machine Slurm cluster up (slurmctld + two slurmd; installs slurm-wlm/munge when missing).
slurm:
    bash .ci/slurm.sh

# The whole suite: real containers, real Slurm jobs, real torch steps, real SCIP.
test *ARGS: engine slurm
    {{python}} -m pytest {{ARGS}}

# Tests that need no Docker engine and no Slurm cluster.
test-host *ARGS:
    {{python}} -m pytest -m "not docker and not slurm" {{ARGS}}

lint:
    ruff check harness solver tests bench examples
    ruff format --check harness solver tests bench examples
    mypy

fmt:
    ruff format harness solver tests bench examples
    ruff check --fix harness solver tests bench examples

# Speed and quality targets: each script prints its figures and whether its targets hold.
bench *ARGS:
    for b in bench/[!_]*.py; do echo "== $b"; {{python}} "$b" {{ARGS}}; done

# Profile the main job on this host, validate it, and draw it.
demo:
    harness profile jobs/res18.yaml --cpu 2 --out out/demo/res18.json
    harness validate out/demo/res18.json
    harness report out/demo/res18.json --out out/demo
