"""Time an unchanged training script by its optimizer steps.

    python -m harness.workloads.script_steps --batch N [--warmup K] SCRIPT ARGS...

runs SCRIPT as `python SCRIPT ARGS...` would (sys.argv is [SCRIPT, *ARGS], sys.path[0] the
script's folder, `__name__ == "__main__"`; its exceptions and SystemExit codes pass through
unchanged), after registering torch's global optimizer step hooks. Every optimizer.step() of
the script then appends one batch record to $HARNESS_RECORDS, in the train workload's format:

- a step's time (batch_s) is the interval between consecutive post-hooks, so it spans the
  whole iteration: data loading, forward, backward and the step itself. The first step has no
  earlier post-hook and is timed from its own pre-hook (the optimizer step alone), so it is
  always marked warmup, whatever K is;
- images per step = N, the batch size the harness passed to the script (--batch);
- step_s is the optimizer step alone (pre-hook to post-hook);
- wall_s is seconds since this wrapper started, before torch was imported, so the profile's
  startup_s (first measured step's wall_s minus its batch_s) covers interpreter start-up,
  `import torch` and whatever the script does before its first step;
- the first K steps (the spec's iterations.warmup) are marked warmup.

Only the first optimizer that steps is timed: a script with two optimizers (a GAN's generator
and discriminator) steps each once per iteration, and counting both would halve every step.
Steps of the others are counted in the closing `script_steps` record, not timed. On a GPU the
post-hook synchronises CUDA, else a step's time would be its launch time.

Records tagged "source": "optimizer_hooks" are the ones the profile's statistics use. A script
may also write its own batch records to $HARNESS_RECORDS (examples/train_script.py does); where
hook records exist, `summarise` keeps them and ignores the script's own. The hooks are chosen
over the script's records because they mean the same thing for every script (a whole iteration,
step end to step end, at the batch the harness set), while a script's own records are timed
however its author chose (the example's leave out data loading). A script whose records are the
only ones (it steps no torch.optim optimizer) is still timed by them.

Only torch and the standard library are imported: no harness module, no pydantic.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()  # before anything heavy: wall_s counts from here

import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import runpy  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TextIO  # noqa: E402

SOURCE = "optimizer_hooks"  # the tag of the records this module writes (see harness/sweep.py)


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return None


class StepTimer:
    """The two global hooks and the records they write; one per process."""

    def __init__(self, out: TextIO | None, batch: int, warmup: int, t_start: float) -> None:
        self.out = out
        self.batch = batch
        self.warmup = max(1, warmup)  # the first step's interval is the step alone: never measured
        self.t_start = t_start
        self.timed: int | None = None  # id() of the optimizer whose steps are timed
        self.steps = 0
        self.other_steps = 0
        self.t_pre: float | None = None
        self.t_last_post: float | None = None
        self.cuda = False

    def pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        if self.timed is None:
            self.timed = id(opt)
            self.cuda = _on_cuda(opt)
        if id(opt) == self.timed:
            self.t_pre = time.perf_counter()
        return None

    def post(self, opt: Any, args: Any, kwargs: Any) -> None:
        if id(opt) != self.timed or self.t_pre is None:
            self.other_steps += 1
            return
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        t = time.perf_counter()
        start = self.t_last_post if self.t_last_post is not None else self.t_pre
        batch_s = t - start
        rec: dict[str, Any] = {
            "type": "batch",
            "source": SOURCE,
            "epoch": 0,
            "batch_idx": self.steps,
            "global_step": self.steps,
            "warmup": self.steps < self.warmup,
            "batch_size": self.batch,
            "step_s": t - self.t_pre,
            "batch_s": batch_s,
            "images_per_s": self.batch / batch_s if batch_s > 0 else 0.0,
            "lr": _lr(opt),
            "rss_mb": _rss_mb(),
            "wall_s": t - self.t_start,
            "device_type": "cuda" if self.cuda else "cpu",
        }
        self.steps += 1
        self.t_last_post = t
        self.t_pre = None
        self.write(rec)

    def write(self, rec: dict[str, Any]) -> None:
        if self.out is not None:
            self.out.write(json.dumps(rec) + "\n")
            self.out.flush()  # a crash loses nothing already measured


def _on_cuda(opt: Any) -> bool:
    for group in getattr(opt, "param_groups", []):
        for p in group.get("params", []):
            return bool(getattr(p, "is_cuda", False))
    return False


def _lr(opt: Any) -> float | None:
    try:
        return float(opt.param_groups[0]["lr"])
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None


def install(timer: StepTimer) -> list[Any]:
    """Register the timer's hooks on every optimizer; the handles, or [] without torch."""
    try:
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )
    except ImportError:
        return []
    return [
        register_optimizer_step_pre_hook(timer.pre),
        register_optimizer_step_post_hook(timer.post),
    ]


def run_script(script: str, args: list[str]) -> None:
    """Run SCRIPT as `python SCRIPT ARGS...` would; whatever it raises propagates."""
    path = Path(script)
    sys.argv = [script, *args]
    sys.path[0] = str(path.resolve().parent)
    runpy.run_path(str(path), run_name="__main__")


USAGE = "usage: python -m harness.workloads.script_steps --batch N [--warmup K] SCRIPT ARGS..."


def parse(argv: list[str]) -> tuple[int, int, str, list[str]]:
    """(batch, warmup, script, args): our options come before SCRIPT; all after it is the
    script's, verbatim (argparse would eat a `--` among them)."""
    opts: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].split("=")[0] in ("--batch", "--warmup"):
        key, eq, val = argv[i].partition("=")
        if not eq:
            i += 1
            val = argv[i] if i < len(argv) else ""
        opts[key] = val
        i += 1
    try:
        return int(opts["--batch"]), int(opts.get("--warmup", "1")), argv[i], argv[i + 1 :]
    except (KeyError, ValueError, IndexError):
        raise SystemExit(USAGE) from None


def main(argv: list[str] | None = None) -> None:
    batch, warmup, script, args = parse(sys.argv[1:] if argv is None else argv)
    records = os.environ.get("HARNESS_RECORDS")
    fh = open(records, "a") if records else None  # noqa: SIM115 (closed in finally)
    timer = StepTimer(fh, batch, warmup, T_START)
    handles = install(timer) if fh is not None else []
    try:
        run_script(script, args)
    finally:
        for h in handles:
            h.remove()
        timer.write(
            {"type": "script_steps", "steps": timer.steps, "untimed_steps": timer.other_steps}
        )
        if fh is not None:
            fh.close()


if __name__ == "__main__":
    main()
