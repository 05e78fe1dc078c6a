"""Every command that reads a file, fed mutated copies of the committed files and bad paths.

The corpus is a copy of committed files (a job spec, problems of every kind, a cluster and a
short trace, inference and training profiles, the fitted cost model) plus a split and a
pipeline solution that `harness solve` writes at the start. Each example copies the corpus into
a fresh folder, mutates one file the command reads (a field deleted, an extra field, a value of
the wrong type, an extreme number, the file truncated, bytes that are not UTF-8, nesting too
deep), runs the command in-process through typer's CliRunner with its outputs in another
folder, and asserts:

- no exception escapes the command (the backstop in `harness.cli.main()` is never needed) and
  no `Traceback` is printed;
- exit 2 with exactly one stderr line starting `error:` for bad input; `harness validate` is the
  oracle: a file it refuses must be refused by the command too (validate itself exits 1, one
  `error:` line per problem); a mutation that left the file valid may exit 0 or 1 (or 2 where
  the file is valid but does not fit its neighbours);
- nothing in the corpus folder changed: a command writes only where it promises (--out).

Containers and probes never start: `harness profile` is fuzzed through its job-spec validation
(the sweep is stubbed) and run-split / validate-decision through everything before the session
(stubbed). Solves are real but cheap (--time-limit 1, small problems). Bounded (derandomized,
few examples per command) so the file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from harness.cli import app
from harness.cli.validate import problems

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

CORPUS_FILES = [
    "jobs/tiny-train.yaml",
    "jobs/res18-infer.yaml",
    "problems/edge-cloud.yaml",
    "problems/batch-pipeline.yaml",
    "problems/batch-pipeline-profiles.yaml",
    "problems/hybrid.yaml",
    "problems/cluster-small.yaml",
    "profiles/res18-1cpu.json",
    "profiles/res18-2cpu.json",
    "profiles/alexnet-1cpu.json",
    "profiles/alexnet-2cpu.json",
    "profiles/train-res18.json",
    "profiles/train-alexnet.json",
    "profiles/fitted/costmodel.json",
]
SPLIT_PROFILES = ["profiles/res18-1cpu.json", "profiles/res18-2cpu.json"]
PIPE_PROFILES = [*SPLIT_PROFILES, "profiles/alexnet-1cpu.json", "profiles/alexnet-2cpu.json"]
TRAIN_PROFILES = ["profiles/train-res18.json", "profiles/train-alexnet.json"]
SPLIT_SOLUTION = "solutions/edge-cloud-split-solution.json"
PIPE_SOLUTION = "solutions/batch-pipeline-profiles-pipeline-solution.json"

# HARNESS_FUZZ_EXAMPLES=200 HARNESS_FUZZ_RANDOM=1 runs a longer, fresh hunt locally
EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "6"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("HARNESS_FUZZ_RANDOM"),  # CI: the same examples every run
    database=None,  # and writes no .hypothesis folder
    suppress_health_check=list(HealthCheck),
)


# ---------------------------------------------------------------- the corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed files, a 3-job packing problem and trace, and two solutions of them."""
    base = tmp_path_factory.mktemp("corpus")
    for rel in CORPUS_FILES:
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, base / rel)
    packing = yaml.safe_load((ROOT / "problems/packing.yaml").read_text())
    packing["jobs"] = packing["jobs"][:3]
    (base / "problems/packing.yaml").write_text(yaml.safe_dump(packing))
    trace = yaml.safe_load((ROOT / "problems/trace-example.yaml").read_text())
    trace["jobs"] = [
        dict(j, work_iterations=50.0, profile=f"../{TRAIN_PROFILES[i % 2]}")
        for i, j in enumerate(trace["jobs"][:3])
    ]
    (base / "problems/trace.yaml").write_text(yaml.safe_dump(trace))
    out = base / "solutions"
    for problem, profs in (
        ("edge-cloud", SPLIT_PROFILES),
        ("batch-pipeline-profiles", PIPE_PROFILES),
    ):
        args = ["solve", *(str(base / p) for p in profs), "--problem"]
        args += [str(base / f"problems/{problem}.yaml"), "--time-limit", "1", "--out", str(out)]
        r = runner.invoke(app, [*args, "--format", "json"])
        assert r.exit_code == 0, r.output[-2000:]
    for png in out.glob("*.png"):
        png.unlink()
    assert (base / SPLIT_SOLUTION).is_file() and (base / PIPE_SOLUTION).is_file()
    return base


