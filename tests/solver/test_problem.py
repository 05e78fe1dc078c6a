"""What the split-like kinds share in their problem files: device names that are unique and
every reference to a device (pins, links, energy, memory) naming one of them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from solver.accsplit.problem import AccSplitProblem
from solver.split.problem import SplitProblem

BASE: dict[str, Any] = {
    "devices": [{"name": "edge"}, {"name": "server"}],
    "links": [{"src": "edge", "dst": "server", "bandwidth_up_mbps": 10}],
    "pins": {"input": "edge"},
}


@pytest.mark.parametrize("model", [SplitProblem, AccSplitProblem])
def test_a_repeated_device_name_is_refused(model: Any) -> None:
    raw = {**BASE, "devices": [{"name": "edge"}, {"name": "edge"}]}
    with pytest.raises(ValidationError, match=r"device names must be unique, repeated: \['edge'\]"):
        model.model_validate(raw)


@pytest.mark.parametrize("model", [SplitProblem, AccSplitProblem])
@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"pins": {"input": "phone"}}, "pins.input"),
        ({"links": [{"src": "edge", "dst": "cloud", "bandwidth_up_mbps": 10}]}, "links.0.dst"),
        ({"energy_devices": ["gpu"]}, "energy_devices.gpu"),
    ],
)
def test_a_reference_to_an_unknown_device_names_its_field(
    model: Any, change: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError, match=rf"{where} names device"):
        model.model_validate({**BASE, **change})


def test_a_split_memory_limit_must_name_a_device() -> None:
    raw = {**BASE, "constraints": {"memory_mb": {"tpu": 100}}}
    with pytest.raises(ValidationError, match=r"constraints.memory_mb.tpu names device 'tpu'"):
        SplitProblem.model_validate(raw)


@pytest.mark.parametrize("model", [SplitProblem, AccSplitProblem])
def test_the_base_problem_is_valid(model: Any) -> None:
    assert model.model_validate(BASE).pins.input == "edge"
