"""The af_xdp transport on the test host: feeds arrive whole and counted,
everything else still reaches the kernel, bad frames are counted, the
receive loop makes no syscalls, and a killed capture leaves nothing behind."""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO, capture_while, wait_until
from tests.net.test_frames import _fix_ip_csum, _frame
from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.net.frames import multicast_mac, udp_frame
from wirespeed.ring import RingReader
from wirespeed.system.netns import entered
from wirespeed.transports import Stream
from wirespeed.transports.af_xdp import AfXdpOptions, AfXdpTransport
from wirespeed.transports.dpdk import available as dpdk_available

# Where wirespeed was built without DPDK (no libdpdk on the machine), its
# tests cannot run; setup.sh installs dpdk-dev, so CI always has it.
needs_dpdk = pytest.mark.skipif(not dpdk_available()[0], reason=f"no dpdk transport: {dpdk_available()[1]}")

pytestmark = pytest.mark.privileged

AF_XDP_FLAG, TS_USER, MALFORMED_FLAG, REBUILT = 0x200, 0x4, 0x8, 0x1


def _xdp_attached(iface: str) -> bool:
    out = subprocess.run(["ip", "-j", "-d", "link", "show", iface], capture_output=True, text=True, check=True)
    return "xdp" in json.loads(out.stdout)[0]


def _send_raw(tb, frames: list[bytes]) -> None:
    """Put frames on the wire from the exchange side, as they are."""
    def go() -> None:
        with entered(tb.netns):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((tb.peer_if, 0))
            for f in frames:
                s.send(f)
            s.close()
    t = threading.Thread(target=go)
    t.start()
    t.join()


def _cfg(tb, ring_path: str, feeds: list[cap.FeedSpec], **xdp) -> cap.CaptureConfig:
    return cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M", transport="af_xdp", feeds=feeds,
                             xdp=AfXdpOptions(**xdp))


def test_af_xdp_capture_of_a_b_lines(testbed_cfg, ring_path) -> None:
    tb = testbed_cfg
    cfg = _cfg(tb, ring_path, [cap.FeedSpec("itch", "239.7.1.1", 34001, "A"),
                               cap.FeedSpec("itch", "239.7.1.2", 34001, "B")])
    sim_cfg = S.SimConfig(lines=[S.Line("239.7.1.1", 34001), S.Line("239.7.1.2", 34001)], rate=20_000, count=4000,
                          duration_s=0, netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
    res = capture_while(cfg, lambda: S.run(sim_cfg))
    sent = res["sent"]
    assert res["records"] == sum(sent["sent_pkts"][:2])
    assert res["setup"]["xdp_mode"] in ("native", "generic") and res["setup"]["zerocopy"] in (True, False)
    assert res["rx"]["malformed"] == 0 and all(v == 0 for v in res["drops"].values())
    assert not _xdp_attached(tb.host_if), "XDP detached at the end"
    with RingReader(ring_path, "oldest") as r:
        assert r.writer_state()[0] == "closed"
        desc = r.description()
        assert desc["capture"]["transport"] == "af_xdp"
        b = r.poll(100_000)
        assert len(b) == res["records"]
        assert set(b.headers["flags"]) == {AF_XDP_FLAG | TS_USER}  # frames as they arrived, not rebuilt
        frame = bytes(b.payload_of(0))
        assert frame[:6] == multicast_mac("239.7.1.1") or frame[:6] == multicast_mac("239.7.1.2")
        assert frame[6:12] != bytes(6), "the sender's real MAC"
        streams = {s["id"]: s for s in desc["streams"]}
        for h, i in zip(b.headers[:200], range(200)):
            f = bytes(b.payload_of(i))
            assert socket.inet_ntoa(f[30:34]) == streams[int(h["stream"])]["group"]


def test_tcp_and_other_udp_still_reach_the_host(testbed_cfg, ring_path) -> None:
    """Seed 003's per-flow choice: only the feed is bypassed."""
    tb = testbed_cfg
    cfg = _cfg(tb, ring_path, [cap.FeedSpec("itch", "239.7.1.3", 34003)])
    srv = socket.create_server((tb.host_addr, 0))
    tcp_port = srv.getsockname()[1]
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # same group, another port: not a feed
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.bind(("239.7.1.3", 34004))
    other.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     struct.pack("4s4si", socket.inet_aton("239.7.1.3"), b"\0" * 4, socket.if_nametoindex(tb.host_if)))
    other.settimeout(5)
    uni = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uni.bind((tb.host_addr, 0))
    uni.settimeout(5)
    got: dict[str, bytes] = {}

    def traffic() -> dict:
        def client() -> None:
            with entered(tb.netns):
                with socket.create_connection((tb.host_addr, tcp_port), timeout=5) as c:
                    c.sendall(b"tcp ok")
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(tb.peer_addr))
                u.sendto(b"other port ok", ("239.7.1.3", 34004))
                u.sendto(b"feed", ("239.7.1.3", 34003))
                u.sendto(b"unicast ok", (tb.host_addr, uni.getsockname()[1]))
                u.close()
        t = threading.Thread(target=client)
        t.start()
        conn, _ = srv.accept()
        conn.settimeout(5)
        got["tcp"] = conn.recv(100)
        conn.close()
        t.join()
        got["other"] = other.recv(100)
        got["unicast"] = uni.recv(100)
        return {}

    res = capture_while(cfg, traffic)
    for s in (srv, other, uni):
        s.close()
    assert got == {"tcp": b"tcp ok", "other": b"other port ok", "unicast": b"unicast ok"}
    assert res["records"] == 1  # the feed datagram, and only it, went to the ring


