"""Per-batch export: inline and sidecar records, the seed's columns, CSV/parquet round trips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.export import (
    COLUMNS,
    ExportError,
    batch_frame,
    normalised_dims,
    probe_records,
    profiles_frame,
    read_batch_records,
    write_csv,
    write_parquet,
    write_table,
)
from harness.profile import BatchRecord, Caps, Outcome
from tests.factory.reports import (
    TRACE_CPUS,
    batch_records,
    make_infer_profile,
    make_probe,
    make_train_profile,
    write_records_file,
)

SEED_COLUMNS = {
    "epoch",
    "batch_idx",
    "global_step",
    "batch_size",
    "C",
    "H",
    "W",
    "dim1",
    "dim2",
    "dim3",
    "device_type",
    "device_index",
    "precision",
    "num_workers",
    "data_time_ms",
    "forward_time_ms",
    "backward_time_ms",
    "step_time_ms",
    "data_pct",
    "forward_pct",
    "backward_pct",
    "step_pct",
    "images_per_sec",
    "loss",
    "lr",
    "rss_mb",
    "cuda_mem_allocated_mb",
    "cuda_mem_reserved_mb",
    "wall_time_s",
    "probe_id",
    "cpus",
    "memory_gb",
    "gpus",
    "outcome",
}


def expected_rows(n_probes_ok: int = len(TRACE_CPUS)) -> int:
    return n_probes_ok * 8 + 1  # 8 batches per ok probe, 1 for the oom probe


def test_frame_has_the_seed_columns_one_row_per_batch() -> None:
    df = batch_frame(make_train_profile())
    assert list(df.columns) == list(COLUMNS)
    assert set(df.columns) >= SEED_COLUMNS
    assert len(df) == expected_rows()
    first = df.iloc[0]
    assert first["probe_id"] == "c16-m8"
    assert first["cpus"] == 16.0 and first["memory_gb"] == 8.0 and first["gpus"] == 0
    assert first["device_type"] == "cpu" and pd.isna(first["device_index"])
    assert first["precision"] == "fp32"
    assert first["num_workers"] == 15  # from the enforced loader workers
    assert (first["C"], first["H"], first["W"]) == (3, 64, 64)
    assert (first["dim1"], first["dim2"], first["dim3"]) == (1, 64, 64)
    assert set(df["outcome"]) == {"ok", "oom"}


def test_times_are_ms_and_shares_add_up_to_100() -> None:
    profile = make_train_profile()
    assert profile.train is not None
    records = profile.train.probes[0].records
    assert records is not None
    rec = records[3]
    assert rec.forward_s is not None
    df = batch_frame(profile)
    row = df.iloc[3]
    assert row["forward_time_ms"] == pytest.approx(rec.forward_s * 1e3)
    assert row["batch_time_ms"] == pytest.approx(rec.batch_s * 1e3)
    assert row["images_per_sec"] == pytest.approx(rec.images_per_s)
    assert df["allreduce_time_ms"].isna().all()  # one node: no gradient exchange
    shares = df[["data_pct", "forward_pct", "backward_pct", "step_pct"]].sum(axis=1)
    assert shares.to_numpy() == pytest.approx(100.0)
    # fewer CPUs: data loading takes a larger share (as the factory's numbers say)
    by_cpus = df.groupby("cpus")["data_pct"].median()
    assert by_cpus[1.0] > by_cpus[16.0]


def test_sidecar_records_read_relative_to_the_profile_folder(tmp_path: Path) -> None:
    with_sidecars = make_train_profile(tmp_path)
    assert any(p.records_file for p in with_sidecars.train.probes)  # type: ignore[union-attr]
    inline = batch_frame(make_train_profile())
    from_files = batch_frame(with_sidecars, base_dir=tmp_path)
    pd.testing.assert_frame_equal(inline, from_files)


def test_missing_sidecar_is_one_clear_line(tmp_path: Path) -> None:
    profile = make_train_profile(tmp_path)
    (tmp_path / "records" / "c8.jsonl").unlink()
    with pytest.raises(ExportError) as err:
        batch_frame(profile, base_dir=tmp_path)
    msg = str(err.value)
    assert "c8.jsonl" in msg and "cannot read" in msg and "\n" not in msg


def test_sidecar_keeps_batches_skips_other_types_and_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_records_file(path, batch_records(2.0, 5))
    with path.open("a") as fh:
        fh.write('{"type": "batch", "batch_idx": 9')  # the probe was killed mid-write
    recs = read_batch_records(path)
    assert [r.batch_idx for r in recs] == [0, 1, 2, 3, 4]


def test_bad_sidecar_line_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"type": "meta"}\n{"type": "batch", "batch_idx": 0}\n')
    with pytest.raises(ExportError, match=r"r\.jsonl: line 2: field '\w+'"):
        read_batch_records(path)
    path.write_text('{"type": "meta"}\nnot json\n')
    with pytest.raises(ExportError, match=r"r\.jsonl: line 2: invalid JSON"):
        read_batch_records(path)


def test_absolute_sidecar_path_needs_no_base(tmp_path: Path) -> None:
    path = tmp_path / "abs.jsonl"
    write_records_file(path, batch_records(4.0, 3))
    probe = make_probe(4.0, records_file=str(path))
    assert len(probe_records(probe)) == 3


def test_warmup_batches_can_be_left_out() -> None:
    profile = make_train_profile()
    all_rows = batch_frame(profile)
    measured = batch_frame(profile, include_warmup=False)
    assert len(measured) == len(all_rows) - all_rows["warmup"].sum()
    assert not measured["warmup"].any()


def test_gpu_amp_and_record_extras() -> None:
    profile = make_train_profile()
    job = profile.job.model_copy(update={"amp": True, "input_shape": [1, 28, 28, 28]})
    recs = batch_records(2.0, 3)
    extra = BatchRecord.model_validate(
        {**recs[0].model_dump(), "device_type": "cuda", "device_index": 3, "num_workers": 7}
    )
    probe = make_probe(2.0, records=[extra, *recs[1:]]).model_copy(
        update={"caps": Caps(cpus=2.0, memory_gb=8.0, gpus=1, gpu_ids=[1])}
    )
    train = profile.train.model_copy(update={"probes": [probe]})  # type: ignore[union-attr]
    df = batch_frame(profile.model_copy(update={"job": job, "train": train}))
    assert list(df["precision"]) == ["amp"] * 3
    assert list(df["device_type"]) == ["cuda"] * 3
    assert list(df["device_index"]) == [3, 1, 1]  # the record's own value wins over the caps
    assert list(df["num_workers"]) == [7, 1, 1]
    assert (df["C"].iloc[0], df["D"].iloc[0], df["dim1"].iloc[0]) == (1, 28, 28)


def test_normalised_dims_2d_and_3d() -> None:
    assert normalised_dims([3, 28, 28]) == {
        "C": 3, "D": None, "H": 28, "W": 28, "dim1": 1, "dim2": 28, "dim3": 28,
    }  # fmt: skip
    assert normalised_dims([1, 16, 28, 32]) == {
        "C": 1, "D": 16, "H": 28, "W": 32, "dim1": 16, "dim2": 28, "dim3": 32,
    }  # fmt: skip


def test_profile_without_batches_gives_an_empty_frame_with_columns(tmp_path: Path) -> None:
    df = batch_frame(make_infer_profile())
    assert df.empty and list(df.columns) == list(COLUMNS)
    out = write_csv(df, tmp_path / "empty.csv")
    assert out.read_text().splitlines() == [",".join(COLUMNS)]


def test_failed_probe_without_records_adds_no_rows() -> None:
    profile = make_train_profile()
    probe = make_probe(1.0, records=[], outcome=Outcome.crashed)
    train = profile.train.model_copy(update={"probes": [probe]})  # type: ignore[union-attr]
    assert batch_frame(profile.model_copy(update={"train": train})).empty


def test_csv_round_trip(tmp_path: Path) -> None:
    df = batch_frame(make_train_profile())
    path = write_table(df, tmp_path / "sub" / "batches.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(COLUMNS)
    assert len(back) == len(df)
    assert back["forward_time_ms"].to_numpy() == pytest.approx(df["forward_time_ms"].to_numpy())
    assert list(back["probe_id"]) == list(df["probe_id"])


def test_parquet_round_trip_keeps_types(tmp_path: Path) -> None:
    df = batch_frame(make_train_profile())
    path = write_parquet(df, tmp_path / "batches.parquet")
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, df)
    assert str(back["batch_idx"].dtype) == "Int64"


def test_unknown_table_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"expected \.csv or \.parquet"):
        write_table(batch_frame(make_train_profile()), tmp_path / "x.xlsx")


def test_several_profiles_in_one_table(tmp_path: Path) -> None:
    a = make_train_profile()
    b = a.model_copy(update={"id": "other"})
    df = profiles_frame([(a, None), (b, tmp_path)])
    assert len(df) == 2 * expected_rows()
    assert set(df["profile_id"]) == {a.id, "other"}


def test_sidecar_json_lines_match_the_backend_format(tmp_path: Path) -> None:
    """The factory's sidecars are what the workload writes: one JSON object per line."""
    path = tmp_path / "r.jsonl"
    write_records_file(path, batch_records(1.0, 2))
    kinds = [json.loads(line)["type"] for line in path.read_text().splitlines()]
    assert kinds == ["meta", "batch", "batch", "done"]