@pytest.fixture(autouse=True)
def _no_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid input goes as far as it can without starting a probe or a container."""
    import harness.cli.profile as profile_cmd
    import harness.runsplit.orchestrate as orchestrate

    def no_session(*_a: Any, **_k: Any) -> Any:
        raise orchestrate.RunSplitError("fuzz test: containers are not started")

    monkeypatch.setattr(orchestrate, "run_session", no_session)
    monkeypatch.setattr(profile_cmd, "run_profile", lambda spec, options: 0)


@contextlib.contextmanager
def workspace(corpus: Path) -> Iterator[tuple[Path, Path]]:
    """A fresh copy of the corpus, and an output folder beside it (not in it)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(corpus, ws)
        with contextlib.chdir(ws):  # a command's default output folder would land in ws
            yield ws, Path(tmp) / "out"


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(folder)): (
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------- the commands


@dataclass(frozen=True)
class Command:
    """A command line over the workspace: `targets` are the files a mutation may hit."""

    name: str
    targets: tuple[str, ...]
    args: Callable[[Path, Path], list[str]]
    skips: bool = False  # a bad file is named and skipped, not refused (the front door)


def _paths(ws: Path, rels: list[str]) -> list[str]:
    return [str(ws / r) for r in rels]


def _solve_problem(problem: str, profs: list[str]) -> Callable[[Path, Path], list[str]]:
    def args(ws: Path, out: Path) -> list[str]:
        return ["solve", *_paths(ws, profs), "--problem", str(ws / problem), "--time-limit", "1",
                "--out", str(out), "--format", "json"]  # fmt: skip

    return args


def _run_split(name: str, solution: str, profs: list[str]) -> Callable[[Path, Path], list[str]]:
    def args(ws: Path, out: Path) -> list[str]:
        return [name, str(ws / solution), "--out", str(out / "r.json"), "--workdir",
                str(out / "w"), "--profiles", ",".join(_paths(ws, profs))]  # fmt: skip

    return args


COMMANDS = [
    *(
        Command(
            f"export {to}",
            tuple(TRAIN_PROFILES),
            lambda ws, out, to=to: [
                "export",
                *_paths(ws, TRAIN_PROFILES),
                "--to",
                to,
                "--out",
                str(out / f"{to}.json"),
            ],
        )
        for to in ("gavel", "synergy")
    ),
    Command(
        "report",
        ("profiles/res18-1cpu.json",),
        lambda ws, out: [
            "report",
            str(ws / "profiles/res18-1cpu.json"),
            "--no-pictures",
            "--csv",
            str(out / "b.csv"),
        ],  # fmt: skip
    ),
    Command(
        "fit",
        tuple(TRAIN_PROFILES),
        lambda ws, out: [
            "fit",
            *_paths(ws, TRAIN_PROFILES),
            "--out",
            str(out / "cm.json"),
            "--kind",
            "linear",
            "--folds",
            "2",
        ],  # fmt: skip
    ),
    Command(
        "solve split",
        ("problems/edge-cloud.yaml", *SPLIT_PROFILES),
        _solve_problem("problems/edge-cloud.yaml", SPLIT_PROFILES),
    ),
    Command(
        "solve pipeline",
        ("problems/batch-pipeline.yaml",),
        _solve_problem("problems/batch-pipeline.yaml", []),
    ),
    Command(
        "solve pipeline profiles",
        ("problems/batch-pipeline-profiles.yaml", *PIPE_PROFILES),
        _solve_problem("problems/batch-pipeline-profiles.yaml", PIPE_PROFILES),
    ),
    Command(
        "solve packing", ("problems/packing.yaml",), _solve_problem("problems/packing.yaml", [])
    ),
    Command(
        "solve hybrid",
        ("problems/hybrid.yaml", "profiles/fitted/costmodel.json"),
        _solve_problem("problems/hybrid.yaml", []),
    ),
    Command(
        "solve profiles",
        (*SPLIT_PROFILES, "profiles/train-res18.json"),
        lambda ws, out: [
            "solve",
            *_paths(ws, [*SPLIT_PROFILES, "profiles/train-res18.json"]),
            "--time-limit",
            "1",
            "--out",
            str(out),
            "--format",
            "json",
        ],  # fmt: skip
        skips=True,
    ),
    Command(
        "simulate",
        ("problems/trace.yaml", "problems/cluster-small.yaml", "profiles/train-res18.json"),
        lambda ws, out: [
            "simulate",
            str(ws / "problems/trace.yaml"),
            "--cluster",
            str(ws / "problems/cluster-small.yaml"),
            "--policy",
            "proportional",
            "--time-limit",
            "1",
            "--out",
            str(out),
            "--format",
            "json",
        ],  # fmt: skip
    ),
    Command(
        "run-split",
        (SPLIT_SOLUTION, *SPLIT_PROFILES),
        _run_split("run-split", SPLIT_SOLUTION, SPLIT_PROFILES),
    ),
    Command(
        "validate-decision",
        (PIPE_SOLUTION, *PIPE_PROFILES),
        _run_split("validate-decision", PIPE_SOLUTION, PIPE_PROFILES),
    ),
    Command(
        "profile",
        ("jobs/tiny-train.yaml",),
        lambda ws, out: ["profile", str(ws / "jobs/tiny-train.yaml"), "--out", str(out / "p.json")],
    ),
]
VALIDATED = [
    "jobs/tiny-train.yaml",
    "problems/edge-cloud.yaml",
    "problems/batch-pipeline.yaml",
    "problems/packing.yaml",
    "problems/hybrid.yaml",
    "problems/cluster-small.yaml",
    "problems/trace.yaml",
    "profiles/res18-1cpu.json",
    "profiles/train-res18.json",
    "profiles/fitted/costmodel.json",
    SPLIT_SOLUTION,
    PIPE_SOLUTION,
]


# ---------------------------------------------------------------- the mutations

MARK = "__fuzz_value__"
EXTREME_YAML = [".inf", "-.inf", ".nan", "1.0e+300", "-1.0e+300", "1.0e+12", "1e12", "0", "-1",
                "7" * 5000, "2021-02-30", "2021-01-01", "[[[[[[1]]]]]]", "''"]  # fmt: skip
EXTREME_JSON = ["Infinity", "-Infinity", "NaN", "1e400", "1e300", "-1e300", "1e12", "0", "-1",
                "7" * 5000, '"2021-01-01"', "[[[[[[1]]]]]]", '""']  # fmt: skip
WRONG_TYPES: list[Any] = ["x", 1, -1, 0, 1.5, True, None, [], {}, [1, "a"], {"a": 1}]


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, (*path, i))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return {}
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return doc


