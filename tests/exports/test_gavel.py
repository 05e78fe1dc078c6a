"""`harness export --to gavel`: a throughputs file that Gavel's own reader and lookups take.

The reader below is Gavel's, re-typed from stanford-futuredata/gavel scheduler/utils.py
(`parse_job_type_tuple`, `read_all_throughputs_json_v2`); the lookup is the one its scheduler
makes for a job alone on a worker (scheduler/scheduler.py `_set_initial_throughput`:
`self._oracle_throughputs[worker_type][(job_type, scale_factor)]['null']`).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.cli.export import run_export
from harness.exports.gavel import GavelError, entry, throughputs
from harness.profile import Outcome, Profile, save_profile
from tests.factory.train_profiles import make_train_profile


# ---- Gavel's reader (scheduler/utils.py), as it is there
def parse_job_type_tuple(job_type: str) -> tuple[str, int] | None:
    match = re.match(r"\(\'(.*)\', (\d+)\)", job_type)
    if match is None:
        return None
    model = match.group(1)
    scale_factor = int(match.group(2))
    return (model, scale_factor)


def read_all_throughputs_json_v2(file_name: str) -> dict[str, Any]:
    with open(file_name) as f:
        raw_throughputs = json.load(f)
    parsed_throughputs: dict[str, Any] = {}
    for worker_type in raw_throughputs:
        parsed_throughputs[worker_type] = {}
        for job_type in raw_throughputs[worker_type]:
            key = parse_job_type_tuple(job_type)
            assert key is not None
            parsed_throughputs[worker_type][key] = {}
            for other_job_type in raw_throughputs[worker_type][job_type]:
                if other_job_type == "null":
                    other_key: Any = other_job_type
                else:
                    other_key = parse_job_type_tuple(other_job_type)
                    assert other_key is not None
                parsed_throughputs[worker_type][key][other_key] = raw_throughputs[worker_type][
                    job_type
                ][other_job_type]
    return parsed_throughputs


# ---- end of Gavel's code


def _labelled(profile: Profile, label: str) -> Profile:
    host = profile.host.model_copy(update={"node_label": label})
    return profile.model_copy(update={"host": host})


def _fleet(tmp_path: Path) -> list[Path]:
    """Two jobs, each profiled on two node types (the slower one has half the peak)."""
    paths = []
    for name, peak in (("res18", 400.0), ("shufflenet", 900.0)):
        for label, f in (("cpu-big", 1.0), ("cpu-small", 0.5)):
            prof = make_train_profile(name=name, peak=peak * f, sat=4.0, batch_size=64)
            path = tmp_path / f"{name}-{label}.json"
            save_profile(_labelled(prof, label), path)
            paths.append(path)
    return paths


def test_a_written_file_loads_with_gavels_reader_and_lookup(tmp_path: Path) -> None:
    out = tmp_path / "throughputs.json"
    assert run_export(_fleet(tmp_path), "gavel", out) == 0
    oracle = read_all_throughputs_json_v2(str(out))
    assert sorted(oracle) == ["cpu-big", "cpu-small"]
    for worker_type, f in (("cpu-big", 1.0), ("cpu-small", 0.5)):
        for name, peak in (("res18", 400.0), ("shufflenet", 900.0)):
            job_type, scale_factor = f"{name} (batch size 64)", 1
            steps = oracle[worker_type][(job_type, scale_factor)]["null"]  # the scheduler's
            assert steps == pytest.approx(peak * f / 64)  # 24 CPUs: the curve's peak / batch
            assert list(oracle[worker_type][(job_type, scale_factor)]) == ["null"]


def test_the_knee_instead_of_the_most_cpus(tmp_path: Path) -> None:
    prof = make_train_profile(peak=400.0, sat=16.0, measured_cpus=(1, 2, 4, 8, 15, 16, 24))
    assert prof.train is not None and prof.train.search is not None
    knee = prof.train.search.knee
    assert knee is not None and knee.cpus == 15
    e = entry(prof, "p.json", "knee")
    assert e.steps_per_s == pytest.approx(400.0 * 15 / 16 / 64)
    assert entry(prof, "p.json", "max").steps_per_s == pytest.approx(400.0 / 64)


def test_several_nodes_make_the_scale_factor_and_a_step_takes_every_nodes_batch() -> None:
    prof = make_train_profile(gpus=1, batch_size=32)
    assert prof.train is not None
    prof.train.nnodes = 2
    e = entry(prof, "p.json")
    assert e.scale_factor == 2
    assert e.steps_per_s == pytest.approx(400.0 / (32 * 2))
    key = next(iter(throughputs([e])["synthetic"]))  # no label, no GPU fact: the CPU model
    assert parse_job_type_tuple(key) == ("res18 (batch size 32)", 2)


def test_a_job_that_failed_on_a_node_type_runs_at_zero_there() -> None:
    prof = make_train_profile()
    assert prof.train is not None
    for p in prof.train.probes:
        p.outcome = Outcome.oom
    assert entry(prof, "p.json").steps_per_s == 0.0


def test_a_job_type_missing_on_a_worker_type_is_one_line_naming_both(tmp_path: Path) -> None:
    paths = _fleet(tmp_path)[:3]  # shufflenet has no cpu-small profile
    out = tmp_path / "t.json"
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        assert run_export(paths, "gavel", out) == 2
    (line,) = buf.getvalue().splitlines()
    assert "shufflenet (batch size 64) at scale factor 1 has no profile on worker type " in line
    assert "'cpu-small'" in line and line.startswith("error: ")
    assert not out.exists()


def test_the_same_cell_from_two_profiles_is_refused(tmp_path: Path) -> None:
    prof = _labelled(make_train_profile(), "a")
    with pytest.raises(GavelError, match="also in one.json"):
        throughputs([entry(prof, "one.json"), entry(prof, "two.json")])


def test_an_inference_profile_is_refused() -> None:
    from tests.factory.reports import make_infer_profile

    with pytest.raises(GavelError, match="expected a training profile"):
        entry(make_infer_profile(), "i.json")
