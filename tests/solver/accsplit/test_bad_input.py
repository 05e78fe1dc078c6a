"""Bad or odd variant profiles through `harness solve --problem`: never a traceback; a file
that cannot be used is one `error:` line naming it (exit 2), a valid family without an answer
exits 1 with one line. A fixed list of mutations (bounded by count)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harness.cli import app

ROOT = Path(__file__).resolve().parents[3]
PROBLEM = ROOT / "problems" / "accuracy-split.yaml"
runner = CliRunner()

Doc = dict[str, Any]


def _no_reference(d: Doc) -> None:
    d["variant"]["reference"] = False


def _other_domains(d: Doc) -> None:
    d["variant"]["domains"]["seed"] = 99


def _huge_cut(d: Doc) -> None:
    d["infer"]["cuts"][1]["bytes_fp32"] = 10**30


def _no_batch_one(d: Doc) -> None:
    for b in d["infer"]["bundles"]:
        b["batch_size"] = 7


def _other_sha(d: Doc) -> None:
    d["variant"]["weights_sha256"] = "f" * 64


def _zero_macs(d: Doc) -> None:
    d["variant"]["macs"] = 0
    d["variant"]["ratios"] = {}


def _accuracy_out_of_range(d: Doc) -> None:
    d["variant"]["domain_accuracy"]["d0"]["accuracy"] = 1.5


def _no_domains(d: Doc) -> None:
    d["variant"]["domain_accuracy"] = {}


def _missing_variant_field(d: Doc) -> None:
    del d["variant"]["family"]


def _other_family(d: Doc) -> None:
    d["variant"]["family"] = "elsewhere"


# (mutation, which file: 'ref' = the reference on the edge, 'p20' = a pruned one on the edge)
MUTATIONS: list[tuple[Callable[[Doc], None], str, set[int]]] = [
    (_no_reference, "ref", {1, 2}),
    (_other_domains, "p20", {2}),
    (_huge_cut, "p20", {2}),
    (_no_batch_one, "p20", {1, 2}),
    (_other_sha, "p20", {2}),
    (_zero_macs, "ref", {0}),
    (_accuracy_out_of_range, "p20", {2}),
    (_no_domains, "ref", {1, 2}),
    (_missing_variant_field, "p20", {2}),
    (_other_family, "p20", {0, 1, 2}),
]


@pytest.mark.parametrize(
    ("mutate", "which", "codes"), MUTATIONS, ids=lambda x: getattr(x, "__name__", str(x))
)
def test_a_mutated_profile_is_one_line_or_solves(
    mutate: Callable[[Doc], None],
    which: str,
    codes: set[int],
    family_files: list[Path],
    tmp_path: Path,
) -> None:
    target = next(p for p in family_files if p.name == f"toynet-{which}-edge.json")
    doc = json.loads(target.read_text())
    mutate(doc)
    target.write_text(json.dumps(doc))
    args = ["solve", *map(str, family_files), "--problem", str(PROBLEM), "-o", str(tmp_path / "o")]
    r = runner.invoke(app, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output
    assert r.exit_code in codes, r.output[-1500:]
    if r.exit_code:
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1, r.stderr
