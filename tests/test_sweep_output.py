"""What a sweep does with the file at its output path and what its exit code says: a file it
cannot read (truncated, another schema_version) or another job's profile is never
overwritten, with or without --resume; a sweep in which no probe succeeded is written
complete=false and exits 1; a probe that ran another batch than asked is not counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.backends.base import ProbeRequest, ProbeRun
from harness.cli import app
from harness.options import ProfileOptions
from harness.profile import Outcome, load_profile
from harness.spec import load_spec
from harness.sweep import Sweep, SweepRefused

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "jobs" / "tiny-train.yaml"
runner = CliRunner()


class _Fake:
    """A backend that runs nothing: every probe ends `outcome`, with two measured batches of
    `batch` images (10 img/s per CPU) when it is ok."""

    name = "fake"

    def __init__(self, outcome: Outcome = Outcome.ok, batch: int | None = None) -> None:
        self.outcome, self.batch = outcome, batch
        self.requests: list[ProbeRequest] = []

    def describe(self) -> str:
        return "fake"

    def host_cpus(self) -> int:
        return 2

    def run_probe(self, request: ProbeRequest, on_record: Any = None) -> ProbeRun:
        self.requests.append(request)
        if self.outcome != Outcome.ok:
            return ProbeRun(
                outcome=self.outcome, records=[], reason="killed at the memory cap", duration_s=1
            )
        bs = self.batch or int(request.overrides["batch_size"])
        ips = 10.0 * request.caps.cpus
        records = [
            {"type": "batch", "warmup": i == 0, "batch_size": bs, "batch_s": bs / ips}
            | {"images_per_s": ips, "wall_s": 0.1 * (i + 1), "global_step": i, "batch_idx": i}
            for i in range(3)
        ]
        return ProbeRun(outcome=Outcome.ok, records=records, duration_s=0.3)

    def cleanup(self) -> None:
        pass


def _sweep(out: Path, backend: Any = None, **opts: Any) -> Sweep:
    options = ProfileOptions(strategy="exhaustive", **opts)
    return Sweep(load_spec(TINY), backend or _Fake(), options, out, out.parent / "w")


def _valid_profile(out: Path) -> bytes:
    _sweep(out).run()
    return out.read_bytes()


def _one_error_line(r: Any) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# ---------------------------------------------------------------- the file at --out


def _truncated(out: Path) -> bytes:
    return _valid_profile(out)[:300]


def _old_schema(out: Path) -> bytes:
    raw = json.loads(_valid_profile(out))
    raw["schema_version"] = "0.9"
    return json.dumps(raw, indent=1).encode()


def _not_json(out: Path) -> bytes:
    return b"name: tiny-train\nkind: train\n"


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_truncated, "invalid JSON at line"),
        (_old_schema, "field 'schema_version': expected '1.0', got '0.9'"),
        (_not_json, "invalid JSON at line 1"),
    ],
)
@pytest.mark.parametrize("resume", [True, False])
def test_an_unreadable_profile_is_never_overwritten(
    tmp_path: Path, make: Any, why: str, resume: bool
) -> None:
    out = tmp_path / "p.json"
    before = make(out)
    out.write_bytes(before)
    argv = ["profile", str(TINY), "--backend", "local", "--cpu", "1", "--out", str(out)]
    r = runner.invoke(app, [*argv, "--resume"] if resume else argv)
    assert r.exit_code == 2, r.output
    line = _one_error_line(r)
    assert line.startswith(f"error: {out}: ")
    assert why in line and "it is left as it is" in line and "--out" in line
    assert ("--resume: cannot read it" in line) == resume
    assert out.read_bytes() == before  # the original bytes are still on disk
    assert not (tmp_path / ".work").exists()  # refused before any probe ran


def test_another_jobs_profile_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    raw = json.loads(_valid_profile(out))
    raw["job"]["name"] = "res50"
    before = json.dumps(raw, indent=1).encode()
    out.write_bytes(before)
    for resume in (False, True):
        with pytest.raises(
            SweepRefused, match="holds the profile of job 'res50', not 'tiny-train'"
        ):
            _sweep(out, resume=resume)
    assert out.read_bytes() == before


def test_a_profile_of_the_same_job_is_replaced_or_resumed(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    _valid_profile(out)
    first = load_profile(out)
    assert first.complete
    again = _sweep(out).run()  # no --resume: a new sweep replaces the earlier one
    assert again.id != first.id and load_profile(out).id == again.id
    backend = _Fake()
    resumed = _sweep(out, backend, resume=True).run()
    assert resumed.id == again.id and backend.requests == []  # every probe was on disk


def test_out_that_is_a_folder_is_refused_before_any_probe(tmp_path: Path) -> None:
    backend = _Fake()
    with pytest.raises(SweepRefused, match="it is a folder"):
        _sweep(tmp_path, backend)
    assert backend.requests == []


# ---------------------------------------------------------------- no probe succeeded


@pytest.mark.parametrize("outcome", [Outcome.oom, Outcome.crashed, Outcome.timed_out])
def test_a_sweep_with_no_probe_that_succeeded_is_not_complete(
    tmp_path: Path, outcome: Outcome
) -> None:
    out = tmp_path / "p.json"
    sweep = _sweep(out, _Fake(outcome))
    prof = sweep.run()
    assert not prof.complete and not load_profile(out).complete
    assert sweep.outcomes() == {outcome: 2}
    assert prof.train is not None and all(p.outcome == outcome for p in prof.train.probes)


def test_one_probe_that_succeeded_makes_it_complete(tmp_path: Path) -> None:
    class _FailsAt2(_Fake):
        def run_probe(self, request: ProbeRequest, on_record: Any = None) -> ProbeRun:
            self.outcome = Outcome.oom if request.caps.cpus == 2 else Outcome.ok
            return super().run_probe(request, on_record)

    sweep = _sweep(tmp_path / "p.json", _FailsAt2())
    assert sweep.run().complete
    assert sweep.outcomes() == {Outcome.ok: 1, Outcome.oom: 1}


def test_a_job_that_always_fails_exits_1_with_complete_false(tmp_path: Path) -> None:
    """For real on the local backend: a script that fails at once crashes every probe."""
    script = tmp_path / "fails.py"
    script.write_text("raise SystemExit('this script always fails')\n")
    job = tmp_path / "fails.yaml"
    job.write_text(
        "name: always-fails\nmodel: squeezenet1_1\ninput_shape: [3, 32, 32]\nnum_classes: 10\n"
        "batch_size: 4\ndata: {source: synthetic, num_samples: 8}\n"
        "iterations: {warmup: 0, measured: 1}\n"
        f"script: {{path: {script}}}\n"
    )
    out = tmp_path / "p.json"
    cmd = [sys.executable, "-m", "harness.cli", "profile", str(job), "--backend", "local"]
    cmd += ["--cpu", "1", "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no probe succeeded (1 crashed; last: crashed: "), r.stderr
    assert f"recorded in {out} (complete=false)" in last
    prof = load_profile(out)
    assert not prof.complete and prof.train is not None
    assert [p.outcome for p in prof.train.probes] == [Outcome.crashed]


# ---------------------------------------------------------------- the batch that was measured


def test_a_probe_that_ran_another_batch_than_asked_is_refused(tmp_path: Path) -> None:
    """The profile keeps what was measured (batches of 6) and says the 8 asked for did not run;
    the sweep does not count the probe as a success."""
    out = tmp_path / "p.json"
    sweep = _sweep(out, _Fake(batch=6), cpu=1)
    prof = sweep.run()
    assert not prof.complete and prof.train is not None
    (probe,) = prof.train.probes
    assert probe.outcome == Outcome.refused
    assert probe.reason and "held 6 images, not the 8 asked for" in probe.reason
    assert probe.records and {r.batch_size for r in probe.records} == {6}
    assert prof.options["batch_size"] == 8


def test_a_batch_above_the_limit_or_the_dataset_is_refused_before_any_probe(
    tmp_path: Path,
) -> None:
    spec = load_spec(TINY)
    backend = _Fake()
    big = spec.model_copy(update={"batch_size": 10**12})
    with pytest.raises(
        SweepRefused, match=r"job 'tiny-train': batch_size: expected at most 1048576"
    ):
        Sweep(big, backend, ProfileOptions(), tmp_path / "p.json", tmp_path / "w")  # type: ignore[arg-type]
    with pytest.raises(SweepRefused, match=r"--batch: a batch of 33 images is more than"):
        _sweep(tmp_path / "p.json", backend, batch=33)
    assert backend.requests == [] and not (tmp_path / "p.json").exists()


def test_an_inference_job_takes_no_batch_option(tmp_path: Path) -> None:
    from tests.factory.tiny_infer_job import write_tiny_infer

    spec = load_spec(write_tiny_infer(tmp_path))
    with pytest.raises(SweepRefused, match=r"--batch: inference jobs are timed at"):
        Sweep(spec, _Fake(), ProfileOptions(batch=4), tmp_path / "p.json", tmp_path / "w")  # type: ignore[arg-type]
    assert spec.infer is not None
    huge = spec.model_copy(update={"infer": spec.infer.model_copy(update={"batch_sizes": [2**21]})})
    with pytest.raises(SweepRefused, match=r"infer.batch_sizes: expected at most 1048576"):
        Sweep(huge, _Fake(), ProfileOptions(), tmp_path / "p.json", tmp_path / "w")  # type: ignore[arg-type]
