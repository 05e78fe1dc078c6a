"""A profiling run: drive the search with real probes and keep the profile on disk as it grows.

The profile is rewritten atomically after every probe (complete=False until the end), so an
interrupted sweep loses nothing and `--resume` picks up from the probes already on disk. It
ends complete=True only when at least one probe succeeded: a sweep whose every probe ended
oom, crashed, timed out or refused stays complete=False (the CLI then exits 1).

What is at the output path is never destroyed unread. Before any probe runs, `Sweep` refuses
(`SweepRefused`, one line naming the file and why; the CLI exits 2, the file keeps its bytes)
when the file there is not a readable profile (truncated, not JSON, another schema_version),
with or without --resume, or when it is the profile of another job (another name). Without
--resume, a readable profile of the same job (an earlier or interrupted run) is replaced by
the new sweep; with --resume it is continued, and refused if its job spec differs.
"""

from __future__ import annotations

import math
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol

from harness import __version__
from harness.backends.base import Backend, ProbeRequest, ProbeRun, Record
from harness.options import MAX_BATCH, ProfileOptions
from harness.profile import (
    BatchRecord,
    Caps,
    Grant,
    InferSection,
    MatrixCell,
    MedianCI,
    MemoryCounters,
    Outcome,
    Probe,
    Profile,
    ProfileError,
    Stat,
    TrainSection,
    VariantInfo,
    load_profile,
    make_profile_id,
    now,
    save_profile,
)
from harness.search import Measured
from harness.spec import JobSpec

TIMING_KEYS = ("data_s", "forward_s", "backward_s", "allreduce_s", "step_s", "batch_s")


def probe_id(caps: Caps, batch_size: int) -> str:
    mem = f"{caps.memory_gb:g}" if caps.memory_gb is not None else "none"
    freq = f"-f{caps.frequency_mhz:g}" if caps.frequency_mhz is not None else ""
    return f"c{caps.cpus:g}-m{mem}-g{caps.gpus}-b{batch_size}{freq}"


