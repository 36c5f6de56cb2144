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

KEYS = ["ring_c_rec_per_s", "ring_c_lossfree_rec_per_s", "ring_probe_rec_per_s", "ring_lossfree_over_probe",
        "ring_py_rec_per_s", "pingpong_ns_p50", "ring_lat_ns_p50", "ring_lat_ns_p99",
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
    assert res["ring_c_rec_per_s"] == res["ring_c_lossfree_rec_per_s"]
    for search in (res["ring_c_search"][0], res["ring_probe_search"][0]):  # the rate is a loss-free trial's
        trials = [search["flat_out"], *search["trials"]]
        assert any(t["lost"] == 0 and t["rate"] == search["rate"] for t in trials)
    assert {g["key"] for g in res["goals"]} >= {"ring_c_rec_per_s", "ring_lat_over_pingpong",
                                                 "ring_lossfree_over_probe"}


def test_loss_free_search_keeps_the_best_trial_without_loss() -> None:
    """A reader that loses above 12 M/s: the flat-out trial loses, the search
    keeps the fastest achieved rate of a trial that lost nothing."""
    from wirespeed.bench.ring import lossfree_rate

    def trial(rate):
        achieved = 20e6 if rate is None else rate * 0.99
        return {"rate": achieved, "got": 1000, "lost": 5 if achieved > 12e6 else 0}

    res = lossfree_rate(trial, 6)
    assert 11e6 < res["rate"] <= 12e6 and res["flat_out"]["lost"] == 5 and len(res["trials"]) == 6
    assert lossfree_rate(lambda rate: {"rate": 30e6, "got": 10, "lost": 0}, 6) == {
        "flat_out": {"rate": 30e6, "got": 10, "lost": 0}, "trials": [], "rate": 30e6}
    assert lossfree_rate(lambda rate: {"rate": 1.0, "got": 10, "lost": 1}, 3)["rate"] is None


def test_lines_probe_counts_what_it_missed(tmp_path) -> None:
    """The probe's reader started after the writer has lapped the buffer
    misses what was overwritten, and says so; following it, it misses nothing."""
    import mmap

    buf = mmap.mmap(-1, 64 * 1024)
    assert _native.bench_lines_writer(buf, 5000, 0) > 0  # 5000 lines into 1024: lapped
    got, lost, _el = _native.bench_lines_reader(buf, 5000, int(tsc_hz() * 0.2))
    assert got + lost == 5000 and got <= 1024 and lost >= 5000 - 1024
    try:
        _native.bench_lines_reader(mmap.mmap(-1, 64 * 1000), 10, 1)
    except ValueError as exc:
        assert "power of two" in str(exc)
    else:
        raise AssertionError("a buffer of 1000 lines was taken")


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
