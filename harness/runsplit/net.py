"""The model on one side of a split run: built from the job spec with a fixed torch seed (random
weights, the same on both sides), cut into the chain of stages the profiles index, with this
side's real inputs and the whole (unsplit) model's outputs to check the split against."""

from __future__ import annotations

import torch
from torch import nn

from harness.runsplit.plan import ModelRef


class Net:
    """The model, its chain of stages, this side's inputs and the whole model's outputs."""

    def __init__(self, ref: ModelRef, data_dir: str | None, with_inputs: bool, samples: int):
        from harness.spec import JobSpec
        from harness.workloads import cuts
        from harness.workloads.models import build_model

        self.ref = ref
        spec = JobSpec.model_validate(ref.spec)
        self.spec = spec
        torch.manual_seed(ref.seed)
        model = build_model(spec.model, spec.num_classes, spec.input_shape, **spec.model_kwargs)
        self.model: nn.Module = model.eval()
        self.chain = cuts.stages(self.model, spec.input_shape)
        for _, st in self.chain:
            st.eval()
        if ref.n_layers is not None and len(self.chain) != ref.n_layers:
            raise RuntimeError(
                f"model {spec.model}: the profile has {ref.n_layers} layers, this build cuts "
                f"into {len(self.chain)}: not the same model or harness version"
            )
        self.checksum = weights_checksum(self.model)
        self.images: torch.Tensor | None = None
        self.source = ""
        if with_inputs:
            from harness.workloads.infer import load_inputs

            try:
                self.images, self.source = load_inputs(spec, data_dir, samples)
            except (OSError, ValueError) as exc:  # another model's dataset is not mounted
                g = torch.Generator().manual_seed(spec.data.seed)
                self.images = torch.randn(samples, *spec.input_shape, generator=g)
                self.source = f"synthetic (real inputs unavailable: {exc})"
        self._refs: dict[tuple[int, int], torch.Tensor] = {}

    @property
    def n_layers(self) -> int:
        return len(self.chain)

    def run(self, start: int, end: int, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            for _, stage in self.chain[start:end]:
                x = stage(x)
        return x

    def batch(self, index: int, batch_size: int) -> torch.Tensor:
        assert self.images is not None
        n = self.images.shape[0]
        idx = [(index * batch_size + j) % n for j in range(batch_size)]
        return self.images[idx].contiguous()

    def key(self, index: int, batch_size: int) -> tuple[int, int]:
        assert self.images is not None
        return index % self.images.shape[0], batch_size

    def reference(self, index: int, batch_size: int) -> torch.Tensor:
        """The whole (unsplit) model's output on the same input; computed once per input."""
        k = self.key(index, batch_size)
        if k not in self._refs:
            with torch.inference_mode():
                self._refs[k] = self.model(self.batch(index, batch_size))
        return self._refs[k]


def weights_checksum(model: nn.Module) -> float:
    total = 0.0
    for name, t in sorted(model.state_dict().items()):
        if t.is_floating_point():
            total += float(t.double().sum()) + 1e-3 * len(name)
    return total


def outputs_agree(out: torch.Tensor, ref: torch.Tensor, precision: str) -> tuple[bool, float]:
    """Equal to float tolerance (looser when the activation crossed the link in fp16)."""
    diff = float((out.float() - ref.float()).abs().max()) if out.numel() else 0.0
    scale = max(1.0, float(ref.abs().max())) if ref.numel() else 1.0
    tol = (2e-2 if precision == "fp16" else 1e-4) * scale
    ok = out.shape == ref.shape and diff <= tol
    return ok, diff
