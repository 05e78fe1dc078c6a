"""`harness export --to synergy`: a per-job table that Synergy's simulator takes as it takes
its own models.

The loader below re-types the few lines of msr-fiddle/synergy that carry a model's table into
a job and read it: simulator/models/model_stats.py (ModelStats), simulator/jobs/model.py
(`Model.use_scores_from_tput`), simulator/jobs/job.py (`Job.cpu_val`, `Job.mem_val`,
`Job.get_idx`), simulator/jobs/workload.py (`add_synergy_profile`: demands = GPUs x per-GPU
ideal) and simulator/opt_algo/synergy_opt.py (the fair share cell, `norm_tput` and the new
iteration time; the allocation variables take `job.tput.shape`).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.cli.export import run_export
from harness.exports.synergy import CPU_VAL, MEM_VAL, SynergyError, model_of
from harness.profile import save_profile
from tests.factory.train_profiles import curve_value, make_train_profile, memory_factor


# ---- Synergy's side, re-typed (paths above)
class ModelStats:
    def __init__(self, name: str, entry: dict[str, Any]) -> None:
        self.name = name
        self.entry = entry
        self.update_stats()

    def update_stats(self) -> None:  # what a models/<name>_1.py sets, here from the file
        e = self.entry
        self.cpus, self.mem, self.speed, self.batch = e["cpus"], e["mem"], e["speed"], e["batch"]
        self.placement_penalty, self.speedup = e["placement_penalty"], e["speedup"]
        self.iter_time, self.iter_time_base = e["iter_time"], e["iter_time_base"]
        self.tput = np.array(e["tput"])


class Model:
    def __init__(self, stats: ModelStats, gpu: int = 1) -> None:
        self.gpu_demand = gpu
        model = stats  # use_scores_from_tput
        self.cpu_per_gpu = model.cpus
        self.mem_per_gpu = model.mem
        self.speed_per_gpu = model.speed
        self.batch_size = model.batch
        self.iteration_time = model.iter_time
        self.speedup = model.speedup
        self.placement_penalty = model.placement_penalty
        self.tput = model.tput


class Job:
    cpu_val = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 9, 7: 12, 8: 24}
    mem_val = {0: 20.83, 1: 62.5, 2: 125, 3: 187.5, 4: 250}

    def get_idx(self, id_map: dict[int, float], value: float) -> int | None:
        for k, v in id_map.items():
            if value == v:
                return k
        return None

    def __init__(self, model: Model, gpus: int) -> None:  # add_synergy_profile
        self.job_gpu_demand = gpus
        self.tput = model.tput
        self.synergy_speedup = model.speedup
        self.job_iteration_time = model.iteration_time
        self.cpu_demand = gpus * model.cpu_per_gpu
        self.mem_demand = gpus * model.mem_per_gpu


def synergy_iter_time(job: Job, fair_cpu: float = 3, fair_mem: float = 62.5) -> tuple[float, ...]:
    """synergy_opt.py: (normalised tput at the job's demand, at the fair share, new iter time)"""
    norm_tput = job.tput[
        job.get_idx(job.cpu_val, job.cpu_demand / job.job_gpu_demand),
        job.get_idx(job.mem_val, job.mem_demand / job.job_gpu_demand),
    ]
    fair_tput = job.tput[job.get_idx(job.cpu_val, fair_cpu), job.get_idx(job.mem_val, fair_mem)]
    return norm_tput, fair_tput, job.job_iteration_time / norm_tput


# ---- end of Synergy's side


def _write(tmp_path: Path, **kw: Any) -> Path:
    prof = make_train_profile(**kw)
    path = tmp_path / f"{prof.job.name}.json"
    save_profile(prof, path)
    return path


def test_a_written_table_loads_as_synergys_models_and_prices_a_job(tmp_path: Path) -> None:
    """res18 here: 400 img/s at 4 CPUs and up, 40 GB and up; 300 at the fair share."""
    out = tmp_path / "synergy.json"
    paths = [_write(tmp_path), _write(tmp_path, name="vgg11", peak=250.0, sat=1.5)]
    assert run_export(paths, "synergy", out) == 0
    doc = json.loads(out.read_text())
    assert doc["cpu_val"] == list(Job.cpu_val.values())
    assert doc["mem_val"] == list(Job.mem_val.values())
    model = Model(ModelStats("res18", doc["models"]["res18"]), gpu=2)
    assert model.tput.shape == (len(Job.cpu_val), len(Job.mem_val))
    assert model.tput.dtype == np.float64
    job = Job(model, gpus=2)
    norm, fair, iter_time = synergy_iter_time(job)
    assert fair == pytest.approx(1.0)
    assert (model.cpu_per_gpu, model.mem_per_gpu) == (4, 62.5)  # the ideal: 4 CPUs, 40 GB+
    assert norm == pytest.approx(400 / 300) == model.speedup
    assert model.iteration_time == pytest.approx(64 / 300)  # a batch at the fair share
    assert iter_time == pytest.approx(64 / 400)  # a batch at the ideal demand
    # a cell below the memory knee: the matrix's own shape, interpolated between its levels
    i, j = CPU_VAL.index(4), MEM_VAL.index(20.83)
    want = curve_value(4, 400, 4) * memory_factor(20.83, 40, 8, 0.5) / 300
    assert model.tput[i, j] == pytest.approx(want, rel=1e-3)
    entry = doc["models"]["res18"]
    assert entry["source"][i][j] == "interpolated"
    assert entry["source"][CPU_VAL.index(3)][MEM_VAL.index(62.5)] == "measured"
    assert entry["images_per_s"][CPU_VAL.index(3)][MEM_VAL.index(62.5)] == pytest.approx(300)


def test_no_rate_at_the_fair_share_is_one_line_and_nothing_written(tmp_path: Path) -> None:
    """A job that runs out of memory below 100 GB cannot be normalised by the fair share."""
    out = tmp_path / "synergy.json"
    path = _write(tmp_path, min_gb=100.0, knee_gb=120.0, memory_levels=(100.0, 125.0))
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        assert run_export([path], "synergy", out) == 2
    (line,) = buf.getvalue().splitlines()
    assert line.startswith(f"error: {path}: no throughput at the fair share (3 CPUs, 62.5 GB")
    assert not out.exists()


def test_the_same_job_twice_is_refused() -> None:
    from harness.exports.synergy import table

    m = model_of("a", lambda c, m: (c, "measured"), 8, "one.json")
    with pytest.raises(SynergyError, match="also in one.json"):
        table([m, m.model_copy(update={"profile": "two.json"})])
