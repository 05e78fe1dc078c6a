"""Host facts: read from this machine, no torch import on the CLI path."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from harness.profile import HostFacts
from harness.telemetry import host


def test_host_facts_describe_this_machine() -> None:
    facts = host.host_facts()
    HostFacts.model_validate(facts.model_dump())
    assert facts.cores >= 1 and facts.memory_gb > 0
    assert facts.python_version == ".".join(map(str, sys.version_info[:3]))
    assert facts.torch_version is not None  # installed here (and with CI=true)


def test_host_facts_do_not_import_torch() -> None:
    code = "import sys; from harness.telemetry.host import host_facts; host_facts(); "
    code += "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fake_torch_module_gives_cuda_version(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.SimpleNamespace(version=types.SimpleNamespace(cuda="12.4"))
    monkeypatch.setitem(sys.modules, "torch", fake)
    assert host._cuda_version("2.14.1") == "12.4"
    fake.version.cuda = None
    assert host._cuda_version("2.14.1") is None  # a CPU build


def test_cuda_version_from_wheel_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert host._cuda_version("2.4.0+cu121") == "121"
    assert host._cuda_version("2.4.0+cpu") is None
