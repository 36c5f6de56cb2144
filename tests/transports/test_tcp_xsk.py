"""The user-space TCP (native/transports/tcp_xsk.c) against the kernel's TCP
on the test host: the kernel is the judge. Byte streams come back
identical over 10^6 messages, with loss injected both ways; the peer's
close, reset and closed window; a refused connect; and a client killed
with kill -9 leaves no XDP program behind and a peer that is reset, not
left hanging."""
from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import wait_until
from wirespeed.system import netns
from wirespeed.transports.tcp_xsk import UserTcp
from wirespeed.xdp.lossy import Lossy

pytestmark = pytest.mark.privileged

_ports = iter(range(17400, 17500))


@contextmanager
def _server(tb, handler: Callable[[socket.socket], None]) -> Iterator[int]:
    """A kernel TCP listener in the test host; each connection to `handler` in a thread."""
    port = next(_ports)
    with netns.entered(tb.netns):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((tb.peer_addr, port))
        srv.listen(4)
    threads: list[threading.Thread] = []

    def accept() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            th = threading.Thread(target=handler, args=(c,), daemon=True)
            th.start()
            threads.append(th)

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield port
    finally:
        srv.close()
        for th in threads:
            th.join(5)


def _echo(c: socket.socket) -> None:
    with c:
        while True:
            try:
                d = c.recv(1 << 16)
            except OSError:
                return
            if not d:
                return
            c.sendall(d)


def _connect(u: UserTcp) -> None:
    u.conn.connect()
    wait_until(lambda: (u.conn.poll(), u.conn.stats()["state"])[1] == "established", "the handshake", 5)


def _pump(u: UserTcp, out: bytes, timeout: float = 120) -> bytes:
    """Send `out` in chunks as the send buffer takes them, and read the echo until it is whole."""
    c, got, sent, deadline = u.conn, bytearray(), 0, time.monotonic() + timeout
    while len(got) < len(out):
        assert time.monotonic() < deadline, f"echo stalled at {len(got)} of {len(out)}: {c.stats()}"
        if sent < len(out):
            n = c.send(out[sent:sent + 8192])
            if n > 0:
                sent += n
        c.poll()
        while (d := c.recv()) is not None:
            assert d, "the peer closed mid-stream"
            got += d
    return bytes(got)


def _messages(n: int, seed: int) -> bytes:
    """n SoupBinTCP-shaped messages of 1..80 bytes each (length-prefixed), random content."""
    rnd = random.Random(seed)
    parts = []
    for _ in range(n):
        body = rnd.randbytes(rnd.randint(1, 80))
        parts.append(struct.pack("!H", len(body)) + body)
    return b"".join(parts)


def test_handshake_negotiates_and_a_close_from_either_side(testbed_cfg) -> None:
    with _server(testbed_cfg, _echo) as port, UserTcp(testbed_cfg.peer_addr, port) as u:
        _connect(u)
        st = u.conn.stats()
        assert st["mss"] == 1460 and st["rcv_wscale"] == 3 and st["snd_wscale"] > 0 and st["srtt_us"] > 0
        assert _pump(u, b"hello, exchange") == b"hello, exchange"
        u.conn.close()  # our FIN first: the echo server then closes too
        wait_until(lambda: (u.conn.poll(), u.conn.stats()["state"])[1] == "time_wait", "both FINs", 5)
        assert u.conn.recv() == b""

    def close_first(c: socket.socket) -> None:
        c.sendall(b"bye")
        c.close()

    with _server(testbed_cfg, close_first) as port, UserTcp(testbed_cfg.peer_addr, port) as u:
        _connect(u)
        wait_until(lambda: (u.conn.poll(), u.conn.stats()["state"])[1] == "close_wait", "the peer's FIN", 5)
        assert u.conn.recv() == b"bye" and u.conn.recv() == b""
        u.conn.close()
        wait_until(lambda: (u.conn.poll(), u.conn.stats()["end"])[1] == "closed", "our FIN acked", 5)


