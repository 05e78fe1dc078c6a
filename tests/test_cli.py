"""The CLI's start-up path stays light, and options it cannot serve fail loudly."""

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_help_imports_no_heavy_module() -> None:
    """Run `harness --help` for real, then look at what it imported (behaviour, not wall time:
    bench/startup.py times it)."""
    heavy = ("torch", "docker", "pyscipopt", "pandas", "matplotlib", "numpy", "numba")
    heavy += ("typer.rich_utils",)
    heavy += ("rich", "harness.profile")  # the progress display and the schema load on demand
    code = (
        "import runpy, sys\n"
        "sys.argv = ['harness', '--help']\n"
        "try:\n    runpy.run_module('harness.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout and "profile" in r.stdout
    assert r.stderr.strip() == "", f"heavy modules imported by --help: {r.stderr}"


def test_every_command_has_help() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("profile", "validate", "schema", "solve"):
        assert cmd in r.output


def test_more_cpus_than_host_fails_clearly() -> None:
    r = runner.invoke(
        app, ["profile", str(ROOT / "jobs/tiny-train.yaml"), "--cpu", "999", "--backend", "local"]
    )
    assert r.exit_code == 2
    assert "999" in r.output and "this host has" in r.output


def test_gpus_on_a_host_without_them_fail_clearly() -> None:
    r = runner.invoke(
        app,
        ["profile", str(ROOT / "jobs/tiny-train.yaml"), "--num-gpus", "4", "--backend", "local"],
    )
    assert r.exit_code == 2
    assert "--num-gpus 4" in r.output


def test_bad_strategy_and_bad_spec() -> None:
    r = runner.invoke(
        app,
        [
            "profile",
            str(ROOT / "jobs/tiny-train.yaml"),
            "--strategy",
            "magic",
            "--backend",
            "local",
        ],
    )
    assert r.exit_code == 2 and "--strategy" in r.output
    r = runner.invoke(app, ["profile", str(ROOT / "README.md")])
    assert r.exit_code == 2 and "README.md" in r.output


def test_schema_command_writes_json_schema(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    r = runner.invoke(app, ["schema", "--out", str(out)])
    assert r.exit_code == 0
    assert '"schema_version"' in out.read_text()


def test_profile_tiny_infer_job_through_the_cli(tmp_path: Path) -> None:
    from harness.profile import load_profile
    from harness.workloads.infer import bundle_ranges
    from tests.factory.tiny_infer_job import profile_argv, write_tiny_infer

    job = write_tiny_infer(tmp_path)
    r = runner.invoke(app, profile_argv(job, tmp_path))
    assert r.exit_code == 0, r.output
    prof = load_profile(tmp_path / "profile.json")
    assert prof.complete and prof.kind == "infer" and prof.infer is not None
    inf = prof.infer
    n = len(inf.layers)
    assert n > 2 and len(inf.cuts) == n + 1 and inf.device_name == "tiny-cli"
    assert inf.cuts[0].shape == [3, 32, 32] and inf.cuts[0].bytes_fp32 == 4 * 3 * 32 * 32
    assert {(b.start, b.end, b.batch_size) for b in inf.bundles} == {
        (i, j, 1) for i, j in bundle_ranges(n, 2)
    }
    assert all(b.latency.median > 0 for b in inf.bundles)
    # the CPU seconds of each timed call, which a stream under a CPU quota is bound by
    assert all(b.cpu_s is not None and b.cpu_s > 0 for b in inf.bundles)
    assert [p.outcome for p in inf.probes] == ["ok"]
    assert prof.options["power_log"] is None and prof.options["frequencies"] == []
    if inf.energy_source is None:  # no RAPL/NVML here and no --power-log: null with a reason
        assert inf.energy_reason
        assert all(b.energy_j is None and b.energy_reason for b in inf.bundles)


def test_frequencies_this_host_cannot_lock_fail_fast(tmp_path: Path) -> None:
    from tests.factory.tiny_infer_job import profile_argv, write_tiny_infer

    job = write_tiny_infer(tmp_path)
    # 1 MHz is offered by no CPU: refused here (no cpufreq) and on any host that has cpufreq
    r = runner.invoke(app, profile_argv(job, tmp_path, "--frequencies", "1"))
    assert r.exit_code == 2
    assert "--frequencies 1: cannot lock CPU clock" in r.output
    assert not (tmp_path / "profile.json").exists()  # no probe was started


def test_profile_options_that_need_an_infer_job_or_a_file(tmp_path: Path) -> None:
    tiny_train = str(ROOT / "jobs/tiny-train.yaml")
    r = runner.invoke(app, ["profile", tiny_train, "--frequencies", "1000", "--backend", "local"])
    assert r.exit_code == 2 and "--frequencies: only inference jobs" in r.output
    from tests.factory.tiny_infer_job import profile_argv, write_tiny_infer

    job = write_tiny_infer(tmp_path)
    missing = tmp_path / "no-such.csv"
    r = runner.invoke(app, profile_argv(job, tmp_path, "--power-log", str(missing)))
    assert r.exit_code == 2 and "--power-log: no such file" in r.output
    r = runner.invoke(app, ["profile", "--help"])
    assert "--allow-clock-locking" in r.output and "--power-log" in r.output
