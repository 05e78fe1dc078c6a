"""Shared fixtures. A Docker engine is required with CI=true: its absence fails, never skips."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HARNESS_DATA", str(ROOT / ".cache" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ["HARNESS_DATA"])
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def tiny_spec_path() -> Path:
    return ROOT / "jobs" / "tiny-train.yaml"