def test_a_million_messages_come_back_identical(testbed_cfg) -> None:
    out = _messages(1_000_000, seed=1)
    with _server(testbed_cfg, _echo) as port, UserTcp(testbed_cfg.peer_addr, port) as u:
        _connect(u)
        got = _pump(u, out)
        assert hashlib.sha256(got).digest() == hashlib.sha256(out).digest()
        st = u.conn.stats()
        assert st["bytes_out"] == st["bytes_in"] == len(out)
        assert st["bad_csum"] == st["malformed"] == st["foreign"] == 0


def test_loss_both_ways_delivers_everything_once(testbed_cfg) -> None:
    """2 % of the segments to the exchange dropped at its end of the veth (an
    XDP program there), and 2 % of those coming back dropped as they reach
    the user-space TCP; 2 % each way reordered too: the streams still come
    back whole, in order, once."""
    out = _messages(40_000, seed=2)
    with _server(testbed_cfg, _echo) as port, \
            Lossy(testbed_cfg.peer_if, 20_000, 6, port, netns=testbed_cfg.netns) as loss, \
            UserTcp(testbed_cfg.peer_addr, port, rx_drop_ppm=20_000, rx_reorder_ppm=20_000,
                    tx_reorder_ppm=20_000) as u:
        _connect(u)
        got = _pump(u, out)
        assert got == out
        st = u.conn.stats()
        seen, dropped = loss.counts()
        assert dropped > 0 and st["injected_drops"] > 0
        assert st["retransmits"] > 0 and st["fast_retransmits"] + st["rto_expiries"] > 0
        assert st["out_of_order"] > 0 and st["dup_acks_out"] > 0  # the exchange's segments after a lost one
        assert st["bytes_in"] == len(out)  # each byte taken once: duplicates were recognised as old


def test_reordering_both_ways_without_loss(testbed_cfg) -> None:
    """5 % of the segments each way swapped with the next (held back by the
    user-space TCP's fault injection, on its way out and on its way in): no
    byte is lost or doubled; the kernel's side sees its own out-of-order
    arrivals, ours are held past the hole and joined."""
    out = _messages(30_000, seed=5)
    with _server(testbed_cfg, _echo) as port, \
            UserTcp(testbed_cfg.peer_addr, port, rx_reorder_ppm=50_000, tx_reorder_ppm=50_000) as u:
        _connect(u)
        assert _pump(u, out) == out
        st = u.conn.stats()
        assert st["injected_reorders"] > 20 and st["out_of_order"] > 0 and st["ooo_dropped"] == 0
        assert st["bytes_in"] == st["bytes_out"] == len(out)


def test_the_peers_closed_window_is_waited_out(testbed_cfg) -> None:
    """A slow reader: the exchange reads nothing for a while, its window
    closes, the sender probes and sends the rest when it opens."""
    out = _messages(200_000, seed=3)  # ~8 MB: far past the kernel's receive buffer
    release = threading.Event()
    got = bytearray()

    def slow(c: socket.socket) -> None:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        release.wait(10)
        with c:
            while len(got) < len(out):
                d = c.recv(1 << 16)
                if not d:
                    return
                got.extend(d)

    with _server(testbed_cfg, slow) as port, UserTcp(testbed_cfg.peer_addr, port) as u:
        _connect(u)
        sent, deadline = 0, time.monotonic() + 60
        while sent < len(out) and time.monotonic() < deadline:
            n = u.conn.send(out[sent:sent + 8192])
            sent += max(n, 0)
            u.conn.poll()
            if u.conn.stats()["zero_window_waits"] and not release.is_set():
                end = time.monotonic() + 1.0  # a few probes while it stays closed
                while time.monotonic() < end:
                    u.conn.poll()
                release.set()
        release.set()
        wait_until(lambda: (u.conn.poll(), len(got))[1] == len(out), "the slow reader has it all", 30)
        assert bytes(got) == out
        st = u.conn.stats()
        assert st["zero_window_waits"] > 0 and st["zero_window_probes"] > 0 and st["unacked"] == 0


