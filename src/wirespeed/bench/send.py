"""`wirespeed bench send`: one-way send latency, sender's trigger -> the
receiving kernel's socket, over the test host's veth.

Every path sends the same pre-encoded 50-byte message (an Enter Order's
size with its SoupBinTCP header), stamped (CLOCK_REALTIME) just before it is
handed over, from this namespace to a socket in the test host that stamps
arrivals with the kernel's software receive stamp (SO_TIMESTAMPING):

  * kernel_tcp: send() on a connected TCP socket (TCP_NODELAY, SO_BUSY_POLL)
  * af_xdp_tcp: the same bytes through wirespeed's own TCP over AF_XDP
    (native/transports/tcp_xsk.c: into the send buffer, then a send frame
    armed with the connection's headers, patched, one descriptor, a kick)
  * xdp_probe: the same connection, the same bytes fired as a bare segment
    from a pre-armed frame (ws_tcp_xsk_probe: no queueing, no window loop),
    to the same receiving socket: what the TCP layer itself costs is
    af_xdp_tcp over this
  * kernel_udp: send() on a connected UDP socket
  * af_xdp_udp: a pre-armed UDP frame from an AF_XDP socket's UMEM
    (native/transports/tx_xsk.c: headers and checksum constants built at
    open; a send patches the lengths and checksums and pushes one
    descriptor; veth is copy mode, so every send kicks with a sendto)

The user-space TCP's sends are followed (outside the figure: after the
receiver has stamped) by a poll of the connection, which takes the ACKs of
earlier messages.

Runs alternate path by path; the first tenth of each is warm-up. On veth the
receiving kernel's work runs in the sender's send call, so every figure
holds the receive path too: a zero-copy NIC would take the kernel out of
af_xdp's send (no kick syscall when the driver does not ask for one, the
frame DMA'd from the UMEM) and leave the receiver's work to the receiver.
"""
from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.bench.common import Goal, goals_report
from wirespeed.errors import WirespeedError

GOALS = [Goal("user-space TCP p50 / kernel TCP p50: kernel over af_xdp_tcp", "send_kernel_tcp_over_af_xdp_tcp",
              ">=", 1.5),
         Goal("user-space TCP p99 no worse than kernel TCP p99", "send_p99_kernel_tcp_over_af_xdp_tcp", ">=", 1.0),
         Goal("user-space TCP p50 / bare AF_XDP probe p50 (the TCP layer's cost)", "send_af_xdp_tcp_over_xdp_probe",
              "<=", 1.3),
         Goal("pre-armed AF_XDP UDP p50 / kernel UDP send() p50: kernel over af_xdp", "send_kernel_udp_over_af_xdp_udp",
              ">=", 1.5)]
PATHS = ("kernel_tcp", "af_xdp_tcp", "xdp_probe", "kernel_udp", "af_xdp_udp")
TCP_PATHS = ("kernel_tcp", "af_xdp_tcp", "xdp_probe")
SO_BUSY_POLL = 46
RX_PORT = 15995
SO_TIMESTAMPING, SCM_TIMESTAMPING = 37, 37
SOF_RX_SOFTWARE, SOF_SOFTWARE = 1 << 3, 1 << 4


@dataclass(frozen=True)
class SendBenchOptions:
    n: int = 4_000          # messages per run and path
    rate: float = 2_000.0   # messages per second
    repeats: int = 3


QUICK = SendBenchOptions(n=1_000, repeats=1)


def _stamp(anc: list[tuple[int, int, bytes]]) -> int:
    for level, kind, val in anc:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPING:
            sec, nsec = struct.unpack_from("qq", val, 0)
            return sec * 1_000_000_000 + nsec
    return 0


def _receive(sock: socket.socket, stream: bool, rx: dict[int, int]) -> None:
    """Read messages until the sender is done: message i's kernel receive stamp into rx[i]."""
    buf = b""
    while True:
        try:
            data, anc, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(48))
        except OSError:
            return
        if not data:
            return
        stamp = _stamp(anc)
        if not stream:
            if len(data) >= 11:
                rx[struct.unpack_from(">Q", data, 3)[0]] = stamp
            if data[:3] == b"END":
                return
            continue
        buf += data
        while len(buf) >= 50:
            rx[struct.unpack_from(">Q", buf, 3)[0]] = stamp
            buf = buf[50:]