@st.composite
def mutation(draw: st.DrawFn, text: str, is_json: bool) -> bytes:
    """One mutation of a file's text: of its structure (a field deleted, added, retyped, made
    extreme) or of its bytes (truncated, not UTF-8, empty, nested too deep, binary)."""
    op = draw(st.sampled_from(["delete", "extra", "retype", "extreme", "truncate", "bytes",
                               "whole"]))  # fmt: skip
    data = text.encode()
    if op == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if op == "bytes":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"\xff\xfe", b"\x00\x81", b"\xc3"])) + data[at:]
    if op == "whole":
        return draw(st.sampled_from([b"", b"\x89PNG\r\n\x1a\n\x00\x00", b"[" * 100_000,
                                     b"7" * 5000, b"null", b"[]", b'"text"']))  # fmt: skip
    doc = json.loads(text) if is_json else yaml.safe_load(text)
    nodes = list(_nodes(doc))
    path = nodes[draw(st.integers(0, len(nodes) - 1))]
    if op == "delete":
        doc = _delete(doc, path)
    elif op == "extra":
        dicts = [p for p in nodes if isinstance(_get(doc, p), dict)]
        doc = _set(doc, (*draw(st.sampled_from(dicts)), "unexpected_field"), 1) if dicts else doc
    elif op == "retype":
        doc = _set(doc, path, draw(st.sampled_from(WRONG_TYPES)))
    else:
        doc = _set(doc, path, MARK)
    out = json.dumps(doc, indent=1) if is_json else yaml.safe_dump(doc, sort_keys=False)
    if op == "extreme":
        token = draw(st.sampled_from(EXTREME_JSON if is_json else EXTREME_YAML))
        out = out.replace(f'"{MARK}"' if is_json else MARK, token)
    return out.encode()


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


# ---------------------------------------------------------------- the checks


def invoke(args: list[str]) -> Result:
    return runner.invoke(app, args, catch_exceptions=True)


