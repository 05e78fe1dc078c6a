"""Pictures of a profile and the `harness report` command, drawn for real with matplotlib."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from harness.cli.report import register
from harness.export import COLUMNS
from harness.profile import BundleTiming, Outcome, Profile, Stat, save_profile
from harness.report import (
    plot_bundle_latency,
    plot_layer_latency,
    plot_memory_matrix,
    plot_throughput_curve,
    plot_time_split,
    probe_phase_ms,
    render_report,
    trace_labels,
)
from tests.factory.reports import make_infer_profile, make_probe, make_train_profile

ROOT = Path(__file__).resolve().parents[1]


def assert_real_png(path: Path, min_bytes: int = 15_000) -> None:
    """A PNG that opens, has a sensible size and many colours (not a blank canvas)."""
    assert path.exists() and path.suffix == ".png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > min_bytes
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        rgb = img.convert("RGB")
        assert rgb.width >= 600 and rgb.height >= 400
        colours = rgb.getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50
        # no single colour covers (nearly) everything: something was drawn
        assert max(n for n, _ in colours) < 0.95 * rgb.width * rgb.height


def test_train_report_draws_three_pictures(tmp_path: Path) -> None:
    files = render_report(make_train_profile(), tmp_path, stem="res18")
    assert [f.name for f in files] == [
        "res18_throughput_vs_cpus.png",
        "res18_memory_matrix.png",
        "res18_time_split.png",
    ]
    for f in files:
        assert_real_png(f)


def test_infer_report_draws_bundle_heat_map_and_layer_bars(tmp_path: Path) -> None:
    files = render_report(make_infer_profile(), tmp_path)
    assert [f.name.split("_", 1)[1] for f in files] == [
        "bundle_latency.png",
        "layer_latency.png",
    ]
    for f in files:
        assert_real_png(f)


def test_many_batch_sizes_and_clocks_still_draw(tmp_path: Path) -> None:
    profile = make_infer_profile(batch_sizes=(1, 2, 4, 8, 16, 32), n_layers=5)
    infer = profile.infer
    assert infer is not None
    # the same bundles measured again at a locked clock: the default clock is drawn
    locked = [b.model_copy(update={"frequency_mhz": 600.0}) for b in infer.bundles]
    profile = profile.model_copy(
        update={"infer": infer.model_copy(update={"bundles": infer.bundles + locked})}
    )
    for f in render_report(profile, tmp_path):
        assert_real_png(f)


def test_infer_only_at_locked_clocks_draws_the_fastest(tmp_path: Path) -> None:
    profile = make_infer_profile(batch_sizes=(1,), n_layers=4)
    infer = profile.infer
    assert infer is not None
    bundles = [
        b.model_copy(update={"frequency_mhz": f}) for b in infer.bundles for f in (300.0, 900.0)
    ]
    profile = profile.model_copy(update={"infer": infer.model_copy(update={"bundles": bundles})})
    assert plot_bundle_latency(profile, tmp_path / "b.png") is not None
    assert plot_layer_latency(profile, tmp_path / "l.png") is not None
    assert_real_png(tmp_path / "b.png")


def test_trace_labels_number_probes_in_order_and_merge_repeats() -> None:
    measured, failed = trace_labels([(1, 16.0, 700.0), (2, 8.0, 600.0), (3, 1.0, None),
                                     (4, 8.0, 610.0)])  # fmt: skip
    assert measured == {16.0: ("1", 700.0), 8.0: ("2,4", 610.0)}
    assert failed == {1.0: "3"}


def test_curve_without_search_draws_the_probes(tmp_path: Path) -> None:
    profile = make_train_profile()
    train = profile.train
    assert train is not None
    bare = profile.model_copy(
        update={"train": train.model_copy(update={"search": None, "memory_axis": []})}
    )
    files = render_report(bare, tmp_path)
    assert [f.name.split("_", 1)[1] for f in files] == [
        "throughput_vs_cpus.png",
        "time_split.png",
    ]
    for f in files:
        assert_real_png(f)


def test_failed_search_steps_and_multi_gpu_matrix(tmp_path: Path) -> None:
    profile = make_train_profile()
    train = profile.train
    assert train is not None and train.search is not None
    trace = list(train.search.trace)
    trace[4] = trace[4].model_copy(update={"value": None, "reason": "crashed"})
    search = train.search.model_copy(update={"trace": trace})
    gpu_cells = [
        c.model_copy(update={"gpus": 1, "throughput": c.throughput * 2 if c.throughput else None})
        for c in train.memory_axis
    ]
    timed_out = gpu_cells[-1].model_copy(update={"throughput": None, "outcome": "timed_out"})
    train = train.model_copy(
        update={"search": search, "memory_axis": train.memory_axis + gpu_cells[:-1] + [timed_out]}
    )
    profile = profile.model_copy(update={"train": train})
    assert_real_png(plot_throughput_curve(profile, tmp_path / "c.png") or Path("missing"))
    assert_real_png(plot_memory_matrix(profile, tmp_path / "m.png") or Path("missing"))


def test_nothing_to_draw_writes_nothing(tmp_path: Path) -> None:
    profile = make_train_profile()
    train = profile.train
    assert train is not None
    only_failed = [make_probe(2.0, records=[], outcome=Outcome.oom)]
    empty = profile.model_copy(
        update={
            "train": train.model_copy(
                update={"probes": only_failed, "search": None, "memory_axis": []}
            )
        }
    )
    assert render_report(empty, tmp_path) == []
    assert plot_time_split(empty, tmp_path / "t.png") is None
    assert list(tmp_path.iterdir()) == []
    infer = make_infer_profile()
    assert plot_throughput_curve(infer, tmp_path / "x.png") is None


def test_zero_latency_bundles_do_not_break_the_log_scale(tmp_path: Path) -> None:
    profile = make_infer_profile(batch_sizes=(1,), n_layers=4)
    infer = profile.infer
    assert infer is not None
    zero = Stat.of([0.0, 0.0])
    bundles = [
        BundleTiming(start=b.start, end=b.end, batch_size=1, latency=zero) if b.start == 0 else b
        for b in infer.bundles
    ]
    profile = profile.model_copy(update={"infer": infer.model_copy(update={"bundles": bundles})})
    assert plot_bundle_latency(profile, tmp_path / "z.png") is not None


def test_drawing_leaves_global_matplotlib_settings_alone(tmp_path: Path) -> None:
    import matplotlib

    before = dict(matplotlib.rcParams)
    plot_time_split(make_train_profile(), tmp_path / "t.png")
    assert dict(matplotlib.rcParams) == before


# ---------------------------------------------------------------- the command


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def _other() -> None:  # a second command keeps typer from collapsing to a single one
        pass

    return app


def saved(profile: Profile, folder: Path, name: str = "p.json") -> Path:
    path = folder / name
    save_profile(profile, path)
    return path


def test_command_writes_pictures_and_exports(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    path = saved(make_train_profile(folder), folder)  # two probes keep sidecar records
    out = tmp_path / "pics"
    csv, parquet = tmp_path / "b.csv", tmp_path / "b.parquet"
    args = ["report", str(path), "--out", str(out), "--csv", str(csv), "--parquet", str(parquet)]
    res = CliRunner().invoke(cli(), args)
    assert res.exit_code == 0, res.output
    pictures = sorted(out.glob("*.png"))
    assert [p.name for p in pictures] == [
        "p_memory_matrix.png",
        "p_throughput_vs_cpus.png",
        "p_time_split.png",
    ]
    for p in pictures:
        assert str(p) in res.stdout
    rows = 7 * 8 + 1
    assert f"({rows} batches)" in res.stdout
    for table in (pd.read_csv(csv), pd.read_parquet(parquet)):
        assert list(table.columns) == list(COLUMNS)
        assert len(table) == rows


def test_command_no_pictures_on_an_infer_profile(tmp_path: Path) -> None:
    path = saved(make_infer_profile(), tmp_path)
    csv = tmp_path / "b.csv"
    res = CliRunner().invoke(
        cli(), ["report", str(path), "--no-pictures", "--csv", str(csv), "-o", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "o").exists()
    assert "no per-batch records" in res.stdout
    assert pd.read_csv(csv).empty


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"schema_version": "0.1"}', "field 'schema_version'"),
        (json.dumps({"schema_version": "1.0", "kind": "train"}), "field '"),
        (None, "cannot read"),
    ],
)
def test_command_bad_profile_is_one_clear_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    res = CliRunner().invoke(cli(), ["report", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0]
    assert "Traceback" not in res.output


def test_command_missing_sidecar_is_one_clear_line(tmp_path: Path) -> None:
    path = saved(make_train_profile(tmp_path), tmp_path)
    (tmp_path / "records" / "c8.jsonl").unlink()
    res = CliRunner().invoke(
        cli(), ["report", str(path), "--no-pictures", "--csv", str(tmp_path / "b.csv")]
    )
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "c8.jsonl" in lines[0]


def test_command_unwritable_output_is_one_clear_line(tmp_path: Path) -> None:
    path = saved(make_train_profile(), tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(cli(), ["report", str(path), "--out", str(blocker / "sub")])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0]


def test_command_module_imports_no_plotting_or_pandas() -> None:
    code = (
        "import sys, harness.cli.report, harness.report; "
        "print(sorted(m for m in ('matplotlib', 'pandas', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_time_split_shows_allreduce_and_unsplit_batches(tmp_path: Path) -> None:
    profile = make_train_profile()
    train = profile.train
    assert train is not None
    multi = train.probes[0]
    multi = multi.model_copy(
        update={"timings": {**multi.timings, "allreduce": Stat.of([0.02, 0.03])}}
    )
    script = train.probes[1].model_copy(
        update={"timings": {"batch": train.probes[1].timings["batch"]}}
    )
    assert probe_phase_ms(script) == {"batch": pytest.approx(script.timings["batch"].median * 1e3)}
    assert "allreduce" in probe_phase_ms(multi)
    probes = [multi, script, *train.probes[2:]]
    profile = profile.model_copy(update={"train": train.model_copy(update={"probes": probes})})
    assert_real_png(plot_time_split(profile, tmp_path / "t.png") or Path("missing"))
