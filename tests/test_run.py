"""The probe entry point's other two roads, run for real through `harness profile` on the local
backend: an external training script in the seed's contract, and DALI's CPU pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _profile(job: Path, out: Path, data: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(job), "--cpu", "1"]
    cmd += ["--backend", "local", "--out", str(out), "--data-dir", str(data), *extra]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    check = [sys.executable, "-m", "harness.cli", "validate", str(out)]
    assert subprocess.run(check, cwd=ROOT, env=env).returncode == 0
    return json.loads(out.read_text())


@pytest.mark.slow
def test_external_script_gets_the_profilers_options_over_its_own(tmp_path: Path) -> None:
    """jobs/script-example.yaml passes `-b 512` to the script; the profiler's batch (8) and
    --max-iterations win. The script writes batch records of its own; its optimizer steps,
    timed by the harness's hooks, are the ones counted (once each)."""
    prof = _profile(
        ROOT / "jobs" / "script-example.yaml",
        tmp_path / "p.json",
        tmp_path / "data",
        "--max-iterations",
        "3",
    )
    (probe,) = prof["train"]["probes"]
    assert probe["outcome"] == "ok", probe.get("log_tail")
    assert probe["throughput"]["median"] > 0
    assert probe["timing"] == "steps" and probe["throughput"]["n"] == 2  # 3 steps, 1 warmup
    assert [r["source"] for r in probe["records"]] == ["optimizer_hooks"] * 3
    req_dir = tmp_path / ".work" / "p" / probe["id"]
    records = [json.loads(ln) for ln in (req_dir / "records.jsonl").read_text().splitlines()]
    meta = next(r for r in records if r.get("type") == "meta")
    argv = meta["argv"]
    assert argv[argv.index("--batch") + 1] == "8" and "512" not in argv
    assert argv[argv.index("--max_iterations") + 1] == "3"
    assert "--arch" in argv and "--lr" in argv  # the script's other options pass through
    assert Path(argv[argv.index("--data") + 1]).is_dir()
    done = next(r for r in records if r.get("type") == "script_done")
    assert done["batch"] == 8 and done["iterations"] == 3 and done["elapsed_s"] > 0


@pytest.mark.slow
def test_dali_cpu_pipeline_feeds_real_training_steps(tmp_path: Path) -> None:
    job = tmp_path / "dali.yaml"
    job.write_text(
        "name: dali-tiny\nkind: train\nmodel: squeezenet1_1\ninput_shape: [3, 64, 64]\n"
        "num_classes: 4\nbatch_size: 8\n"
        "data: {source: jpeg, num_samples: 32, stored_size: [96, 96]}\n"
        "loader: {kind: dali, workers: auto}\n"
        "iterations: {warmup: 1, measured: 4, stop: fixed}\n"
    )
    prof = _profile(job, tmp_path / "p.json", tmp_path / "data")
    (probe,) = prof["train"]["probes"]
    assert probe["outcome"] == "ok", probe.get("log_tail")
    batches = [r for r in probe["records"] if not r["warmup"]]
    assert len(batches) == 4
    assert all(r["batch_size"] == 8 and r["data_s"] >= 0 and r["loss"] > 0 for r in batches)
    assert probe["throughput"]["median"] > 0
