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
