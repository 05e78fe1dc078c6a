"""Make the model variants of the accuracy-aware split: train, prune, fine-tune, measure.

Phases, each a function: `train_reference` trains the RepVGG-style training form on the digits'
train part (a count of epochs, seeded) and re-parameterises it; `prune` removes a share of each
stage's channels with torch-pruning (L2 group magnitude: the filters, and every tensor that
depends on them, go together); `finetune` trains the pruned net a few epochs more; `measure`
counts correct predictions on the whole held-out set and on every domain of it. The reference
is measured the same way, so "accuracy >= reference - epsilon" compares like with like.

Only this module imports torch-pruning, and only `prune` calls it: a saved variant is a plain
torch file (`repvgg.save_variant`) that the profiler and `harness run-split` load without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.manifest import VariantManifest, save_manifest
from harness.profile import DomainAccuracy, DomainSplit, VariantInfo
from harness.spec import AccuracySpec, JobSpec
from harness.workloads.digits import DATASET, DigitsSplit, Samples, label_counts, make_split
from harness.workloads.repvgg import (
    DEFAULT_STAGES,
    FULL,
    NO3X3,
    DeployNet,
    RepNet,
    load_variant,
    save_variant,
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0


@dataclass(frozen=True)
class Measured:
    accuracy: float
    correct: int
    samples: int
    domains: dict[str, DomainAccuracy]


# ---------------------------------------------------------------- training


def _batches(s: Samples, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(len(s.labels))
    return [order[i : i + batch] for i in range(0, len(order), batch)]


def fit(net: nn.Module, data: Samples, cfg: TrainSettings, say: Say | None = None) -> float:
    """`cfg.epochs` passes over `data` with Adam and cross-entropy; returns the last epoch's
    mean loss. Seeded: the same settings give the same weights on the same machine."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    x_all = torch.from_numpy(data.images)
    y_all = torch.from_numpy(data.labels)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs))
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    mean = float("nan")
    for epoch in range(cfg.epochs):
        total, seen = 0.0, 0
        for idx in _batches(data, cfg.batch_size, rng):
            ix = torch.from_numpy(idx)
            loss = loss_fn(net(x_all[ix]), y_all[ix])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        sched.step()
        mean = total / max(1, seen)
        if say:
            say(f"epoch {epoch + 1}/{cfg.epochs}: loss {mean:.4f}")
    net.eval()
    return mean


def train_reference(
    data: DigitsSplit, cfg: TrainSettings, stages: Any = None, say: Say | None = None
) -> DeployNet:
    """The reference: the training form fitted on the train part, then re-parameterised."""
    return train_rep(data, cfg, stages, say).deploy().eval()


def train_rep(
    data: DigitsSplit, cfg: TrainSettings, stages: Any = None, say: Say | None = None
) -> RepNet:
    """The training form fitted on the train part (BN statistics recalibrated), in eval mode:
    the reference deploys from it, and so does every branch configuration."""
    torch.manual_seed(cfg.seed)
    c = data.train.images.shape[1]
    rep = RepNet(10, c, stages) if stages is not None else RepNet(10, c)
    fit(rep, data.train, cfg, say)
    recalibrate(rep, data.train, cfg.batch_size)
    return rep.eval()


def branch_config(rep: RepNet, stages: list[int]) -> list[str]:
    """Per block: the 3x3 branch dropped (1x1 conv) in `stages`, all three branches elsewhere."""
    return [NO3X3 if s in stages else FULL for s in rep.stage_of]