@pytest.mark.parametrize("policy", ["skip", "keep"])
def test_malformed_frames_on_the_feed_are_counted(testbed_cfg, ring_path, policy) -> None:
    tb = testbed_cfg
    group, port = "239.7.1.5", 34005
    cfg = _cfg(tb, ring_path, [cap.FeedSpec("itch", group, port)], malformed=policy)
    good = _frame(b"good datagram", group, port)
    bad_csum = bytearray(good)
    bad_csum[24] ^= 0xFF
    lying = bytearray(good)
    lying[38:40] = struct.pack("!H", 300)
    frag = bytearray(good)
    frag[20:22] = struct.pack("!H", 0x2000)
    short_ip = bytearray(good)
    short_ip[16:18] = struct.pack("!H", 600)  # IP total length beyond the frame
    bad_ihl = bytearray(good)
    bad_ihl[14] = 0x43
    frames = [bytes(good), bytes(bad_csum), bytes(lying), bytes(_fix_ip_csum(frag)), bytes(_fix_ip_csum(short_ip)),
              bytes(bad_ihl), bytes(good)]
    res = capture_while(cfg, lambda: _send_raw(tb, frames))
    rx = res["rx"]
    assert rx["malformed"] == 5
    assert (rx["bad_ip_checksum"], rx["bad_udp_length"], rx["fragment"], rx["truncated"], rx["bad_ip_header"]) \
        == (1, 1, 1, 1, 1)
    with RingReader(ring_path, "oldest") as r:
        b = r.poll(100)
    flags = list(b.headers["flags"])
    if policy == "skip":
        assert res["drops"]["malformed"] == 5 and len(b) == 2
        assert all(not f & MALFORMED_FLAG for f in flags)
    else:
        assert res["drops"]["malformed"] == 0 and len(b) == 7
        assert sum(1 for f in flags if f & MALFORMED_FLAG) == 5
        assert bytes(b.payload_of(1)) == bytes(bad_csum)  # kept byte for byte


def test_feeds_added_while_running(testbed_cfg, ring_path) -> None:
    """A feed added while the loop runs is captured from its next frame, and
    no more once removed. Each step sends the late feed's frame and then a
    marker on the first feed: frames are taken in order, so once the marker
    is in the ring the late frame's fate is decided (no sleeping and hoping)."""
    tb = testbed_cfg
    Path(ring_path).unlink(missing_ok=True)
    from wirespeed.ring import Ring, RingWriter

    Ring.create(ring_path, size="16M")
    t = AfXdpTransport(tb.host_if, [Stream(1, "a", "239.7.1.6", 34006)])
    late = _frame(b"late feed", "239.7.1.7", 34007)

    def step(r: RingReader, k: int) -> list[bytes]:
        marker = f"marker {k}".encode()
        _send_raw(tb, [late, _frame(marker, "239.7.1.6", 34006)])
        got: list[bytes] = []
        deadline = time.monotonic() + 10
        while not got or not got[-1].endswith(marker):
            assert time.monotonic() < deadline, f"{marker!r} never reached the ring"
            b = r.wait(timeout=0.1)
            got += [bytes(b.payload_of(i))[42:] for i in range(len(b))]  # UDP payloads
        return got

    with RingWriter(ring_path) as w, RingReader(ring_path, "oldest") as r:
        t.open()
        th = threading.Thread(target=t.run, args=(w._w,))
        th.start()
        try:
            before = step(r, 0)
            t.add_stream(Stream(2, "b", "239.7.1.7", 34007))
            after = step(r, 1)
            t.remove_stream(t.streams[-1])
            final = step(r, 2)
        finally:
            t.stop()
            th.join(5)
            t.close()
    assert (before, after, final) == ([b"marker 0"], [b"late feed", b"marker 1"], [b"marker 2"])


