"""Smoke test of `wirespeed bench trade`: every key the issue names is in
--json, every path's orders were matched by the exchange to the packets that
triggered them, and the floors were measured in the same run (no speed
asserted: that is the benchmark's job, judged by its goals)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from wirespeed.bench import trade as tb

KEYS = ("t2t_us_p50_af_xdp_c", "t2t_us_p99_af_xdp_c", "t2t_us_p50_kernel_c", "t2t_us_p99_kernel_c",
        "t2t_us_p50_python", "t2t_us_p99_python", "floor_us_p50", "risk_ns_p50")


def test_the_risk_part_runs_anywhere() -> None:
    import numpy as np

    from wirespeed import _native

    out = np.zeros(1000)
    assert _native.bench_risk(out) == 0 and 0 < np.percentile(out, 50) < 10_000
    assert {g.key for g in tb.GOALS} == {"t2t_over_floor", "t2t_python_over_af_xdp_c",
                                           "t2t_kernel_c_over_af_xdp_c", "risk_ns_p50"}


@pytest.mark.privileged
def test_bench_trade_cli_json_on_the_test_host() -> None:
    proc = run_cli("bench", "trade", "--quick", "--json", timeout=400)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    for key in KEYS:
        assert res[key] and res[key] > 0, key
    for p in tb.PATHS:
        info = res[f"t2t_info_{p}"][0]
        assert info["orders"] > 100 and info["port_orders"] == info["orders"], info
        assert info["matched"] >= 0.85 * info["orders"]  # all but the warm-up tenth tie back to a packet
        assert res[f"t2t_us_p50_{p}"] <= res[f"t2t_us_p99_{p}"]
    assert res["floor_tcp_n"] > 500 and res["floor_rx_us_p50"] > 0
