"""Fixtures built by the factory (tests/factory/accsplit.py): a family of synthetic variants
as loaded profiles, and the same written as files for the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from solver.profiles import Loaded, ProfileSet
from tests.factory.accsplit import make_variant_profiles, write_family


def loaded(**kw: object) -> ProfileSet:
    """`make_variant_profiles(**kw)` as a ProfileSet (each profile under a made-up path)."""
    profs = make_variant_profiles(**kw)  # type: ignore[arg-type]
    return ProfileSet([Loaded(Path(f"p{i}.json"), p) for i, p in enumerate(profs)])


@pytest.fixture
def family() -> ProfileSet:
    """Five variants (ref, p20, p40a, p40b, p60) of one family on an edge (two clocks) and a
    server, measured on four domains."""
    return loaded()


@pytest.fixture
def family_files(tmp_path: Path) -> list[Path]:
    return write_family(tmp_path / "profiles")
