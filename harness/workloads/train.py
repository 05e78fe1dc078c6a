"""The training workload: run a job's loop and emit one record per batch as it goes.

Each batch is split into data-wait, forward (with loss), backward, gradient all-reduce (only
when several nodes train together) and optimiser step, timed with perf_counter (CUDA
synchronised at each boundary when on a GPU, else the times would be launch times).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from harness import stopping
from harness.spec import JobSpec
from harness.telemetry import memcg
from harness.workloads.data import (
    dataset_bytes,
    disk_read_bytes,
    evict_page_cache,
    make_loader,
    prepare_data,
)
from harness.workloads.losses import batch_metrics, make_loss  # sigmoid metrics for BCE
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
    return make_loss(task)


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
    """One training probe: the setup, the model (joined to its peers when several nodes train),
    a meta record, the timed loop, then what the measured window read from disk, the memory
    cgroup's counters over it, and why it stopped (with the interval of the median)."""
    setup = _setup(spec, request)
    torch.manual_seed(spec.data.seed)
    root = prepare_data(spec, request.get("data_dir"))
    evicted = evict_page_cache(root) if root is not None and spec.data.cold_cache else None
    trainer = _trainer(spec, setup, request)
    emit(_meta_record(spec, setup, trainer, root, evicted))
    loader = make_loader(
        spec, root, setup.batch_size, setup.workers, seed=spec.data.seed + setup.rank
    )
    window = _loop(spec, setup, trainer, loader, emit)
    read_end = disk_read_bytes()
    mem_end = memcg.snapshot(window.where)
    if read_end is not None and window.read_at_measure is not None:
        # what the measured batches fetched from storage, not from the page cache
        emit({"type": "io", "disk_read_bytes": read_end - window.read_at_measure})
    if mem_end is not None and window.mem_at_measure is not None:
        emit(memcg.window(window.mem_at_measure, mem_end, window.seconds))
    emit(window.stream.record("images_per_s"))
    if trainer.allreduce is not None:
        import torch.distributed as dist

        dist.destroy_process_group()


@dataclass
class _Setup:
    """What the probe runs with, read from its request (and from torchrun's environment when
    torchrun started this node: then it, not the request, gives the rank and world size)."""

    batch_size: int
    rule: stopping.StopRule
    warmup: int
    workers: int
    gpus_granted: int
    gpus_used: int
    device: torch.device
    rank: int
    nnodes: int
    torchrun: bool

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def _setup(spec: JobSpec, request: dict[str, Any]) -> _Setup:
    ov = request.get("overrides") or {}
    caps = request.get("caps") or {}
    gpus_granted = int(caps.get("gpus") or 0) or len(caps.get("gpu_ids") or [])
    # the backend shows the child only its granted GPUs: train on all of them (data-parallel)
    gpus_used = min(gpus_granted, torch.cuda.device_count()) if torch.cuda.is_available() else 0
    torchrun = "TORCHELASTIC_RUN_ID" in os.environ
    nnodes = int(os.environ["WORLD_SIZE"]) if torchrun else int(request.get("nnodes") or 1)
    rule = spec.iterations.rule(int(ov["max_iterations"]) if ov.get("max_iterations") else None)
    if nnodes > 1:  # every node must run the same steps (each all-reduce needs all of them)
        rule = replace(rule, mode="fixed")
    return _Setup(
        batch_size=int(ov.get("batch_size") or spec.batch_size),
        rule=rule,
        warmup=spec.iterations.warmup,
        workers=int(request.get("workers") or 0),
        gpus_granted=gpus_granted,
        gpus_used=gpus_used,
        device=torch.device("cuda" if gpus_used else "cpu"),
        rank=int(os.environ["RANK"]) if torchrun else int(request.get("node_rank") or 0),
        nnodes=nnodes,
        torchrun=torchrun,
    )


@dataclass
class _Trainer:
    """The model and what steps it; `allreduce` only when several nodes train together."""

    model: nn.Module
    loss_fn: nn.Module
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype
    allreduce: _AllReduce | None


def _trainer(spec: JobSpec, setup: _Setup, request: dict[str, Any]) -> _Trainer:
    """The model on its device (split over this node's GPUs when it has several), its loss and
    optimiser, and the process group when the job spans nodes (weights broadcast from rank 0)."""
    model = build_model(spec.model, spec.num_classes, spec.input_shape, **spec.model_kwargs)
    model.to(setup.device).train()
    if setup.gpus_used > 1:  # one process per node; each batch split over its GPUs
        model = nn.DataParallel(model, device_ids=list(range(setup.gpus_used)))
    loss_fn = _loss_fn(spec.data.task)
    opt = _optimizer(spec, model.parameters())
    scaler = torch.amp.GradScaler(setup.device.type, enabled=spec.amp and setup.cuda)
    amp_dtype = torch.float16 if setup.cuda else torch.bfloat16
    allreduce: _AllReduce | None = None
    if setup.nnodes > 1:
        import torch.distributed as dist

        if not setup.torchrun:  # started without torchrun: the rendezvous the request carries
            os.environ.setdefault("MASTER_ADDR", str(request["master_addr"]))
            os.environ.setdefault("MASTER_PORT", str(request["master_port"]))
        dist.init_process_group(
            backend="nccl" if setup.cuda else "gloo",
            init_method="env://",
            rank=setup.rank,
            world_size=setup.nnodes,
        )
        allreduce = _AllReduce(model)
    return _Trainer(model, loss_fn, opt, scaler, amp_dtype, allreduce)


