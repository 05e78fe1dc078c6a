"""The profile options, written once: the CLI's signature, their checks, what profiles record."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.cli.profile import profile
from harness.options import OptionError, ProfileOptions

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "jobs" / "tiny-train.yaml")


def test_the_cli_signature_is_the_model() -> None:
    """Every option of `harness profile` is a field of the model, with the same default."""
    params = dict(inspect.signature(profile).parameters)
    del params["job"]
    fields = ProfileOptions.model_fields
    assert set(params) == set(fields)
    for name, p in params.items():
        want = fields[name].get_default(call_default_factory=True)
        if isinstance(want, list):  # typed as comma-separated text on the command line
            assert p.default is None, name
        else:
            assert p.default == want, name


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cpu": 0}, "--cpu: expected a positive number, got 0"),
        ({"memory": -1}, "--memory: expected a positive number of GB, got -1"),
        ({"memory_sweep": "1,x"}, "--memory-sweep: expected comma-separated numbers, got '1,x'"),
        ({"memory_sweep": "1,0"}, "--memory-sweep: expected positive numbers of GB"),
        ({"num_gpus": -1}, "--num-gpus: expected >= 0, got -1"),
        ({"nnodes": 0}, "--nnodes: expected >= 1, got 0"),
        ({"knee": 1.5}, "--knee: expected a share of peak in (0, 1], got 1.5"),
        ({"knee": 0}, "--knee: expected a share of peak in (0, 1], got 0"),
        ({"disk_read_mbps": 0}, "--disk-read-mbps: expected a bandwidth above 0 MB/s, got 0"),
        ({"frequencies": "1000,-5"}, "--frequencies: expected positive MHz, got [1000.0, -5.0]"),
        ({"strategy": "magic"}, "--strategy: expected one of adaptive, seed, exhaustive"),
        ({"budget": 0}, "--budget: expected >= 1, got 0"),
        ({"max_iterations": 0}, "--max-iterations: expected >= 1, got 0"),
        ({"timeout": 0}, "--timeout: expected a positive number of seconds, got 0"),
        ({"master_port": 70000}, "--master-port: expected a port in 1-65535, got 70000"),
        ({"cpu": float("nan")}, "--cpu: expected a finite number, got nan"),
        ({"cpu": float("inf")}, "--cpu: expected a finite number, got inf"),
        ({"memory_sweep": "1,nan"}, "--memory-sweep: expected a finite number, got nan"),
        ({"timeout": float("inf")}, "--timeout: expected a finite number, got inf"),
        ({"batch": 2**20 + 1}, "--batch: expected at most 1048576 (2**20) images per batch"),
        ({"nnodes": 10**12}, "--nnodes: expected at most 1024 nodes, got 1000000000000"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_option(values: dict, message: str) -> None:
    with pytest.raises(OptionError) as info:
        ProfileOptions.parse(values)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_comma_separated_lists_are_parsed() -> None:
    o = ProfileOptions.parse({"memory_sweep": "1, 2,4", "frequencies": None, "hosts": "a,,b"})
    assert o.memory_sweep == [1.0, 2.0, 4.0] and o.frequencies == [] and o.hosts == ["a", "b"]


def test_bad_values_exit_2_with_one_error_line() -> None:
    runner = CliRunner()
    for argv, message in [
        (["--knee", "1.5"], "error: --knee: expected a share of peak in (0, 1], got 1.5"),
        (["--cpu", "0"], "error: --cpu: expected a positive number, got 0"),
        (["--memory-sweep", "a"], "error: --memory-sweep: expected comma-separated numbers"),
    ]:
        r = runner.invoke(app, ["profile", TINY, "--backend", "local", *argv])
        assert r.exit_code == 2, r.output
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith(message), r.output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cpu", "nan"], "--cpu: expected a finite number, got nan"),
        (["--cpu", "inf"], "--cpu: expected a finite number, got inf"),
        (["--cpu", "0.5"], "--cpu: a training sweep probes whole CPUs"),
        (["--memory-sweep", "-1"], "--memory-sweep: expected positive numbers of GB"),
        (["--memory-sweep", "2,0"], "--memory-sweep: expected positive numbers of GB"),
        (["--memory-sweep", "1,nan"], "--memory-sweep: expected a finite number"),
        (["--budget", "0"], "--budget: expected >= 1, got 0"),
        (["-b", "0"], "--batch: expected >= 1, got 0"),
        (["-b", str(10**12)], "--batch: expected at most 1048576 (2**20) images per batch"),
        (["-b", "64"], "--batch: a batch of 64 images is more than the job's dataset holds"),
        (["--max-iterations", "0"], "--max-iterations: expected >= 1, got 0"),
        (["--timeout", "-5"], "--timeout: expected a positive number of seconds, got -5"),
        (["--timeout", "0"], "--timeout: expected a positive number of seconds, got 0"),
        (["--timeout", "nan"], "--timeout: expected a finite number, got nan"),
        (["--memory", "nan"], "--memory: expected a finite number, got nan"),
        (["--knee", "nan"], "--knee: expected a finite number, got nan"),
        (["--disk-read-mbps", "nan"], "--disk-read-mbps: expected a finite number, got nan"),
        (["--frequencies", "nan"], "--frequencies: expected a finite number, got nan"),
        (["--nnodes", str(10**12)], "--nnodes: expected at most 1024 nodes"),
    ],
)
def test_bad_values_are_refused_before_any_work(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    """Through the real command: exit 2, one line on stderr naming the option, nothing
    written (no profile, no probe folder)."""
    out = tmp_path / "p.json"
    r = CliRunner().invoke(app, ["profile", TINY, "--backend", "local", "--out", str(out), *argv])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), r.stderr
    assert list(tmp_path.iterdir()) == []


def test_recorded_options_keep_the_profiles_names() -> None:
    o = ProfileOptions(cpu=2, knee=0.8, memory_sweep=[1, 2]).resolved(batch=16)
    assert o.recorded("train") == {
        "cpu": 2.0,
        "memory": None,
        "memory_sweep": [1.0, 2.0],
        "num_gpus": 0,
        "disk_read_mbps": None,
        "strategy": "adaptive",
        "budget": None,
        "knee_fraction": 0.8,
        "batch_size": 16,
        "max_iterations": None,
    }
    infer = ProfileOptions(cpu=1, power_log=Path("p.csv")).recorded("infer")
    assert list(infer)[-4:] == ["device_name", "frequencies", "allow_clock_locking", "power_log"]
    assert infer["power_log"] == "p.csv"
    multi = ProfileOptions(cpu=1, nnodes=2, hosts=["ssh://a", "ssh://b"]).recorded("train")
    assert multi["nnodes"] == 2 and multi["hosts"] == ["ssh://a", "ssh://b"]
    assert multi["per_node_caps"] is True


def test_resolved_fills_only_what_was_not_given() -> None:
    o = ProfileOptions(batch=8)
    r = o.resolved(cpu=4, batch=32)
    assert (r.cpu, r.batch) == (4.0, 8) and o.cpu is None  # the original is untouched
    assert ProfileOptions(cpu=1).resolved(cpu=4).cpu == 1.0


@pytest.mark.parametrize("path", sorted((ROOT / "profiles").glob("*.json")))
def test_committed_profiles_options_are_what_the_model_records(path: Path) -> None:
    """Each committed profile's options, read back through the model, are recorded unchanged
    (older profiles lack a few later keys: those only are added)."""
    raw = json.loads(path.read_text())
    if "options" not in raw:
        pytest.skip("not a profile")
    old = raw["options"]
    names = {"knee_fraction": "knee", "batch_size": "batch"}
    values = {names.get(k, k): v for k, v in old.items() if k != "per_node_caps"}
    again = ProfileOptions.parse(values).recorded(raw["kind"])
    assert {k: again[k] for k in old} == old