def _kernel_receives_again(tb, group: str, port: int) -> None:
    """Traffic is the kernel's again: a plain socket receives the feed."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((group, port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 struct.pack("4s4si", socket.inet_aton(group), b"\0" * 4, socket.if_nametoindex(tb.host_if)))
    s.settimeout(5)
    _send_raw(tb, [udp_frame(bytes(6), multicast_mac(group), tb.peer_addr, group, 40000, port, b"back")])
    assert s.recv(100) == b"back"
    s.close()


def _capture_proc(tb, ring_path: str, group: str, port: int, *extra: str, transport: str = "af_xdp",
                  env: dict[str, str] | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), **(env or {}))
    if transport == "dpdk":  # DPDK's AF_XDP driver on the same interface
        extra = ("--dpdk-port", f"net_af_xdp0,iface={tb.host_if}", *extra)
    return subprocess.Popen([sys.executable, "-m", "wirespeed", "capture", "-i", tb.host_if, "--feed",
                             f"f={group}:{port}", "-t", transport, "--ring", ring_path, "--ring-size", "16M", "--json",
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_attached(tb, proc: subprocess.Popen) -> None:
    def attached() -> bool:
        assert proc.poll() is None, proc.communicate()
        return _xdp_attached(tb.host_if)

    wait_until(attached, "capture never attached")


def _rx_thread(pid: int, name: str = "ws-rx-af_xdp", timeout: float = 0.0) -> int:
    """The kernel thread id of the capture's receive loop (named when it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                if (task / "comm").read_text().strip() == name:
                    return int(task.name)
            except FileNotFoundError:  # a thread that ended while we looked
                continue
        if time.monotonic() >= deadline:
            raise AssertionError(f"no {name} thread in process {pid}")
        time.sleep(0.05)


@contextmanager
def _steady_feed(tb, ring_path: str, group: str, port: int, seconds: float) -> Iterator[dict[str, int]]:
    """The feed at 20 k msg/s for `seconds` from the test host. The body runs
    in steady state (once the first packets have been through); "packets"
    in the yielded dict is then how many the capture published meanwhile."""
    sim_cfg = S.SimConfig(lines=[S.Line(group, port)], rate=20_000, count=0, duration_s=seconds,
                          netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
    sender = threading.Thread(target=S.run, args=(sim_cfg,))
    sender.start()
    try:
        time.sleep(1)
        with RingReader(ring_path) as r:
            head0 = r.head_seq
        window: dict[str, int] = {}
        yield window
        with RingReader(ring_path) as r:
            window["packets"] = r.head_seq - head0
    finally:
        sender.join()


@pytest.mark.parametrize("transport,mode", [("af_xdp", "busy"), ("af_xdp", "block"),
                                            pytest.param("dpdk", "busy", marks=needs_dpdk),
                                            pytest.param("dpdk", "block", marks=needs_dpdk)])
def test_busy_loop_makes_no_syscalls_in_steady_state(testbed_cfg, ring_path, transport, mode) -> None:
    """strace the receive thread for 10 s while the feed runs at 20 k msg/s.
    block mode (poll() or nanosleep() when idle) is the control: the same
    count sees it."""
    tb = testbed_cfg
    proc = _capture_proc(tb, ring_path, "239.7.1.8", 34008, "--duration", "30", "--mode", mode, transport=transport)
    try:
        _wait_attached(tb, proc)
        tid = _rx_thread(proc.pid, f"ws-rx-{transport}", timeout=15)
        with _steady_feed(tb, ring_path, "239.7.1.8", 34008, 12) as window:
            st = subprocess.run(["timeout", "-s", "INT", "10", "strace", "-c", "-q", "-p", str(tid)],
                                capture_output=True, text=True)
    finally:
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(30)
    assert window["packets"] > 50_000, "traffic flowed through the loop while it was traced"
    lines = [ln for ln in st.stderr.splitlines() if ln.strip() and not ln.startswith(("%", "-", "strace:"))]
    calls = {ln.split()[-1]: int(ln.split()[3]) for ln in lines if ln.split()[-1] != "total"}
    assert proc.returncode == 0, errs
    res = json.loads(out)
    if mode == "busy":
        assert not calls, f"syscalls in the receive loop during 10 s:\n{st.stderr}"
        assert res["rx"].get("wakeups", 0) == 0 and res["rx"]["sleeps"] == 0
    else:
        sleeps = calls.get("poll", 0) + calls.get("ppoll", 0) + calls.get("nanosleep", 0) \
            + calls.get("clock_nanosleep", 0)
        assert sleeps > 1000, st.stderr


def test_kill_9_leaves_nothing_behind(testbed_cfg, ring_path) -> None:
    tb = testbed_cfg
    group, port = "239.7.1.9", 34009
    proc = _capture_proc(tb, ring_path, group, port)
    _wait_attached(tb, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(10)
    wait_until(lambda: not _xdp_attached(tb.host_if), "the bpf_link should die with the process", timeout=5)
    with RingReader(ring_path, "oldest") as r:
        assert r.writer_state()[0] == "dead"
    _kernel_receives_again(tb, group, port)
    # and a new capture can take the queue at once
    proc = _capture_proc(tb, ring_path, group, port, "--duration", "1")
    out, errs = proc.communicate(30)
    assert proc.returncode == 0, errs