def summarise(
    run: ProbeRun,
    caps: Caps,
    pid: str,
    backend: str,
    started: Any,
    keep_records: bool,
    batch: int | None = None,
) -> Probe:
    """Turn a finished probe's records into the profile's Probe (stats over measured batches).

    An external script is timed by its steps: the records of its optimizer-step hooks
    (harness/workloads/script_steps.py), which win over any batch records the script writes
    itself (kept in records.jsonl, left out of the profile), else the script's own. Only when
    no step was seen is it timed by its whole process (`script_done`: start-up included), and
    the probe says which (`timing`).

    `batch` is the batch size asked for: a probe whose measured batches held another number of
    images (a dataset smaller than one batch, a script that kept its own) did not run as asked
    and ends `refused`, its records keeping the sizes that were measured.
    """
    batches = [r for r in run.records if r.get("type") == "batch"]
    hooked = [r for r in batches if r.get("source") == "optimizer_hooks"]
    if hooked:
        batches = hooked
    measured = [r for r in batches if not r.get("warmup")]
    script = any(r.get("type") == "meta" and "script" in r for r in run.records)
    throughput = None
    timings: dict[str, Stat] = {}
    if measured:
        throughput = Stat.of([float(r["images_per_s"]) for r in measured])
        for k in TIMING_KEYS:
            vals = [float(r[k]) for r in measured if r.get(k) is not None]
            if vals:
                timings[k.removesuffix("_s")] = Stat.of(vals)
    else:
        done = next((r for r in run.records if r.get("type") == "script_done"), None)
        if done is not None and done.get("elapsed_s"):
            ips = done["batch"] * done["iterations"] / done["elapsed_s"]
            throughput = Stat.of([ips])
    timing: Literal["steps", "process"] | None = None
    if script and throughput is not None:
        timing = "steps" if measured else "process"
    startup = None
    if measured:
        first = measured[0]
        startup = float(first.get("wall_s", 0.0)) - float(first.get("batch_s", 0.0))
    io = next((r for r in run.records if r.get("type") == "io"), None)
    disk_read_mb = float(io["disk_read_bytes"]) / 1e6 if io is not None else None
    stop = next((r for r in run.records if r.get("type") == "stop"), None)
    mem = next((r for r in run.records if r.get("type") == "memcg"), None)
    grant = next((r for r in run.records if r.get("type") == "grant"), None)
    outcome = run.outcome
    reason = run.reason
    if (
        outcome == Outcome.ok
        and throughput is None
        and not any(r.get("type") == "infer" for r in run.records)
    ):
        outcome, reason = Outcome.crashed, "ended without a measured batch"
    if outcome == Outcome.ok and batch is not None:
        sizes = sorted({int(r["batch_size"]) for r in measured if "batch_size" in r} - {batch})
        if sizes:
            outcome = Outcome.refused
            reason = (
                f"measured batches held {', '.join(map(str, sizes))} images, not the {batch} "
                "asked for (a dataset smaller than one batch?)"
            )
    return Probe(
        id=pid,
        caps=caps,
        enforced=run.enforced,
        granted=Grant.model_validate(_batch_fields(grant)) if grant is not None else None,
        backend=backend,
        image=run.image,
        container=run.container,
        outcome=outcome,
        exit_code=run.exit_code,
        reason=reason,
        log_tail=run.log_tail,
        started=started,
        duration_s=run.duration_s,
        startup_s=startup,
        throughput=throughput,
        timing=timing,
        timings=timings,
        peak_rss_mb=run.peak_rss_mb,
        cpu_time_s=run.cpu_time_s,
        disk_read_mb=disk_read_mb,
        median_ci=MedianCI.of([float(r["images_per_s"]) for r in measured], "images_per_s", stop)
        if measured
        else None,
        memory_counters=MemoryCounters.of(mem) if mem is not None else None,
        shared_cores=list(run.shared_cores),
        records=[BatchRecord.model_validate(_batch_fields(r)) for r in batches]
        if keep_records
        else None,
    )


def _batch_fields(r: Record) -> Record:
    return {k: v for k, v in r.items() if k != "type"}


class SweepHooks(Protocol):
    """What a sweep tells whoever watches it (a progress display, a log), in the spirit of
    Zeus's callbacks: the sweep is observed through these, never patched. Subclass it and
    override what you need (the rest do nothing), or pass any object with the three methods.
    """

    def on_probe_begin(self, caps: Caps, index: int) -> None:
        """A probe at `caps` starts; `index` counts the probes this run starts, from 0 (a
        probe already done, on disk for --resume or asked for twice, is not started again)."""
        return None

    def on_record(self, record: Record) -> None:
        """One record of the running probe, as the backend reads it (batch, progress, ...)."""
        return None

    def on_probe_end(self, probe: Probe) -> None:
        """The probe ended (any outcome) and the profile holding it is on disk."""
        return None


class NoHooks(SweepHooks):
    """Nobody watches: every hook does nothing."""


class SweepRefused(ValueError):
    """The sweep cannot start as asked (a file at `out` it will not overwrite, a batch the job
    cannot run): one line naming the file or option and why; nothing was run or written."""


