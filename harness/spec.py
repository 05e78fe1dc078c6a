"""JobSpec: the YAML a user writes. Pure pydantic; no torch import.

A spec says *what* to run (model, data, loader, optimiser, iterations); the CLI says under
which caps to run it. Keeping the two apart lets one spec be profiled on any host.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.stopping import DEFAULT_CONFIDENCE, DEFAULT_TARGET, StopRule, min_count_for


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a spec must not silently fall back to a default.

    No infinity or NaN in any float field (`allow_inf_nan=False`, here on the one base so that
    every model of a file has it): every Strict model is read from or written to a file (job
    spec, profile, problem, solution, cost model, cluster, trace, run result), JSON holds
    neither (pydantic writes them as null, which the same model then refuses to read back), and
    SCIP takes anything at or past 1e20 for infinite. A problem file's `.inf` or `nan` is one
    clear error at the field instead of SCIP's exception or a file nobody can read.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class JobKind(StrEnum):
    train = "train"
    infer = "infer"


class DataSource(StrEnum):
    jpeg = "jpeg"  # a generated folder of real JPEG files, decoded and augmented by the loader
    synthetic = "synthetic"  # random tensors made in memory: no decode cost
    volume = "volume"  # generated 3-D volumes (MedMNIST-3D shaped), stored as .npy
    digits = "digits"  # scikit-learn's real 8x8 handwritten digits, upsampled (accuracy jobs)


class LoaderKind(StrEnum):
    torch = "torch"
    dali = "dali"


class TaskKind(StrEnum):
    multiclass = "multiclass"  # CrossEntropyLoss on integer targets
    multilabel = "multilabel"  # BCEWithLogitsLoss on float targets, sigmoid + threshold metrics


class DataSpec(Strict):
    source: DataSource = DataSource.jpeg
    num_samples: Annotated[int, Field(gt=0)] = 256
    # Stored image size (H, W) for jpeg data; the loader crops/resizes to input_shape.
    stored_size: tuple[int, int] | None = None
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = 90
    task: TaskKind = TaskKind.multiclass
    path: str | None = Field(
        default=None, description="Existing dataset folder; generated under the data cache if unset"
    )
    seed: int = 0
    cold_cache: bool = Field(
        default=True,
        description="start every probe with the dataset out of the page cache (data locality)",
    )


class LoaderSpec(Strict):
    kind: LoaderKind = LoaderKind.torch
    # "auto": one worker per granted CPU minus one (at least 0). Never sized from os.cpu_count().
    workers: int | Literal["auto"] = "auto"
    prefetch_factor: Annotated[int, Field(ge=1)] = 2
    pin_memory: bool = False


class OptimizerSpec(Strict):
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: Annotated[float, Field(gt=0)] = 0.01
    momentum: Annotated[float, Field(ge=0)] = 0.9
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


StopMode = Literal["fixed", "confidence"]


class IterationSpec(Strict):
    """How long a training probe measures, in MLPerf LoadGen's habits (harness/stopping.py).

    `stop: confidence`: after each measured batch, the order-statistic interval of the median
    images/s; the probe stops once `min_measured` batches and `min_duration_s` are done and the
    interval's relative half-width is within `target_rel_ci` at `confidence`, or at
    `max_measured` batches (default four times `measured`), or when the loop passes
    `max_duration_s`. `stop: fixed` (the default): exactly `measured` batches (and
    `min_duration_s`); the interval of its median is recorded all the same, with
    `fixed_count` as the reason it stopped.

    Why fixed is the default: on this 2-core VM (bench/profile_cost.py) batch streams spread
    ~10%, so confidence mode runs most probes to `max_measured`: about twice a fixed count's
    wall time for a somewhat tighter interval, short of the cost it is meant to save. And a
    profile measured before this field existed was measured with a fixed count: the default
    keeps what such a profile says about itself true. A spec asks for `stop: confidence` where
    its median must be known to a stated width. Several nodes training together run fixed
    (each all-reduce needs every node). `--max-iterations` caps the count in either mode.
    """

    warmup: Annotated[int, Field(ge=0)] = 3
    measured: Annotated[int, Field(gt=0)] = 20
    min_duration_s: Annotated[float, Field(ge=0)] = 0.0
    max_duration_s: Annotated[float, Field(gt=0)] = 600.0
    stop: StopMode = "fixed"
    target_rel_ci: Annotated[float, Field(gt=0, lt=1)] = DEFAULT_TARGET
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = DEFAULT_CONFIDENCE
    min_measured: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="confidence mode; None: the fewest batches with an interval"
    )
    max_measured: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="confidence mode; None: four times `measured`"
    )

    def rule(self, max_iterations: int | None = None) -> StopRule:
        """The stopping rule of a probe; `max_iterations` (--max-iterations) caps the count."""
        count = max_iterations or self.measured
        most = self.max_measured or 4 * self.measured
        least = self.min_measured or min_count_for(self.confidence)
        if max_iterations:
            most = min(most, max_iterations)
        return StopRule(
            mode=self.stop,
            count=count,
            target_rel_ci=self.target_rel_ci,
            confidence=self.confidence,
            min_count=min(least, most),
            max_count=most,
            min_duration_s=self.min_duration_s,
        )


class ScriptSpec(Strict):
    """An external training script with its own arguments (seed offline-profiler contract).

    The script must accept --batch/-b, --workers/-j, --max_iterations and --data; profiler
    options override the same options given in `args`.
    """

    path: str
    args: list[str] = Field(default_factory=list)


class InferSpec(Strict):
    batch_sizes: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [1])
    max_bundle_len: Annotated[int, Field(gt=0)] = 4
    repeats: Annotated[int, Field(gt=0)] = 20
    warmup: Annotated[int, Field(ge=0)] = 3
    min_window_s: Annotated[float, Field(ge=0)] = 0.0
    samples: Annotated[int, Field(gt=0)] = 4  # real input images pushed through to make activations
    energy_window_s: Annotated[float, Field(ge=0)] = 1.0
    # Fixed mode takes a bundle's `repeats` in this many rounds over all bundles of a batch
    # size (round-robin), so that its median spans the whole pass rather than a fraction of a
    # second: on a machine whose speed switches every few seconds (a shared VM: one digits
    # variant's forward read 15 ms and 23 ms a few seconds apart), a bundle timed in one
    # stretch measures one moment of it, and its interval hides that. 1: one stretch each.
    rounds: Annotated[int, Field(gt=0)] = 3
    # How long each bundle is timed (harness/stopping.py). `fixed` (the default): `repeats`
    # calls and `min_window_s`; the interval of the median latency is recorded per bundle all
    # the same. `confidence`: from the fewest calls with an interval on, stop once it is within
    # `target_rel_ci`, or at `max_repeats` (None: four times `repeats`). Fixed is the default
    # here because a bundle call takes milliseconds: the repeats cost little next to the
    # set-up and the energy windows, and a profile of a few hundred bundles then keeps one
    # known cost.
    stop: StopMode = "fixed"
    target_rel_ci: Annotated[float, Field(gt=0, lt=1)] = DEFAULT_TARGET
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = DEFAULT_CONFIDENCE
    max_repeats: Annotated[int, Field(gt=0)] | None = None
    # The whole model timed as a split side runs it, per batch size (profile: InferSection
    # .after_idle, .beside_wakeups): after each idle gap (a side waits for the link), and beside
    # a sibling thread that sleeps each period in a loop (streamed, each packet of the next
    # request wakes a side's reader while it computes), against calls right after a call.
    # `idle_calls` of each in every one of `rounds` rounds: rounds x idle_calls x (2 x gaps +
    # periods) calls of the whole model; both lists empty: not measured.
    idle_gaps_ms: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [10.0, 50.0]
    )
    idle_calls: Annotated[int, Field(gt=0, le=100)] = 2
    wake_periods_us: list[Annotated[float, Field(gt=0, le=1e6)]] = Field(
        default_factory=lambda: [1000.0, 200.0, 50.0]
    )

    def rule(self) -> StopRule:
        """The stopping rule of each bundle's timing."""
        least = min_count_for(self.confidence)
        most = max(self.max_repeats or 4 * self.repeats, 1)
        return StopRule(
            mode=self.stop,
            count=self.repeats,
            target_rel_ci=self.target_rel_ci,
            confidence=self.confidence,
            min_count=min(least, most),
            max_count=most,
            min_duration_s=self.min_window_s,
        )