def check(r: Result, *, invalid: bool, what: str) -> None:
    """The promises every command makes about bad input (see the module docstring)."""
    shown = f"{what}\nexit {r.exit_code}\nstdout: {r.stdout[-800:]}\nstderr: {r.stderr[-800:]}"
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(r.exception))
        pytest.fail(f"an exception escaped the command: {shown}\n{tb}")
    assert "Traceback" not in r.stdout + r.stderr, shown
    lines = r.stderr.strip().splitlines()
    assert r.exit_code in (0, 1, 2), shown
    if invalid:
        assert r.exit_code == 2, shown
    if r.exit_code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), shown
    if r.exit_code == 1:
        assert lines and lines[-1].startswith("error: "), shown


def check_validate(r: Result, found: list[str], what: str) -> None:
    shown = f"{what}\nexit {r.exit_code}\nstdout: {r.stdout[-800:]}\nstderr: {r.stderr[-800:]}"
    assert r.exception is None or isinstance(r.exception, SystemExit), shown
    assert "Traceback" not in r.stdout + r.stderr, shown
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == (1 if found else 0), shown
    assert len(lines) == len(found) and all(ln.startswith("error: ") for ln in lines), shown


# ---------------------------------------------------------------- the fuzz tests


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.name for c in COMMANDS])
@FUZZ
@given(data=st.data())
def test_a_mutated_input_is_refused_in_one_line(corpus: Path, cmd: Command, data: Any) -> None:
    target = data.draw(st.sampled_from(cmd.targets))
    text = (corpus / target).read_text()
    mutated = data.draw(mutation(text, target.endswith(".json")))
    with workspace(corpus) as (ws, out):
        (ws / target).write_bytes(mutated)
        invalid = bool(problems(ws / target))
        before = snapshot(ws)
        r = invoke(cmd.args(ws, out))
        assert snapshot(ws) == before, f"{cmd.name} changed its inputs"
    what = f"{cmd.name}: {target} <- {mutated[:120]!r}"
    if cmd.skips and invalid and r.exit_code != 2:  # then the plan names it, with its reason
        skipped = [s["path"] for s in json.loads(r.stdout)["skipped"]]
        assert any(p.endswith(target) for p in skipped), what
        invalid = False
    check(r, invalid=invalid, what=what)


@settings(FUZZ, max_examples=7 * EXAMPLES)
@given(data=st.data())
def test_validate_lists_every_problem_of_a_mutated_file(corpus: Path, data: Any) -> None:
    target = data.draw(st.sampled_from(VALIDATED))
    mutated = data.draw(mutation((corpus / target).read_text(), target.endswith(".json")))
    with workspace(corpus) as (ws, _out):
        (ws / target).write_bytes(mutated)
        before = snapshot(ws)
        found = problems(ws / target)
        r = invoke(["validate", str(ws / target)])
        assert snapshot(ws) == before
    check_validate(r, found, f"validate: {target} <- {mutated[:120]!r}")


# ---------------------------------------------------------------- the cases the issue names

DEEP = "[" * 100_000
LONG_INT = '{"schema_version": "1.0", "n": ' + "7" * 5000 + "}"
PIPE = "kind: pipeline\ninline_jobs:\n  - name: a\n    count: {count}\n    options:\n"
PIPE += "      - {{cut: 0, local_s: {t}, comm_s: 0.01, remote_s: 0.02}}\n"


def _pipe(count: str = "2", t: str = "0.01", extra: str = "") -> str:
    return PIPE.format(count=count, t=t) + extra


# (what, the file's bytes or None to leave the committed one, the command line)
BAD_FILES: list[tuple[str, bytes, Callable[[Path, Path, Path], list[str]]]] = []


