"""Smoke test of `wirespeed bench ring --quick --json`: it runs and reports
every figure the issue names. No timing is asserted here (the machine is
shared); the figures themselves are for `wirespeed bench ring`."""
from __future__ import annotations

import json
import threading
import time

import numpy as np

from tests.conftest import run_cli
from wirespeed import _native
from wirespeed.bench.common import tsc_hz
from wirespeed.ring import Ring, RingWriter

KEYS = ["ring_c_rec_per_s", "ring_py_rec_per_s", "pingpong_ns_p50", "ring_lat_ns_p50", "ring_lat_ns_p99",
        "peer_mp_queue_rec_per_s", "peer_faster_fifo_rec_per_s", "peer_pyzmq_ipc_rec_per_s"]


def test_bench_ring_reports_every_figure() -> None:
    proc = run_cli("bench", "ring", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    for key in KEYS:
        assert res[key] is not None and res[key] > 0, key
    assert res["ring_c_lost"] >= 0
    # every latency figure is a possible one; the impossible samples are counted, not averaged in
    assert 0 < res["ring_lat_ns_max"] <= 100e9 and res["ring_lat_impossible"] >= 0 and res["ring_lat_samples"] > 0
    assert {g["key"] for g in res["goals"]} >= {"ring_c_rec_per_s", "ring_lat_over_pingpong"}


def test_c_reader_leaves_out_receipts_stamped_before_the_record(ring_path) -> None:
    """The bench's C reader stamps receipt with the TSC; a record stamped
    later than its receipt (the writer's core's TSC ahead of the reader's)
    gives no latency sample: it is counted as impossible, not wrapped."""
    Ring.create(ring_path, size="1M")
    lat = np.zeros(8, dtype=np.uint64)
    out: list = []
    timeout_ticks = int(tsc_hz() * 5)
    reader = threading.Thread(target=lambda: out.append(_native.bench_ring_reader(ring_path, 3, timeout_ticks, lat)))
    with RingWriter(ring_path) as w:
        reader.start()
        time.sleep(0.3)  # the reader joins at `latest`
        now = _native.tsc()
        w.append(b"past", ts_ns=now - 1000)
        w.append(b"future", ts_ns=now + (1 << 62))
        w.append(b"past again", ts_ns=now - 2000)
        reader.join(10)
    got, lost, _elapsed, samples, impossible = out[0]
    assert (got, lost, samples, impossible) == (3, 0, 2, 1)
    assert all(0 < v < 1 << 40 for v in lat[:samples])
