"""MoldUDP64 packets: exact bytes, control packets, requests, and a decoder
that counts lies instead of trusting them."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wirespeed.feed import moldudp64 as mold


def test_packet_bytes_by_hand() -> None:
    pkt = mold.encode("NASDAQ", 1, [b"\x44" + bytes(18), b"xyz"])
    assert pkt == (b"NASDAQ    " + bytes.fromhex("0000000000000001" "0002")
                   + bytes.fromhex("0013") + b"\x44" + bytes(18) + bytes.fromhex("0003") + b"xyz")
    p = mold.decode(pkt)
    assert (p.session, p.seq, p.count, p.next_seq) == (b"NASDAQ    ", 1, 2, 3)
    assert [bytes(m) for m in p.messages] == [b"\x44" + bytes(18), b"xyz"]


def test_control_packets_and_requests() -> None:
    hb = mold.heartbeat("S1", 501)
    assert hb == b"S1        " + bytes.fromhex("00000000000001f5" "0000")
    p = mold.decode(hb)
    assert p.is_heartbeat and p.next_seq == 501 and p.messages == ()
    eos = mold.decode(mold.end_of_session("S1", 501))
    assert eos.is_end_of_session and eos.next_seq == 501
    req = mold.request("S1", 100, 25)
    assert req == b"S1        " + bytes.fromhex("0000000000000064" "0019") and len(req) == 20
    with pytest.raises(mold.MoldError):
        mold.request("S1", 1, 0)
    with pytest.raises(mold.MoldError):
        mold.encode("ELEVENCHARS", 1, [])


def test_lies_are_counted() -> None:
    stats = mold.MoldStats()
    assert mold.decode(b"short", stats) is None
    body = mold.encode("S", 10, [b"aa", b"bbb"])
    lying = body[:18] + struct.pack(">H", 5) + body[20:]  # says 5, holds 2
    p = mold.decode(lying, stats)
    assert len(p.messages) == 2 and stats.count_short == 3
    overrun = body[:20] + struct.pack(">H", 999) + body[22:]
    p = mold.decode(overrun, stats)
    assert len(p.messages) == 0 and stats.block_overrun == 1
    p = mold.decode(body + b"junk", stats)
    assert len(p.messages) == 2 and stats.trailing_bytes == 4
    mold.decode(mold.heartbeat("S", 1) + b"x", stats)
    assert stats.control_with_payload == 1 and stats.truncated_header == 1


@pytest.mark.property
@given(st.binary(max_size=200))
def test_decoder_never_raises_or_overreads(data) -> None:
    p = mold.decode(data)
    if p is not None:
        total = sum(len(m) + 2 for m in p.messages)
        assert 20 + total <= len(data)


@pytest.mark.property
@given(st.lists(st.binary(max_size=300), max_size=50), st.integers(0, 2**64 - 1))
def test_round_trip(messages, seq) -> None:
    p = mold.decode(mold.encode("SESS", seq, messages))
    assert p.seq == seq and [bytes(m) for m in p.messages] == messages


def test_from_frame_reads_a_captured_frame_and_refuses_what_is_not_one() -> None:
    from wirespeed.net.frames import multicast_mac, udp_frame

    payload = mold.encode("WIRESPEED", 7, [b"S" + b"\x00" * 11, b"X" * 23])
    frame = udp_frame(b"\x02" * 6, multicast_mac("239.1.1.1"), "198.18.0.2", "239.1.1.1", 40000, 30001, payload)
    pkt = mold.from_frame(memoryview(frame))
    assert pkt is not None and (pkt.seq, pkt.count, [bytes(m) for m in pkt.messages]) == \
        (7, 2, [b"S" + b"\x00" * 11, b"X" * 23])
    assert mold.from_frame(frame[:30]) is None                       # cut inside the IPv4 header
    assert mold.from_frame(frame[:12] + b"\x86\xdd" + frame[14:]) is None  # not IPv4
    assert mold.from_frame(b"") is None