def _json_cases() -> None:
    readers: list[tuple[str, Callable[[Path, Path, Path], list[str]]]] = [
        ("report", lambda ws, out, f: ["report", str(f), "--out", str(out)]),
        ("fit", lambda ws, out, f: ["fit", str(f), "--out", str(out / "cm.json")]),
        ("solve", lambda ws, out, f: ["solve", str(f), "--out", str(out)]),
        (
            "solve --problem",
            lambda ws, out, f: [
                "solve",
                str(f),
                "--problem",
                str(ws / "problems/edge-cloud.yaml"),
                "--out",
                str(out),
            ],
        ),  # fmt: skip
        ("run-split", lambda ws, out, f: ["run-split", str(f)]),
        ("validate-decision", lambda ws, out, f: ["validate-decision", str(f)]),
    ]
    for name, args in readers:
        for what, content in (("5,000-digit integer", LONG_INT), ("nested 100,000 deep", DEEP),
                              ("truncated", '{"schema_version": "1.0", "kind": "tr'),
                              ("not UTF-8", '{"kind": "\udcff"}'), ("empty", "")):  # fmt: skip
            data = content.encode("utf-8", "surrogateescape")
            BAD_FILES.append((f"{name}: {what}", data, args))


def _problem_cases() -> None:
    def solve(ws: Path, out: Path, f: Path) -> list[str]:
        return ["solve", "--problem", str(f), "--time-limit", "1", "--out", str(out)]

    cases = {
        "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "not UTF-8": _pipe().encode() + b"# caf\xe9\n",
        "a date where a number belongs": _pipe(extra="time_limit_s: 2021-02-30\n").encode(),
        "a stage time of .inf": _pipe(t=".inf").encode(),
        "a stage time of .nan": _pipe(t=".nan").encode(),
        "a stage time of 1e300": _pipe(t="1.0e+300").encode(),
        "a job count of 1e12": _pipe(count="1.0e+12").encode(),
        "num_jobs: 1e12": b"kind: pipeline\nsample: {num_jobs: 1.0e+12}\n",
        "time_limit_s: nan": _pipe(extra="time_limit_s: .nan\n").encode(),
        "time_limit_s: -5": _pipe(extra="time_limit_s: -5\n").encode(),
        "an unknown field": _pipe(extra="bogus: 1\n").encode(),
        "a missing field": b"kind: pipeline\ninline_jobs: [{name: a}]\n",
        "a wrong type": _pipe(count="many").encode(),
        "a packing cluster of 1e5 servers": (
            b"kind: packing\nservers: [{count: 100000, gpus: 8, cpus: 24, memory_gb: 500}]\n"
            b"jobs: [{name: a, throughput: [{cpus: 1, throughput: 1}]}]\n"
        ),
        "a split stage bound of 1e300": (
            b"kind: split\ndevices: [{name: a}]\npins: {input: a}\n"
            b"constraints: {latency_max_s: 1.0e+300}\n"
        ),
        "nested 100,000 deep": DEEP.encode(),
        "truncated": _pipe().encode()[:40],
    }
    for what, data in cases.items():
        BAD_FILES.append((f"solve --problem: {what}", data, solve))


_json_cases()
_problem_cases()