def oneway(tb: Any, path: str, n: int, rate: float) -> np.ndarray:
    """One run of one path: receive stamp - send stamp, ns, warm-up left out."""
    from wirespeed.system import netns

    stream = path in TCP_PATHS
    with netns.entered(tb.netns):
        if stream:
            srv = socket.create_server((tb.peer_addr, RX_PORT))
        else:
            srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            srv.bind((tb.peer_addr, RX_PORT))
    rx: dict[int, int] = {}

    def serve() -> None:
        conn = srv.accept()[0] if stream else srv
        conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, SOF_RX_SOFTWARE | SOF_SOFTWARE)
        _receive(conn, stream, rx)
        if stream:
            conn.close()

    if not stream:  # stamps on before the first datagram can arrive
        srv.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, SOF_RX_SOFTWARE | SOF_SOFTWARE)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    tx = np.zeros(n, dtype=np.uint64)
    gap = int(1e9 / rate)
    try:
        with srv:
            if path in ("af_xdp_tcp", "xdp_probe"):
                e = _user_tcp(tb, gap, tx, probe=path == "xdp_probe")
            elif path == "af_xdp_udp":
                sender = _udp_tx(tb)
                try:
                    e = _native.bench_oneway(sender, gap, tx)
                    st = sender.stats()
                finally:
                    sender.close()
                if st["no_frame"] or st["kick_errors"]:
                    raise WirespeedError(f"the AF_XDP sender refused frames: {st}")
            else:
                kind = socket.SOCK_STREAM if stream else socket.SOCK_DGRAM
                with socket.socket(socket.AF_INET, kind) as c:
                    if stream:
                        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        c.setsockopt(socket.SOL_SOCKET, SO_BUSY_POLL, 50)
                    c.connect((tb.peer_addr, RX_PORT))
                    e = _native.bench_oneway(c.fileno(), gap, tx)
                    if not stream:
                        c.send(b"END")
                    else:
                        c.shutdown(socket.SHUT_WR)
            if e:
                raise WirespeedError(f"{path}: the sender failed: {os.strerror(e)}")
            if path == "af_xdp_udp":  # the END marker, through the kernel: the frames went first
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                    c.sendto(b"END", (tb.peer_addr, RX_PORT))
            t.join(10)
    finally:
        t.join(1)
    got = np.array([rx[i] - int(tx[i]) for i in range(n) if rx.get(i)], dtype=np.int64)
    if len(got) < n * 0.99:
        raise WirespeedError(f"{path}: {n - len(got)} of {n} messages never arrived")
    return got[len(got) // 10:]


def _user_tcp(tb: Any, gap: int, tx: np.ndarray, probe: bool) -> int:
    """The user-space TCP's run: connect, send (or probe) every message, close with a FIN."""
    import time

    from wirespeed.transports.tcp_xsk import UserTcp

    with UserTcp(tb.peer_addr, RX_PORT) as u:
        c = u.conn
        c.connect()
        end = time.monotonic() + 5
        while c.stats()["state"] != "established":
            if time.monotonic() > end:
                raise WirespeedError(f"the user-space TCP did not connect: {c.stats()}")
            c.poll()
        e = _native.bench_oneway(c, gap, tx, probe)
        st = c.stats()
        c.close()
        while c.stats()["state"] not in ("time_wait", "closed") and time.monotonic() < end + 10:
            c.poll()
    if st["no_frame"] or st["kick_errors"] or st["retransmits"]:
        raise WirespeedError(f"the user-space TCP did not send cleanly: {st}")
    return int(e)


def _udp_tx(tb: Any) -> Any:
    """A pre-armed AF_XDP sender from the host's side of the veth to the test host's socket."""
    from wirespeed.exchange.sim import _mac
    from wirespeed.system import netns

    with netns.entered(tb.netns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        dmac = _mac(s, tb.peer_if)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        smac = _mac(s, tb.host_if)
    try:
        tx = _native.UdpTx(socket.if_nametoindex(tb.host_if), 0, 256)
        tx.flow(dmac, smac, tb.host_addr, tb.peer_addr, 40999, RX_PORT)
        return tx
    except OSError as exc:
        raise WirespeedError(f"cannot open an AF_XDP sending socket on {tb.host_if}: {exc}",
                             "wirespeed doctor says what this host can do") from None


def run(opts: SendBenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from wirespeed.host import testbed

    def step(msg: str) -> None:
        if progress:
            progress(msg)

    res: dict[str, Any] = {"n": opts.n, "rate": opts.rate, "repeats": opts.repeats, "message_bytes": 50}
    if os.geteuid() != 0:
        res["send_skipped"] = "needs root: the test host (network namespace, veth, AF_XDP)"
        res["goals"] = goals_report(GOALS, res)
        return res
    runs: dict[str, list[np.ndarray]] = {p: [] for p in PATHS}
    with testbed.provided(step) as tb:
        for i in range(opts.repeats):
            for p in PATHS:
                step(f"{p}, {opts.n:,} messages at {opts.rate:,.0f}/s, run {i + 1}/{opts.repeats}")
                runs[p].append(oneway(tb, p, opts.n, opts.rate))
    for p, rs in runs.items():
        allp = np.concatenate(rs)
        q = np.percentile(allp, [50, 90, 99, 99.9]) / 1000
        res.update({f"send_us_p50_{p}": float(q[0]), f"send_us_p90_{p}": float(q[1]),
                    f"send_us_p99_{p}": float(q[2]), f"send_us_p999_{p}": float(q[3]), f"send_n_{p}": int(len(allp)),
                    f"send_us_p50_runs_{p}": [float(np.percentile(r, 50) / 1000) for r in rs]})
    res["send_kernel_tcp_over_af_xdp_tcp"] = res["send_us_p50_kernel_tcp"] / res["send_us_p50_af_xdp_tcp"]
    res["send_p99_kernel_tcp_over_af_xdp_tcp"] = res["send_us_p99_kernel_tcp"] / res["send_us_p99_af_xdp_tcp"]
    res["send_af_xdp_tcp_over_xdp_probe"] = res["send_us_p50_af_xdp_tcp"] / res["send_us_p50_xdp_probe"]
    res["send_kernel_udp_over_af_xdp_udp"] = res["send_us_p50_kernel_udp"] / res["send_us_p50_af_xdp_udp"]
    res["send_p99_kernel_udp_over_af_xdp_udp"] = res["send_us_p99_kernel_udp"] / res["send_us_p99_af_xdp_udp"]
    res["goals"] = goals_report(GOALS, res)
    return res
