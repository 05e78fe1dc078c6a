"""External scripts timed by their optimizer steps (harness/workloads/script_steps.py), not by
their whole process: run for real through `harness profile` on the local backend, plus the
wrapper's pass-through and `summarise`'s choice of records on their own."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.backends.base import ProbeRun
from harness.profile import Caps, Outcome, Probe
from harness.sweep import summarise

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))
BATCH = 32
STEPS = 16
WARMUP = 2

# A plain script in the seed's contract that knows nothing of the harness: a slow start (sleep
# plus imports), then SGD steps on a tiny MLP, each timed end to end into a side file.
SLOW_START = """
import argparse, time
time.sleep(3.0)
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--batch", "-b", type=int, default=4)
ap.add_argument("--workers", "-j", type=int, default=0)
ap.add_argument("--max_iterations", type=int, default=5)
ap.add_argument("--data", default="")
a = ap.parse_args()
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
times = []
for step in range(a.max_iterations):
    t0 = time.perf_counter()
    x, y = torch.randn(a.batch, 3, 32, 32), torch.randint(0, 10, (a.batch,))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
with open(__file__ + ".steps", "w") as fh:
    fh.write("\\n".join(map(str, times)))
"""

# Forward passes only: no optimizer ever steps, so nothing but the process can be timed.
NO_OPTIMIZER = """
import argparse, torch
ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int)
ap.add_argument("--workers", type=int)
ap.add_argument("--max_iterations", type=int)
ap.add_argument("--data")
a = ap.parse_args()
model = torch.nn.Linear(16, 4)
with torch.no_grad():
    for _ in range(a.max_iterations):
        model(torch.randn(a.batch, 16))
"""


def _job(tmp_path: Path, name: str, script: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(script)
    job = tmp_path / f"{name}.yaml"
    job.write_text(
        f"name: {name}\nkind: train\nmodel: mlp\ninput_shape: [3, 32, 32]\nnum_classes: 10\n"
        f"batch_size: {BATCH}\ndata: {{source: synthetic}}\n"
        f"iterations: {{warmup: {WARMUP}, measured: {STEPS}}}\n"
        f"script: {{path: {path}, args: ['-b', '999']}}\n"
    )
    return job


def _profile(job: Path, out: Path, backend: str = "local") -> tuple[dict, list[dict]]:
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(job), "--cpu", "1"]
    cmd += ["--backend", backend, "--out", str(out)]
    p = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    check = [sys.executable, "-m", "harness.cli", "validate", str(out)]
    assert subprocess.run(check, cwd=ROOT, env=ENV).returncode == 0
    prof = json.loads(out.read_text())
    (probe,) = prof["train"]["probes"]
    assert probe["outcome"] == "ok", probe.get("log_tail")
    raw = out.parent / ".work" / out.stem / probe["id"] / "records.jsonl"
    return probe, [json.loads(ln) for ln in raw.read_text().splitlines()]


def _process_ips(records: list[dict]) -> float:
    done = next(r for r in records if r.get("type") == "script_done")
    return done["batch"] * done["iterations"] / done["elapsed_s"]


@pytest.mark.slow
def test_a_slow_starting_script_is_timed_by_its_steps_not_its_start_up(tmp_path: Path) -> None:
    probe, records = _profile(_job(tmp_path, "slow_start", SLOW_START), tmp_path / "p.json")
    own = [float(t) for t in (tmp_path / "slow_start.py.steps").read_text().split()]
    assert len(own) == STEPS
    expected = BATCH / statistics.median(own[WARMUP:])
    measured = probe["throughput"]["median"]
    process = _process_ips(records)
    print(f"steps: {measured:.0f} images/s, script's own: {expected:.0f}, process: {process:.0f}")
    assert probe["timing"] == "steps"
    assert probe["throughput"]["n"] == STEPS - WARMUP
    assert abs(measured - expected) <= 0.25 * expected
    assert measured > 5 * process  # the 3 s start and `import torch` are left out ...
    assert probe["startup_s"] > 3.0  # ... and reported as start-up instead
    hooks = probe["records"]
    assert len(hooks) == STEPS and all(r["source"] == "optimizer_hooks" for r in hooks)
    assert [r["warmup"] for r in hooks] == [True] * WARMUP + [False] * (STEPS - WARMUP)
    assert all(r["batch_size"] == BATCH for r in hooks)  # the harness's batch, not the -b 999
    closing = next(r for r in records if r.get("type") == "script_steps")
    assert closing == {"type": "script_steps", "steps": STEPS, "untimed_steps": 0}


@pytest.mark.slow
def test_a_script_without_steps_falls_back_to_its_process_and_says_so(tmp_path: Path) -> None:
    probe, records = _profile(_job(tmp_path, "no_opt", NO_OPTIMIZER), tmp_path / "p.json")
    assert probe["timing"] == "process"
    assert probe["throughput"]["n"] == 1
    assert probe["throughput"]["median"] == pytest.approx(_process_ips(records))
    assert probe["records"] == [] and probe["startup_s"] is None
    assert next(r for r in records if r.get("type") == "script_steps")["steps"] == 0


@pytest.mark.docker
@pytest.mark.slow
def test_a_script_runs_in_its_container_with_its_folder_mounted(tmp_path: Path) -> None:
    """The job image holds the harness, not the user's script: the script's folder is mounted
    read-only and the request names it as the container sees it."""
    probe, records = _profile(
        _job(tmp_path, "in_docker", NO_OPTIMIZER), tmp_path / "p.json", backend="docker"
    )
    meta = next(r for r in records if r.get("type") == "meta")
    assert meta["script"] == "/opt/script/in_docker.py"
    assert probe["backend"] == "docker" and probe["timing"] == "process"
    assert probe["throughput"]["median"] > 0


def test_a_missing_script_is_bad_input_before_any_probe(tmp_path: Path) -> None:
    job = _job(tmp_path, "gone", NO_OPTIMIZER)
    (tmp_path / "gone.py").unlink()
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(job), "--cpu", "1"]
    p = subprocess.run(cmd + ["--out", str(tmp_path / "p.json")], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 2
    (line,) = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert "field 'script.path'" in line and "gone.py" in line
    assert not (tmp_path / "p.json").exists()


PASS_THROUGH = """
import json, os, sys, torch
a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
g, d = torch.optim.SGD(a.parameters(), lr=0.1), torch.optim.SGD(b.parameters(), lr=0.1)
for _ in range(3):
    (a(torch.ones(4, 2)).sum() + b(torch.ones(4, 2)).sum()).backward()
    g.step()
    d.step()
