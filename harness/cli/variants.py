"""`harness variants make JOB --ratios ... --out DIR`: the reference and its pruned variants.

Trains the job's reference on real data (the digits), prunes it at each ratio with a short
fine-tune, measures every variant on every domain, and writes the weights and a manifest
(harness/manifest.py) that `harness profile --variant MANIFEST:ID` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import check_out, fail

variants_app = typer.Typer(
    help="Model variants with measured accuracy (accuracy-aware split).", no_args_is_help=True
)

MAX_VARIANTS = 32


def register(app: typer.Typer) -> None:
    app.add_typer(variants_app, name="variants")


def parse_ratios(text: str) -> list[float]:
    """'0.3,0.5' -> [0.3, 0.5]; raises ValueError naming the option on anything else."""
    try:
        ratios = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise ValueError(f"--ratios: expected comma-separated numbers, got {text!r}") from None
    if not ratios:
        raise ValueError("--ratios: expected at least one ratio")
    if len(ratios) > MAX_VARIANTS:
        raise ValueError(f"--ratios: expected at most {MAX_VARIANTS} ratios, got {len(ratios)}")
    bad = [r for r in ratios if not 0 < r < 1]
    if bad:
        raise ValueError(f"--ratios: expected shares in (0, 1), got {bad[0]:g}")
    ids = [round(r * 100) for r in ratios]
    if len(set(ids)) != len(ids):
        raise ValueError(f"--ratios: two ratios name the same variant (percent ids {ids})")
    return ratios


def parse_branches(text: str) -> list[list[int]]:
    """'s2,s1+s2' -> [[2], [1, 2]]; ValueError naming the option on anything else."""
    out: list[list[int]] = []
    for item in (x for x in text.replace(" ", "").split(",") if x):
        stages = []
        for part in item.split("+"):
            if not (part.startswith("s") and part[1:].isdigit() and len(part) < 5):
                raise ValueError(f"--branches: expected stages like s1 or s1+s2, got {item!r}")
            stages.append(int(part[1:]))
        out.append(sorted(set(stages)))
    if len(out) > MAX_VARIANTS:
        raise ValueError(f"--branches: expected at most {MAX_VARIANTS} configurations")
    return out


@variants_app.command("make")
def variants_make(
    job: Annotated[Path, typer.Argument(help="train job spec YAML (data.source: digits)")],
    ratios: Annotated[
        str, typer.Option(help="pruning ratios, one variant each, comma-separated")
    ] = "0.2,0.3,0.4,0.5,0.6,0.7",
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for weights + manifest")] = Path(
        "variants/digits"
    ),
    threads: Annotated[int, typer.Option(help="torch threads")] = 1,
    branches: Annotated[
        str,
        typer.Option(
            help="branch configurations, one variant each: the stages whose blocks drop their "
            "3x3 branch (deploying as 1x1 convs), '+'-joined, comma-separated (e.g. s2,s1+s2); "
            "'' for none"
        ),
    ] = "s1,s2,s1+s2",
) -> None:
    """Train the reference, prune one variant per ratio, measure each on every domain.

    Exit codes: 0 done; 2 bad input (the job spec, an option, the output folder)."""
    from harness.spec import SpecError, load_spec

    try:
        spec = load_spec(job)
        wanted = parse_ratios(ratios)
        configs = parse_branches(branches)
    except (SpecError, ValueError) as exc:
        raise fail(str(exc)) from None
    if spec.kind != "train" or spec.data.source != "digits" or spec.model != "repvgg_digits":
        raise fail(
            f"{job}: expected kind 'train', data.source 'digits' and model 'repvgg_digits' "
            f"(got {spec.kind.value}, {spec.data.source.value}, {spec.model})"
        )
    if not 1 <= threads <= 256:
        raise fail(f"--threads: expected 1..256, got {threads}")
    check_out(out, "--out", folder=True, probe=True)
    from harness.workloads.digits import DigitsError
    from harness.workloads.variants import make_variants

    try:
        manifest = make_variants(spec, wanted, out, typer.echo, threads, configs)
    except (DigitsError, ValueError) as exc:
        raise fail(str(exc)) from None
    _table(manifest)
    typer.echo(f"manifest written to {out / 'manifest.json'}")


def _table(manifest: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from harness.manifest import VariantManifest

    assert isinstance(manifest, VariantManifest)
    doms = list(manifest.variants[0].domain_accuracy)
    t = Table(title=f"{manifest.family}: accuracy per domain (held-out, {len(doms)} domains)")
    for col in ("variant", "params", "M MACs", "all", *doms):
        t.add_column(col, justify="right")
    for v in manifest.variants:
        t.add_row(
            v.id,
            f"{v.params:,}",
            f"{v.macs / 1e6:.2f}",
            f"{v.accuracy:.3f}",
            *(f"{v.domain_accuracy[d].accuracy:.3f}" for d in doms),
        )
    Console(width=max(100, 30 + 7 * len(doms))).print(t)
