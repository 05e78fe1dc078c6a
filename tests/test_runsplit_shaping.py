"""tc shaping on the host side of a container's veth (commands checked, never run here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.runsplit.shaping import TcShaper, host_veth, tbf_command, tbf_params


def test_host_veth_is_found_by_the_containers_iflink(tmp_path: Path) -> None:
    for name, idx in (("lo", 1), ("eth0", 4), ("veth1234", 39)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "ifindex").write_text(f"{idx}\n")
    (tmp_path / "broken").mkdir()
    assert host_veth(39, tmp_path) == "veth1234"
    assert host_veth(40, tmp_path) is None
    assert host_veth(None, tmp_path) is None
    assert host_veth(39, tmp_path / "missing") is None


def test_tbf_burst_is_small_and_limit_holds_a_whole_activation() -> None:
    burst, limit = tbf_params(20.0)
    assert 4 * 1514 <= burst <= 8000  # ~1 ms of 20 Mbit/s is 2.5 kB: a few packets win
    assert limit >= 8 << 20
    burst, limit = tbf_params(10_000.0)
    assert burst == int(10_000e6 / 8 * 1e-3)
    assert limit == int(10_000e6 / 8 * 2)
    cmd = tbf_command("vethX", 20.0)
    assert cmd[:7] == ["tc", "qdisc", "replace", "dev", "vethX", "root", "tbf"]
    assert "20000kbit" in cmd


def test_shaper_reports_failures_and_clears_what_it_touched() -> None:
    calls: list[list[str]] = []

    def runner(cmd: Sequence[str]) -> tuple[int, str]:
        calls.append(list(cmd))
        return (2, "RTNETLINK answers: Operation not permitted") if "bad" in cmd else (0, "")

    sh = TcShaper(run=runner)
    ok, detail = sh.apply("vethA", 50)
    assert ok and "tbf rate 50000kbit" in detail
    ok, detail = sh.apply("bad", 50)
    assert not ok and "Operation not permitted" in detail
    sh.clear()
    assert calls[-1] == ["tc", "qdisc", "del", "dev", "vethA", "root"]
    assert sh.touched == set()