@torch.no_grad()
def recalibrate(net: nn.Module, data: Samples, batch: int) -> None:
    """BatchNorm's running statistics recomputed over one pass of `data` with the final
    weights: after a few epochs of fast-moving weights the running averages lag behind them
    (seen here: 10% held-out accuracy in eval mode against 65% with batch statistics)."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the pass
    net.train()
    for i in range(0, len(data.labels), batch):
        net(torch.from_numpy(data.images[i : i + batch]))
    for m in bns:
        m.momentum = 0.1
    net.eval()


# ---------------------------------------------------------------- pruning


def prune(net: DeployNet, ratios: dict[str, float], input_shape: list[int]) -> DeployNet:
    """A pruned copy: in stage k (key f"s{k}"), `ratios` of each block's output channels are
    removed, with the next block's inputs (and the head's) that read them."""
    import copy

    import torch_pruning as tp

    pruned = copy.deepcopy(net).eval()
    stage_of = pruned.arch["stage_of"]
    per_block = {
        pruned.features[i]: float(ratios.get(f"s{s}", 0.0))
        for i, s in enumerate(stage_of)
        if ratios.get(f"s{s}", 0.0) > 0
    }
    example = torch.zeros(1, *input_shape)
    pruner = tp.pruner.MetaPruner(
        pruned,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=0.0,
        pruning_ratio_dict=per_block,
        ignored_layers=[pruned.fc],
    )
    pruner.step()
    pruned.arch = pruned.current_arch()
    return pruned.eval()


def finetune(net: DeployNet, data: DigitsSplit, cfg: TrainSettings, say: Say | None = None) -> None:
    """A few epochs more, with BatchNorm put back behind each conv for them (a plain conv
    chain barely moves in two epochs: seen, 57% after pruning half the channels, against 90%+
    this way) and folded into the conv again after, so the variant stays a plain conv chain.
    Each BN starts as the identity on the first train batch (scale = its std, shift = its
    mean): the fine-tune starts from the pruned network's function, not from a reset."""
    if cfg.epochs <= 0:
        return
    bns = _insert_bn(net, torch.from_numpy(data.train.images[: cfg.batch_size]))
    fit(net, data.train, cfg, say)
    recalibrate(net, data.train, cfg.batch_size)
    _fold_bn(net, bns)


@torch.no_grad()
def _insert_bn(net: DeployNet, first: torch.Tensor) -> list[nn.BatchNorm2d]:
    bns: list[nn.BatchNorm2d] = []
    x = first
    for i in range(len(net.features)):
        conv = net.conv(i)
        y = conv(x)
        bn = nn.BatchNorm2d(conv.out_channels)
        var, mean = torch.var_mean(y, dim=(0, 2, 3), unbiased=False)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.copy_(mean)
        net.features[i] = nn.Sequential(conv, bn, nn.ReLU())
        bns.append(bn)
        x = torch.relu(y)
    return bns


@torch.no_grad()
def _fold_bn(net: DeployNet, bns: list[nn.BatchNorm2d]) -> None:
    for i, bn in enumerate(bns):
        conv = net.conv(i)
        assert conv.bias is not None and bn.running_var is not None and bn.running_mean is not None
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
        conv.bias.copy_((conv.bias - bn.running_mean) * scale + bn.bias)
        net.features[i] = nn.Sequential(conv, nn.ReLU())
    net.eval()


def macs_params(net: nn.Module, input_shape: list[int]) -> tuple[int, int]:
    """Multiply-accumulates per sample and parameters (torch-pruning's counter)."""
    import torch_pruning as tp

    macs, params = tp.utils.count_ops_and_params(net, torch.zeros(1, *input_shape))
    return int(macs), int(params)


# ---------------------------------------------------------------- measuring


