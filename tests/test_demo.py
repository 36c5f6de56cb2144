"""`wirespeed demo`: the whole path on the test host, and its fallbacks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.transports.test_af_xdp import needs_dpdk


@pytest.mark.privileged
def test_demo_end_to_end() -> None:
    proc = run_cli("demo", "--duration", "2", "--rate", "5000", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["captured"]["packets"] == sum(res["sent"]["datagrams"][:2])
    assert res["recorded"]["written"] == res["captured"]["packets"] and res["recorded"]["lost"] == 0
    assert res["transport"] == "af_xdp" and res["setup"]["xdp_mode"] in ("native", "generic")  # the best path here
    lat = res["transports"]["af_xdp_busy"]
    assert lat["samples"] == 2 * res["sent"]["messages"] and lat["seq_gaps"] == 0
    assert 0 < lat["lat_us_p50"] < lat["lat_us_p99"]
    assert all(Path(f).exists() for f in res["recorded"]["files"])
    books = res["books"]  # every message applied once from A and B, a book for every symbol
    (sess,) = books["sessions"].values()
    assert sess["messages"] == res["sent"]["messages"] and sess["lost"] == 0 and not books["stale"]
    assert len(books["bbo"]) == 8 and not books["errors"]
    assert not any(Path("/dev/shm").glob("wirespeed-demo-*"))


@pytest.mark.privileged
def test_demo_falls_back_to_kernel_when_af_xdp_and_dpdk_fail(monkeypatch, tmp_path) -> None:
    from wirespeed import demo
    from wirespeed.errors import WirespeedError
    from wirespeed.transports import af_xdp, dpdk

    def refuse(self) -> None:
        raise WirespeedError(f"{self.name}: refused for this test")

    monkeypatch.setattr(af_xdp.AfXdpTransport, "open", refuse)
    monkeypatch.setattr(dpdk.DpdkTransport, "open", refuse)  # and DPDK's EAL stays out of pytest's process
    res = demo.run(demo.DemoOptions(duration_s=1.5, rate=2000, directory=tmp_path))
    assert res["transport"] == "kernel" and any("af_xdp: refused for this test" in n for n in res["notes"])
    if dpdk.available()[0]:
        assert any("dpdk: refused for this test" in n for n in res["notes"])
    assert any(n.startswith("transport choice: af_xdp wins") for n in res["notes"])
    assert res["captured"]["packets"] == sum(res["sent"]["datagrams"][:2]) > 0


def test_demo_transport_choice_rule() -> None:
    from wirespeed import demo
    from wirespeed.errors import UsageError
    from wirespeed.transports.dpdk import available

    order, why = demo.choose_transports("auto", privileged=True)
    assert order == (("af_xdp", "dpdk", "kernel") if available()[0] else ("af_xdp", "kernel"))
    assert "af_xdp wins" in why and "whole interface" in why
    assert demo.choose_transports("dpdk", privileged=True)[0] == ("dpdk",)
    assert demo.choose_transports("dpdk", privileged=False)[0] == ("kernel",)
    with pytest.raises(UsageError):
        demo.choose_transports("fast", privileged=True)
    with pytest.raises(UsageError, match="does not capture with dpdk"):
        demo.run_trade(demo.DemoOptions(transport="dpdk"))


@needs_dpdk
@pytest.mark.privileged
def test_demo_through_dpdk() -> None:
    proc = run_cli("demo", "--duration", "2", "--rate", "5000", "--transport", "dpdk", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["transport"] == "dpdk" and res["setup"]["driver"] == "net_af_xdp"
    assert res["captured"]["packets"] == sum(res["sent"]["datagrams"][:2])
    assert res["recorded"]["written"] == res["captured"]["packets"] and res["recorded"]["lost"] == 0
    lat = res["transports"]["dpdk_busy"]
    assert lat["samples"] == 2 * res["sent"]["messages"] and lat["seq_gaps"] == 0
    (sess,) = res["books"]["sessions"].values()
    assert sess["messages"] == res["sent"]["messages"] and sess["lost"] == 0


@pytest.mark.privileged
def test_demo_without_root_falls_back_to_loopback(monkeypatch, tmp_path) -> None:
    from wirespeed import demo

    monkeypatch.setattr(demo, "_privileged", lambda: False)
    res = demo.run(demo.DemoOptions(duration_s=1.5, rate=2000, directory=tmp_path))
    assert "loopback" in res["where"] and any("not root" in n for n in res["notes"])
    assert res["captured"]["packets"] == res["sent"]["datagrams"][0] > 0
    assert res["transport"] == "kernel"
    assert res["transports"]["kernel_block"]["samples"] == res["sent"]["messages"]