def check_plan(spec: JobSpec, opts: ProfileOptions) -> str | None:
    """What the options' own checks cannot see, read from the job spec: the batch the probes
    would really run (no more than `MAX_BATCH`, no more than the dataset holds), whole CPUs
    for a training sweep, and -b only where a batch size is used (training). None when fine."""
    if spec.kind == "train" and spec.data.source == "digits":
        return (
            f"job '{spec.name}': data.source 'digits' trains for accuracy, not for a throughput "
            "profile: run `harness variants make` with it"
        )
    if spec.kind == "infer":
        if opts.batch is not None:
            return "--batch: inference jobs are timed at their spec's infer.batch_sizes"
        too_big = [b for b in (spec.infer.batch_sizes if spec.infer else []) if b > MAX_BATCH]
        if too_big:
            return (
                f"job '{spec.name}': infer.batch_sizes: expected at most {MAX_BATCH} (2**20) "
                f"images per batch, got {too_big[0]}"
            )
        return None
    batch = opts.batch or spec.batch_size
    given = "--batch" if opts.batch else f"job '{spec.name}': batch_size"
    if batch > MAX_BATCH:
        return f"{given}: expected at most {MAX_BATCH} (2**20) images per batch, got {batch}"
    if opts.cpu is not None and opts.cpu < 1 and opts.nnodes == 1:
        return f"--cpu: a training sweep probes whole CPUs: expected at least 1, got {opts.cpu:g}"
    n = spec.data.num_samples
    sized = spec.script is None and spec.loader.kind == "torch" and spec.data.path is None
    if sized and batch > n:  # the loader would hand out the whole dataset as every batch
        return (
            f"{given}: a batch of {batch} images is more than the job's dataset holds "
            f"(data.num_samples {n}): every batch would hold {n}"
        )
    return None


