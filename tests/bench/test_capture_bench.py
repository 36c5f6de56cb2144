"""Smoke test of `wirespeed bench capture` on the test host with tiny
settings: every figure the issue names is there, with a sane shape (no
timing asserted: speed belongs to the benchmark, not the tests)."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_cli
from wirespeed.bench import capture as cb

KEYS = [f"lat_us_{q}_{p}{cut}" for q in ("p50", "p99") for p in ("kernel_block", "kernel_busy", "af_xdp")
        for cut in ("", "_sent", "_gen")] + \
    [f"drain_pps_{p}" for p in ("kernel_block", "kernel_busy", "af_xdp")] + \
    [f"max_pps_{p}" for p in ("kernel_block", "kernel_busy", "af_xdp")] + \
    ["max_pps_testpmd", "record_mb_per_s", "dd_mb_per_s"]


@pytest.mark.privileged
def test_bench_capture_reports_every_figure(tmp_path) -> None:
    opts = cb.CaptureBenchOptions(lat_s=1.0, repeats=1, drain_pkts=5000, trial_s=0.5, confirm_s=1.0, bisect_steps=1,
                                  record_mb=16, record_dir=str(tmp_path))
    res = cb.run(opts)
    for key in KEYS:
        assert key in res, key
    for p in ("kernel_block", "kernel_busy", "af_xdp"):
        assert 0 < res[f"lat_us_p50_{p}"] <= res[f"lat_us_p99_{p}"]
        # the two cuts are of one latency: each is below the whole (medians of parts need not add up)
        assert 0 < res[f"lat_us_p50_{p}_sent"] < res[f"lat_us_p50_{p}"]
        assert 0 < res[f"lat_us_p50_{p}_gen"] < res[f"lat_us_p50_{p}"]
        assert all(r["unstamped"] == 0 for r in res[f"lat_runs_{p}"]), p
        assert res[f"drain_{p}"]["queued_and_drained"] == res[f"drain_{p}"]["sent"], p  # nothing lost filling
        assert res[f"drain_pps_{p}"] > 0
        assert res[f"max_rate_{p}"]["ceilings"], p
    if shutil.which("dpdk-testpmd"):
        assert res["max_rate_testpmd"]["ceilings"][0]["received"] > 0
    else:
        assert "peers_missing" in res
    assert res["record_lost"] == 0 and res["record_mb_per_s"] > 0 and res["dd_mb_per_s"] > 0
    assert {g["key"] for g in res["goals"]} >= {"lat_p50_kernel_block_over_af_xdp", "drain_af_xdp_over_kernel",
                                                 "max_pps_af_xdp_over_testpmd", "record_over_dd"}
    assert not list(tmp_path.iterdir()), "nothing left behind"


def test_bench_capture_help_teaches() -> None:
    proc = run_cli("bench", "capture", "--help", check_rc=0)
    assert "testpmd" in proc.stdout and "--quick" in proc.stdout


def test_batch_cost_leaves_out_a_stall() -> None:
    """Batches of 64 at 100 ns a packet, one of them stalled 2 ms: the
    median cost is the running cost; a wall-clock rate would be 2.6x off."""
    import numpy as np

    starts = np.cumsum([0] + [6_400] * 50)
    starts[25:] += 2_000_000
    ts = np.repeat(starts, 64)
    cost, batches = cb.batch_cost_ns(ts)
    assert batches == 51 and cost == 100.0
    assert cb.batch_cost_ns(ts[:64 * 5]) == (None, 5)
