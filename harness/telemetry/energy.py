"""Energy readers: NVML's total-energy counter, RAPL (powercap) and an external power log.

Each reader either gives joules or says why it cannot; never zero for "unknown". Counters are
cumulative, so a measurement is two reads around a window. NVML's counter advances only every
20-100 ms and RAPL's about every millisecond: callers repeat the work over a window of a second
or more and divide (see harness.workloads.infer). No torch import.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

RAPL_ROOT = Path("/sys/class/powercap")


class EnergyCounter(Protocol):
    source: str

    def read_j(self) -> float:
        """Cumulative joules since the counter was opened (monotonic; wraps handled)."""
        ...


def load_nvml() -> tuple[Any | None, str | None]:
    """The initialised pynvml module, or None and why (read-only use everywhere here)."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None, "NVML unavailable: pynvml (nvidia-ml-py) is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return None, f"NVML unavailable: nvmlInit failed: {exc}"
    return pynvml, None


@dataclass
class NvmlCounter:
    """nvmlDeviceGetTotalEnergyConsumption: millijoules since the driver loaded (Volta+)."""

    nvml: Any
    handle: Any
    source: str = "nvml"
    _start_mj: float = 0.0

    def __post_init__(self) -> None:
        self._start_mj = float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def read_j(self) -> float:
        mj = float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        return (mj - self._start_mj) / 1000.0


def nvml_counter(gpu_index: int = 0, nvml: Any | None = None) -> tuple[NvmlCounter | None, str]:
    """(counter, description) or (None, reason). `nvml` is injectable for tests."""
    if nvml is None:
        nvml, reason = load_nvml()
        if nvml is None:
            return None, reason or "NVML unavailable"
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(gpu_index)
        counter = NvmlCounter(nvml, handle)
    except Exception as exc:
        return None, f"NVML energy counter unavailable on GPU {gpu_index}: {exc}"
    return counter, f"nvml total energy, GPU {gpu_index}"


@dataclass
class _Zone:
    name: str
    energy_file: Path
    max_uj: int
    last_uj: int
    total_uj: int = 0


@dataclass
class RaplCounter:
    """Sum of the top-level RAPL zones (packages), with wraparound at max_energy_range_uj.

    Subzones (core, uncore, dram: intel-rapl:0:0 ...) are inside their package's count and are
    left out so nothing is counted twice. Read often enough that a zone wraps at most once
    between reads (tens of minutes at full load on a large socket).
    """

    zones: list[_Zone]
    source: str = "rapl"

    def read_j(self) -> float:
        for z in self.zones:
            raw = int(z.energy_file.read_text().strip())
            delta = raw - z.last_uj
            if delta < 0:  # the counter wrapped
                delta += z.max_uj
            z.total_uj += delta
            z.last_uj = raw
        return sum(z.total_uj for z in self.zones) / 1e6


def rapl_counter(root: str | Path = RAPL_ROOT) -> tuple[RaplCounter | None, str]:
    """(counter, description) or (None, reason). `root` is injectable for tests."""
    base = Path(root)
    if not base.is_dir():
        return None, f"RAPL unavailable: no {base} (not an Intel/AMD host, a VM or a container)"
    tops = sorted(
        d for d in base.iterdir() if d.name.count(":") == 1 and (d / "energy_uj").exists()
    )
    if not tops:
        return None, f"RAPL unavailable: no package zones with energy_uj under {base}"
    zones = []
    for d in tops:
        try:
            raw = int((d / "energy_uj").read_text().strip())
            max_uj = int((d / "max_energy_range_uj").read_text().strip())
        except PermissionError:
            return None, f"RAPL unavailable: {d / 'energy_uj'} is not readable (needs root)"
        except (OSError, ValueError) as exc:
            return None, f"RAPL unavailable: cannot read {d}: {exc}"
        zones.append(_Zone(d.name, d / "energy_uj", max_uj, raw))
    names = ",".join(z.name for z in zones)
    return RaplCounter(zones), f"rapl package energy ({names}), whole socket"


def best_counter(
    device_kind: str,
    gpu_index: int = 0,
    *,
    nvml: Any | None = None,
    rapl_root: str | Path = RAPL_ROOT,
) -> tuple[EnergyCounter | None, str]:
    """The counter that matches where the work runs: NVML on CUDA, RAPL on the CPU."""
    if device_kind == "cuda":
        return nvml_counter(gpu_index, nvml)
    return rapl_counter(rapl_root)


def measure_window(
    counter: EnergyCounter, fn: Callable[[], object], min_window_s: float, sync: Callable[[], None]
) -> tuple[float, int, float, float]:
    """Repeat fn until min_window_s has passed; (joules, calls, t_start, t_end), wall clock."""
    sync()
    t0 = time.time()
    e0 = counter.read_j()
    start = time.perf_counter()
    n = 0
    while True:
        fn()
        n += 1
        if time.perf_counter() - start >= min_window_s:
            sync()
            if time.perf_counter() - start >= min_window_s:
                break
    e1 = counter.read_j()
    return e1 - e0, n, t0, time.time()


