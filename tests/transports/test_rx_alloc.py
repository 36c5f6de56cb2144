"""The receive loops allocate nothing per packet: a capture runs with the
malloc counter of tests/alloc.py preloaded, and its ws-rx-* thread is
counted across a steady-state window while the feed runs at 20 k msg/s.

(The books' and the router's per-message paths are checked the same way in
tests/book/test_no_alloc.py; the af_xdp loop's syscalls in test_af_xdp.py.)"""
from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests import alloc
from tests.transports.test_af_xdp import _capture_proc, _rx_thread, _steady_feed, _wait_attached, needs_dpdk

pytestmark = pytest.mark.privileged


@pytest.mark.parametrize("transport,mode", [("af_xdp", "busy"), ("af_xdp", "block"),
                                            pytest.param("dpdk", "busy", marks=needs_dpdk),
                                            ("kernel", "busy"), ("kernel", "block")])
def test_receive_loop_allocates_nothing_per_packet(testbed_cfg, ring_path, alloc_shim: Path,
                                                    tmp_path: Path, transport: str, mode: str) -> None:
    tb = testbed_cfg
    group, port = "239.7.2.1", 34021
    report = tmp_path / "alloc"
    proc = _capture_proc(tb, ring_path, group, port, "--duration", "30", "--mode", mode, transport=transport,
                         env={"LD_PRELOAD": str(alloc_shim), "WS_ALLOC_REPORT": str(report)})
    try:
        if transport in ("af_xdp", "dpdk"):
            _wait_attached(tb, proc)
        tid = _rx_thread(proc.pid, f"ws-rx-{transport}", timeout=15)
        with _steady_feed(tb, ring_path, group, port, 5) as window:
            before = alloc.snapshot(proc.pid, report)
            time.sleep(3)
            after = alloc.snapshot(proc.pid, report)
    finally:
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(30)
    assert proc.returncode == 0, errs
    assert window["packets"] > 20_000, "traffic flowed through the loop while it was counted"
    assert sum(after.values()) > sum(before.values()), "the counter saw nothing in the whole process"
    grown = after.get(tid, 0) - before.get(tid, 0)
    assert grown == 0, f"{grown} allocations in {transport}/{mode}'s receive loop for {window['packets']} packets"
