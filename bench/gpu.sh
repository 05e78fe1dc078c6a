#!/usr/bin/env bash
# The GPU paths in one run, for the day a machine with an NVIDIA GPU is at hand (< 8 minutes):
#   1. res18 training on 1 GPU against CPUs (local backend: no Docker needed);
#   2. one inference profile on that GPU, with NVML energy and the clocks observed;
#   3. the hybrid cost model refitted from those measured GPU timings beside the committed CPU ones;
#   4. everything under one folder, with summary.txt.
#
#   bash bench/gpu.sh --wheels      # here, with a package registry: fill .whl/ (pydantic & co.)
#   bash bench/gpu.sh [OUT]         # there: OUT defaults to out/gpu
#
# A machine without a registry (such as a lent GPU machine whose python3 has torch and
# torchvision but not pydantic) installs the project's missing pure packages from .whl/ with
# --no-deps; DALI's wheel is too large to carry, so the DALI GPU pipeline is not run here. Where
# there is no NVIDIA GPU it stops at once with one line and exit 2. It only reads the GPU's
# settings (clocks, energy); it never locks a clock or changes a limit.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=(pydantic==2.13.4 pydantic-core==2.46.4 annotated-types typing-inspection)
if [ "${1:-}" = "--wheels" ]; then
    mkdir -p .whl
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "${WHEELS[@]}"
    ls -l .whl
    exit 0
fi

say() { echo "gpu.sh: $*" >&2; }
OUT="${1:-out/gpu}"

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    say "no NVIDIA GPU on this machine (nvidia-smi lists none): nothing to measure"
    exit 2
fi
if ! python3 -c "import pydantic" 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        say "pydantic is missing and there is no .whl/ wheelhouse: run 'bash bench/gpu.sh --wheels' where a registry is reachable, and bring .whl/ along"
        exit 2
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/harness-site .whl/*.whl
    export PYTHONPATH="/tmp/harness-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ! python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    say "torch sees no CUDA device although nvidia-smi lists one: check the driver and torch build"
    exit 2
fi

mkdir -p "$OUT"
H="python3 -m harness.cli"
CPUS=$(python3 -c "import os; print(min(8, len(os.sched_getaffinity(0))))")
start=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv \
    > "$OUT/nvidia-smi.csv"

say "1/3 res18 training on 1 GPU against 1..$CPUS CPUs (local backend)"
$H profile jobs/res18.yaml --num-gpus 1 --cpu "$CPUS" --backend local --budget 5 \
    --timeout 180 --out "$OUT/train-res18-gpu.json" --data-dir "$OUT/data" || say "training profile incomplete (see above)"

say "2/3 res18 inference on the GPU: bundles, NVML energy, observed clocks"
$H profile jobs/res18-infer.yaml --num-gpus 1 --cpu 2 --backend local --device-name gpu \
    --timeout 300 --out "$OUT/res18-infer-gpu.json" --data-dir "$OUT/data" || say "inference profile incomplete (see above)"

say "3/3 the hybrid cost model, refitted with the measured GPU timings"
$H fit "$OUT/train-res18-gpu.json" profiles/costmodel/*.json --out "$OUT/costmodel.json" \
    > "$OUT/fit.txt" 2>&1 || say "fit failed: $(tail -1 "$OUT/fit.txt")"

python3 - "$OUT" "$start" <<'EOF' | tee "$OUT/summary.txt"
import json, sys, time
from pathlib import Path

out, start = Path(sys.argv[1]), float(sys.argv[2])
print(f"bench/gpu.sh: {time.time() - start:.0f} s, files in {out}")
print((out / "nvidia-smi.csv").read_text().strip())
train = out / "train-res18-gpu.json"
if train.is_file():
    p = json.loads(train.read_text())
    print(f"train res18, 1 GPU, complete={p['complete']}:")
    for pr in p["train"]["probes"]:
        ips = pr["throughput"]["median"] if pr.get("throughput") else None
        print(f"  {pr['caps']['cpus']:g} CPUs: {pr['outcome']}, "
              f"{'-' if ips is None else f'{ips:.1f}'} images/s")
infer = out / "res18-infer-gpu.json"
if infer.is_file():
    p = json.loads(infer.read_text())
    bundles = p["infer"]["bundles"]
    measured = [b for b in bundles if b.get("energy_j") is not None]
    clocks = sorted({b.get("observed_frequency_mhz") for b in bundles} - {None})
    print(f"infer res18 on the GPU, complete={p['complete']}: {len(bundles)} bundles, "
          f"{len(measured)} with measured energy ({p['infer'].get('energy_source')}), "
          f"clocks observed {clocks[:1] + clocks[-1:] or 'none recorded'} MHz")
fit = out / "fit.txt"
if fit.is_file():
    print("cost model refit:", fit.read_text().strip().splitlines()[-1:])
EOF
