"""Smoke test of `wirespeed bench sim --quick --json` on the test host: it
runs and reports the figures the issue names (no timing asserted here)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


@pytest.mark.privileged
def test_bench_sim_reports_every_figure() -> None:
    proc = run_cli("bench", "sim", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    for key in ("sim_msgs_per_s", "sim_pps", "trafgen_pps", "sim_udp_pps", "sim_full_msgs_per_s"):
        assert res[key] and res[key] > 0, key
    assert set(res["rate_achieved_over_asked"]) == {"10000", "100000", "1000000"}
    assert res["sim_send_errors"] == 0
