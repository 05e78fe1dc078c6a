"""What to decide from a set of files: the front door's plan, before anything is solved.

Given profiles alone, the plan holds every decision they support:
- inference profiles that carry a model variant (`Profile.variant`), grouped by family: one
  accuracy-aware split per family over the devices they were profiled on (the accsplit kind's
  `default_problem`); they take part in no other decision (variants are not separate models);
- inference profiles, grouped by model: one split per model whose profiles name two or more
  devices (`infer.device_name`), over those devices (the kind's own `default_problem`);
- two or more inference models measured on the same device pair: one batch pipeline, each
  model's jobs priced by its profiles (the pipeline kind's `default_problem`);
- training profiles: one packing over the packing kind's default cluster.
A file that is not a profile (a fitted cost model, a solution, a problem file, broken JSON) is
named and skipped with its reason, as is a group that supports no decision (one device only).
With a problem file the plan is that problem, once per model where a split problem names none.
Pure: no SCIP until `solve` is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.profile import read_json
from solver.kinds import Kind, get_kind
from solver.problem import FileError, ProblemError, SolveOptions, read_problem, validate_as
from solver.profiles import Loaded, ProfileSet, load


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass
class Decision:
    """One problem to solve, where it came from, and (after `solve`) its answer."""

    kind: Kind
    name: str
    problem: Any
    profiles: ProfileSet
    inferred: bool
    solution: Any = None
    error: str | None = None
    bad_input: bool = False  # the error is a file that cannot be read or is not valid
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.solution is not None and bool(self.solution.summary().ok)


def classify(path: Path) -> Loaded | Skipped:
    """A profile, or the reason this file is not one (never an exception)."""
    if path.suffix in (".yaml", ".yml"):
        return Skipped(str(path), "a YAML file, not a profile (a problem file goes to --problem)")
    try:
        raw = read_json(path, "a JSON profile", ProblemError)
    except ProblemError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return Skipped(str(path), reason.replace("invalid JSON", "not JSON", 1))
    if not isinstance(raw, dict):
        return Skipped(str(path), "not a profile: the top level is not a JSON object")
    if raw.get("format") == "harness.costmodel":
        return Skipped(str(path), "a fitted cost model, not a profile")
    if "schema_version" not in raw and raw.get("kind") in (
        "split",
        "pipeline",
        "packing",
        "hybrid",
        "accsplit",
    ):
        return Skipped(str(path), f"a {raw['kind']} solution, not a profile")
    if "schema_version" not in raw:
        return Skipped(str(path), "not a profile: no 'schema_version' field")
    try:
        return load(path)
    except ProblemError as exc:
        return Skipped(str(path), f"not a valid profile: {str(exc).removeprefix(f'{path}: ')}")


def from_profiles(paths: Sequence[Path]) -> tuple[list[Decision], list[Skipped]]:
    """Every decision the given files support, and the files (or groups) left out, with why."""
    loaded, skipped = _sort_files(paths)
    given = ProfileSet(loaded)
    decisions = _accsplits(given, skipped)
    decisions += _splits(given, skipped)
    decisions += _pipelines(given, skipped)
    decisions += _packings(given, skipped)
    return decisions, skipped


def from_problem_file(path: Path, paths: Sequence[Path]) -> tuple[list[Decision], list[Skipped]]:
    """The problem in `path`, once per model where it must. Bad input raises ProblemError: the
    problem file, and each file given beside it (the profiles it is solved with: one that is
    missing or no valid profile is an error here, not a file to skip)."""
    raw = read_problem(path)
    kind = get_kind(str(raw["kind"]))
    problem = validate_as(kind.problem, raw, path)
    loaded, skipped = _sort_files(paths, given_is_error=True)
    profiles = ProfileSet(loaded, base_dir=path.parent)
    problems = kind.per_model(problem, profiles) if kind.per_model else [problem]
    decisions = [
        Decision(kind, _name(pr, kind, path.stem), pr, profiles, inferred=False) for pr in problems
    ]
    return decisions, skipped


def _sort_files(
    paths: Sequence[Path], given_is_error: bool = False
) -> tuple[list[Loaded], list[Skipped]]:
    """The profiles among `paths`, and the other files with why each is not one (with
    `given_is_error`, a file that is not a profile raises ProblemError instead)."""
    loaded: list[Loaded] = []
    skipped: list[Skipped] = []
    for p in map(Path, paths):
        if given_is_error and not p.is_file():
            raise ProblemError(f"{p}: no such profile file")
        got = classify(p)
        if isinstance(got, Skipped) and given_is_error:
            raise ProblemError(f"{got.path}: {got.reason}")
        if isinstance(got, Skipped):
            skipped.append(got)
        else:
            loaded.append(got)
    return loaded, skipped


def solve(decision: Decision, options: SolveOptions) -> Decision:
    """Solve one decision; a problem that cannot be solved is recorded, never raised."""
    try:
        decision.solution = decision.kind.solve(decision.problem, decision.profiles, options)
    except ProblemError as exc:
        decision.error = str(exc)
        decision.bad_input = isinstance(exc, FileError)
    return decision


# ---------------------------------------------------------------- the groups


def _name(problem: Any, kind: Kind, fallback: str | None = None) -> str:
    """The problem's own name, else its file's stem, else the kind's."""
    return str(getattr(problem, "name", None) or fallback or kind.name)


