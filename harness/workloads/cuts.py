"""Where a model can be split so that exactly one tensor crosses: found from its graph.

The model is traced with torch.fx into one flat, ordered graph (functional glue such as
`torch.flatten`, vit's class token or `x[:, 0]` included). A cut after node k is valid when
exactly one value computed at or before k is still needed after k, and it is a tensor: inside a
residual block the skip tensor is live too, so blocks stay whole without any per-model table.
Each run of nodes between two valid cuts becomes a small `GraphModule` stage.

Cheap, parameter-free or normalising steps (ReLU, dropout, pooling, flatten, BatchNorm,
LayerNorm, glue with no module) are merged into the stage before them (into the next one at
the very start): cutting just before a ReLU or a pool offers the solver nothing that cutting
just after it does not, and halving the layer count quarters the bundles to profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import fx, nn

# Steps that never deserve a cut of their own (see the module docstring). Class families,
# not models: any model built from these gets the same treatment.
_TRIVIAL: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softmax,
    nn.Identity,
    nn.Flatten,
    nn.Dropout,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
)


class CutError(ValueError):
    """The model cannot be traced or cut; one line naming the model and why."""


class Stage(nn.Module):
    """One profiled layer: a slice of the traced graph, one tensor in, one tensor out."""

    def __init__(self, graph_module: fx.GraphModule, kind: str, parts: list[str]) -> None:
        super().__init__()
        self.body = graph_module
        self.kind = kind
        self.parts = parts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out


@dataclass
class _Segment:
    start: int  # index (in the node list) of the first node after the incoming cut
    end: int  # index of the node whose value leaves through the outgoing cut
    trivial: bool


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except Exception as exc:  # fx raises many types; the user needs one line
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CutError(f"{type(model).__name__}: cannot trace with torch.fx: {msg}") from None


def _valid_cuts(nodes: list[fx.Node]) -> list[int]:
    """Indices k such that exactly one non-constant value crosses from <= k to > k."""
    index = {n: i for i, n in enumerate(nodes)}
    last_use = {}
    for n in nodes:
        if n.op in ("get_attr", "output"):
            continue
        uses = [index[u] for u in n.users]
        last_use[n] = max(uses) if uses else index[n]
    cuts = []
    live: set[fx.Node] = set()
    for k, n in enumerate(nodes[:-1]):  # nothing after the output node
        if n.op == "get_attr":
            continue
        live.add(n)
        live = {m for m in live if last_use[m] > k}
        if len(live) == 1 and next(iter(live)) is n and not _is_sideband(n):
            cuts.append(k)
    return cuts


def _is_custom(m: nn.Module) -> bool:
    """A module with its own forward (a block), as opposed to a plain container."""
    if isinstance(m, nn.ModuleList | nn.ModuleDict):
        return False
    return not (isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward)


def _path(n: fx.Node) -> list[str] | None:
    """Module path of a node (a parameter's owning module for get_attr); None for glue."""
    if n.op == "call_module":
        return str(n.target).split(".")
    if n.op == "get_attr":
        return str(n.target).split(".")[:-1] or None
    return None


def _between_blocks(model: nn.Module, nodes: list[fx.Node], k: int) -> bool:
    """False when the cut after node k falls inside a block (a custom-forward module).

    Exception: inside a block, a cut between two child blocks of a plain container is kept
    (vit's Encoder holds its EncoderBlocks in a Sequential). A block made of plain layers
    (mobilenet's InvertedResidual) is kept whole even where one tensor crosses inside it.
    """
    before = next((p for n in reversed(nodes[: k + 1]) if (p := _path(n))), None)
    after = next((p for n in nodes[k + 1 :] if (p := _path(n))), None)
    if before is None or after is None:
        return True
    common: list[str] = []
    for x, y in zip(before, after, strict=False):
        if x != y:
            break
        common.append(x)
    if len(common) >= min(len(before), len(after)):
        return False  # the same module on both sides (a leaf called twice): inside it
    ancestors = [model.get_submodule(".".join(common[:d])) for d in range(1, len(common) + 1)]
    if not any(_is_custom(a) for a in ancestors):
        return True
    parent = model.get_submodule(".".join(common))
    side_a = model.get_submodule(".".join(before[: len(common) + 1]))
    side_b = model.get_submodule(".".join(after[: len(common) + 1]))
    if _is_custom(parent):
        return False
    return (
        _is_custom(side_a) and _is_custom(side_b) and not _is_leaf(side_a) and not _is_leaf(side_b)
    )


def _is_leaf(m: nn.Module) -> bool:
    return type(m).__module__.startswith("torch.nn")


def _is_sideband(n: fx.Node) -> bool:
    """Shape queries and the like: values that are not activations."""
    return n.op == "call_function" and n.target in (getattr, len)


def _module_targets(nodes: Sequence[fx.Node]) -> list[str]:
    return [str(n.target) for n in nodes if n.op in ("call_module", "get_attr")]


def _is_trivial(root: nn.Module, nodes: Sequence[fx.Node]) -> bool:
    for n in nodes:
        if n.op == "call_module" and not isinstance(root.get_submodule(str(n.target)), _TRIVIAL):
            return False
    return True


def _get_attr(root: nn.Module, target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _build(gm: fx.GraphModule, nodes: list[fx.Node], seg: _Segment, inp: fx.Node) -> fx.GraphModule:
    g = fx.Graph()
    env: dict[fx.Node, fx.Node] = {inp: g.placeholder("x")}

    def lookup(n: fx.Node) -> fx.Node:
        if n not in env:
            if n.op != "get_attr":
                raise CutError(f"internal: value {n.name} crosses a cut")
            env[n] = g.get_attr(str(n.target))
        return env[n]

    for n in nodes[seg.start : seg.end + 1]:
        if n.op == "get_attr":
            lookup(n)
            continue
        env[n] = g.node_copy(n, lookup)
    g.output(env[nodes[seg.end]])
    sub = fx.GraphModule(gm, g)
    sub.graph.eliminate_dead_code()
    sub.recompile()
    return sub


def _names(
    parts_of: list[list[str]], all_targets: dict[str, set[int]]
) -> tuple[list[list[str]], list[str]]:
    """Per stage: the largest module paths wholly inside it, and a display name."""
    out_parts: list[list[str]] = []
    names: list[str] = []
    for i, targets in enumerate(parts_of):
        parts: list[str] = []
        for t in targets:
            best = t
            pieces = t.split(".")
            for k in range(len(pieces) - 1, 0, -1):
                prefix = ".".join(pieces[:k])
                if all_targets.get(prefix) == {i}:
                    best = prefix
            if best not in parts:
                parts.append(best)
        out_parts.append(parts)
        names.append("+".join(parts) if parts else f"glue{i}")
    return out_parts, names


def stages(
    model: nn.Module,
    input_shape: Sequence[int],
    merge_trivial: bool = True,
    granularity: Literal["block", "fine"] = "block",
) -> list[tuple[str, nn.Module]]:
    """The model as an ordered chain of (name, stage); composing them is the model.

    granularity "block" keeps blocks (residual or not) whole; "fine" offers every place where
    one tensor crosses, inside blocks too.

    `input_shape` is per sample ([C, H, W]); it is only used to check that the cut tensors
    really are tensors (a shape pass on one zero sample, so any size the model accepts works).
    """
    gm = _trace(model)
    nodes = list(gm.graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise CutError(f"{type(model).__name__}: expected one input, got {len(placeholders)}")
    tensors = _tensor_valued(gm, input_shape)
    cuts = [c for c in _valid_cuts(nodes) if nodes[c] in tensors]
    if granularity == "block":
        cuts = [c for c in cuts if _between_blocks(model, nodes, c)]
    out_node = nodes[-1]
    final = out_node.args[0]
    if not isinstance(final, fx.Node):
        raise CutError(f"{type(model).__name__}: output is not a single tensor")
    last = nodes.index(final)
    cuts = [c for c in cuts if c < last] + [last]
    if not cuts or cuts[0] != nodes.index(placeholders[0]):
        raise CutError(f"{type(model).__name__}: input does not start a chain")

    segs = [
        _Segment(a + 1, b, _is_trivial(gm, nodes[a + 1 : b + 1]))
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    if merge_trivial:
        segs = _merge(segs)

    all_targets: dict[str, set[int]] = {}
    seg_targets = []
    for i, s in enumerate(segs):
        targets = _module_targets(nodes[s.start : s.end + 1])
        seg_targets.append(targets)
        for t in targets:
            pieces = t.split(".")
            for k in range(1, len(pieces) + 1):
                all_targets.setdefault(".".join(pieces[:k]), set()).add(i)
    parts_of, names = _names(seg_targets, all_targets)

    out: list[tuple[str, nn.Module]] = []
    for i, s in enumerate(segs):
        inp = nodes[s.start - 1] if i == 0 else nodes[segs[i - 1].end]
        body = _build(gm, nodes, s, inp)
        kind = _kind(model, parts_of[i])
        out.append((names[i], Stage(body, kind, parts_of[i])))
    return out


def _merge(segs: list[_Segment]) -> list[_Segment]:
    merged: list[_Segment] = []
    pending_start: int | None = None  # trivial segments at the very start wait for the next
    for s in segs:
        if s.trivial and merged:
            merged[-1] = _Segment(merged[-1].start, s.end, merged[-1].trivial)
        elif s.trivial and not merged:
            pending_start = s.start if pending_start is None else pending_start
        else:
            start = pending_start if pending_start is not None else s.start
            merged.append(_Segment(start, s.end, False))
            pending_start = None
    if pending_start is not None:  # the whole model was trivial: one stage
        merged.append(_Segment(pending_start, segs[-1].end, True))
    return merged


def _tensor_valued(gm: fx.GraphModule, input_shape: Sequence[int]) -> set[fx.Node]:
    """Nodes whose value is one tensor (not a tuple from chunk/split), from one shape pass."""
    from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

    was_training = gm.training
    gm.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(1, *input_shape))
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CutError(f"input shape {list(input_shape)} does not fit the model: {msg}") from None
    finally:
        gm.train(was_training)
    return {n for n in gm.graph.nodes if isinstance(n.meta.get("tensor_meta"), TensorMetadata)}


def _kind(root: nn.Module, parts: list[str]) -> str:
    """Class name of the first non-trivial module of the stage ('glue' if none)."""
    first: str | None = None
    for p in parts:
        obj = _get_attr(root, p)
        name = type(obj).__name__
        if isinstance(obj, nn.Module) and not isinstance(obj, _TRIVIAL):
            return name
        first = first or name
    return first or "glue"


def _count(root: nn.Module) -> int:
    return sum(p.numel() for p in root.parameters())


def stage_params(stage: nn.Module) -> int:
    return _count(stage)


def cut_points(
    chain: Sequence[tuple[str, nn.Module]], input_shape: Sequence[int]
) -> list[dict[str, Any]]:
    """len(chain) + 1 CutPoint dicts: the input, each stage boundary, the output.

    Shapes come from pushing one zero sample through the chain (sizes do not depend on values).
    """
    x = torch.zeros(1, *input_shape)
    out = [_cut(0, None, x)]
    with torch.inference_mode():
        for i, (name, stage) in enumerate(chain):
            x = stage(x)
            if not isinstance(x, torch.Tensor):
                raise CutError(f"stage {name}: output is {type(x).__name__}, not a tensor")
            out.append(_cut(i + 1, name, x))
    return out


def _cut(index: int, after: str | None, x: torch.Tensor) -> dict[str, Any]:
    shape = [int(d) for d in x.shape[1:]]
    numel = 1
    for d in shape:
        numel *= d
    return {
        "index": index,
        "after": after,
        "shape": shape,
        "numel": numel,
        "bytes_fp32": numel * 4,
        "bytes_fp16": numel * 2,
    }


def layers(chain: Sequence[tuple[str, nn.Module]]) -> list[dict[str, Any]]:
    """Layer dicts (harness.profile.Layer) for the chain."""
    return [
        {
            "index": i,
            "name": name,
            "kind": getattr(stage, "kind", type(stage).__name__),
            "params": stage_params(stage),
        }
        for i, (name, stage) in enumerate(chain)
    ]
