"""The XDP programs wirespeed writes, run in the kernel (BPF_PROG_TEST_RUN)
on hand-made packets: feeds are redirected, everything else passes."""
from __future__ import annotations

import socket
import struct

import pytest

from tests.net.test_frames import _fix_ip_csum, _frame
from wirespeed import _native
from wirespeed.xdp import programs as P
from wirespeed.xdp.bpf import load_xdp, test_run
from wirespeed.xdp.ebpf import XDP_PASS, XDP_REDIRECT

pytestmark = pytest.mark.privileged


@pytest.fixture
def feed_prog(testbed_cfg):
    """The feed program with 239.1.1.1:30001 in its map and a real AF_XDP
    socket (bound to the test host's queue 0) in its XSKMAP."""
    ifindex = socket.if_nametoindex(testbed_cfg.host_if)
    rx = _native.XskRx(ifindex, [0], 64, 2048, 0)
    flows = _native.bpf_map_create(P.BPF_MAP_TYPE_HASH, P.FLOW_KEY_SIZE, P.FLOW_VALUE_SIZE, 16, "t_flows")
    xsks = _native.bpf_map_create(P.BPF_MAP_TYPE_XSKMAP, 4, 4, 1, "t_xsks")
    _native.bpf_map_update(xsks, struct.pack("=I", 0), struct.pack("=i", rx.sockets()[0]["fd"]))
    for port in (30001, 0):
        _native.bpf_map_update(flows, P.flow_key("239.1.1.1", port), struct.pack("=I", 1))
    prog = load_xdp(P.xdp_feed_redirect(flows, xsks))
    yield prog, flows
    prog.close()
    import os

    os.close(flows)
    os.close(xsks)
    rx.close()


def _verdict(prog, frame: bytes) -> int:
    return test_run(prog, bytes(frame)).retval


def test_feed_datagrams_are_redirected(feed_prog) -> None:
    prog, _ = feed_prog
    assert _verdict(prog, _frame(b"itch", "239.1.1.1", 30001)) == XDP_REDIRECT


def test_everything_else_passes(feed_prog) -> None:
    prog, _ = feed_prog
    assert _verdict(prog, _frame(b"x", "239.1.1.1", 30002)) == XDP_PASS  # same group, other port
    assert _verdict(prog, _frame(b"x", "239.1.1.2", 30001)) == XDP_PASS  # other group
    tcp = _fix_ip_csum(_frame(b"x" * 20, "239.1.1.1", 30001))
    tcp[23] = 6
    assert _verdict(prog, _fix_ip_csum(tcp)) == XDP_PASS
    arp = bytes.fromhex("ffffffffffff020000000001 0806".replace(" ", "")) + bytes(28)
    assert _verdict(prog, arp) == XDP_PASS
    ipv6 = bytearray(_frame(b"x" * 40))
    ipv6[12:14] = b"\x86\xdd"
    assert _verdict(prog, ipv6) == XDP_PASS
    assert _verdict(prog, _frame(b"x")[:30]) == XDP_PASS  # too short to be IPv4: the kernel decides


def test_unreadable_ports_of_a_feed_group_reach_the_socket(feed_prog) -> None:
    """Fragments, bad IHL and cut-off UDP headers to a feed group go to the
    socket (looked up as group:0), where they are counted as malformed."""
    prog, _ = feed_prog
    frag = _frame(b"x" * 30)
    frag[20:22] = struct.pack("!H", 0x0010)
    assert _verdict(prog, _fix_ip_csum(frag)) == XDP_REDIRECT
    bad_ihl = _frame(b"x" * 30)
    bad_ihl[14] = 0x43
    assert _verdict(prog, bad_ihl) == XDP_REDIRECT
    long_ihl = _frame(b"")
    long_ihl[14] = 0x4F  # IHL 60 bytes: the UDP header would lie beyond the frame
    assert _verdict(prog, long_ihl) == XDP_REDIRECT