def test_a_reset_from_the_peer_ends_the_connection(testbed_cfg) -> None:
    def reset(c: socket.socket) -> None:
        c.recv(16)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # linger 0: RST

    with _server(testbed_cfg, reset) as port, UserTcp(testbed_cfg.peer_addr, port) as u:
        _connect(u)
        assert u.conn.send(b"x") == 1
        wait_until(lambda: (u.conn.poll(), u.conn.stats()["end"])[1] == "reset", "the reset", 5)
        with pytest.raises(ConnectionResetError):
            u.conn.recv()
        assert u.conn.send(b"y") < 0 and u.conn.stats()["resets_in"] == 1


def test_a_refused_connect_and_our_own_reset(testbed_cfg) -> None:
    port = next(_ports)  # nobody listens
    with UserTcp(testbed_cfg.peer_addr, port) as u:
        u.conn.connect()
        wait_until(lambda: (u.conn.poll(), u.conn.stats()["end"])[1] == "refused", "the RST to our SYN", 5)
        with pytest.raises(ConnectionRefusedError):
            u.conn.recv()
    seen: list[bytes | Exception] = []

    def watch(c: socket.socket) -> None:
        try:
            seen.append(c.recv(16))
        except OSError as exc:
            seen.append(exc)

    with _server(testbed_cfg, watch) as port, UserTcp(testbed_cfg.peer_addr, port) as u:
        _connect(u)
        u.conn.abort()
        wait_until(lambda: bool(seen), "the peer hears of it", 5)
        assert isinstance(seen[0], ConnectionResetError)


KILLED = r"""
import sys, time
from wirespeed.transports.tcp_xsk import UserTcp
u = UserTcp(sys.argv[1], int(sys.argv[2]))
u.conn.connect()
while u.conn.stats()["state"] != "established":
    u.conn.poll()
u.conn.send(b"alive")
print("up", flush=True)
while True:
    u.conn.poll()
"""


def test_kill_9_leaves_nothing_behind_and_the_peer_is_reset(testbed_cfg) -> None:
    conns: list[socket.socket] = []
    with _server(testbed_cfg, conns.append) as port:
        p = subprocess.Popen([sys.executable, "-c", KILLED, testbed_cfg.peer_addr, str(port)],
                             stdout=subprocess.PIPE, text=True)
        try:
            assert p.stdout is not None and p.stdout.readline().strip() == "up"
            wait_until(lambda: bool(conns), "the exchange's side", 5)
            c = conns[0]
            c.settimeout(5)
            assert c.recv(16) == b"alive"
        finally:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        from pyroute2 import IPRoute

        with IPRoute() as ipr:  # the bpf_link went with the process: no program on the interface
            link = ipr.link("get", index=socket.if_nametoindex(testbed_cfg.host_if))[0]
            xdp = link.get_attr("IFLA_XDP")
            assert xdp is None or not xdp.get_attr("IFLA_XDP_PROG_ID")
        # the exchange's next segment reaches our kernel, which knows no such connection: a reset
        c.sendall(b"still there?")
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            for _ in range(50):
                c.sendall(b"?")
                time.sleep(0.02)
        c.close()


TCP_SENDS = r"""
import ctypes, sys, time
import numpy as np
from wirespeed import _native
from wirespeed.transports.tcp_xsk import UserTcp
try:
    count = ctypes.CDLL(None).ws_malloc_count
    count.restype = ctypes.c_ulong
except AttributeError:  # under strace, without the counter
    count = lambda: 0
u = UserTcp(sys.argv[1], int(sys.argv[2]))
u.conn.connect()
while u.conn.stats()["state"] != "established":
    u.conn.poll()
stamps = np.zeros(5000, dtype=np.uint64)
_native.bench_oneway(u.conn, 20000, stamps[:100])       # warm: the first sends
before = count()
assert _native.bench_oneway(u.conn, 20000, stamps) == 0  # 5,000 sends through the TCP, each polled after
print("mallocs", count() - before, u.conn.stats()["bytes_out"], u.conn.stats()["retransmits"], flush=True)
"""


