"""Energy readers: fake RAPL trees and a fake NVML object (this machine has neither)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.telemetry import energy


def _zone(root: Path, name: str, uj: int, max_uj: int) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "energy_uj").write_text(f"{uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (d / "name").write_text("package-0\n")
    return d


def test_fake_rapl_sums_packages_skips_subzones_and_wraps(tmp_path: Path) -> None:
    p0 = _zone(tmp_path, "intel-rapl:0", 1_000_000, 10_000_000)
    p1 = _zone(tmp_path, "intel-rapl:1", 500_000, 10_000_000)
    core = _zone(tmp_path, "intel-rapl:0:0", 7_000_000, 10_000_000)  # inside package 0
    counter, desc = energy.rapl_counter(tmp_path)
    assert counter is not None and "intel-rapl:0,intel-rapl:1" in desc
    assert counter.read_j() == 0.0
    (p0 / "energy_uj").write_text("4000000")  # +3 J
    (p1 / "energy_uj").write_text("1500000")  # +1 J
    (core / "energy_uj").write_text("9000000")  # ignored
    assert counter.read_j() == pytest.approx(4.0)
    (p0 / "energy_uj").write_text("1000000")  # wrapped: +(10 - 4) + 1 = 7 J
    assert counter.read_j() == pytest.approx(11.0)


def test_fake_rapl_missing_or_empty_tree_gives_a_reason(tmp_path: Path) -> None:
    counter, reason = energy.rapl_counter(tmp_path / "nope")
    assert counter is None and "RAPL unavailable" in reason
    (tmp_path / "intel-rapl").mkdir()
    counter, reason = energy.rapl_counter(tmp_path)
    assert counter is None and "no package zones" in reason


def test_rapl_on_this_machine_is_none_with_reason() -> None:
    counter, reason = energy.best_counter("cpu")
    if counter is None:
        assert reason.startswith("RAPL unavailable")
    else:  # a host that has RAPL: the counter must read
        assert counter.read_j() >= 0.0


class FakeNvml:
    """Stands in for pynvml: total energy in millijoules, advancing by 250 mJ per read."""

    NVML_CLOCK_SM = 1

    def __init__(self) -> None:
        self.mj = 1_000_000.0

    def nvmlDeviceGetHandleByIndex(self, i: int) -> str:
        if i != 0:
            raise RuntimeError("Invalid Argument")
        return "gpu0"

    def nvmlDeviceGetTotalEnergyConsumption(self, h: str) -> float:
        self.mj += 250.0
        return self.mj


def test_fake_nvml_counter_reads_joules_since_open() -> None:
    counter, desc = energy.nvml_counter(0, FakeNvml())
    assert counter is not None and desc.startswith("nvml")
    assert counter.read_j() == pytest.approx(0.25)
    assert counter.read_j() == pytest.approx(0.5)
    none, reason = energy.nvml_counter(3, FakeNvml())
    assert none is None and "GPU 3" in reason


def test_nvml_here_is_none_with_reason_or_works() -> None:
    nvml, reason = energy.load_nvml()
    if nvml is None:
        assert reason is not None and reason.startswith("NVML unavailable")
        counter, why = energy.best_counter("cuda")
        assert counter is None and why.startswith("NVML unavailable")


def test_fake_measure_window_repeats_until_window_filled() -> None:
    class Counter:
        source = "fake"
        j = 0.0

        def read_j(self) -> float:
            self.j += 1.0
            return self.j

    calls: list[int] = []
    joules, n, t0, t1 = energy.measure_window(
        Counter(), lambda: calls.append(1), 0.02, lambda: None
    )
    assert joules == 1.0 and n == len(calls) >= 1 and t1 - t0 >= 0.02


def _log(path: Path, rows: list[tuple[Any, float]], header: str = "timestamp,watts") -> Path:
    path.write_text(header + "\n" + "".join(f"{t},{w}\n" for t, w in rows))
    return path


def test_power_log_integrates_between_timestamps(tmp_path: Path) -> None:
    log = _log(tmp_path / "p.csv", [(100.0, 10.0), (101.0, 10.0), (102.0, 20.0), (103.0, 20.0)])
    joules, reason = energy.power_log_energy(log, 100.5, 102.5)
    # 0.5 s at 10 W, then a ramp 10->20 W over 1 s (15 J), then 0.5 s at 20 W
    assert reason is None and joules == pytest.approx(5.0 + 15.0 + 10.0)


def test_power_log_accepts_iso_times_and_other_column_names(tmp_path: Path) -> None:
    log = _log(
        tmp_path / "p.csv",
        [("2024-01-01T00:00:00+00:00", 5.0), ("2024-01-01T00:00:10+00:00", 5.0)],
        header="time,power",
    )
    t0 = 1704067200.0
    joules, _ = energy.power_log_energy(log, t0 + 2, t0 + 4)
    assert joules == pytest.approx(10.0)


def test_power_log_not_covering_the_window_is_none_not_zero(tmp_path: Path) -> None:
    log = _log(tmp_path / "p.csv", [(100.0, 10.0), (101.0, 10.0)])
    joules, reason = energy.power_log_energy(log, 100.5, 105.0)
    assert joules is None and reason is not None and "does not cover" in reason


def test_power_log_bad_file_is_one_line(tmp_path: Path) -> None:
    bad = _log(tmp_path / "bad.csv", [(1.0, 2.0)], header="when,volts")
    joules, reason = energy.power_log_energy(bad, 0.0, 1.0)
    assert joules is None and reason is not None and str(bad) in reason and "\n" not in reason
    joules, reason = energy.power_log_energy(tmp_path / "missing.csv", 0.0, 1.0)
    assert joules is None and reason is not None and "cannot read" in reason