class Sweep:
    """Owns the profile being built; `measure_cpus` is what the search calls.

    `opts` are the user's options; the sweep keeps them resolved (all the host's CPUs when no
    --cpu was given, the spec's batch when no -b), and the profile records that copy.
    `opts.resume` continues from the profile at `out`. Raises `SweepRefused` before anything
    runs or is written when the plan cannot run as asked (`check_plan`) or when the file at
    `out` is not one it may replace (see the module docstring).
    """

    def __init__(
        self,
        spec: JobSpec,
        backend: Backend,
        opts: ProfileOptions,
        out: Path,
        workroot: Path,
        hooks: SweepHooks | None = None,
    ) -> None:
        problem = check_plan(spec, opts)
        if problem:
            raise SweepRefused(problem)
        self.spec = spec
        self.backend = backend
        self.max_cpus: float = opts.cpu if opts.cpu is not None else float(backend.host_cpus())
        self.batch: int = opts.batch or spec.batch_size
        self.opts = opts.resolved(cpu=self.max_cpus, batch=self.batch)
        self.out = out
        self.workroot = workroot
        self.hooks: SweepHooks = hooks if hooks is not None else NoHooks()
        self.done: dict[str, Probe] = {}
        self.stage = Staging.of(spec, opts.variant)
        self.started = 0  # probes this run started (the index on_probe_begin is given)
        self._lock = threading.RLock()
        previous = self._previous(opts.resume)
        if previous is not None and opts.resume:
            self.profile = previous
            for p in previous.train.probes if previous.train else []:
                self.done[p.id] = p
        else:
            self.profile = self._new_profile()
        self.profile.variant = self.stage.info

    def _new_profile(self) -> Profile:
        """An empty profile of this job on this host (complete=False until the run ends)."""
        from harness.telemetry.host import engine_version, host_facts

        host = host_facts()
        host.docker_version = engine_version(self.backend)
        created = now()
        spec = self.spec
        return Profile(
            id=make_profile_id(spec.name, host.hostname or socket.gethostname(), created),
            created=created,
            harness_version=__version__,
            kind=spec.kind.value,
            job=spec,
            host=host,
            backend=self.backend.name,
            options=self.opts.recorded(spec.kind.value),
            train=TrainSection(probes=[]) if spec.kind == "train" else None,
            infer=_empty_infer(spec) if spec.kind == "infer" else None,
            complete=False,
        )

    def _previous(self, resume: bool) -> Profile | None:
        """The profile at `out`, or None when there is none; SweepRefused when the file there
        is one this sweep must not overwrite (its bytes are left as they are)."""
        out = self.out
        if out.is_dir():
            raise SweepRefused(f"cannot write {out}: it is a folder (expected a file path)")
        if not out.exists():
            return None
        flag = "--resume: " if resume else ""
        keep = "it is left as it is: move it away or use another --out"
        try:
            prev = load_profile(out)
        except ProfileError as exc:
            why = str(exc).removeprefix(f"{out}: ")
            what = "cannot read it" if resume else "exists and cannot be read as a profile"
            raise SweepRefused(f"{out}: {flag}{what} ({why}); {keep}") from None
        if prev.job.name != self.spec.name:
            raise SweepRefused(
                f"{out}: {flag}holds the profile of job '{prev.job.name}', "
                f"not '{self.spec.name}'; {keep}"
            )
        if resume and prev.job != self.spec:
            raise SweepRefused(
                f"{out}: --resume: the profile on disk is of a different job spec; "
                "use another --out or drop --resume"
            )
        return prev

    # ---------------------------------------------------------------- probes

    def run_caps(self, caps: Caps) -> Probe:
        """One probe at `caps` (or the one already done). Safe to call from several threads at
        once (the memory columns of a matrix on a backend that holds several probes): the
        profile is updated and saved under a lock, the probe itself runs outside it."""
        pid = probe_id(caps, self.batch)
        with self._lock:
            if pid in self.done:
                return self.done[pid]
            index = self.started
            self.started += 1
        overrides: dict[str, Any] = {"batch_size": self.batch}
        if self.opts.max_iterations:
            overrides["max_iterations"] = self.opts.max_iterations
        if self.opts.device_name:
            overrides["device_name"] = self.opts.device_name
        if self.opts.frequencies:
            overrides["frequencies"] = self.opts.frequencies
        if self.opts.allow_clock_locking:
            overrides["allow_clock_locking"] = True
        if self.opts.power_log is not None:
            overrides["power_log"] = str(self.opts.power_log.resolve())
        overrides.update(self.stage.into(self.workroot / pid))
        req = ProbeRequest(
            spec=self.spec.model_dump(mode="json"),
            caps=caps,
            workdir=self.workroot / pid,
            data_dir=self.opts.data_dir,
            timeout_s=self.opts.timeout,
            overrides=overrides,
            disk_read_mbps=self.opts.disk_read_mbps,
        )
        self.hooks.on_probe_begin(caps, index)
        started = now()
        run = self.backend.run_probe(req, self.hooks.on_record)
        probe = summarise(
            run, caps, pid, self.backend.name, started, keep_records=True, batch=self.batch
        )
        with self._lock:
            self._absorb(run, caps, pid, probe)
        self.hooks.on_probe_end(probe)
        return probe

    def _absorb(self, run: ProbeRun, caps: Caps, pid: str, probe: Probe) -> None:
        """A finished probe into the profile, which is then saved."""
        self.done[pid] = probe
        from harness.telemetry.host import absorb_probe_versions

        absorb_probe_versions(self.profile.host, run.records)  # the image's torch, not the host's
        if self.profile.train is not None:
            self.profile.train.probes.append(probe)
            meta = next((r for r in run.records if r.get("type") == "meta"), None)
            if meta is not None and meta.get("dataset_bytes"):
                self.profile.train.dataset_bytes = int(meta["dataset_bytes"])
        if self.profile.kind == "infer":
            self._absorb_infer(run, caps, probe)
        self.save()

    def _absorb_infer(self, run: ProbeRun, caps: Caps, probe: Probe) -> None:
        sec = next((r["section"] for r in run.records if r.get("type") == "infer"), None)
        assert self.profile.infer is not None
        if sec is not None:
            if self.opts.power_log is not None:
                # On the host, after the probe: the log has had the longest time to cover every
                # window, and a container need not see the file (energy.join_power_log).
                from harness.telemetry.energy import join_power_log

                sec = join_power_log(sec, run.records, self.opts.power_log)
            sec = dict(sec)
            sec.setdefault("device_name", self.opts.device_name or _default_device(caps))
            merged = InferSection.model_validate(
                {**sec, "caps": caps, "enforced": run.enforced, "probes": [probe]}
            )
            self.profile.infer = merged
        else:
            self.profile.infer.probes.append(probe)

    def measure_cpus(self, cpus: int) -> Measured | None:
        caps = Caps(cpus=cpus, memory_gb=self.opts.memory, gpus=self.opts.num_gpus)
        return _measured(self.run_caps(caps))

    def known_cpus(self) -> dict[int, Measured | None]:
        out: dict[int, Measured | None] = {}
        for p in self.done.values():
            if p.caps.memory_gb == self.opts.memory and float(p.caps.cpus).is_integer():
                out[int(p.caps.cpus)] = _measured(p)
        return out

    # ---------------------------------------------------------------- the run

    def run(self) -> Profile:
        """The whole sweep; the profile is on disk from the start and after every probe. It
        ends complete=True only when a probe succeeded (for inference: its bundles timed);
        otherwise it is kept complete=False and `outcomes()` says how the probes ended."""
        self.save()  # on disk from the start: an interrupted run always leaves its profile
        if self.spec.kind == "infer":
            if not self.profile.infer or not self.profile.infer.bundles:
                self.run_caps(
                    Caps(cpus=self.max_cpus, memory_gb=self.opts.memory, gpus=self.opts.num_gpus)
                )
            if not self.profile.infer or not self.profile.infer.bundles:
                return self.profile  # refused or failed: kept on disk, complete=False
        else:
            self._run_train()
            if Outcome.ok not in self.outcomes():
                return self.profile  # every probe failed: kept on disk, complete=False
        self.profile.complete = True
        self.save()
        return self.profile

    def outcomes(self) -> dict[Outcome, int]:
        """How many of the profile's probes ended each way (resumed ones included)."""
        sec = self.profile.train or self.profile.infer
        counts: dict[Outcome, int] = {}
        for p in sec.probes if sec is not None else []:
            counts[p.outcome] = counts.get(p.outcome, 0) + 1
        return counts

    def _run_train(self) -> None:
        from harness.search import run_search

        assert self.profile.train is not None
        max_cpus = int(math.floor(self.max_cpus))
        result = run_search(
            self.measure_cpus,
            max_cpus,
            strategy=self.opts.strategy,
            budget=self.opts.budget,
            knee_fraction=self.opts.knee,
            known=self.known_cpus(),
        )
        self.profile.train.search = result
        self.save()
        if self.opts.memory_sweep:
            self._memory_axis(max_cpus, result)

    def _memory_axis(self, max_cpus: int, result: Any) -> None:
        """Throughput against the memory cap, at the knee and at the most CPUs (a 2-D matrix).
        On a backend that holds several probes at once (`concurrent`, e.g. Slurm), the memory
        caps of one CPU count run side by side; the search's own probes stay one at a time
        (each depends on the last)."""
        assert self.profile.train is not None
        cpu_points = sorted({max_cpus, int(result.knee.cpus) if result.knee else max_cpus})
        cells: list[MatrixCell] = []
        mems = sorted(self.opts.memory_sweep)
        side_by_side = bool(getattr(self.backend, "concurrent", False)) and len(mems) > 1
        for cpus in cpu_points:
            column = [Caps(cpus=cpus, memory_gb=m, gpus=self.opts.num_gpus) for m in mems]
            if side_by_side:  # a column's probes are independent: all in flight at once
                with ThreadPoolExecutor(max_workers=len(column)) as pool:
                    probes = list(pool.map(self.run_caps, column))
            else:
                probes = [self.run_caps(c) for c in column]
            for mem, p in zip(mems, probes, strict=True):
                cells.append(
                    MatrixCell(
                        cpus=cpus,
                        memory_gb=mem,
                        gpus=self.opts.num_gpus,
                        throughput=p.throughput.median
                        if p.throughput and p.outcome == "ok"
                        else None,
                        outcome=p.outcome,
                        probe_id=p.id,
                        disk_read_mb=p.disk_read_mb,
                    )
                )
                self.profile.train.memory_axis = cells
                self.save()

    def save(self) -> None:
        save_profile(self.profile, self.out)


