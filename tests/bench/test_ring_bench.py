"""Smoke test of `wirespeed bench ring --quick --json`: it runs and reports
every figure the issue names. No timing is asserted here (the machine is
shared); the figures themselves are for `wirespeed bench ring`."""
from __future__ import annotations

import json

from tests.conftest import run_cli

KEYS = ["ring_c_rec_per_s", "ring_py_rec_per_s", "pingpong_ns_p50", "ring_lat_ns_p50", "ring_lat_ns_p99",
        "peer_mp_queue_rec_per_s", "peer_faster_fifo_rec_per_s", "peer_pyzmq_ipc_rec_per_s"]


def test_bench_ring_reports_every_figure() -> None:
    proc = run_cli("bench", "ring", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    for key in KEYS:
        assert res[key] is not None and res[key] > 0, key
    assert res["ring_c_lost"] >= 0
    assert {g["key"] for g in res["goals"]} >= {"ring_c_rec_per_s", "ring_lat_over_pingpong"}
