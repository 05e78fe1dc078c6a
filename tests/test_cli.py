"""The CLI's start-up path stays light, and options it cannot serve fail loudly."""

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys; sys.argv=['harness','--help']\n"
        "from harness import cli\n"
        "heavy = [m for m in ('torch', 'docker', 'pyscipopt', 'pandas', 'matplotlib', 'numpy')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"heavy modules imported at start-up: {r.stdout}"


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