class AccuracySpec(Strict):
    """How a `kind: train` job on real labelled data (`data.source: digits`) is trained for
    accuracy and cut into variants (`harness variants make`): counts, not seconds. The
    held-out split and its domains are the profile's `DomainSplit` (harness/profile.py)."""

    epochs: Annotated[int, Field(gt=0, le=1000)] = 3
    finetune_epochs: Annotated[int, Field(ge=0, le=1000)] = 5
    finetune_lr: Annotated[float, Field(gt=0)] = 3e-3
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5
    split_seed: int = 0
    domains: Annotated[int, Field(gt=0, le=1000)] = 10
    alpha: Annotated[float, Field(gt=0)] = 0.5
    domain_seed: int = 0


class JobSpec(Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")]
    kind: JobKind = JobKind.train
    model: Annotated[str, Field(min_length=1)]
    input_shape: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [3, 224, 224])
    num_classes: Annotated[int, Field(gt=0)] = 1000
    batch_size: Annotated[int, Field(gt=0)] = 32
    data: DataSpec = Field(default_factory=DataSpec)
    loader: LoaderSpec = Field(default_factory=LoaderSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    amp: bool = False
    iterations: IterationSpec = Field(default_factory=IterationSpec)
    script: ScriptSpec | None = None
    infer: InferSpec | None = None
    accuracy: AccuracySpec | None = Field(
        default=None, description="train for accuracy and make variants (harness variants make)"
    )
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    workload_id: str | None = None  # e.g. W1..W7 of the hybrid-scheduler seed
    description: str | None = None

    @field_validator("input_shape")
    @classmethod
    def _shape_rank(cls, v: list[int]) -> list[int]:
        if len(v) not in (3, 4):
            raise ValueError("expected [C, H, W] or [C, D, H, W]")
        return v

    @model_validator(mode="after")
    def _infer_defaults(self) -> JobSpec:
        if self.kind == JobKind.infer and self.infer is None:
            self.infer = InferSpec()
        if self.data.source == DataSource.volume and len(self.input_shape) != 4:
            raise ValueError("data.source 'volume' needs input_shape [C, D, H, W]")
        return self


class SpecError(ValueError):
    """A spec that cannot be loaded; the message is one line naming file and field."""

    def __init__(self, msg: str) -> None:
        super().__init__(one_line(msg))


def one_line(msg: str) -> str:
    """Parsers' messages span lines; the CLI promises one line per problem."""
    return " ".join(str(msg).split())


def _first_error(path: str, exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{path}: field '{loc}': {err['msg']}")
        return "; ".join(lines)
    return f"{path}: {exc}"


# ---------------------------------------------------------------- reading a YAML file

MAX_YAML_VALUES = 5_000_000  # values a YAML file may expand to, its aliases followed


class _NoDates(yaml.SafeLoader):
    """safe_load without dates: `2021-02-30` or `2021-01-01` stays the string it was written as,
    so a field that wants a number says so about that string instead of failing in the parser.
    The pure-Python parser on purpose: libyaml's C composer crashes the process (a segfault) on
    a document nested 100,000 deep, where this one raises RecursionError."""


_NoDates.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_text(path: str | Path, expected: str, error: type[ValueError] = ValueError) -> str:
    """The file as UTF-8 text; a file that cannot be read (missing, a folder, no permission) or
    is not UTF-8 text is one `error` line naming it and what was `expected` (e.g. "a YAML
    problem file")."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise error(f"{p}: is a folder (expected {expected})") from None
    except OSError as exc:
        raise error(f"{p}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{p}: not UTF-8 text (bad byte at offset {exc.start}); expected {expected}"
        ) from None


def parse_yaml(text: str, where: str, error: type[ValueError] = ValueError) -> Any:
    """YAML text -> Python values (no dates); every failure is one `error` line: the parser's
    problem and its line and column, a scalar it cannot build (a 5,000-digit integer), nesting
    too deep, or aliases that expand past MAX_YAML_VALUES values."""
    try:
        raw = yaml.load(text, Loader=_NoDates)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise error(f"{where}: invalid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise error(f"{where}: invalid YAML: nested too deeply to read") from None
    except ValueError as exc:  # a scalar yaml cannot build, e.g. an integer of 5,000 digits
        raise error(f"{where}: invalid YAML: a value cannot be read ({_clause(exc)})") from None
    size = _values(raw)
    if size is None:
        raise error(f"{where}: invalid YAML: an alias refers to the value that holds it")
    if size > MAX_YAML_VALUES:
        raise error(
            f"{where}: the YAML expands to more than {MAX_YAML_VALUES:,} values (aliases "
            "followed): too large to validate"
        )
    return raw


def read_yaml(path: str | Path, expected: str, error: type[ValueError] = ValueError) -> Any:
    """`read_text` then `parse_yaml`: a YAML file's values, or one `error` line."""
    return parse_yaml(read_text(path, expected, error), str(path), error)


def _clause(exc: BaseException) -> str:
    """The first clause of a parser's message (int's limit error goes on about set_int_max...)."""
    return one_line(str(exc).split(";")[0]) or type(exc).__name__


def _values(raw: Any) -> int | None:
    """How many values `raw` holds with its shared parts (YAML aliases) counted each time they
    are used: what validating it walks; None when a part holds itself (`&a [*a]`). Each
    container is counted once and reused, so a 'billion laughs' document costs its size in the
    file, not its expansion. Iterative: a document nested deep enough to get here is below the
    parser's recursion limit, but a recursive count would spend it again."""
    memo: dict[int, int] = {}
    open_: set[int] = set()  # containers whose count is pending: the ancestors of the next one
    stack: list[tuple[Any, bool]] = [(raw, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list):
            continue
        key = id(node)
        kids = list(node.values()) if isinstance(node, dict) else node
        if done:
            open_.discard(key)
            keys = len(node) if isinstance(node, dict) else 0
            memo[key] = 1 + keys + sum(memo.get(id(k), 1) for k in kids)
            continue
        if key in open_:
            return None
        if key in memo:
            continue
        open_.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in kids if isinstance(k, dict | list))
    return memo.get(id(raw), 1)


def load_spec(path: str | Path) -> JobSpec:
    """Read and validate a job spec; every failure becomes a one-line SpecError."""
    p = Path(path)
    raw = read_yaml(p, "a YAML job spec", SpecError)
    if not isinstance(raw, dict):
        raise SpecError(f"{p}: expected a mapping of job fields, got {type(raw).__name__}")
    try:
        return JobSpec.model_validate(raw)
    except Exception as exc:  # pydantic ValidationError and friends
        raise SpecError(_first_error(str(p), exc)) from None
