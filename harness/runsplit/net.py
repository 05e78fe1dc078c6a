"""The model on one side of a split run: built from the job spec with a fixed torch seed (random
weights, the same on both sides) or loaded from a saved variant staged in the probe folder, cut
into the chain of stages the profiles index, with this side's real inputs (a domain's labelled
samples, when staged) and the whole (unsplit) model's outputs to check the split against."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from harness.runsplit.plan import ModelRef


class Net:
    """The model, its chain of stages, this side's inputs and the whole model's outputs."""

    def __init__(
        self,
        ref: ModelRef,
        data_dir: str | None,
        with_inputs: bool,
        samples: int,
        folder: Path | None = None,
    ):
        from harness.spec import JobSpec
        from harness.workloads import cuts
        from harness.workloads.models import build_model

        self.ref = ref
        spec = JobSpec.model_validate(ref.spec)
        self.spec = spec
        torch.manual_seed(ref.seed)
        here = folder or Path(".")
        model: nn.Module
        if ref.weights:
            from harness.workloads.repvgg import load_variant

            model = load_variant(str(here / ref.weights))
        else:
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
        self.labels: torch.Tensor | None = None
        self.source = ""
        if with_inputs and ref.inputs:
            from harness.workloads.digits import load_samples

            s = load_samples(here / ref.inputs)
            self.images, self.labels = torch.from_numpy(s.images), torch.from_numpy(s.labels)
            self.source = f"{ref.inputs}: {len(s.labels)} labelled samples"
        elif with_inputs:
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

    def sample_ids(self, index: int, batch_size: int) -> list[int]:
        """Which samples batch `index` holds (they cycle when the batches outrun them)."""
        assert self.images is not None
        n = self.images.shape[0]
        return [(index * batch_size + j) % n for j in range(batch_size)]

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


def score(outputs: list[tuple[list[int], torch.Tensor]], labels: torch.Tensor) -> tuple[int, int]:
    """(correct, scored) over the distinct samples the outputs cover: a sample streamed twice
    (batches cycle) is counted once, by its first prediction."""
    seen: dict[int, bool] = {}
    for ids, out in outputs:
        pred = out.float().argmax(1)
        for j, i in enumerate(ids):
            if i not in seen:
                seen[i] = bool(pred[j] == labels[i])
    return sum(seen.values()), len(seen)


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
