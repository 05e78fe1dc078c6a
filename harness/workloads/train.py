"""The training workload: run a job's loop and emit one record per batch as it goes.

Each batch is split into data-wait, forward (with loss), backward, gradient all-reduce (only
when several nodes train together) and optimiser step, timed with perf_counter (CUDA
synchronised at each boundary when on a GPU, else the times would be launch times).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from harness.spec import JobSpec
from harness.workloads.data import make_loader, prepare_data
from harness.workloads.models import build_model, count_params

Emit = Callable[[dict[str, Any]], None]


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _loss_fn(task: str) -> nn.Module:
    try:
        from harness.workloads.losses import make_loss

        return make_loss(task)
    except ImportError:
        return nn.BCEWithLogitsLoss() if task == "multilabel" else nn.CrossEntropyLoss()


def _prepare_target(task: str, y: torch.Tensor) -> torch.Tensor:
    return y.float() if task == "multilabel" else y.long()


def _optimizer(spec: JobSpec, params: Any) -> torch.optim.Optimizer:
    o = spec.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)


class _AllReduce:
    """Data-parallel gradient averaging done explicitly, so its time is measured on its own."""

    def __init__(self, model: nn.Module) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.world = dist.get_world_size()
        self.params = [p for p in model.parameters() if p.requires_grad]
        for p in self.params:  # start from identical weights on every node
            dist.broadcast(p.data, src=0)

    def __call__(self) -> None:
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        grads = [p.grad for p in self.params if p.grad is not None]
        flat = _flatten_dense_tensors(grads)
        self.dist.all_reduce(flat)
        flat /= self.world
        for g, new in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
            g.copy_(new)


def run_train(spec: JobSpec, request: dict[str, Any], emit: Emit) -> None:
    ov = request.get("overrides") or {}
    batch_size = int(ov.get("batch_size") or spec.batch_size)
    measured = int(ov.get("max_iterations") or spec.iterations.measured)
    warmup = spec.iterations.warmup
    workers = int(request.get("workers") or 0)
    device = torch.device(
        "cuda" if torch.cuda.is_available() and request["caps"].get("gpus") else "cpu"
    )
    cuda = device.type == "cuda"
    rank = int(request.get("node_rank") or 0)
    nnodes = int(request.get("nnodes") or 1)

    torch.manual_seed(spec.data.seed)
    root = prepare_data(spec, request.get("data_dir"))
    model = build_model(spec.model, spec.num_classes, spec.input_shape, **spec.model_kwargs)
    model.to(device).train()
    loss_fn = _loss_fn(spec.data.task)
    opt = _optimizer(spec, model.parameters())
    scaler = torch.amp.GradScaler(device.type, enabled=spec.amp and cuda)
    amp_dtype = torch.float16 if cuda else torch.bfloat16

    allreduce: _AllReduce | None = None
    if nnodes > 1:
        import torch.distributed as dist

        dist.init_process_group(
            backend="nccl" if cuda else "gloo",
            init_method=f"tcp://{request['master_addr']}:{request['master_port']}",
            rank=rank,
            world_size=nnodes,
        )
        allreduce = _AllReduce(model)

    emit(
        {
            "type": "meta",
            "model": spec.model,
            "params": count_params(model),
            "device": str(device),
            "batch_size": batch_size,
            "workers": workers,
            "torch_threads": torch.get_num_threads(),
            "dataset": str(root) if root else None,
            "rank": rank,
            "nnodes": nnodes,
        }
    )

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    loader = make_loader(spec, root, batch_size, workers, seed=spec.data.seed + rank)
    t_start = time.perf_counter()
    t_measure: float | None = None
    step = 0
    done_measured = 0
    max_s = spec.iterations.max_duration_s
    while True:
        is_warm = step < warmup
        t0 = time.perf_counter()
        x, y = next(loader)
        x = x.to(device, non_blocking=True)
        y = _prepare_target(spec.data.task, y).to(device, non_blocking=True)
        sync()
        t1 = time.perf_counter()
        with torch.autocast(device.type, dtype=amp_dtype, enabled=spec.amp):
            out = model(x)
            loss = loss_fn(out, y)
        sync()
        t2 = time.perf_counter()
        scaler.scale(loss).backward()
        sync()
        t3 = time.perf_counter()
        comm_s = None
        if allreduce is not None:
            allreduce()
            sync()
            comm_s = time.perf_counter() - t3
            t3 = time.perf_counter()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        sync()
        t4 = time.perf_counter()
        batch_s = t4 - t0  # includes the all-reduce: t0..t4 spans it
        rec: dict[str, Any] = {
            "type": "batch",
            "epoch": 0,
            "batch_idx": step,
            "global_step": step,
            "warmup": is_warm,
            "batch_size": int(x.shape[0]),
            "data_s": t1 - t0,
            "forward_s": t2 - t1,
            "backward_s": t3 - t2 if comm_s is None else (t3 - t2 - comm_s),
            "step_s": t4 - t3,
            "batch_s": batch_s,
            "images_per_s": x.shape[0] / batch_s if batch_s > 0 else 0.0,
            "loss": float(loss.detach()),
            "lr": opt.param_groups[0]["lr"],
            "rss_mb": _rss_mb(),
            "wall_s": t4 - t_start,
            "node_rank": rank,
            "device_type": device.type,
            "device_index": device.index if cuda else None,
            "precision": "amp" if spec.amp else "fp32",
            "num_workers": workers,
        }
        if comm_s is not None:
            rec["allreduce_s"] = comm_s
        if cuda:
            rec["cuda_alloc_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
            rec["cuda_reserved_mb"] = torch.cuda.max_memory_reserved(device) / 2**20
        emit(rec)
        step += 1
        if is_warm:
            continue
        if t_measure is None:
            t_measure = t0
        done_measured += 1
        elapsed = t4 - t_measure
        if done_measured >= measured and elapsed >= spec.iterations.min_duration_s:
            break
        if t4 - t_start > max_s:
            break
    if allreduce is not None:
        import torch.distributed as dist

        dist.destroy_process_group()