# ---------------------------------------------------------------- external power log


def _parse_time(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


_TIME_COLS = ("timestamp", "time", "t", "unix_time", "epoch")
_WATT_COLS = ("watts", "power", "power_w", "w", "watt")


def read_power_log(path: str | Path) -> list[tuple[float, float]]:
    """(unix seconds, watts) rows of a CSV (header names a time and a watts column).

    Times are epoch seconds or ISO 8601. Raises ValueError with one line on a bad file.
    """
    p = Path(path)
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        tcol = next((f for f in _TIME_COLS if f in fields), None)
        wcol = next((f for f in _WATT_COLS if f in fields), None)
        if tcol is None or wcol is None:
            raise ValueError(
                f"{p}: expected a header with a time column ({'/'.join(_TIME_COLS)}) and a "
                f"watts column ({'/'.join(_WATT_COLS)}), got {fields}"
            )
        rows = []
        for i, row in enumerate(reader, start=2):
            clean = {k.strip().lower(): v for k, v in row.items() if k is not None}
            try:
                rows.append((_parse_time(clean[tcol]), float(clean[wcol])))
            except (ValueError, TypeError):
                raise ValueError(f"{p}: line {i}: cannot read time/watts {row}") from None
    rows.sort()
    return rows


def _watts_at(rows: list[tuple[float, float]], t: float) -> float:
    for (t0, w0), (t1, w1) in zip(rows, rows[1:], strict=False):
        if t0 <= t <= t1:
            return w0 if t1 == t0 else w0 + (w1 - w0) * (t - t0) / (t1 - t0)
    raise ValueError("time outside the log")


def integrate_power_log(
    rows: list[tuple[float, float]], t_start: float, t_end: float
) -> tuple[float | None, str | None]:
    """Joules between two wall-clock times (trapezoid), or None and why."""
    if t_end <= t_start:
        return None, "empty window"
    if len(rows) < 2 or rows[0][0] > t_start or rows[-1][0] < t_end:
        span = f"{rows[0][0]:.3f}..{rows[-1][0]:.3f}" if rows else "empty"
        return None, f"power log ({span}) does not cover the window {t_start:.3f}..{t_end:.3f}"
    pts = [(t_start, _watts_at(rows, t_start))]
    pts += [r for r in rows if t_start < r[0] < t_end]
    pts.append((t_end, _watts_at(rows, t_end)))
    joules = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(pts, pts[1:], strict=False))
    return joules, None


def power_log_energy(
    path: str | Path, t_start: float, t_end: float
) -> tuple[float | None, str | None]:
    """Energy over a window from a power log file; None and why when it cannot say."""
    try:
        rows = read_power_log(path)
    except OSError as exc:
        return None, f"power log {path}: cannot read: {exc.strerror or exc}"
    except ValueError as exc:
        return None, str(exc)
    return integrate_power_log(rows, t_start, t_end)


def apply_power_log(
    bundles: list[dict[str, Any]],
    windows: list[tuple[int, float, float, int]],
    path: str | Path,
) -> None:
    """Fill bundles[k]["energy_j"] from (k, t_start, t_end, calls) windows and a power log.

    Runs in the workload when the log is readable there, or on the host afterwards (the Docker
    backend does not mount it): see join_power_log.
    """
    for k, t0, t1, calls in windows:
        joules, reason = power_log_energy(path, t0, t1)
        if joules is None or joules <= 0 or calls <= 0:
            bundles[k]["energy_j"] = None
            bundles[k]["energy_reason"] = reason or "power log gave no energy over the window"
        else:
            bundles[k]["energy_j"] = joules / calls
            bundles[k]["energy_reason"] = None


def join_power_log(
    section: dict[str, Any], records: list[dict[str, Any]], path: str | Path
) -> dict[str, Any]:
    """Host side of the SmartPower flow: the workload's progress records carry each bundle's
    wall-clock window ("window": [t_start, t_end, calls], "bundle_index"); join them with a
    power log recorded beside the device and return the section with energy filled in."""
    windows = [
        (int(r["bundle_index"]), float(r["window"][0]), float(r["window"][1]), int(r["window"][2]))
        for r in records
        if r.get("type") == "progress" and "window" in r and "bundle_index" in r
    ]
    out = dict(section)
    out["bundles"] = [dict(b) for b in section["bundles"]]
    apply_power_log(out["bundles"], windows, path)
    out["energy_source"] = "powerlog"
    out["energy_reason"] = f"external power log {path}, joined by timestamps on the host"
    return out