@pytest.mark.parametrize(("what", "data", "args"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_each_named_bad_file_is_one_line(
    corpus: Path, what: str, data: bytes, args: Callable[[Path, Path, Path], list[str]]
) -> None:
    with workspace(corpus) as (ws, out):
        bad = ws / ("bad.yaml" if "--problem:" in what else "bad.json")
        bad.write_bytes(data)
        before = snapshot(ws)
        r = invoke(args(ws, out, bad))
        assert snapshot(ws) == before
        check(r, invalid=True, what=what)
        assert str(bad) in r.stderr or "bad" in r.stderr, r.stderr  # it names the file
        found = problems(bad)
        check_validate(invoke(["validate", str(bad)]), found, f"validate: {what}")
        assert found, f"validate accepts what the command refuses: {what}"


def _bad_paths(ws: Path, out: Path) -> dict[str, Path]:
    (ws / "a-file").write_text("x")
    return {"missing": ws / "nope.json", "a folder": ws / "profiles",
            "under a file": ws / "a-file" / "x.json"}  # fmt: skip


INPUTS: dict[str, Callable[[Path, Path, Path], list[str]]] = {
    "report": lambda ws, out, p: ["report", str(p), "--out", str(out)],
    "fit": lambda ws, out, p: ["fit", str(p), "--out", str(out / "cm.json")],
    "solve": lambda ws, out, p: ["solve", str(p), "--out", str(out)],
    "solve --problem": lambda ws, out, p: ["solve", "--problem", str(p), "--out", str(out)],
    "solve --problem, a profile": lambda ws, out, p: [
        "solve",
        str(p),
        "--problem",
        str(ws / "problems/edge-cloud.yaml"),
        "--out",
        str(out),
    ],  # fmt: skip
    "simulate": lambda ws, out, p: ["simulate", str(p), "--out", str(out)],
    "simulate --cluster": lambda ws, out, p: [
        "simulate",
        str(ws / "problems/trace.yaml"),
        "--cluster",
        str(p),
        "--out",
        str(out),
    ],  # fmt: skip
    "run-split": lambda ws, out, p: ["run-split", str(p)],
    "validate-decision": lambda ws, out, p: ["validate-decision", str(p)],
    "export --to gavel": lambda ws, out, p: [
        "export",
        str(p),
        "--to",
        "gavel",
        "--out",
        str(out / "g.json"),
    ],  # fmt: skip
    "export --to synergy": lambda ws, out, p: [
        "export",
        str(p),
        "--to",
        "synergy",
        "--out",
        str(out / "s.json"),
    ],  # fmt: skip
    "profile": lambda ws, out, p: ["profile", str(p), "--out", str(out / "p.json")],
    "pipeline sample --profile": lambda ws, out, p: [
        "pipeline",
        "sample",
        "--profile",
        str(p),
        "--out",
        str(out),
    ],  # fmt: skip
}


@pytest.mark.parametrize("name", list(INPUTS))
@pytest.mark.parametrize("kind", ["missing", "a folder", "under a file"])
def test_a_bad_input_path_is_one_line(corpus: Path, name: str, kind: str) -> None:
    with workspace(corpus) as (ws, out):
        path = _bad_paths(ws, out)[kind]
        before = snapshot(ws)
        r = invoke(INPUTS[name](ws, out, path))
        assert snapshot(ws) == before
    check(r, invalid=True, what=f"{name}: {kind} {path}")
    assert str(path) in r.stderr, r.stderr


def _outs(ws: Path) -> dict[str, Path]:
    (ws / "a-file").write_text("x")
    return {"a folder": ws / "profiles", "under a file": ws / "a-file" / "o",
            "cannot be written": Path("/proc/harness-fuzz/o")}  # fmt: skip


OUTPUTS: dict[str, Callable[[Path, Path, bool], list[str]]] = {
    **{
        f"export --to {to} --out": lambda ws, o, d, to=to: [
            "export",
            *_paths(ws, TRAIN_PROFILES),
            "--to",
            to,
            "--out",
            str(o),
        ]  # fmt: skip
        for to in ("gavel", "synergy", "table")
    },
    # (workspace, the output path, whether it should be a folder) -> the command line
    "schema --out": lambda ws, o, d: ["schema", "--out", str(o)],
    "fit --out": lambda ws, o, d: [
        "fit",
        *_paths(ws, TRAIN_PROFILES),
        "--kind",
        "linear",
        "--folds",
        "2",
        "--out",
        str(o),
    ],  # fmt: skip
    "report --out": lambda ws, o, d: [
        "report",
        str(ws / "profiles/res18-1cpu.json"),
        "--out",
        str(o),
    ],  # fmt: skip
    "report --csv": lambda ws, o, d: [
        "report",
        str(ws / "profiles/res18-1cpu.json"),
        "--no-pictures",
        "--csv",
        str(o),
    ],  # fmt: skip
    "solve --out": lambda ws, o, d: [
        "solve",
        "--problem",
        str(ws / "problems/batch-pipeline.yaml"),
        "--time-limit",
        "1",
        "--out",
        str(o),
    ],  # fmt: skip
    "simulate --out": lambda ws, o, d: [
        "simulate",
        str(ws / "problems/trace.yaml"),
        "--policy",
        "proportional",
        "--out",
        str(o),
    ],  # fmt: skip
    "pipeline sample --out": lambda ws, o, d: [
        "pipeline",
        "sample",
        "--num-jobs",
        "3",
        "--time-limit",
        "1",
        "--out",
        str(o),
    ],  # fmt: skip
    "run-split --out": lambda ws, o, d: ["run-split", str(ws / SPLIT_SOLUTION), "--out", str(o)],
    "run-split --workdir": lambda ws, o, d: [
        "run-split",
        str(ws / SPLIT_SOLUTION),
        "--workdir",
        str(o),
    ],  # fmt: skip
}
FOLDER_OUTS = {"report --out", "solve --out", "simulate --out", "pipeline sample --out",
               "run-split --workdir"}  # fmt: skip


@pytest.mark.parametrize("name", list(OUTPUTS))
@pytest.mark.parametrize("kind", ["a folder", "under a file", "cannot be written"])
def test_an_output_that_cannot_be_written_is_one_line(corpus: Path, name: str, kind: str) -> None:
    if kind == "a folder" and name in FOLDER_OUTS:
        kind = "a file"  # a folder is what these want: give them a file instead
    with workspace(corpus) as (ws, _out):
        target = _outs(ws).get(kind, ws / "a-file")
        before = snapshot(ws)
        r = invoke(OUTPUTS[name](ws, target, name in FOLDER_OUTS))
        assert snapshot(ws) == before
    check(r, invalid=True, what=f"{name}: {kind} {target}")
    assert any(w in r.stderr for w in (str(target), "a-file", "harness-fuzz")), r.stderr


TIME_LIMITS: dict[str, Callable[[Path, str], list[str]]] = {
    "solve": lambda ws, v: [
        "solve",
        "--problem",
        str(ws / "problems/batch-pipeline.yaml"),
        "--time-limit",
        v,
    ],  # fmt: skip
    "simulate": lambda ws, v: ["simulate", str(ws / "problems/trace.yaml"), "--time-limit", v],
    "simulate --round-s": lambda ws, v: [
        "simulate",
        str(ws / "problems/trace.yaml"),
        "--round-s",
        v,
    ],  # fmt: skip
    "pipeline sample": lambda ws, v: ["pipeline", "sample", "--time-limit", v],
    "run-split --timeout": lambda ws, v: ["run-split", str(ws / SPLIT_SOLUTION), "--timeout", v],
}


@pytest.mark.parametrize("name", list(TIME_LIMITS))
@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "1e300"])
def test_a_time_limit_that_is_none_is_refused_up_front(corpus: Path, name: str, value: str) -> None:
    with workspace(corpus) as (ws, out):
        before = snapshot(ws)
        r = invoke(TIME_LIMITS[name](ws, value))
        assert snapshot(ws) == before
        assert not out.exists() and not (ws / "out").exists()  # refused before any work
    check(r, invalid=True, what=f"{name} {value}")
    assert r.stderr.startswith("error: --"), r.stderr


