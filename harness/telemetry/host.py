"""Facts about the host a profile was made on. Imports torch only if it is already loaded
or cheaply importable inside a workload; the CLI path reads versions from package metadata."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.profile import GpuFact, HostFacts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 2)
    except OSError:
        pass
    return 0.0


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cgroup_version() -> str:
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "v2"
    if Path("/sys/fs/cgroup/cpu").exists():
        return "v1"
    return "none"


def nvml_gpus() -> tuple[list[GpuFact], str | None]:
    """GPUs through NVML, read-only; ([], None) where there is no NVML or no GPU."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return [], None
    try:
        pynvml.nvmlInit()
    except Exception:
        return [], None
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            try:
                clocks = [
                    float(c)
                    for c in pynvml.nvmlDeviceGetSupportedGraphicsClocks(
                        h, pynvml.nvmlDeviceGetSupportedMemoryClocks(h)[0]
                    )
                ]
            except Exception:
                clocks = []
            out.append(
                GpuFact(
                    index=i,
                    name=str(pynvml.nvmlDeviceGetName(h)),
                    uuid=str(pynvml.nvmlDeviceGetUUID(h)),
                    memory_gb=round(mem.total / 2**30, 2),
                    driver_version=str(driver),
                    sm_clock_mhz=float(pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)),
                    mem_clock_mhz=float(pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM)),
                    supported_sm_clocks_mhz=sorted(set(clocks)),
                )
            )
        return out, str(driver)
    finally:
        pynvml.nvmlShutdown()


def gpu_count() -> int:
    gpus, _ = nvml_gpus()
    if gpus:
        return len(gpus)
    return len(list(Path("/dev").glob("nvidia[0-9]*")))


def _cuda_version(torch_v: str | None) -> str | None:
    """CUDA that torch was built with: from torch itself if already imported (never imported
    here: the CLI must start fast), else the wheel's local tag, else the CUDA runtime wheel."""
    mod = sys.modules.get("torch")
    if mod is not None:
        v = getattr(getattr(mod, "version", None), "cuda", None)
        return str(v) if v else None
    if torch_v and "+cu" in torch_v:
        return torch_v.split("+cu", 1)[1]
    if torch_v and "+cpu" in torch_v:
        return None
    for dist in ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu13", "nvidia-cuda-runtime"):
        v = _version(dist)
        if v:
            return v
    return None


def host_facts() -> HostFacts:
    gpus, driver = nvml_gpus()
    torch_v = _version("torch")
    cuda = _cuda_version(torch_v)
    return HostFacts(
        hostname=socket.gethostname(),
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 1,
        memory_gb=_memory_gb(),
        os=f"{platform.system()} {platform.release()}",
        python_version=platform.python_version(),
        torch_version=torch_v,
        torchvision_version=_version("torchvision"),
        cuda_version=cuda,
        driver_version=driver,
        gpus=gpus,
        cgroup_version=cgroup_version(),  # type: ignore[arg-type]
    )


def engine_version(backend: Any) -> str | None:
    """The Docker engine's version when probes run in containers (None for other backends)."""
    if getattr(backend, "name", None) != "docker":
        return None
    try:
        v = backend.info.get("ServerVersion")
    except Exception:  # an engine that stopped answering: the fact is unknown, not fatal
        return None
    return str(v) if v else None


def absorb_probe_versions(host: HostFacts, records: list[dict[str, Any]]) -> None:
    """Versions the probe itself reported (its first record): in a container they are the
    image's, not the host's, and they are the ones that ran the job."""
    meta = next((r for r in records if r.get("type") == "meta"), None)
    if meta is None:
        return
    if meta.get("torch_version"):
        host.torch_version = str(meta["torch_version"])
        host.cuda_version = str(meta["cuda_version"]) if meta.get("cuda_version") else None
    if meta.get("torchvision_version"):
        host.torchvision_version = str(meta["torchvision_version"])
