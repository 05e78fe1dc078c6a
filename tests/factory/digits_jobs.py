"""Tiny digits jobs (12x12 input, two RepVGG blocks) for the variant and profile tests: real
data and real training, small enough to train in about a second on one core."""

from __future__ import annotations

from pathlib import Path

TINY_STAGES = [[1, 8, 1], [1, 16, 2]]

TINY_TRAIN_YAML = f"""\
name: tiny-digits
kind: train
model: repvgg_digits
input_shape: [1, 12, 12]
num_classes: 10
batch_size: 32
model_kwargs:
  stages: {TINY_STAGES}
data:
  source: digits
optimizer:
  name: adam
  lr: 0.01
accuracy:
  epochs: 3
  finetune_epochs: 1
  finetune_lr: 0.003
  domains: 4
  alpha: 0.5
"""

TINY_INFER_YAML = f"""\
name: tiny-digits-infer
kind: infer
model: repvgg_digits
input_shape: [1, 12, 12]
num_classes: 10
model_kwargs:
  stages: {TINY_STAGES}
data:
  source: digits
infer:
  batch_sizes: [4]
  max_bundle_len: 2
  repeats: 2
  warmup: 1
  samples: 4
  energy_window_s: 0.02
"""


def write_tiny_digits(folder: Path) -> tuple[Path, Path]:
    """(train job, infer job) written into `folder`."""
    train = folder / "tiny-digits.yaml"
    train.write_text(TINY_TRAIN_YAML)
    infer = folder / "tiny-digits-infer.yaml"
    infer.write_text(TINY_INFER_YAML)
    return train, infer