def _derived(
    kind: Kind, profiles: ProfileSet, what: str, skipped: list[Skipped]
) -> Decision | None:
    assert kind.default_problem is not None
    try:
        problem = kind.default_problem(profiles)
    except ProblemError as exc:
        skipped.append(Skipped(what, str(exc)))
        return None
    return Decision(kind, _name(problem, kind), problem, profiles, inferred=True)


def _devices(items: Sequence[Loaded]) -> set[str]:
    return {it.profile.infer.device_name for it in items if it.profile.infer is not None}


def _by_model(given: ProfileSet) -> dict[str, list[Loaded]]:
    """Inference profiles by model; a model variant's profiles go to its family's accsplit."""
    groups: dict[str, list[Loaded]] = {}
    for it in given.of_kind("infer"):
        assert it.profile.infer is not None
        if it.profile.variant is not None:
            continue
        groups.setdefault(it.profile.infer.model, []).append(it)
    return groups


def _accsplits(given: ProfileSet, skipped: list[Skipped]) -> list[Decision]:
    """One accuracy-aware split per family of model variants."""
    groups: dict[str, list[Loaded]] = {}
    for it in given.of_kind("infer"):
        if it.profile.variant is not None:
            groups.setdefault(it.profile.variant.family, []).append(it)
    out = []
    for family, items in groups.items():
        what = f"{family} variants"
        d = _derived(get_kind("accsplit"), ProfileSet(items), what, skipped)
        if d is not None:
            out.append(d)
    return out


def _splits(given: ProfileSet, skipped: list[Skipped]) -> list[Decision]:
    out = []
    for model, items in _by_model(given).items():
        devices = _devices(items)
        if len(devices) < 2:
            where = ", ".join(str(it.path) for it in items)
            skipped.append(
                Skipped(
                    where,
                    f"{model}: profiled on one device only ({', '.join(devices)}): "
                    "nothing to split",
                )  # fmt: skip
            )
            continue
        d = _derived(get_kind("split"), ProfileSet(items), f"{model} profiles", skipped)
        if d is not None:
            out.append(d)
    return out


def _pipelines(given: ProfileSet, skipped: list[Skipped]) -> list[Decision]:
    """One batch pipeline per device pair that two or more models were measured on."""
    groups = _by_model(given)
    pairs: dict[tuple[str, str], list[str]] = {}
    for model, items in groups.items():
        devs = sorted(_devices(items))
        for i, a in enumerate(devs):
            for b in devs[i + 1 :]:
                pairs.setdefault((a, b), []).append(model)
    shared = {pair: models for pair, models in pairs.items() if len(models) >= 2}
    out = []
    for (a, b), models in shared.items():
        items = [
            it
            for m in models
            for it in groups[m]
            if it.profile.infer is not None and it.profile.infer.device_name in (a, b)
        ]
        d = _derived(get_kind("pipeline"), ProfileSet(items), f"pipeline {a}+{b}", skipped)
        if d is None:
            continue
        if len(shared) > 1:  # one file each: the pair in the name
            d.name = f"{d.name}-{a}-{b}"
            d.problem = d.problem.model_copy(update={"name": d.name})
        out.append(d)
    return out


def _packings(given: ProfileSet, skipped: list[Skipped]) -> list[Decision]:
    train = given.of_kind("train")
    if not train:
        return []
    d = _derived(get_kind("packing"), ProfileSet(train), "training profiles", skipped)
    return [d] if d is not None else []