print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "name": __name__}))
if sys.argv[1] == "raise":
    raise KeyError("from the script")
sys.exit(int(sys.argv[1]))
"""


def test_the_wrapper_runs_the_script_as_python_would(tmp_path: Path) -> None:
    script = tmp_path / "sub" / "s.py"
    script.parent.mkdir()
    script.write_text(PASS_THROUGH)
    records = tmp_path / "r.jsonl"
    env = dict(ENV, HARNESS_RECORDS=str(records))
    wrap = [sys.executable, "-m", "harness.workloads.script_steps", "--batch", "4", "--warmup=0"]
    p = subprocess.run([*wrap, str(script), "3", "--", "-b", "9"], env=env, capture_output=True)
    assert p.returncode == 3  # its exit code, unchanged
    seen = json.loads(p.stdout.decode().splitlines()[-1])
    assert seen == {
        "argv": [str(script), "3", "--", "-b", "9"],
        "path0": str(script.parent),
        "name": "__main__",
    }
    recs = [json.loads(ln) for ln in records.read_text().splitlines()]
    steps = [r for r in recs if r["type"] == "batch"]
    # one record per iteration (the first optimizer only), the first always warmup
    assert [r["warmup"] for r in steps] == [True, False, False]
    assert all(r["batch_size"] == 4 and r["batch_s"] >= r["step_s"] > 0 for r in steps)
    assert recs[-1] == {"type": "script_steps", "steps": 3, "untimed_steps": 3}
    p = subprocess.run([*wrap, str(script), "raise"], env=env, capture_output=True, text=True)
    assert p.returncode == 1 and "KeyError: 'from the script'" in p.stderr


def _run(records: list[dict]) -> Probe:
    run = ProbeRun(outcome=Outcome.ok, records=records, duration_s=9.0)
    return summarise(run, Caps(cpus=1), "c1", "local", datetime.now(UTC), keep_records=True)


def _batch(i: int, ips: float, **extra: object) -> dict:
    return {"type": "batch", "batch_idx": i, "global_step": i, "batch_size": 8, "warmup": i == 0,
            "batch_s": 8 / ips, "images_per_s": ips, "wall_s": 5.0 + i, **extra}  # fmt: skip


def test_summarise_prefers_the_hooks_records_over_the_scripts_own() -> None:
    meta = {"type": "meta", "script": "s.py", "argv": []}
    done = {"type": "script_done", "elapsed_s": 10.0, "iterations": 4, "batch": 8}
    own = [_batch(i, 50.0) for i in range(4)]
    hooks = [_batch(i, 100.0, source="optimizer_hooks") for i in range(4)]
    both = _run([meta, *own, *hooks, done])
    assert both.timing == "steps" and both.throughput is not None
    assert both.throughput.median == 100.0 and both.throughput.n == 3  # not 6: no double count
    assert both.records is not None and len(both.records) == 4
    alone = _run([meta, *own, done])  # a script that steps no torch.optim optimizer
    assert alone.timing == "steps" and alone.throughput and alone.throughput.median == 50.0
    process = _run([meta, done])
    assert process.timing == "process" and process.throughput
    assert process.throughput.median == pytest.approx(8 * 4 / 10.0)
    builtin = _run(own)  # the built-in workloads say nothing: the field is about scripts
    assert builtin.timing is None and builtin.throughput and builtin.throughput.median == 50.0


def test_profiles_written_before_the_field_stay_valid() -> None:
    probe = _run([_batch(i, 10.0) for i in range(3)]).model_dump(mode="json")
    del probe["timing"]
    assert Probe.model_validate(probe).timing is None
