"""The inference workload: bundle timing of a tiny model, in-process and on the local backend."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.profile import Caps, InferSection, Outcome
from harness.spec import JobSpec
from harness.telemetry import energy
from harness.telemetry.freq import ClockLockRefused
from harness.workloads.infer import (
    bundle_ranges,
    collect,
    load_inputs,
    round_counts,
    run_infer,
    time_as_run,
    time_bundle,
    time_bundles,
    time_call,
)


def _spec(**infer: Any) -> JobSpec:
    cfg = {"batch_sizes": [1, 2], "max_bundle_len": 2, "repeats": 3, "warmup": 1, "samples": 2}
    cfg.update(infer)
    return JobSpec.model_validate(
        {
            "name": "tiny-infer",
            "kind": "infer",
            "model": "resnet18",
            "input_shape": [3, 32, 32],
            "num_classes": 10,
            "data": {"source": "jpeg", "num_samples": 2},
            "infer": cfg,
        }
    )


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def profiled(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = tmp_path_factory.mktemp("data")
    request = {"threads": 1, "data_dir": str(data), "caps": {"cpus": 1}, "overrides": {}}
    return collect(_spec(), request)


def test_section_is_valid_and_complete(
    profiled: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    section, _ = profiled
    sec = InferSection.model_validate(section)
    n = len(sec.layers)
    assert n == 10 and len(sec.cuts) == n + 1
    want = {(i, j, b) for i, j in bundle_ranges(n, 2) for b in (1, 2)}
    assert {(b.start, b.end, b.batch_size) for b in sec.bundles} == want
    assert len(sec.bundles) == len(want)
    for b in sec.bundles:
        assert b.latency.n >= 3 and 0 < b.latency.min <= b.latency.median <= b.latency.max
        assert b.frequency_mhz is None
    assert sec.device_kind == "cpu" and sec.device_name.endswith("-1cpu")
    assert sec.total_s is not None and sec.total_s > 0
    assert sec.frequencies.domain == "cpu" and sec.frequencies.requested_mhz == []


def test_no_energy_here_is_null_with_reason(
    profiled: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    sec = InferSection.model_validate(profiled[0])
    if sec.energy_source is None:  # no RAPL/NVML on this machine: null + reason, never zero
        assert sec.energy_reason
        assert all(b.energy_j is None and b.energy_reason for b in sec.bundles)


def test_progress_records_and_real_inputs(
    profiled: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, records = profiled
    setup = next(r for r in records if r["type"] == "progress" and r["stage"] == "setup")
    assert setup["inputs"].startswith("jpeg:") and setup["threads"] == 1
    steps = [r for r in records if r["type"] == "progress" and r["stage"] == "bundle"]
    assert steps[-1]["done"] == steps[-1]["total"] == len(profiled[0]["bundles"])
    assert records[-1]["type"] == "infer"


def test_bundle_batch_two_costs_more_than_batch_one(
    profiled: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    sec = InferSection.model_validate(profiled[0])
    n = len(sec.layers)
    whole = [sec.bundle(i, i + 1, b) for i in range(n) for b in (1, 2)]
    assert all(w is not None for w in whole)
    one = sum(b.latency.median for b in whole if b is not None and b.batch_size == 1)
    two = sum(b.latency.median for b in whole if b is not None and b.batch_size == 2)
    assert two > one * 0.8  # twice the images: not less work (loose: the machine is shared)


def test_inputs_are_decoded_jpegs_not_zeros(tmp_path: Path) -> None:
    x, source = load_inputs(_spec(), str(tmp_path), 3)
    assert source.startswith("jpeg:") and x.shape == (3, 3, 32, 32)
    assert x.abs().sum() > 0 and x.std() > 0.1
    assert -3 < x.mean() < 3  # normalised


def test_time_call_meets_count_and_window() -> None:
    calls: list[int] = []
    t0 = time.perf_counter()

    def work() -> None:
        calls.append(1)
        time.sleep(0.002)

    out = time_call(work, torch.device("cpu"), 3, 2, min_window_s=0.05)
    assert len(out) >= 3 and len(calls) == len(out) + 2
    assert time.perf_counter() - t0 >= 0.05


def test_bundles_record_the_interval_of_their_median_latency(
    profiled: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    section, _ = profiled
    for b in InferSection.model_validate(section).bundles:
        ci = b.median_ci
        assert ci is not None and ci.quantity == "latency_s" and ci.mode == "fixed"
        assert ci.stopped == "fixed_count" and ci.n == 3 and ci.lo is None  # 3 < 6 calls
        assert b.rounds == 3  # one call a round: the spec's default rounds


def test_confidence_mode_times_a_bundle_until_its_median_is_known() -> None:
    def steady() -> None:
        time.sleep(0.002)

    cfg = _spec(repeats=3, warmup=1, stop="confidence", max_repeats=40).infer
    assert cfg is not None
    out, stream = time_bundle(steady, torch.device("cpu"), cfg)
    iv = stream.interval()
    assert len(out) == len(stream.values) and 6 <= len(out) <= 40
    if stream.stopped == "target_met":  # a 2 ms sleep is steady to 2% unless the host is busy
        assert iv is not None and iv.rel_half_width <= 0.02
    else:
        assert stream.stopped == "max_count" and len(out) == 40
    rng = iter([0.001, 0.009] * 50)  # alternating 1 ms / 9 ms: never within 2%
    out, stream = time_bundle(lambda: time.sleep(next(rng)), torch.device("cpu"), cfg)
    assert stream.stopped == "max_count" and len(out) == 40


def test_fixed_mode_takes_each_bundle_in_rounds_over_the_pass() -> None:
    """A machine whose speed switches halfway through a pass: timed in one stretch each, the
    first bundle sees only the fast half and the last only the slow one; in rounds, each bundle
    sees both, and the calls interleave."""
    order: list[str] = []

    def bundle(name: str) -> Any:
        def run() -> None:
            order.append(name)
            time.sleep(0.001 if len(order) <= total // 2 else 0.008)

        return run

    def seen(cfg: Any) -> list[Any]:
        order.clear()
        return time_bundles([bundle("a"), bundle("b")], torch.device("cpu"), cfg)

    one = _spec(repeats=6, warmup=2, rounds=1).infer
    three = _spec(repeats=6, warmup=2, rounds=3).infer
    assert one is not None and three is not None
    total = 2 * (2 + 6)
    a, b = seen(one)
    assert a.rounds == b.rounds == 1 and order == ["a"] * 8 + ["b"] * 8
    assert max(a.latencies) < 0.004 < min(b.latencies)  # each bundle saw one moment
    total = 2 * (2 + 6 + 1 + 1)  # later rounds warm up with one call each
    a, b = seen(three)
    assert a.rounds == b.rounds == 3 and order[:5] == ["a"] * 4 + ["b"]
    assert a.timed == [False, False, True, True, False, True, True, False, True, True]
    for t in (a, b):
        assert len(t.latencies) == len(t.stream.values) == 6 and t.stream.stopped == "fixed_count"
        assert min(t.latencies) < 0.004 < max(t.latencies)  # both halves of the pass
    assert round_counts(20, 3) == [7, 7, 6] and round_counts(2, 5) == [1, 1]
    conf = _spec(repeats=6, warmup=1, rounds=3, stop="confidence", max_repeats=8).infer
    assert conf is not None
    assert [t.rounds for t in seen(conf)] == [1, 1]  # its rule decides each stretch
    assert order[: order.index("b")] == ["a"] * order.index("b")


def test_frequency_request_here_is_refused_with_reason(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    request = {
        "threads": 1,
        "data_dir": str(tmp_path),
        "caps": {"cpus": 1},
        "overrides": {"frequencies": [1.0]},  # offered nowhere: refused even where cpufreq is
    }
    with pytest.raises(ClockLockRefused, match="cannot lock CPU clock"):
        run_infer(_spec(), request, records.append)
    assert records[-1]["type"] == "refused" and records[-1]["frequency_mhz"] == 1.0
    if not Path("/sys/devices/system/cpu/cpu0/cpufreq").exists():
        assert "cpufreq" in records[-1]["reason"]
    assert not any(r["type"] == "infer" for r in records)  # nothing measured at another clock


def test_fake_rapl_that_never_advances_is_null_not_zero(tmp_path: Path) -> None:
    zone = tmp_path / "rapl" / "intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text("1000\n")
    (zone / "max_energy_range_uj").write_text("100000000\n")
    request = {
        "threads": 1,
        "data_dir": str(tmp_path),
        "caps": {"cpus": 1},
        "overrides": {"rapl_root": str(tmp_path / "rapl"), "batch_sizes": [1], "max_bundle_len": 1},
    }
    spec = _spec(energy_window_s=0.01)
    section, _ = collect(spec, request)
    sec = InferSection.model_validate(section)
    assert sec.energy_source == "rapl"
    assert all(
        b.energy_j is None and "did not advance" in (b.energy_reason or "") for b in sec.bundles
    )


def test_power_log_energy_is_joined_by_timestamps(tmp_path: Path) -> None:
    log = tmp_path / "power.csv"
    now = time.time()
    log.write_text(f"timestamp,watts\n{now - 5},10\n{now + 600},10\n")
    request = {
        "threads": 1,
        "data_dir": str(tmp_path),
        "caps": {"cpus": 1},
        "overrides": {
            "power_log": str(log),
            "batch_sizes": [1],
            "max_bundle_len": 1,
            "device_name": "edge-a",
        },
    }
    section, records = collect(_spec(energy_window_s=0.02), request)
    sec = InferSection.model_validate(section)
    assert sec.energy_source == "powerlog" and sec.device_name == "edge-a"
    for b in sec.bundles:
        assert b.energy_j is not None and b.energy_j > 0
        # 10 W for about one bundle's latency (loose: window includes loop overhead)
        assert b.energy_j < 10 * b.latency.max * 20
    # the host-side join (a log the container could not see) gives the same from the records
    log20 = tmp_path / "power20.csv"
    log20.write_text(f"timestamp,watts\n{now - 5},20\n{now + 600},20\n")
    joined = InferSection.model_validate(energy.join_power_log(section, records, log20))
    for a, b in zip(sec.bundles, joined.bundles, strict=True):
        assert a.energy_j is not None and b.energy_j == pytest.approx(2 * a.energy_j)


def test_local_backend_runs_an_infer_probe(tmp_path: Path) -> None:
    from harness.backends.base import ProbeRequest
    from harness.backends.local import LocalBackend

    backend = LocalBackend()
    req = ProbeRequest(
        spec=_spec(batch_sizes=[1], max_bundle_len=1, repeats=2).model_dump(mode="json"),
        caps=Caps(cpus=1),
        workdir=tmp_path / "probe",
        data_dir=tmp_path / "data",
        timeout_s=300,
        overrides={"device_name": "tiny-local"},
    )
    try:
        run = backend.run_probe(req)
    finally:
        backend.cleanup()
    assert run.outcome == Outcome.ok, (run.reason, run.log_tail)
    sec = next(r["section"] for r in run.records if r.get("type") == "infer")
    parsed = InferSection.model_validate(sec)
    assert parsed.device_name == "tiny-local" and len(parsed.bundles) == len(parsed.layers)


def test_refused_probe_is_recorded_and_the_cli_exits_nonzero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host pre-check is faked to pass (as on a host that could lock, running a probe
    that cannot); the real probe on this machine then refuses, and that is what is recorded."""
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.profile import load_profile
    from harness.telemetry import freq
    from tests.factory.tiny_infer_job import profile_argv, write_tiny_infer

    def fake_host_can_lock(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(freq, "can_lock", fake_host_can_lock)
    job = write_tiny_infer(tmp_path)
    argv = profile_argv(job, tmp_path, "--frequencies", "1", "--allow-clock-locking")
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 1, r.output
    assert "refused: cannot lock CPU clock" in " ".join(r.output.split())
    prof = load_profile(tmp_path / "profile.json")
    assert not prof.complete and prof.infer is not None and prof.infer.bundles == []
    (probe,) = prof.infer.probes
    assert probe.outcome == Outcome.refused and probe.caps.cpus == 1
    assert probe.reason is not None and probe.reason.startswith("cannot lock CPU clock")
    assert prof.options["frequencies"] == [1.0] and prof.options["allow_clock_locking"] is True
    (request,) = (tmp_path / ".work" / "profile").glob("*/request.json")
    sent = json.loads(request.read_text())["overrides"]  # what the probe was asked to do
    assert sent["frequencies"] == [1.0] and sent["allow_clock_locking"] is True


def test_power_log_option_joins_bundle_energy_on_the_host(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.profile import load_profile
    from tests.factory.tiny_infer_job import profile_argv, write_tiny_infer

    job = write_tiny_infer(tmp_path)
    log = tmp_path / "smartpower.csv"  # the meter's log: 12 W all through the run
    t = time.time()
    log.write_text("timestamp,watts\n" + "".join(f"{t + k},12\n" for k in range(-5, 600, 5)))
    r = CliRunner().invoke(app, profile_argv(job, tmp_path, "--power-log", str(log)))
    assert r.exit_code == 0, r.output
    prof = load_profile(tmp_path / "profile.json")
    inf = prof.infer
    assert prof.complete and inf is not None and inf.bundles
    assert inf.energy_source == "powerlog" and "joined by timestamps" in (inf.energy_reason or "")
    for b in inf.bundles:
        assert b.energy_j is not None and b.energy_reason is None
        # 12 W over one call: at least the timed minimum, at most the loop's overhead allows
        assert 12 * b.latency.min * 0.5 < b.energy_j < 12 * b.latency.max * 20
    assert prof.options["power_log"] == str(log)
    # the same probe's records against a log recorded long before it: null with the reason
    (rec_file,) = (tmp_path / ".work" / "profile").glob("*/records.jsonl")
    records = [json.loads(line) for line in rec_file.read_text().splitlines()]
    old = tmp_path / "old.csv"
    old.write_text("timestamp,watts\n1000,5\n1010,5\n")
    section = next(r["section"] for r in records if r["type"] == "infer")
    missed = InferSection.model_validate(energy.join_power_log(section, records, old))
    assert len(missed.bundles) == len(inf.bundles)
    for b in missed.bundles:
        assert b.energy_j is None and "does not cover the window" in (b.energy_reason or "")


def test_the_whole_model_is_timed_after_each_idle_gap_per_batch_size(
    profiled: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    sec = InferSection.model_validate(profiled[0])
    cfg = _spec().infer
    assert cfg is not None
    want = {(b, g / 1000) for b in (1, 2) for g in cfg.idle_gaps_ms}
    assert {(t.batch_size, t.gap_s) for t in sec.after_idle} == want
    for t in sec.after_idle:
        assert t.calls == cfg.idle_calls * cfg.rounds
        assert t.ratio == pytest.approx(t.after_s / t.back_to_back_s)
    refs = {(t.batch_size, t.back_to_back_s) for t in sec.after_idle}
    assert refs == {(t.batch_size, t.alone_s) for t in sec.beside_wakeups}  # one reference
    assert [g for g, _ in sec.idle_curve(2)] == sorted(g / 1000 for g in cfg.idle_gaps_ms)
    assert sec.idle_curve(64) == []


def test_after_idle_sets_a_core_slow_after_idling_against_itself_back_to_back() -> None:
    """A fake core (no real one here can be told to idle slowly): each call spins 1 ms, and
    2 ms more when more than 5 ms passed since the last call ended."""
    last = [time.perf_counter()]

    def call() -> None:
        now = time.perf_counter()
        spin = 0.001 + (0.002 if now - last[0] > 0.005 else 0.0)
        while time.perf_counter() - now < spin:
            pass
        last[0] = time.perf_counter()

    got = time_as_run(call, torch.device("cpu"), [0.001, 0.02], [], calls=2, rounds=2)
    assert len(got.after[0.02]) == 4 and len(got.back_to_back) == 8  # pooled over the gaps
    assert statistics.median(got.after[0.02]) == pytest.approx(0.003, abs=0.0007)
    assert statistics.median(got.back_to_back) == pytest.approx(0.001, abs=0.0007)
    assert statistics.median(got.after[0.001]) < 0.0022  # 1 ms idle: not slowed
    assert got.beside == {} and got.wakes_per_s == {}


def test_no_idle_gaps_and_no_wake_periods_measure_nothing(tmp_path: Path) -> None:
    request = {"threads": 1, "data_dir": str(tmp_path), "caps": {"cpus": 1}, "overrides": {}}
    spec = _spec(idle_gaps_ms=[], wake_periods_us=[], batch_sizes=[1], max_bundle_len=1)
    section, _ = collect(spec, request)
    sec = InferSection.model_validate(section)
    assert sec.after_idle == [] and sec.beside_wakeups == []


def test_the_whole_model_is_timed_beside_a_waking_sibling_per_batch_size(
    profiled: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    sec = InferSection.model_validate(profiled[0])
    cfg = _spec().infer
    assert cfg is not None
    assert sorted(t.batch_size for t in sec.beside_wakeups) == sorted(
        b for b in (1, 2) for _ in cfg.wake_periods_us
    )
    for t in sec.beside_wakeups:
        assert t.calls == cfg.idle_calls * cfg.rounds and t.wakes_per_s > 0
        assert t.ratio == pytest.approx(t.beside_s / t.alone_s)
    rates = [w for w, _ in sec.wake_curve(1)]
    assert rates == sorted(rates) and len(rates) == len(cfg.wake_periods_us)


def test_a_sibling_that_wakes_more_often_is_counted_so() -> None:
    """The call sleeps (it leaves the interpreter's lock, as a torch op does): the count is
    the sibling's own, not how long a busy call kept it out."""

    def call() -> None:
        time.sleep(0.002)

    got = time_as_run(call, torch.device("cpu"), [], [0.01, 0.001], calls=3, rounds=2)
    assert len(got.beside[0.01]) == len(got.beside[0.001]) == 6 == len(got.back_to_back)
    slow, fast = got.wakes_per_s[0.01], got.wakes_per_s[0.001]
    assert 0 < slow < 110 and fast > 3 * slow  # at most one wake-up per 10 ms sleep