class Staging:
    """Files a probe reads that the host must hand it (a job image has neither the variant's
    manifest nor scikit-learn): a variant's weights and the real digits it is fed. They are
    copied into the probe's own folder, which every backend gives the probe (a container
    mounts it), and named in the request's overrides."""

    WEIGHTS = "variant.pt"
    INPUTS = "inputs.npz"

    MAX_INPUTS = 256  # held-out scans handed over: the profile pushes `infer.samples` of them

    def __init__(
        self, info: VariantInfo | None, weights: Path | None, digits: bool, size: int
    ) -> None:
        self.info, self.weights, self.digits, self.size = info, weights, digits, size

    @classmethod
    def of(cls, spec: JobSpec, variant: str | None) -> Staging:
        """SweepRefused (one line) when the variant cannot be used with this job."""
        digits, size = spec.data.source == "digits", spec.input_shape[-1]
        if variant is None:
            return cls(None, None, digits, size)
        from harness.manifest import ManifestError, load_manifest, resolve

        if spec.kind != "infer":
            raise SweepRefused("--variant: only inference jobs (kind: infer) profile a variant")
        try:
            path, info, weights = resolve(variant)
        except ManifestError as exc:
            raise SweepRefused(str(exc)) from None
        made = load_manifest(path)
        if made.job.model != spec.model or made.input_shape != list(spec.input_shape):
            raise SweepRefused(
                f"--variant: {path} holds {made.job.model} variants for input "
                f"{made.input_shape}; job '{spec.name}' runs {spec.model} on {spec.input_shape}"
            )
        return cls(info, weights, digits, size)

    def into(self, workdir: Path) -> dict[str, Any]:
        """Copy what the probe needs into `workdir`; the overrides that name it."""
        import shutil

        out: dict[str, Any] = {}
        if self.weights is None and not self.digits:
            return out
        workdir.mkdir(parents=True, exist_ok=True)
        if self.weights is not None:
            shutil.copyfile(self.weights, workdir / self.WEIGHTS)
            out["variant_weights"] = self.WEIGHTS
        if self.digits:
            from harness.workloads.digits import default_split, head, make_split, save_samples

            split = self.info.domains if self.info is not None else default_split()
            held = make_split(split, self.size).holdout
            save_samples(workdir / self.INPUTS, head(held, self.MAX_INPUTS))
            out["inputs_file"] = self.INPUTS
        return out


def _measured(p: Probe) -> Measured | None:
    """What the search sees of a probe: its median images/s and the interval of it."""
    if p.outcome != Outcome.ok or p.throughput is None:
        return None
    ci = p.median_ci
    return Measured(p.throughput.median, ci.lo if ci else None, ci.hi if ci else None)


def _default_device(caps: Caps) -> str:
    return f"{socket.gethostname()}-{caps.cpus:g}cpu"


def _empty_infer(spec: JobSpec) -> InferSection:
    return InferSection(
        device_name="pending",
        model=spec.model,
        layers=[],
        cuts=[
            {
                "index": 0,
                "after": None,
                "shape": spec.input_shape,
                "numel": math.prod(spec.input_shape),
                "bytes_fp32": 4 * math.prod(spec.input_shape),
                "bytes_fp16": 2 * math.prod(spec.input_shape),
            }  # type: ignore[list-item]
        ],
        batch_sizes=spec.infer.batch_sizes if spec.infer else [1],
        max_bundle_len=spec.infer.max_bundle_len if spec.infer else 1,
        bundles=[],
    )
