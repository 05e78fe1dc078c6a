"""Clock frequencies (DVFS): what a device offers, locking one for a probe, what was observed.

Locking is only done where it is permitted and asked for, and is always undone. Where it is not
permitted (no cpufreq directory as in most containers and VMs, no userspace governor, not root,
or a GPU that may be shared) the request ends with ClockLockRefused and a one-line reason:
nothing silently measures at the default clock and calls it another frequency. GPUs are assumed
shared (`shared_gpu=True`): locking one needs an explicit allow_clock_locking (the CLI's
--allow-clock-locking). Reading clocks is always fine. No torch import.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CPU_ROOT = Path("/sys/devices/system/cpu")
CPUINFO = Path("/proc/cpuinfo")
Domain = Literal["cpu", "gpu"]


class ClockLockRefused(RuntimeError):
    """A frequency was asked for but cannot be set here; the message says why (one line)."""


# ---------------------------------------------------------------- CPU (cpufreq sysfs)


def _cpufreq(root: Path, cpu: int) -> Path:
    return root / f"cpu{cpu}" / "cpufreq"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_available_mhz(root: str | Path = CPU_ROOT, cpu: int = 0) -> tuple[list[float], str | None]:
    """Frequencies cpufreq offers (MHz), or ([], reason). Min/max only if no explicit list."""
    d = _cpufreq(Path(root), cpu)
    if not d.is_dir():
        return [], f"no {d} (cpufreq not exposed: container, VM or driver without it)"
    listed = _read(d / "scaling_available_frequencies")
    if listed:
        return sorted({int(x) / 1000.0 for x in listed.split()}), None
    lo, hi = _read(d / "cpuinfo_min_freq"), _read(d / "cpuinfo_max_freq")
    if lo and hi:
        return sorted({int(lo) / 1000.0, int(hi) / 1000.0}), None
    return [], f"{d} lists no frequencies"


def cpu_observed_mhz(
    root: str | Path = CPU_ROOT, cpus: Sequence[int] | None = None, cpuinfo: str | Path = CPUINFO
) -> float | None:
    """Mean current frequency of the CPUs the probe runs on (scaling_cur_freq, else cpuinfo)."""
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else list(cpus)
    vals = []
    for c in cpus:
        cur = _read(_cpufreq(Path(root), c) / "scaling_cur_freq")
        if cur and cur.isdigit():
            vals.append(int(cur) / 1000.0)
    if vals:
        return sum(vals) / len(vals)
    text = _read(Path(cpuinfo))
    if not text:
        return None
    mhz = []
    cpu = -1
    for line in text.splitlines():
        if line.startswith("processor"):
            cpu = int(line.split(":", 1)[1])
        elif line.startswith("cpu MHz") and (cpu in cpus or not cpus):
            mhz.append(float(line.split(":", 1)[1]))
    return sum(mhz) / len(mhz) if mhz else None


def cpu_lock_check(
    mhz: float, root: str | Path = CPU_ROOT, cpus: Sequence[int] = (0,)
) -> str | None:
    """Why `mhz` cannot be locked on these CPUs, or None when it can (changes nothing)."""
    for c in cpus:
        d = _cpufreq(Path(root), c)
        if not d.is_dir():
            return (
                f"cannot lock CPU clock: no {d} (cpufreq not exposed: container, VM or "
                "driver without it)"
            )
        governors = (_read(d / "scaling_available_governors") or "").split()
        if "userspace" not in governors:
            return f"cannot lock CPU clock: cpu{c} has no 'userspace' governor (has {governors})"
        for f in ("scaling_governor", "scaling_setspeed"):
            if not os.access(d / f, os.W_OK):
                return f"cannot lock CPU clock: {d / f} is not writable (needs root on the host)"
    available, reason = cpu_available_mhz(root, cpus[0])
    if reason:
        return f"cannot lock CPU clock: {reason}"
    if len(available) > 2 and not any(abs(a - mhz) < 0.5 for a in available):
        return f"cannot lock CPU clock: {mhz:g} MHz is not offered (offered: {available})"
    if available and not (min(available) - 0.5 <= mhz <= max(available) + 0.5):
        return f"cannot lock CPU clock: {mhz:g} MHz outside {min(available)}..{max(available)}"
    return None


@contextmanager
def cpu_locked(
    mhz: float, root: str | Path = CPU_ROOT, cpus: Sequence[int] = (0,)
) -> Iterator[str]:
    """Userspace governor + scaling_setspeed on `cpus`; the old settings come back on exit."""
    reason = cpu_lock_check(mhz, root, cpus)
    if reason:
        raise ClockLockRefused(reason)
    saved: list[tuple[Path, str, str | None]] = []
    try:
        for c in cpus:
            d = _cpufreq(Path(root), c)
            saved.append((d, _read(d / "scaling_governor") or "", _read(d / "scaling_setspeed")))
            (d / "scaling_governor").write_text("userspace")
            (d / "scaling_setspeed").write_text(str(int(round(mhz * 1000))))
        yield f"cpufreq userspace governor, scaling_setspeed={mhz:g} MHz on cpus {list(cpus)}"
    except PermissionError as exc:
        raise ClockLockRefused(f"cannot lock CPU clock: {exc}") from None
    finally:
        for d, governor, speed in reversed(saved):
            try:
                (d / "scaling_governor").write_text(governor)
                if governor == "userspace" and speed and speed.isdigit():
                    (d / "scaling_setspeed").write_text(speed)
            except OSError:
                pass


# ---------------------------------------------------------------- GPU (NVML)


def gpu_available_mhz(nvml: Any | None, index: int = 0) -> tuple[list[float], str | None]:
    """Supported SM clocks at the highest memory clock, or ([], reason)."""
    if nvml is None:
        from harness.telemetry.energy import load_nvml

        nvml, reason = load_nvml()
        if nvml is None:
            return [], reason
    try:
        h = nvml.nvmlDeviceGetHandleByIndex(index)
        mem = max(nvml.nvmlDeviceGetSupportedMemoryClocks(h))
        return sorted({float(c) for c in nvml.nvmlDeviceGetSupportedGraphicsClocks(h, mem)}), None
    except Exception as exc:
        return [], f"NVML cannot list supported clocks of GPU {index}: {exc}"


def gpu_observed_mhz(nvml: Any | None, index: int = 0) -> float | None:
    if nvml is None:
        return None
    try:
        h = nvml.nvmlDeviceGetHandleByIndex(index)
        return float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM))
    except Exception:
        return None


def gpu_lock_check(
    mhz: float, nvml: Any | None, *, shared_gpu: bool = True, allow_clock_locking: bool = False
) -> str | None:
    if shared_gpu and not allow_clock_locking:
        return (
            "clock locking refused: the GPU may be shared, and locking its clocks would change "
            "it for everyone (pass --allow-clock-locking on a GPU you own)"
        )
    if nvml is None:
        return "cannot lock GPU clock: NVML unavailable"
    return None


@contextmanager
def gpu_locked(
    mhz: float,
    nvml: Any | None,
    index: int = 0,
    *,
    shared_gpu: bool = True,
    allow_clock_locking: bool = False,
) -> Iterator[str]:
    """nvmlDeviceSetGpuLockedClocks(mhz, mhz); nvmlDeviceResetGpuLockedClocks on exit."""
    reason = gpu_lock_check(
        mhz, nvml, shared_gpu=shared_gpu, allow_clock_locking=allow_clock_locking
    )
    if reason:
        raise ClockLockRefused(reason)
    assert nvml is not None
    h = nvml.nvmlDeviceGetHandleByIndex(index)
    try:
        nvml.nvmlDeviceSetGpuLockedClocks(h, int(mhz), int(mhz))
    except Exception as exc:  # NVMLError_NoPermission, NotSupported...
        raise ClockLockRefused(f"cannot lock GPU {index} clock at {mhz:g} MHz: {exc}") from None
    try:
        yield f"nvmlDeviceSetGpuLockedClocks({int(mhz)}, {int(mhz)}) on GPU {index}"
    finally:
        with suppress(Exception):
            nvml.nvmlDeviceResetGpuLockedClocks(h)


# ---------------------------------------------------------------- one entry point


@dataclass
class Clocks:
    """Where a probe's clocks are read (and set): the CPU or one GPU."""

    domain: Domain
    gpu_index: int = 0
    cpus: tuple[int, ...] = ()
    cpu_root: Path = CPU_ROOT
    cpuinfo: Path = CPUINFO
    nvml: Any | None = None

    def available(self) -> tuple[list[float], str | None]:
        if self.domain == "gpu":
            return gpu_available_mhz(self.nvml, self.gpu_index)
        return cpu_available_mhz(self.cpu_root, self.cpus[0] if self.cpus else 0)

    def observed(self) -> float | None:
        if self.domain == "gpu":
            return gpu_observed_mhz(self.nvml, self.gpu_index)
        return cpu_observed_mhz(self.cpu_root, self.cpus or None, self.cpuinfo)

    def check(
        self, mhz: float, *, shared_gpu: bool = True, allow_clock_locking: bool = False
    ) -> str | None:
        if self.domain == "gpu":
            return gpu_lock_check(
                mhz, self.nvml, shared_gpu=shared_gpu, allow_clock_locking=allow_clock_locking
            )
        return cpu_lock_check(mhz, self.cpu_root, self.cpus or (0,))

    @contextmanager
    def locked(
        self, mhz: float | None, *, shared_gpu: bool = True, allow_clock_locking: bool = False
    ) -> Iterator[str]:
        """Nothing when mhz is None (default clock); else lock, or ClockLockRefused."""
        if mhz is None:
            yield "default clock (not locked)"
            return
        if self.domain == "gpu":
            with gpu_locked(
                mhz,
                self.nvml,
                self.gpu_index,
                shared_gpu=shared_gpu,
                allow_clock_locking=allow_clock_locking,
            ) as how:
                yield how
        else:
            with cpu_locked(mhz, self.cpu_root, self.cpus or (0,)) as how:
                yield how


def can_lock(
    domain: Domain,
    mhz: float,
    *,
    cpus: Sequence[int] | None = None,
    gpu_index: int = 0,
    shared_gpu: bool = True,
    allow_clock_locking: bool = False,
) -> str | None:
    """Host-side pre-check for `--frequencies`: None if locking would work, else the reason."""
    nvml = None
    if domain == "gpu":
        from harness.telemetry.energy import load_nvml

        nvml, _ = load_nvml()
    clocks = Clocks(domain, gpu_index, tuple(cpus or sorted(os.sched_getaffinity(0))), nvml=nvml)
    return clocks.check(mhz, shared_gpu=shared_gpu, allow_clock_locking=allow_clock_locking)
