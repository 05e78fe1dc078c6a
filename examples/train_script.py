"""An external training script in the seed's contract (--batch/-b, --workers/-j,
--max_iterations, --data). It may report per-batch records to $HARNESS_RECORDS as JSON lines,
but need not: the harness times every optimizer step itself (harness/workloads/script_steps.py)
and prefers those records to a script's own."""

import argparse
import json
import os
import time

import torch
import torchvision
from torchvision import datasets, transforms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--batch", "-b", type=int, default=32)
    ap.add_argument("--workers", "-j", type=int, default=0)
    ap.add_argument("--max_iterations", type=int, default=10)
    ap.add_argument("--data", required=True)
    ap.add_argument("--lr", type=float, default=0.1)
    a = ap.parse_args()
    tf = transforms.Compose([transforms.RandomResizedCrop(64), transforms.ToTensor()])
    ds = datasets.ImageFolder(a.data, tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers)
    model = torchvision.models.get_model(a.arch, weights=None, num_classes=len(ds.classes))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    out = os.environ.get("HARNESS_RECORDS")
    fh = open(out, "a") if out else None  # noqa: SIM115 (closed at the end)
    step = 0
    t_start = time.perf_counter()
    while step < a.max_iterations:
        for x, y in dl:
            t0 = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            dt = time.perf_counter() - t0
            if fh:
                rec = {
                    "type": "batch",
                    "batch_idx": step,
                    "global_step": step,
                    "warmup": step == 0,
                    "batch_size": len(x),
                    "batch_s": dt,
                    "images_per_s": len(x) / dt,
                    "loss": float(loss),
                    "wall_s": time.perf_counter() - t_start,
                }
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            step += 1
            if step >= a.max_iterations:
                break


if __name__ == "__main__":
    main()