@torch.inference_mode()
def predict(net: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    net.eval()
    out = [
        net(torch.from_numpy(images[i : i + batch])).argmax(1).numpy()
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def measure(net: nn.Module, data: DigitsSplit) -> Measured:
    """Correct predictions on the held-out set and on each domain (the same predictions: a
    domain's samples are held-out samples)."""
    pred = dict(zip(data.holdout.index.tolist(), predict(net, data.holdout.images), strict=True))
    right = {
        i: int(pred[i] == y) for i, y in zip(data.holdout.index, data.holdout.labels, strict=True)
    }
    doms = {}
    for d, s in data.domains.items():
        correct = sum(right[int(i)] for i in s.index)
        n = len(s.index)
        doms[d] = DomainAccuracy(accuracy=correct / n if n else 0.0, samples=n, correct=correct)
    total = sum(right.values())
    n = len(right)
    return Measured(total / n if n else 0.0, total, n, doms)


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- the whole command


def domain_split_of(spec: JobSpec) -> DomainSplit:
    acc = spec.accuracy or AccuracySpec()
    return DomainSplit(
        dataset=DATASET,
        holdout_fraction=acc.holdout_fraction,
        split_seed=acc.split_seed,
        count=acc.domains,
        alpha=acc.alpha,
        seed=acc.domain_seed,
    )


def variant_id(ratio: float) -> str:
    return f"p{round(ratio * 100):02d}"


def branch_id(stages: list[int]) -> str:
    return "b" + "".join(f"s{s}" for s in sorted(stages))


def make_variants(
    spec: JobSpec,
    ratios: list[float],
    out: Path,
    say: Say,
    threads: int = 1,
    branches: list[list[int]] | None = None,
) -> VariantManifest:
    """The reference, one variant per ratio (every stage pruned by it) and one per branch
    configuration (the 3x3 branch dropped in the stages listed), each fine-tuned like the
    reference, saved to `out`/<id>.pt and measured on every domain; the manifest is written
    last (manifest.json)."""
    import time

    from harness.workloads.models import set_threads

    n_stages = len(spec.model_kwargs.get("stages") or DEFAULT_STAGES)
    bad = [s for d in branches or [] for s in d if not 0 <= s < n_stages]
    if bad:
        raise ValueError(f"--branches: stage s{bad[0]}: the model has s0..s{n_stages - 1}")
    set_threads(threads)
    acc = spec.accuracy or AccuracySpec()
    split = domain_split_of(spec)
    size = spec.input_shape[-1]
    data = make_split(split, size)
    shape = list(spec.input_shape)
    lr = spec.optimizer.lr
    say(
        f"digits {size}x{size}: {len(data.train.labels)} train, {len(data.holdout.labels)} held out"
    )
    t0 = time.perf_counter()
    cfg = TrainSettings(acc.epochs, spec.batch_size, lr, spec.data.seed)
    rep = train_rep(data, cfg, spec.model_kwargs.get("stages"), say)
    ref = rep.deploy().eval()
    # the reference gets the same fine-tune as every variant (a pruning ratio of 0), so that a
    # variant is never "better than the reference" only for having trained longer
    tune = TrainSettings(acc.finetune_epochs, spec.batch_size, acc.finetune_lr, spec.data.seed)
    finetune(ref, data, tune)
    train_s = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    family = spec.name
    how = (
        f"trained {acc.epochs} epoch(s), re-parameterised, {acc.finetune_epochs} epoch(s) fine-tune"
    )
    infos = [_record(ref, "ref", {}, acc.finetune_epochs, how, data, split, shape, out, family)]
    say(f"ref: accuracy {infos[0].accuracy:.3f} ({train_s:.1f} s)")
    for r in ratios:
        stages = {f"s{s}": r for s in sorted(set(ref.arch["stage_of"]))}
        net = prune(ref, stages, shape)
        finetune(net, data, tune)
        how = f"torch-pruning L2 group magnitude, {acc.finetune_epochs} epoch(s) fine-tune"
        vid = variant_id(r)
        info = _record(net, vid, stages, acc.finetune_epochs, how, data, split, shape, out, family)
        infos.append(info)
        say(f"{info.id}: accuracy {info.accuracy:.3f}, {info.macs / 1e6:.1f} M MACs")
    for dropped in branches or []:
        config = branch_config(rep, dropped)
        net = rep.deploy(config).eval()
        finetune(net, data, tune)
        how = (
            f"3x3 branch dropped in stage(s) {', '.join(f's{x}' for x in sorted(dropped))} "
            f"(1x1+id fused), {acc.finetune_epochs} epoch(s) fine-tune"
        )
        info = _record(
            net, branch_id(dropped), {}, acc.finetune_epochs, how, data, split, shape, out, family
        )
        infos.append(info.model_copy(update={"branches": config}))
        say(f"{info.id}: accuracy {info.accuracy:.3f}, {info.macs / 1e6:.1f} M MACs")
    manifest = VariantManifest(
        family=family,
        created=datetime.now(UTC),
        job=spec,
        input_shape=shape,
        domains=split,
        train_samples=len(data.train.labels),
        holdout_samples=len(data.holdout.labels),
        domain_labels={d: label_counts(s) for d, s in data.domains.items()},
        train_seconds=round(train_s, 2),
        threads=threads,
        variants=infos,
    )
    save_manifest(manifest, out / "manifest.json")
    return manifest


def _record(
    net: DeployNet,
    vid: str,
    ratios: dict[str, float],
    epochs: int,
    method: str,
    data: DigitsSplit,
    split: DomainSplit,
    shape: list[int],
    out: Path,
    family: str,
) -> VariantInfo:
    """Save the weights, then measure what was saved (loaded back), so the accuracy recorded
    is the accuracy of the file."""
    path = out / f"{vid}.pt"
    save_variant(str(path), net)
    loaded = load_variant(str(path))
    m = measure(loaded, data)
    macs, params = macs_params(loaded, shape)
    return VariantInfo(
        family=family,
        id=vid,
        reference=vid == "ref",
        method=method,
        ratios=ratios,
        branches=[FULL] * len(loaded.features),
        params=params,
        macs=macs,
        weights=str(path),
        weights_sha256=sha256(path),
        finetune_epochs=epochs,
        domains=split,
        accuracy=m.accuracy,
        domain_accuracy=m.domains,
    )
