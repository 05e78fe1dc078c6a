"""Frequencies: fake cpufreq trees and a fake NVML object; the real machine must refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.telemetry import freq
from harness.telemetry.freq import ClockLockRefused, Clocks


def _cpufreq(root: Path, cpu: int, **files: str) -> Path:
    d = root / f"cpu{cpu}" / "cpufreq"
    d.mkdir(parents=True)
    defaults = {
        "scaling_available_frequencies": "1200000 1800000 2400000",
        "scaling_available_governors": "performance powersave userspace",
        "scaling_governor": "performance",
        "scaling_setspeed": "<unsupported>",
        "scaling_cur_freq": "2400000",
        "cpuinfo_min_freq": "1200000",
        "cpuinfo_max_freq": "2400000",
    }
    defaults.update(files)
    for name, text in defaults.items():
        if text is not None:
            (d / name).write_text(text + "\n")
    return d


def test_fake_cpufreq_lists_frequencies(tmp_path: Path) -> None:
    _cpufreq(tmp_path, 0)
    assert freq.cpu_available_mhz(tmp_path) == ([1200.0, 1800.0, 2400.0], None)


def test_fake_cpufreq_min_max_when_no_list(tmp_path: Path) -> None:
    d = _cpufreq(tmp_path, 0)
    (d / "scaling_available_frequencies").unlink()
    assert freq.cpu_available_mhz(tmp_path) == ([1200.0, 2400.0], None)


def test_fake_cpufreq_lock_sets_and_restores(tmp_path: Path) -> None:
    d0 = _cpufreq(tmp_path, 0)
    d1 = _cpufreq(tmp_path, 1, scaling_governor="userspace", scaling_setspeed="2400000")
    clocks = Clocks("cpu", cpus=(0, 1), cpu_root=tmp_path)
    with clocks.locked(1800.0) as how:
        assert "1800" in how
        for d in (d0, d1):
            assert (d / "scaling_governor").read_text().strip() == "userspace"
            assert (d / "scaling_setspeed").read_text().strip() == "1800000"
    assert (d0 / "scaling_governor").read_text().strip() == "performance"
    assert (d1 / "scaling_governor").read_text().strip() == "userspace"
    assert (d1 / "scaling_setspeed").read_text().strip() == "2400000"


def test_fake_cpufreq_restores_after_an_error_inside(tmp_path: Path) -> None:
    d0 = _cpufreq(tmp_path, 0)
    with (
        pytest.raises(RuntimeError, match="boom"),
        Clocks("cpu", cpus=(0,), cpu_root=tmp_path).locked(1200.0),
    ):
        raise RuntimeError("boom")
    assert (d0 / "scaling_governor").read_text().strip() == "performance"


def test_fake_cpufreq_refusals(tmp_path: Path) -> None:
    _cpufreq(tmp_path, 0, scaling_available_governors="performance powersave")
    with (
        pytest.raises(ClockLockRefused, match="no 'userspace' governor"),
        Clocks("cpu", cpus=(0,), cpu_root=tmp_path).locked(1800.0),
    ):
        pass
    other = tmp_path / "b"
    _cpufreq(other, 0)
    reason = Clocks("cpu", cpus=(0,), cpu_root=other).check(1500.0)
    assert reason is not None and "not offered" in reason


def test_fake_cpufreq_observed_and_cpuinfo_fallback(tmp_path: Path) -> None:
    _cpufreq(tmp_path, 0, scaling_cur_freq="2000000")
    _cpufreq(tmp_path, 1, scaling_cur_freq="1000000")
    assert freq.cpu_observed_mhz(tmp_path, [0, 1]) == pytest.approx(1500.0)
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\ncpu MHz\t\t: 2100.5\n\nprocessor\t: 1\ncpu MHz\t\t: 1900.5\n")
    assert freq.cpu_observed_mhz(tmp_path / "none", [0, 1], info) == pytest.approx(2000.5)
    assert freq.cpu_observed_mhz(tmp_path / "none", [1], info) == pytest.approx(1900.5)


def test_this_machine_refuses_cpu_locking_with_a_reason() -> None:
    # Here there is no cpufreq directory (container/VM): any request is refused, clearly.
    # 1 MHz is offered nowhere, so on a host that could lock, nothing is changed either.
    no_cpufreq = not Path("/sys/devices/system/cpu/cpu0/cpufreq").exists()
    reason = freq.can_lock("cpu", 1.0)
    assert reason is not None and reason.startswith("cannot lock CPU clock")
    with (
        pytest.raises(ClockLockRefused, match="cannot lock CPU clock"),
        Clocks("cpu", cpus=(0,)).locked(1.0),
    ):
        pass
    if no_cpufreq:
        assert "cpufreq" in reason
        assert freq.cpu_available_mhz()[0] == []


class FakeNvml:
    NVML_CLOCK_SM = 1

    def __init__(self, fail_lock: bool = False) -> None:
        self.locked: list[tuple[int, int]] = []
        self.resets = 0
        self.fail_lock = fail_lock

    def nvmlDeviceGetHandleByIndex(self, i: int) -> str:
        return f"gpu{i}"

    def nvmlDeviceGetSupportedMemoryClocks(self, h: str) -> list[int]:
        return [877, 1593]

    def nvmlDeviceGetSupportedGraphicsClocks(self, h: str, mem: int) -> list[int]:
        assert mem == 1593
        return [1980, 1410, 1005, 1410]

    def nvmlDeviceGetClockInfo(self, h: str, kind: int) -> int:
        return self.locked[-1][0] if self.locked and not self.resets else 1755

    def nvmlDeviceSetGpuLockedClocks(self, h: str, lo: int, hi: int) -> None:
        if self.fail_lock:
            raise RuntimeError("Insufficient Permissions")
        self.locked.append((lo, hi))

    def nvmlDeviceResetGpuLockedClocks(self, h: str) -> None:
        self.resets += 1


def test_fake_nvml_lists_and_observes_clocks() -> None:
    nvml: Any = FakeNvml()
    clocks = Clocks("gpu", nvml=nvml)
    assert clocks.available() == ([1005.0, 1410.0, 1980.0], None)
    assert clocks.observed() == 1755.0


def test_fake_nvml_shared_gpu_is_never_locked() -> None:
    nvml = FakeNvml()
    with (
        pytest.raises(ClockLockRefused, match="allow-clock-locking"),
        Clocks("gpu", nvml=nvml).locked(1410.0),
    ):
        pass
    assert nvml.locked == [] and nvml.resets == 0


def test_fake_nvml_lock_when_allowed_and_reset_after() -> None:
    nvml = FakeNvml()
    clocks = Clocks("gpu", nvml=nvml)
    with clocks.locked(1410.0, allow_clock_locking=True) as how:
        assert nvml.locked == [(1410, 1410)]
        assert clocks.observed() == 1410.0
        assert "nvmlDeviceSetGpuLockedClocks" in how
    assert nvml.resets == 1


def test_fake_nvml_permission_denied_is_refused() -> None:
    nvml = FakeNvml(fail_lock=True)
    with (
        pytest.raises(ClockLockRefused, match="Insufficient Permissions"),
        Clocks("gpu", nvml=nvml).locked(1410.0, allow_clock_locking=True),
    ):
        pass
    assert nvml.resets == 0


def test_default_clock_needs_no_lock() -> None:
    with Clocks("gpu", nvml=None).locked(None) as how:
        assert "default" in how


def test_a_refused_probe_ends_refused_not_crashed() -> None:
    from harness.backends import docker as docker_backend
    from harness.backends import local
    from harness.profile import Outcome

    why = "cannot lock CPU clock: no /sys/devices/system/cpu/cpu0/cpufreq"
    records = [
        {"type": "caps", "granted_cpus": 1},
        {"type": "refused", "reason": why, "frequency_mhz": 1200.0},
        {"type": "error", "message": f"ClockLockRefused: {why}"},
    ]
    assert local.classify(1, 0, records) == (Outcome.refused, why)
    assert docker_backend.classify(False, 1, False, records) == (Outcome.refused, why)
    crashed = [r for r in records if r["type"] != "refused"]
    assert local.classify(1, 0, crashed)[0] == Outcome.crashed
    assert docker_backend.classify(False, 1, False, crashed)[0] == Outcome.crashed
    assert local.classify(0, 0, records)[0] == Outcome.ok  # only a failed probe is a refusal


def test_profile_pre_check_on_a_gpu_names_the_option() -> None:
    from harness.cli.profile import check_clocks
    from harness.options import ProfileOptions
    from harness.telemetry.energy import load_nvml

    args = ProfileOptions(num_gpus=1, frequencies=[1410.0])
    reason = check_clocks(args)  # shared by default: never locked, whatever the GPU allows
    assert reason is not None and reason.startswith("--frequencies 1410: clock locking refused")
    assert "--allow-clock-locking" in reason
    args = args.model_copy(update={"allow_clock_locking": True})
    if load_nvml()[0] is None:  # this machine: no NVML, so even an owned GPU cannot be locked
        assert check_clocks(args) == "--frequencies 1410: cannot lock GPU clock: NVML unavailable"
    args = args.model_copy(update={"frequencies": []})
    assert check_clocks(args) is None
