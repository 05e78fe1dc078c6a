"""Dataset-aware loss, targets and metrics (the hybrid-scheduler seed's section 4).

multiclass (PathMNIST, OrganMNIST3D): CrossEntropyLoss on integer targets.
multilabel (ChestMNIST): BCEWithLogitsLoss on float targets; metrics from sigmoid + threshold.
"""

from __future__ import annotations

import torch
from torch import nn

TASKS = ("multiclass", "multilabel")


def _check(task: str) -> str:
    t = str(task)
    if t not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return t


class _CELoss(nn.Module):
    """CrossEntropy that casts targets with .long() (labels often arrive as uint8 or float)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.CrossEntropyLoss()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.inner(logits, targets.reshape(-1).long())


class _BCELoss(nn.Module):
    """BCEWithLogits that casts targets with .float() (labels are stored as uint8)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.inner(logits, targets.float())


def make_loss(task: str) -> nn.Module:
    """The loss for a task: CE (targets.long()) or BCEWithLogits (targets.float())."""
    return _CELoss() if _check(task) == "multiclass" else _BCELoss()


def make_targets(
    task: str, n: int, num_classes: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random targets of the right dtype and shape: int64 (n,) or float32 (n, num_classes)."""
    if _check(task) == "multiclass":
        return torch.randint(0, num_classes, (n,), generator=generator, dtype=torch.long)
    return (torch.rand((n, num_classes), generator=generator) < 0.3).float()


@torch.no_grad()
def batch_metrics(
    task: str, logits: torch.Tensor, targets: torch.Tensor, threshold: float = 0.5
) -> dict[str, float]:
    """Accuracy for multiclass; exact-match and hamming accuracy for multilabel.

    Every task reports an `accuracy` key (hamming accuracy for multilabel) so a training loop
    can log one number whatever the task.
    """
    if _check(task) == "multiclass":
        pred = logits.argmax(dim=1)
        acc = (pred == targets.reshape(-1).long()).float().mean().item()
        return {"accuracy": float(acc)}
    pred_b = torch.sigmoid(logits) >= threshold
    true_b = targets.float() >= 0.5
    eq = (pred_b == true_b).float()
    hamming = eq.mean().item()
    exact = eq.min(dim=1).values.mean().item()
    return {
        "accuracy": float(hamming),
        "hamming_accuracy": float(hamming),
        "exact_match": float(exact),
    }
