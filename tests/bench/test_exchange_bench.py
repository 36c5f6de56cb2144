"""Smoke test of `wirespeed bench exchange`: every key the issue names is in
--json, the C engine and the Python reference did the same work, and (root)
the order port's round trips ran beside sockperf's (no speed asserted)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.conftest import run_cli
from wirespeed.bench import exchange as xb

KEYS = ("match_orders_per_s", "match_py_orders_per_s", "ack_rtt_us_p50", "ack_rtt_us_p99", "sockperf_tcp_rtt_us_p50")


def test_matching_part_without_the_order_port() -> None:
    res = xb.run(replace(xb.QUICK, match_ops=50_000, py_ops=5_000, peer_ops=2_000, rtt=False))
    assert all(k in res for k in KEYS)
    assert res["match_orders_per_s"] > 0 and res["match_py_orders_per_s"] > 0 and res["match_trades"] > 1000
    assert res["ack_rtt_us_p50"] is None and res["rtt_skipped"].startswith("not asked")
    assert (res["match_lme_orders_per_s"] or 0) > 0 or any("lightmatching" in m for m in res["peers_missing"])
    assert {g["key"] for g in res["goals"]} == {"match_orders_per_s", "match_over_py", "ack_rtt_over_sockperf"}


@pytest.mark.privileged
def test_bench_exchange_cli_json_on_the_test_host() -> None:
    proc = run_cli("bench", "exchange", "--quick", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    for key in KEYS:
        assert res[key] and res[key] > 0, key
    assert res["ack_rtt_us_p50"] <= res["ack_rtt_us_p99"]
    assert res["ack_rtt_n"] == 1800 and res["ack_rtt_feed_10000_n"] == 1800