def _meta_record(
    spec: JobSpec, setup: _Setup, trainer: _Trainer, root: Any, evicted: int | None
) -> dict[str, Any]:
    """The probe's first record: versions, model size, device, threads, dataset, ranks."""
    return {
        "type": "meta",
        "torch_version": torch.__version__,  # in a container: the image's, not the host's
        "cuda_version": torch.version.cuda,
        "model": spec.model,
        "params": count_params(trainer.model),
        "device": str(setup.device),
        "batch_size": setup.batch_size,
        "workers": setup.workers,
        "torch_threads": torch.get_num_threads(),
        "dataset": str(root) if root else None,
        "dataset_bytes": dataset_bytes(root) if root else None,
        "cache_evicted_bytes": evicted,
        "rank": setup.rank,
        "nnodes": setup.nnodes,
        "launcher": "torchrun" if setup.torchrun else None,
        "gpus_granted": setup.gpus_granted,
        "gpus_used": setup.gpus_used,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


@dataclass
class _Window:
    """The measured window: its batches' images/s as the stopping rule saw them, its length,
    and the disk and memory-cgroup counters read at its first batch."""

    stream: stopping.Stream
    seconds: float = 0.0
    read_at_measure: int | None = None
    where: memcg.Where | None = None
    mem_at_measure: dict[str, Any] | None = None


def _loop(spec: JobSpec, setup: _Setup, trainer: _Trainer, loader: Any, emit: Emit) -> _Window:
    """Warm-up batches, then measured ones until the stopping rule says enough (or the loop
    passes its time limit), one record each; the counters are read just before the first
    measured batch."""
    t_start = time.perf_counter()
    t_measure: float | None = None
    step = 0
    window = _Window(stopping.Stream(setup.rule))
    while True:
        is_warm = step < setup.warmup
        if step == setup.warmup:
            window.read_at_measure = disk_read_bytes()
            window.where = memcg.locate()
            window.mem_at_measure = memcg.snapshot(window.where)
        rec, t0, t4 = _timed_batch(spec, setup, trainer, loader, step, t_start)
        emit(rec)
        step += 1
        if is_warm:
            continue
        if t_measure is None:
            t_measure = t0
        window.seconds = t4 - t_measure
        if window.stream.add(rec["images_per_s"], window.seconds) is not None:
            break
        if t4 - t_start > spec.iterations.max_duration_s:
            window.stream.stopped = "max_duration"
            break
    return window


def _timed_batch(
    spec: JobSpec, setup: _Setup, trainer: _Trainer, loader: Any, step: int, t_start: float
) -> tuple[dict[str, Any], float, float]:
    """One batch, each phase timed on its own (data wait, forward with loss, backward, the
    all-reduce, the optimiser step); returns its record and its start and end times."""
    device, cuda = setup.device, setup.cuda

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    x, y = next(loader)
    x = x.to(device, non_blocking=True)
    y = _prepare_target(spec.data.task, y).to(device, non_blocking=True)
    sync()
    t1 = time.perf_counter()
    with torch.autocast(device.type, dtype=trainer.amp_dtype, enabled=spec.amp):
        out = trainer.model(x)
        loss = trainer.loss_fn(out, y)
    sync()
    t2 = time.perf_counter()
    trainer.scaler.scale(loss).backward()
    sync()
    t3 = time.perf_counter()
    comm_s = None
    if trainer.allreduce is not None:
        trainer.allreduce()
        sync()
        comm_s = time.perf_counter() - t3
        t3 = time.perf_counter()
    trainer.scaler.step(trainer.opt)
    trainer.scaler.update()
    trainer.opt.zero_grad(set_to_none=True)
    sync()
    t4 = time.perf_counter()
    batch_s = t4 - t0  # includes the all-reduce: t0..t4 spans it
    rec: dict[str, Any] = {
        "type": "batch",
        "epoch": 0,
        "batch_idx": step,
        "global_step": step,
        "warmup": step < setup.warmup,
        "batch_size": int(x.shape[0]),
        "data_s": t1 - t0,
        "forward_s": t2 - t1,
        "backward_s": t3 - t2 if comm_s is None else (t3 - t2 - comm_s),
        "step_s": t4 - t3,
        "batch_s": batch_s,
        "images_per_s": x.shape[0] / batch_s if batch_s > 0 else 0.0,
        "loss": float(loss.detach()),
        # from the logits already computed, after t4: not in any timed phase
        **batch_metrics(spec.data.task, out.detach().float(), y),
        "lr": trainer.opt.param_groups[0]["lr"],
        "rss_mb": _rss_mb(),
        "wall_s": t4 - t_start,
        "node_rank": setup.rank,
        "device_type": device.type,
        "device_index": device.index if cuda else None,
        "precision": "amp" if spec.amp else "fp32",
        "num_workers": setup.workers,
    }
    if comm_s is not None:
        rec["allreduce_s"] = comm_s
    if cuda:
        rec["cuda_alloc_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        rec["cuda_reserved_mb"] = torch.cuda.max_memory_reserved(device) / 2**20
    return rec, t0, t4
