"""A tiny inference job spec (resnet18 on 32x32 JPEGs, bundles of up to 2 layers) for CLI tests."""

from __future__ import annotations

from pathlib import Path

TINY_INFER_YAML = """\
name: tiny-infer
kind: infer
model: resnet18
input_shape: [3, 32, 32]
num_classes: 10
data:
  source: jpeg
  num_samples: 2
infer:
  batch_sizes: [1]
  max_bundle_len: 2
  repeats: 2
  warmup: 1
  samples: 2
  energy_window_s: 0.02
"""


def write_tiny_infer(folder: Path) -> Path:
    path = folder / "tiny-infer.yaml"
    path.write_text(TINY_INFER_YAML)
    return path


def profile_argv(job: Path, folder: Path, *extra: str) -> list[str]:
    """`harness profile` on the local backend, 1 CPU, output and data inside `folder`."""
    return [
        "profile",
        str(job),
        "--cpu",
        "1",
        "--backend",
        "local",
        "--out",
        str(folder / "profile.json"),
        "--data-dir",
        str(folder / "data"),
        "--device-name",
        "tiny-cli",
        *extra,
    ]
