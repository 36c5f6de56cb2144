"""The loss injector (programs.xdp_lossy, xdp/lossy.py): drops one flow's packets
at the rate asked (within binomial bounds), counts exactly, never touches
another flow; and live, 5 % loss on the exchange's end of the veth under
the order session's kernel TCP: every order reaches the order port once."""
from __future__ import annotations

import struct

import pytest

from wirespeed import _native
from wirespeed.net.frames import udp_frame
from wirespeed.xdp import programs
from wirespeed.xdp.bpf import load_xdp, test_run

pytestmark = pytest.mark.privileged


def _tcp_frame(sport: int, dport: int) -> bytes:
    f = bytearray(udp_frame(b"\1" * 6, b"\2" * 6, "10.0.0.1", "10.0.0.2", sport, dport, b"x" * 32))
    f[23] = 6  # the protocol byte: the program reads ports the same way for TCP
    return bytes(f)


@pytest.mark.parametrize("ppm", [0, 100_000, 1_000_000])
def test_drops_at_the_rate_asked_and_counts_exactly(ppm: int) -> None:
    fd = _native.bpf_map_create(programs.BPF_MAP_TYPE_ARRAY, 4, 8, 2, "ws_t_lossy")
    with load_xdp(programs.xdp_lossy(fd, ppm, 6, 15000)) as prog:
        n = 4000
        ours = [_tcp_frame(40000, 15000), _tcp_frame(15000, 40000)]  # either direction of the flow
        drops = sum(test_run(prog, ours[i % 2]).retval == 1 for i in range(n))
        others = [_tcp_frame(40000, 15001), udp_frame(b"\1" * 6, b"\2" * 6, "10.0.0.1", "10.0.0.2", 1, 15000, b"x")]
        assert all(test_run(prog, f).retval == 2 for f in others for _ in range(200))  # XDP_PASS
        assert test_run(prog, ours[0][:30]).retval == 2  # too short to read: passes
    seen, dropped = (struct.unpack("<Q", _native.bpf_map_lookup(fd, struct.pack("<I", k), 8))[0] for k in (0, 1))
    assert (seen, dropped) == (n, drops)
    p = ppm / 1e6
    sd = (n * p * (1 - p)) ** 0.5
    assert abs(drops - n * p) <= 5 * sd + 1e-9


def test_refuses_what_it_cannot_do() -> None:
    for args in ((-1, 6, 1), (1_000_001, 6, 1), (1, 6, 0), (1, 1, 80)):
        with pytest.raises(ValueError):
            programs.xdp_lossy(0, *args)
