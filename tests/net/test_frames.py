"""Frames: what wirespeed builds (frames.py) and how it checks what arrives
(native ws_frame_check, the af_xdp loop's header validation)."""
from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from wirespeed import _native
from wirespeed.net.frames import multicast_mac, udp_frame

SRC_MAC = bytes.fromhex("020000000001")


def _frame(payload: bytes = b"hello", group: str = "239.1.1.1", port: int = 30001) -> bytearray:
    return bytearray(udp_frame(SRC_MAC, multicast_mac(group), "198.18.0.2", group, 40000, port, payload))


def _fix_ip_csum(f: bytearray) -> bytearray:
    ihl = (f[14] & 0x0F) * 4
    f[24:26] = b"\0\0"
    words = struct.unpack(f"!{ihl // 2}H", bytes(f[14:14 + ihl]))
    s = sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    f[24:26] = struct.pack("!H", ~s & 0xFFFF)
    return f


@given(st.binary(max_size=1472))
def test_a_frame_wirespeed_builds_checks_ok(payload: bytes) -> None:
    f = _frame(payload)
    verdict, off, length, daddr, dport = _native.frame_check(bytes(f))
    assert (verdict, off, length) == ("ok", 42, len(payload))
    assert (daddr, dport) == (bytes([239, 1, 1, 1]), 30001)
    assert bytes(f[off:off + length]) == payload


def test_ethernet_padding_is_allowed() -> None:
    f = _frame(b"x") + b"\0" * 17  # padded to the 60-byte minimum
    assert _native.frame_check(bytes(f))[0] == "ok"


def test_each_defect_has_its_verdict() -> None:
    base = _frame(b"payload!")
    cases = {}
    cases["truncated"] = bytes(base[:40])
    f = bytearray(base)
    f[12:14] = b"\x86\xdd"
    cases["not_ipv4"] = bytes(f)
    f = bytearray(base)
    f[14] = 0x44  # IHL 4
    cases["bad_ip_header"] = bytes(_fix_ip_csum(f))
    f = bytearray(base)
    f[24] ^= 0xFF
    cases["bad_ip_checksum"] = bytes(f)
    f = bytearray(base)
    f[16:18] = struct.pack("!H", 10)  # total length below the header
    cases["bad_ip_length"] = bytes(_fix_ip_csum(f))
    f = bytearray(base)
    f[16:18] = struct.pack("!H", 500)  # total length beyond the frame
    cases["truncated (ip length)"] = bytes(_fix_ip_csum(f))
    f = bytearray(base)
    f[20:22] = struct.pack("!H", 0x2000)  # MF
    cases["fragment"] = bytes(_fix_ip_csum(f))
    f = bytearray(base)
    f[20:22] = struct.pack("!H", 0x0010)  # offset 128 bytes
    cases["fragment (offset)"] = bytes(_fix_ip_csum(f))
    f = bytearray(base)
    f[23] = 6
    cases["not_udp"] = bytes(_fix_ip_csum(f))
    f = bytearray(base)
    f[38:40] = struct.pack("!H", 200)  # UDP length lying
    cases["bad_udp_length"] = bytes(f)
    for name, frame in cases.items():
        assert _native.frame_check(frame)[0] == name.split(" ")[0], name


@settings(max_examples=3000)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    verdict, off, length = _native.frame_check(data)[:3]
    if verdict == "ok":
        assert off + length <= len(data)


@settings(max_examples=2000)
@given(st.integers(0, 69), st.integers(0, 255), st.data())
def test_corrupting_a_frame_is_caught_or_harmless(pos: int, value: int, data: st.DataObject) -> None:
    f = _frame(b"0123456789abcdefghijklmnopqrstuvwxyz")
    cut = data.draw(st.integers(0, len(f)))
    f[pos % len(f)] = value
    g = bytes(f[:cut])
    verdict, off, length = _native.frame_check(g)[:3]
    if verdict == "ok":  # still well-formed: the payload lies inside the frame
        assert off >= 42 and off + length <= len(g)
