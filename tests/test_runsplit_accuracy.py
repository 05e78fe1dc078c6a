"""Real mode of the accuracy-aware split: a digits variant split across two real containers on
a shaped link, one domain's labelled held-out samples streamed through it and scored.

The variant (a tiny reference trained on the real digits, saved with repvgg.save_variant) and
the domain's samples are staged in the containers' folders; the job image has neither
scikit-learn nor torch-pruning. Checked: every sample of the domain is scored once, and the
accuracy counted in the containers equals the one measured offline on the same file (the
prediction an accsplit decision makes). With CI=true a missing engine or image fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import sklearn  # noqa: F401  (the ml extra: missing, it fails, never skips)
import torch

from harness.runsplit.orchestrate import Session, run_session
from harness.runsplit.plan import LinkSetting, ModelRef, Phase, PlanSpec, Segment
from harness.runsplit.summary import summarise
from harness.spec import JobSpec
from harness.workloads import digits, repvgg, variants
from tests.factory.digits_jobs import TINY_INFER_YAML, TINY_STAGES
from tests.test_runsplit_docker import image  # noqa: F401 (the fixture: engine + image)

pytestmark = pytest.mark.docker


@pytest.mark.timeout(600)
def test_a_domain_streams_through_a_variant_split_and_is_scored(
    image: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import yaml

    spec = JobSpec.model_validate(yaml.safe_load(TINY_INFER_YAML))
    size = spec.input_shape[-1]
    split = digits.default_split(count=4)
    data = digits.make_split(split, size)
    torch.set_num_threads(1)
    net = variants.train_reference(
        data, variants.TrainSettings(epochs=1, batch_size=32, lr=0.01), TINY_STAGES
    )
    repvgg.save_variant(str(tmp_path / "ref.pt"), net)
    domain = data.domains["d1"]
    digits.save_samples(tmp_path / "d1.npz", domain)
    offline = variants.measure(repvgg.load_variant(str(tmp_path / "ref.pt")), data).domains["d1"]

    batch = 16
    need = -(-len(domain.labels) // batch)
    ref = ModelRef(
        key="tiny", spec=spec.model_dump(mode="json"), n_layers=3, weights="v.pt", inputs="d.npz"
    )
    plan = PlanSpec(
        name="cut 1",
        model="tiny",
        batch_size=batch,
        segments=[Segment(role="edge", start=0, end=1), Segment(role="server", start=1, end=3)],
        output_role="server",
    )
    link = LinkSetting(up_mbps=50, down_mbps=50, latency_ms=1)
    session = Session(
        models=[ref],
        phases=[Phase(name="d1", link=link, plan=plan, requests=need, warmup=1)],
        edge_cpus=0.5,
        server_cpus=1.0,
        files={"v.pt": str(tmp_path / "ref.pt"), "d.npz": str(tmp_path / "d1.npz")},
    )
    run = run_session(session, tmp_path / "work", image=image, timeout_s=300)
    res = summarise(session, run, "test")
    assert res.ok, (res.error, [c.log_tail for c in res.containers])
    ph = res.phases[0]
    assert ph.outputs_match  # the split's outputs are the whole variant's
    assert ph.scored == ph.labelled == len(domain.labels) == offline.samples
    assert ph.correct == offline.correct  # measured in the containers == measured offline
    assert ph.throughput_per_s is not None and ph.throughput_per_s > 0
