"""Pre-armed UDP frames through AF_XDP (native/transports/tx_xsk.c) on the test
host: every datagram arrives whole at a kernel socket - which checks the IPv4
and UDP checksums the sender patched instead of computing - in every size
from empty to the frame's limit, odd and even, after the frames have gone
round the UMEM many times; what cannot be sent is refused and counted."""
from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import run_cli
from wirespeed import _native
from wirespeed.exchange.sim import _mac
from wirespeed.system import netns

pytestmark = pytest.mark.privileged


def _macs(tb) -> tuple[bytes, bytes]:
    """(the test host's side's MAC, this side's)."""
    with netns.entered(tb.netns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        dmac = _mac(s, tb.peer_if)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return dmac, _mac(s, tb.host_if)


def _pair(tb, port: int):
    with netns.entered(tb.netns):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        rx.bind((tb.peer_addr, port))
    dmac, smac = _macs(tb)
    tx = _native.UdpTx(socket.if_nametoindex(tb.host_if), 0, 64)
    assert tx.flow(dmac, smac, tb.host_addr, tb.peer_addr, 41000, port) == 0
    return tx, rx


def test_every_size_arrives_whole_and_checksums_hold(testbed_cfg) -> None:
    tx, rx = _pair(testbed_cfg, 17301)
    try:
        sizes = [0, 1, 2, 3, 7, 8, 49, 50, 51, 255, 256, 1000, 1471, 1472]  # 1472: the MTU's 1500 - 28
        payloads = [bytes((i * 7 + k) & 0xFF for k in range(n)) for i, n in enumerate(sizes * 20)]  # 280 > 64 frames
        for p in payloads:
            assert tx.send(p) == 0
        rx.settimeout(2)
        got = [rx.recv(4096) for _ in payloads]
        assert got == payloads
        assert tx.send(b"x" * 1473) == -90  # EMSGSIZE: past the MTU, veth would drop it without a word
        st = tx.stats()
        assert (st["sent"], st["completed"], st["no_frame"], st["too_big"], st["kick_errors"]) == (280, 280, 0, 1, 0)
        assert st["free"] == 64  # every frame back
    finally:
        tx.close()
        rx.close()


def test_two_flows_on_one_sender(testbed_cfg) -> None:
    """One socket per queue: a feed's A and B lines are two flows of one sender; a
    frame that carried the other flow gets its headers written again (counted)."""
    tx, rx = _pair(testbed_cfg, 17303)
    with netns.entered(testbed_cfg.netns):
        rx2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx2.bind((testbed_cfg.peer_addr, 17304))
    try:
        dmac, smac = _macs(testbed_cfg)
        assert tx.flow(dmac, smac, testbed_cfg.host_addr, testbed_cfg.peer_addr, 41001, 17304) == 1
        for i in range(200):
            assert tx.send(b"A%04d" % i, 0) == 0 and tx.send(b"B%04d" % i, 1) == 0
        assert tx.send(b"x", 2) == -22  # EINVAL: no such flow
        rx.settimeout(2)
        rx2.settimeout(2)
        assert [rx.recv(100) for _ in range(200)] == [b"A%04d" % i for i in range(200)]
        assert [rx2.recv(100) for _ in range(200)] == [b"B%04d" % i for i in range(200)]
        assert tx.stats()["headers_written"] > 0
    finally:
        tx.close()
        rx.close()
        rx2.close()


def test_a_closed_sender_refuses(testbed_cfg) -> None:
    tx, rx = _pair(testbed_cfg, 17302)
    tx.close()
    rx.close()
    with pytest.raises(RuntimeError, match="closed"):
        tx.send(b"x")


def test_bench_send_cli_json_on_the_test_host() -> None:
    p = run_cli("bench", "send", "--quick", "--json", timeout=180)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    for path in ("kernel_tcp", "af_xdp_tcp", "xdp_probe", "kernel_udp", "af_xdp_udp"):
        assert res[f"send_n_{path}"] == 900 and 0 < res[f"send_us_p50_{path}"] <= res[f"send_us_p99_{path}"]
    for key in ("send_kernel_udp_over_af_xdp_udp", "send_kernel_tcp_over_af_xdp_tcp", "send_af_xdp_tcp_over_xdp_probe"):
        assert res[key] > 0


SENDS = r"""
import ctypes, socket
import numpy as np
from wirespeed import _native
count = ctypes.CDLL(None).ws_malloc_count
count.restype = ctypes.c_ulong
tx = _native.UdpTx(socket.if_nametoindex(IFACE), 0, 64)
tx.flow(DMAC, SMAC, SRC, DST, 41002, 17305)
stamps = np.zeros(5000, dtype=np.uint64)
_native.bench_oneway(tx, 1000, stamps[:100])          # warm: the first sends
before = count()
assert _native.bench_oneway(tx, 1000, stamps) == 0    # 5,000 pre-armed sends, one every microsecond
print("mallocs", count() - before, tx.stats()["sent"])
"""


def test_sending_allocates_nothing(testbed_cfg, alloc_shim) -> None:
    """A malloc counter across 5,000 sends (C loop, frames recycled through the
    completion ring many times over): none."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    tb = testbed_cfg
    dmac, smac = _macs(tb)
    code = (f"IFACE = {tb.host_if!r}\nDMAC = {dmac!r}\nSMAC = {smac!r}\nSRC = {tb.host_addr!r}\n"
            f"DST = {tb.peer_addr!r}\n" + SENDS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, LD_PRELOAD=str(alloc_shim), PYTHONPATH=f"{REPO / 'src'}:{REPO}"))
    assert out.returncode == 0, out.stderr[-2000:]
    _, mallocs, sent = out.stdout.split()
    assert int(sent) == 5100 and int(mallocs) == 0