def _absurd(doc: Any, keys: set[str], value: float) -> Any:
    """Every number under `keys` (a Stat's median, a throughput) set to `value`."""
    if isinstance(doc, dict):
        return {k: value if k in keys and isinstance(v, float) else _absurd(v, keys, value)
                for k, v in doc.items()}  # fmt: skip
    if isinstance(doc, list):
        return [_absurd(v, keys, value) for v in doc]
    return doc


STATS = {"median", "mean", "p5", "p90", "p95", "p99", "min", "max", "throughput"}
ABSURD = {  # the profile made absurd, and the command that reads it
    "solve split": (
        "profiles/res18-1cpu.json",
        _solve_problem("problems/edge-cloud.yaml", SPLIT_PROFILES),
    ),  # fmt: skip
    "solve pipeline": (
        "profiles/res18-1cpu.json",
        _solve_problem("problems/batch-pipeline-profiles.yaml", PIPE_PROFILES),
    ),  # fmt: skip
    "solve profiles": (
        "profiles/train-res18.json",
        lambda ws, out: ["solve", str(ws / "profiles/train-res18.json"), "--out", str(out)],
    ),  # fmt: skip
    "simulate": (
        "profiles/train-res18.json",
        next(c.args for c in COMMANDS if c.name == "simulate"),
    ),
}


@pytest.mark.parametrize("value", [1e300, 1e25])
@pytest.mark.parametrize("name", list(ABSURD))
def test_a_profile_of_absurd_numbers_never_reaches_scip(
    corpus: Path, name: str, value: float
) -> None:
    """Finite but absurd measurements (a bundle of 1e300 s, 1e25 images/s) used to reach SCIP
    ('coefficient is infinite', an exception) or overflow a curve fit: they are refused where
    the profile is turned into the model, naming the profile and the limit."""
    target, args = ABSURD[name]
    with workspace(corpus) as (ws, out):
        doc = json.loads((ws / target).read_text())
        (ws / target).write_text(json.dumps(_absurd(doc, STATS, value)))
        r = invoke(args(ws, out))
    check(r, invalid=True, what=f"{name}: {target} at {value:g}")
    assert "past what a model takes" in r.stderr and Path(target).name in r.stderr, r.stderr