def test_the_send_path_allocates_nothing_and_makes_one_syscall(testbed_cfg, alloc_shim, tmp_path) -> None:
    """A malloc counter across 5,000 sends with their ACKs taken (C loop): none.
    strace across the same: the only syscall per send is the kick (sendto:
    veth is copy mode, so the kernel always asks for one) - no other."""
    import shutil

    from tests.conftest import REPO

    got = bytearray()

    def sink(c: socket.socket) -> None:
        with c:
            while d := c.recv(1 << 16):
                got.extend(d)

    with _server(testbed_cfg, sink) as port:
        env = dict(os.environ, LD_PRELOAD=str(alloc_shim), PYTHONPATH=f"{REPO / 'src'}:{REPO}")
        out = subprocess.run([sys.executable, "-c", TCP_SENDS, testbed_cfg.peer_addr, str(port)],
                             capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        _, mallocs, sent, retrans = out.stdout.split()
        assert int(mallocs) == 0 and int(sent) == 5100 * 50 and int(retrans) == 0
        wait_until(lambda: len(got) == 5100 * 50, "the exchange has every byte")
        if shutil.which("strace") is None:
            pytest.skip("strace is not installed (setup.sh installs it)")
        trace = tmp_path / "trace"
        out = subprocess.run(["strace", "-f", "-c", "-o", str(trace), sys.executable, "-c", TCP_SENDS,
                              testbed_cfg.peer_addr, str(port)], capture_output=True, text=True, timeout=120,
                             env=dict(env, LD_PRELOAD=""))
        assert out.returncode == 0, out.stderr[-2000:]
    calls = {line.split()[-1]: int(line.split()[3]) for line in trace.read_text().splitlines()
             if line.strip() and line.split()[0][0].isdigit() and len(line.split()) >= 5}
    # 5,100 sends: one kick each; the ACK polls read the RX ring in memory, no syscall
    assert 5100 <= calls.get("sendto", 0) <= 5100 + 50, calls
    assert calls.get("recvfrom", 0) + calls.get("recvmsg", 0) + calls.get("poll", 0) < 100, calls


def test_sharing_an_af_xdp_capture_s_queue(testbed_cfg, ring_path) -> None:
    """A capture of this process holds the interface's queue 0 and its XDP
    program: the TCP shares them (the capture's UMEM, its program's TCP
    map). Both work at once: the feed reaches the ring and only the feed;
    the echo comes back whole; the capture's frames all come home."""
    from wirespeed.capture import runner as cap
    from wirespeed.exchange import sim as S
    from wirespeed.transports.af_xdp import AfXdpOptions

    tb = testbed_cfg
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M", transport="af_xdp",
                            feeds=[cap.FeedSpec("itch", "239.7.9.1", 34091)],
                            xdp=AfXdpOptions(frames=1024, tcp_frames=128))
    out = _messages(60_000, seed=4)  # ~1,800 segments in: twice the capture's 896 fill frames
    with cap.Background(cfg) as c, _server(tb, _echo) as port:
        u = UserTcp(tb.peer_addr, port, share=c.transport)
        try:
            assert "the capture's" in u.describe()["xdp_mode"]
            _connect(u)
            scfg = S.SimConfig(lines=[S.Line("239.7.9.1", 34091)], rate=20_000, duration_s=1, symbols=4,
                               netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
            with S.start(scfg) as sim:
                got = _pump(u, out)
                sent = sim.wait()["packets"]  # the whole second of feed, while the TCP idles on the queue
            assert got == out
            st = u.conn.stats()
            assert st["bad_csum"] == st["malformed"] == st["foreign"] == 0 and st["xsk_rx_dropped"] == 0
        finally:
            u.conn.abort()
            u.close()
        wait_until(lambda: c.transport.stats()["packets"] == sent, f"the feed in the ring: {c.transport.stats()}")
        cst = c.transport.stats()
    assert cst["packets"] == sent > 100 and cst["malformed"] == cst["not_udp"] == 0  # no TCP reached the ring
    assert cst["xsk_rx_fill_ring_empty"] == cst["xsk_rx_dropped"] == 0  # the TCP's frames all came back