def test_export_module_does_not_import_pandas_at_top() -> None:
    code = "import sys, harness.export; print('pandas' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"


def test_multinode_allreduce_and_unsplit_batches() -> None:
    """allreduce joins the shares; a batch timed only as a whole leaves the phases empty."""
    profile = make_train_profile()
    recs = batch_records(2.0, 2)
    with_comm = recs[0].model_copy(update={"allreduce_s": 0.01, "node_rank": 1})
    whole = recs[1].model_copy(
        update={"data_s": None, "forward_s": None, "backward_s": None, "step_s": None}
    )
    probe = make_probe(2.0, records=[with_comm, whole])
    train = profile.train.model_copy(update={"probes": [probe]})  # type: ignore[union-attr]
    df = batch_frame(profile.model_copy(update={"train": train}))
    pct = ["data_pct", "forward_pct", "backward_pct", "allreduce_pct", "step_pct"]
    assert df[pct].iloc[0].sum() == pytest.approx(100.0)
    assert df["allreduce_time_ms"].iloc[0] == pytest.approx(10.0)
    assert df["node_rank"].iloc[0] == 1
    assert df[pct + ["forward_time_ms"]].iloc[1].isna().all()
    assert df["batch_time_ms"].iloc[1] == pytest.approx(whole.batch_s * 1e3)