def test_feeds_change_without_reloading(feed_prog) -> None:
    prog, flows = feed_prog
    frame = _frame(b"x", "239.9.9.9", 31000)
    assert _verdict(prog, frame) == XDP_PASS
    _native.bpf_map_update(flows, P.flow_key("239.9.9.9", 31000), struct.pack("=I", 2))
    assert _verdict(prog, frame) == XDP_REDIRECT
    _native.bpf_map_delete(flows, P.flow_key("239.9.9.9", 31000))
    assert _verdict(prog, frame) == XDP_PASS


def test_listing_documents_every_instruction() -> None:
    text = P.xdp_feed_redirect(3, 4).listing()
    assert "bpf_redirect_map" in text and "XDP_PASS" in text
    assert all(line.split("  ")[-1].strip() for line in text.splitlines() if line.startswith("  "))


def test_the_order_sessions_tcp_connection_is_steered_and_no_other(testbed_cfg) -> None:
    """With a TCP map, the connection it names (the exchange's segments to
    us) goes to the socket; any other TCP - another port, another peer, the
    other direction - and the feeds keep their ways."""
    ifindex = socket.if_nametoindex(testbed_cfg.host_if)
    rx = _native.XskRx(ifindex, [0], 64, 2048, 0)
    flows = _native.bpf_map_create(P.BPF_MAP_TYPE_HASH, P.FLOW_KEY_SIZE, P.FLOW_VALUE_SIZE, 16, "t_flows")
    xsks = _native.bpf_map_create(P.BPF_MAP_TYPE_XSKMAP, 4, 4, 1, "t_xsks")
    tcp = _native.bpf_map_create(P.BPF_MAP_TYPE_HASH, P.TCP_KEY_SIZE, P.TCP_VALUE_SIZE, 4, "t_tcp")
    _native.bpf_map_update(xsks, struct.pack("=I", 0), struct.pack("=i", rx.sockets()[0]["fd"]))
    _native.bpf_map_update(flows, P.flow_key("239.1.1.1", 30001), struct.pack("=I", 1))
    _native.bpf_map_update(tcp, P.tcp_key("10.0.0.2", "10.0.0.1", 15000, 40000), struct.pack("=I", 0))
    prog = load_xdp(P.xdp_feed_redirect(flows, xsks, tcp))

    def seg(src: str, dst: str, sport: int, dport: int, ihl: int = 5) -> bytes:
        f = _frame(b"\0" * 40, dst, 1)
        f[23] = 6
        f[26:30] = socket.inet_aton(src)
        f[14] = 0x40 | ihl
        f[14 + ihl * 4:14 + ihl * 4 + 4] = struct.pack("!HH", sport, dport)
        return bytes(_fix_ip_csum(f))

    try:
        assert _verdict(prog, seg("10.0.0.2", "10.0.0.1", 15000, 40000)) == XDP_REDIRECT
        assert _verdict(prog, seg("10.0.0.2", "10.0.0.1", 15000, 40001)) == XDP_PASS  # another connection
        assert _verdict(prog, seg("10.0.0.3", "10.0.0.1", 15000, 40000)) == XDP_PASS  # another peer
        assert _verdict(prog, seg("10.0.0.1", "10.0.0.2", 40000, 15000)) == XDP_PASS  # our own direction
        assert _verdict(prog, seg("10.0.0.2", "10.0.0.1", 15000, 40000, ihl=6)) == XDP_REDIRECT  # options: ports found
        assert _verdict(prog, _frame(b"itch", "239.1.1.1", 30001)) == XDP_REDIRECT  # feeds as before
        _native.bpf_map_delete(tcp, P.tcp_key("10.0.0.2", "10.0.0.1", 15000, 40000))
        assert _verdict(prog, seg("10.0.0.2", "10.0.0.1", 15000, 40000)) == XDP_PASS  # closed: the kernel's again
    finally:
        prog.close()
        import os

        for fd in (flows, xsks, tcp):
            os.close(fd)
        rx.close()


def test_the_feed_program_is_unchanged_without_a_tcp_map() -> None:
    assert P.xdp_feed_redirect(3, 4).listing() == P.xdp_feed_redirect(3, 4, -1).listing()
    assert "tcp_flows" not in P.xdp_feed_redirect(3, 4).listing()
    assert "tcp_flows" in P.xdp_feed_redirect(3, 4, 5).listing()
