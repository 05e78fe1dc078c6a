"""The cost-model JSON: one schema for writing and reading, a one-line error per problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solver.hybrid.costmodel import CostModelFile, validate_file
from solver.hybrid.costmodel.file import CostModelError, read_file
from solver.hybrid.costmodel.fit import fit_with_holdout, load, save

ROOT = Path(__file__).resolve().parents[4]
COMMITTED = ROOT / "profiles" / "fitted" / "costmodel.json"


def test_json_round_trip_keeps_predictions(synth, tmp_path):
    cm, _ = fit_with_holdout(synth, "both", folds=3)
    path = tmp_path / "costmodel.json"
    save(cm, path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "harness.costmodel" and doc["version"] == 1 and doc["gbt"]["trees"]
    assert doc["holdout"]["linear"]["cpu"]["median"] >= 0
    assert validate_file(doc) == []
    back = load(path)
    for s in synth[::7]:
        for kind in ("linear", "gbt"):
            a = cm.predict(s.model, s.batch_size, s.dims, s.cpus, s.device, kind)
            b = back.predict(s.model, s.batch_size, s.dims, s.cpus, s.device, kind)
            assert a == pytest.approx(b, rel=1e-12)
    save(back, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()


def test_the_committed_model_validates_and_is_written_back_byte_for_byte(tmp_path):
    assert validate_file(json.loads(COMMITTED.read_text())) == []
    save(load(COMMITTED), tmp_path / "cm.json")
    assert (tmp_path / "cm.json").read_text() == COMMITTED.read_text()


def test_bad_cost_model_file_is_one_line(tmp_path):
    bad = tmp_path / "cm.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(CostModelError, match=r"cm.json: field 'format'"):
        load(bad)
    bad.write_text("not json")
    with pytest.raises(CostModelError, match="cm.json: invalid JSON at line 1"):
        load(bad)
    with pytest.raises(CostModelError, match="cannot read"):
        read_file(tmp_path / "nowhere.json")
    doc = json.loads(COMMITTED.read_text())
    doc["version"] = 2
    bad.write_text(json.dumps(doc))
    with pytest.raises(CostModelError, match=r"cm.json: field 'version'"):
        load(bad)


def test_validate_file_names_every_problem_one_line_each():
    assert validate_file({"format": "x"}) == [
        "field 'format': expected 'harness.costmodel', got 'x'"
    ]
    doc = json.loads(COMMITTED.read_text())
    del doc["samples"][0]["step_s"]
    doc["samples"][1]["dims"] = [3, 28]
    doc["linear"]["groups"]["cpu-cnn3d"] = doc["linear"]["groups"]["cpu|cnn3d"]
    doc["gbt"]["trees"][0]["left"][0] = 999
    doc["features"] = ["log_batch"]
    doc["bogus"] = 1
    problems = validate_file(doc)
    assert len(problems) == 6, problems
    for where in ("features", "samples.0.step_s", "samples.1.dims", "linear.groups",
                  "gbt.trees.0", "bogus"):  # fmt: skip
        assert any(p.startswith(f"field '{where}'") for p in problems), (where, problems)
    assert all("\n" not in p for p in problems)


def test_the_schema_is_the_one_exported_for_validate():
    schema = CostModelFile.model_json_schema()
    assert schema["properties"]["format"]["const"] == "harness.costmodel"
    assert {"samples", "linear", "gbt", "holdout", "training_hash"} <= set(schema["properties"])
