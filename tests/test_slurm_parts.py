"""The pure parts of the Slurm backend: Slurm's texts read, states mapped, node types, scripts,
sbatch options and the grant the probe reads of itself (fake cgroup trees)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.slurm import enforcement, mem_mb, sbatch_args, time_limit_min
from harness.profile import Caps, CoreShare, Outcome
from harness.slurm import commands
from harness.slurm.commands import JobState
from harness.slurm.nodes import NoNodes, node_types
from harness.slurm.outcome import classify
from harness.slurm.script import nodes_script, probe_script
from harness.slurm.settings import SlurmSettings
from harness.telemetry.grant import parse_cpu_list, read_grant, shared_cores
from tests.factory.slurm import SCONTROL_OOM, SINFO_HETERO


def test_sbatch_and_scontrol_and_sacct_texts_are_read() -> None:
    assert commands.parse_sbatch("123\n") == "123"
    assert commands.parse_sbatch("77;cluster") == "77"
    with pytest.raises(commands.SlurmError, match="expected a job id"):
        commands.parse_sbatch("sbatch: error: oops")
    st = commands.state_from_scontrol("2", SCONTROL_OOM)
    assert st == JobState("2", "OUT_OF_MEMORY", "OutOfMemory", 0, 125, "n1")
    assert st.done and not st.running
    pend = commands.state_from_scontrol("3", "JobId=3 JobState=PENDING Reason=Resources")
    assert pend is not None and not pend.done and not pend.running
    sacct = "9|CANCELLED by 0|0:15|None|n2\n"
    st = commands.state_from_sacct("9", sacct)
    assert st is not None and st.state == "CANCELLED" and st.signal == 15 and st.reason is None


@pytest.mark.parametrize(
    ("state", "records", "outcome", "says"),
    [
        (JobState("1", "COMPLETED", None, 0, 0, "n1"), [], Outcome.ok, None),
        (JobState("1", "OUT_OF_MEMORY", "OutOfMemory", 0, 125, "n1"), [], Outcome.oom, "--mem"),
        (JobState("1", "TIMEOUT", "TimeLimit", 0, 15, "n1"), [], Outcome.timed_out, "time limit"),
        (JobState("1", "NODE_FAIL", "NodeDown", 0, 9, "n2"), [], Outcome.crashed, "node failure"),
        (
            JobState("1", "FAILED", "NonZeroExitCode", 1, 0, "n1"),
            [{"type": "error", "message": "ValueError: bad"}],
            Outcome.crashed,
            "FAILED (NonZeroExitCode) on n1, exit 1: ValueError: bad",
        ),
        (JobState("1", "CANCELLED", None, 0, 15, "n1"), [], Outcome.crashed, "CANCELLED"),
        (
            JobState("1", "FAILED", None, 137, 0, "n1"),
            [{"type": "error", "message": "MemoryError"}],
            Outcome.oom,
            "MemoryError",
        ),
        (
            JobState("1", "FAILED", None, 3, 0, "n1"),
            [{"type": "refused", "reason": "cannot lock"}],
            Outcome.refused,
            "cannot lock",
        ),
    ],
)
def test_slurm_states_map_to_outcomes(
    state: JobState, records: list[dict[str, object]], outcome: Outcome, says: str | None
) -> None:
    got, reason = classify(state, records)
    assert got == outcome
    assert (reason is None) if says is None else (says in (reason or "")), reason


def test_cancelled_at_the_probes_time_limit_is_timed_out() -> None:
    got, reason = classify(JobState("1", "CANCELLED", None, 0, 15, "n1"), [], timed_out_s=5)
    assert got == Outcome.timed_out and "5 s" in (reason or "")
    assert classify(None, [])[0] == Outcome.crashed


def test_node_types_by_partition_feature_or_none() -> None:
    rows = commands.parse_sinfo(SINFO_HETERO)
    assert commands.default_partition(SINFO_HETERO) == "gpu"
    (one,) = node_types(rows, [], "gpu", "partition")
    assert one.partition is None and one.nodes == ["a1", "a2", "v1"] and one.cpus == 32
    by_feat = node_types(rows, [], "gpu", "feature")
    assert [(t.name, t.constraint, t.cpus) for t in by_feat] == [
        ("a100+ib", "a100&ib", 64),
        ("v100", "v100", 32),
    ]
    by_part = node_types(rows, ["gpu", "cpu"], None, "partition")
    assert [(t.name, t.sbatch_args()) for t in by_part] == [
        ("gpu", ["--partition=gpu"]),
        ("cpu", ["--partition=cpu"]),
    ]
    assert by_part[1].memory_mb == 1024000
    assert by_part[0].gpus == 4 and by_part[1].gpus == 0 and by_feat[0].gpus == 8
    with pytest.raises(NoNodes, match="no partition 'gpu-h100'"):
        node_types(rows, ["gpu-h100"], "gpu", "partition")


def test_sbatch_options_ask_for_whole_cores_memory_gpus_and_minutes() -> None:
    (t,) = node_types(commands.parse_sinfo(SINFO_HETERO), ["cpu"], None, "partition")
    args = sbatch_args("n", Path("/w"), Caps(cpus=2, memory_gb=1.5, gpus=1), 90, t)
    assert "--cpus-per-task=2" in args and "--mem=1536M" in args and "--gres=gpu:1" in args
    assert "--time=3" in args and "--no-requeue" in args and "--partition=cpu" in args
    assert time_limit_min(10) == 2
    # no cap asked: a share of the node in proportion to the CPUs, never the whole node
    assert mem_mb(Caps(cpus=32), t) == (1024000 * 32 // 128, False)


def test_enforcement_is_what_the_probe_read_not_what_was_asked() -> None:
    caps = Caps(cpus=1, memory_gb=1)
    grant = {
        "node": "n1",
        "cpuset": [1],
        "memory_limit_bytes": 2**30,
        "memory_cgroup": "/sys/fs/cgroup/memory/slurm_n1/uid_0/job_4/step_batch",
    }
    e = enforcement(caps, None, grant)
    assert e.cpuset == [1] and e.memory_enforced and "cpuset 1 on n1" in e.cpu
    assert "1024 MiB seen in the probe" in (e.memory or "")
    loose = enforcement(caps, None, {**grant, "memory_limit_bytes": None})
    assert not loose.memory_enforced and "NOT enforced" in (loose.memory or "")
    assert not enforcement(caps, None, None).memory_enforced


def test_scripts_run_this_checkout_and_take_the_rendezvous_from_the_allocation() -> None:
    one = probe_script(python="/py", source=Path("/src"), workdir=Path("/w/p"), threads=2, gpus=0)
    assert "export PYTHONPATH=/src" in one and "OMP_NUM_THREADS=2" in one
    assert "export CUDA_VISIBLE_DEVICES=" in one and "unset HARNESS_CGROUP_PROCS" in one
    assert one.rstrip().endswith("exec /py -m harness.workloads.run /w/p/request.json")
    two = nodes_script(
        python="/py", source=Path("/src"), workdir=Path("/w"), nnodes=2, threads=1, gpus=1,
        master_port=None,
    )  # fmt: skip
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST"' in two and "NodeAddr=" in two
    assert "srun --kill-on-bad-exit=1 --ntasks-per-node=1 --cpus-per-task=1" in two
    assert "--node-rank $SLURM_NODEID" in two and "CUDA_VISIBLE_DEVICES" not in two


def test_settings_from_the_environment() -> None:
    s = SlurmSettings.from_env(
        {"HARNESS_SLURM_PARTITION": "a, b", "HARNESS_SLURM_SHARED": "/nfs/h", "HARNESS_SLURM_ARGS":
         "--account=x --qos=y"}
    )  # fmt: skip
    assert s.partitions == ["a", "b"] and s.shared == Path("/nfs/h")
    assert s.extra == ["--account=x", "--qos=y"]
    with pytest.raises(ValueError, match="^HARNESS_SLURM_TYPES: Input should be 'partition'"):
        SlurmSettings.from_env({"HARNESS_SLURM_TYPES": "gpu"})
    assert SlurmSettings.from_env({"HARNESS_SLURM_PARTITION": "a"}, partition="c").partitions == [
        "c"
    ]


def _fake_v1(root: Path) -> str:
    job = "slurm_n1/uid_0/job_7"
    for ctrl in ("memory", "cpuset"):
        (root / ctrl / job / "step_batch" / "task_0").mkdir(parents=True)
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (root / "memory" / job / "memory.limit_in_bytes").write_text(str(2**30))
    (root / "memory" / job / "step_batch" / "memory.limit_in_bytes").write_text(str(2**29))
    (root / "memory" / job / "step_batch" / "task_0" / "memory.limit_in_bytes").write_text(
        "9223372036854771712"
    )
    (root / "cpuset" / job / "step_batch" / "cpuset.cpus").write_text("2-3,6\n")
    return f"4:memory:/{job}/step_batch/task_0\n3:cpuset:/{job}/step_batch\n"


def test_grant_reads_the_tightest_memory_limit_and_the_cpuset(tmp_path: Path) -> None:
    proc = _fake_v1(tmp_path)
    g = read_grant(tmp_path, proc, {"SLURMD_NODENAME": "n1", "SLURM_JOB_ID": "7"})
    assert g["node"] == "n1" and g["slurm_job"] == "7"
    assert g["memory_limit_bytes"] == 2**29 and g["memory_cgroup"].endswith("job_7/step_batch")
    assert g["cpuset"] == [2, 3, 6] and g["cpuset_cgroup"].endswith("step_batch")
    bare = read_grant(tmp_path / "none", "", {})
    assert bare["memory_limit_bytes"] is None and bare["cpuset"] is None
    assert parse_cpu_list("0-1,4") == [0, 1, 4]


def test_shared_cores_named_only_on_the_same_machine() -> None:
    a = {"node": "n1", "host": "vm", "affinity": [0]}
    b = {"node": "n2", "host": "vm", "affinity": [0, 1], "cpuset": [5]}  # affinity wins
    c = {"node": "x", "host": "other", "affinity": [0]}
    shares = shared_cores([a, b, c, None], ["a", "b", "c", "d"])
    assert shares[0] == [CoreShare(cores=[0], by=["a", "b"], host="vm")]
    assert shares[1] == shares[0] and shares[2] == [] and shares[3] == []
