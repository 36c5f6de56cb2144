"""SoupBinTCP 4.1: every packet type against bytes written out by hand from
the specification, 4.0 and 4.1 logins, a stream cut anywhere put back
together, and framers that name what is wrong - Python and C alike."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirespeed import _native
from wirespeed.orders import soupbintcp as soup


def hx(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


# username "WSTEST", password "WSTEST" padded to 10, session blank, sequence 1 right-justified in 20
LOGIN_41 = hx("0034 4c 575354455354 57535445535420202020 20202020202020202020"
              "2020202020202020202020202020202020202031 3135303030")
LOGIN_40 = hx("002f 4c 575354455354 57535445535420202020 20202020202020202020"
              "2020202020202020202020202020202020202031")

HAND = [
    (soup.login_request("WSTEST", "WSTEST", "", 1, 15000), LOGIN_41),
    (soup.login_request("WSTEST", "WSTEST", "", 1, None), LOGIN_40),
    (soup.login_accepted("WS01", 42), hx("001f 41 57533031202020202020 2020202020202020202020202020202020203432")),
    (soup.login_rejected(soup.REJECT_NOT_AUTHORIZED), hx("0002 4a 41")),
    (soup.sequenced(b"S" + bytes(8) + b"S"), hx("000b 53 53 0000000000000000 53")),
    (soup.unsequenced(b"Q"), hx("0002 55 51")),
    (soup.packet(soup.SERVER_HEARTBEAT), hx("0001 48")),
    (soup.packet(soup.CLIENT_HEARTBEAT), hx("0001 52")),
    (soup.packet(soup.END_OF_SESSION), hx("0001 5a")),
    (soup.packet(soup.LOGOUT_REQUEST), hx("0001 4f")),
    (soup.packet(soup.DEBUG, b"hi"), hx("0003 2b 6869")),
]


@pytest.mark.parametrize("built, wire", HAND, ids=[w[2:3].decode() + str(len(w)) for _, w in HAND])
def test_bytes_match_the_specification(built, wire) -> None:
    assert built == wire
    taken, t, payload = _native.soup_next(wire, 65535)
    assert (taken, t, payload) == (len(wire), wire[2:3], wire[3:])


def test_c_writers_match() -> None:
    assert _native.soup_login_request("WSTEST", "WSTEST", "", 1, 15000) == LOGIN_41
    assert _native.soup_login_accepted("WS01", 42) == soup.login_accepted("WS01", 42)


@pytest.mark.parametrize("payload, want", [
    (LOGIN_41[3:], soup.Login("WSTEST", "WSTEST", "", 1, 15000, 41)),
    (LOGIN_40[3:], soup.Login("WSTEST", "WSTEST", "", 1, None, 40)),
    # implementations disagree on padding: left-padded text and left-justified numbers read the same
    (b"WSTEST" + b"    WSTEST" + b"      WS01" + b"7".ljust(20) + b"  500", soup.Login("WSTEST", "WSTEST", "WS01", 7,
                                                                                         500, 41)),
    (b"U     " + b"P         " + b" " * 10 + b" " * 20 + b"     ", soup.Login("U", "P", "", 0, 0, 41)),
])
def test_logins_are_read_either_way_they_are_padded(payload, want) -> None:
    assert soup.parse_login(payload) == want
    c = _native.soup_login_parse(payload)
    assert (c["username"], c["password"], c["session"], c["sequence"], c["version"]) == (
        want.username, want.password, want.session, want.sequence, want.version)
    assert c["heartbeat_timeout_ms"] == (want.heartbeat_timeout_ms or 0)


@pytest.mark.parametrize("payload, reason", [
    (LOGIN_41[3:-1], "bad_login"),
    (LOGIN_41[3:] + b" ", "bad_login"),
    (LOGIN_41[3:29] + b"12x".rjust(20) + b"15000", "bad_number"),
    (LOGIN_41[3:-5] + b"1 5 0", "bad_number"),
])
def test_bad_logins_are_named(payload, reason) -> None:
    with pytest.raises(soup.SoupError) as e:
        soup.parse_login(payload)
    assert e.value.reason == reason
    assert soup.ERRORS[-_native.soup_login_parse(payload) - 1] == reason


def test_impossible_lengths_are_protocol_errors() -> None:
    for stream, reason in ((b"\x00\x00U", "zero_length"), (b"\x10\x00", "too_long")):
        r = soup.Reassembler(max_length=1024)
        with pytest.raises(soup.SoupError) as e:
            list(r.feed(stream))
        assert e.value.reason == reason
        assert soup.ERRORS[-_native.soup_next(stream, 1024) - 1] == reason


def _c_frames(stream: bytes, max_len: int) -> list[tuple[bytes, bytes]]:
    out, off = [], 0
    while True:
        r = _native.soup_next(stream[off:], max_len)
        if isinstance(r, int) or r[0] == 0:
            return out
        out.append((r[1], r[2]))
        off += r[0]


PACKETS = st.lists(st.tuples(st.sampled_from(b"+AJSHZLURO").map(lambda c: bytes([c])), st.binary(max_size=300)),
                   max_size=20)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(PACKETS, st.data())
def test_a_stream_cut_anywhere_is_put_back_together(packets, data) -> None:
    stream = b"".join(soup.packet(t, p) for t, p in packets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    r = soup.Reassembler(max_length=1024)
    got = []
    prev = 0
    for c in [*cuts, len(stream)]:
        got += [(p.type, p.payload) for p in r.feed(stream[prev:c])]
        prev = c
    assert got == list(packets) and r.pending == 0
    assert _c_frames(stream, 1024) == list(packets)


@pytest.mark.property
@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_streams_frame_or_fail_the_same_in_python_and_c(stream) -> None:
    r = soup.Reassembler(max_length=64)
    py: list = []
    try:
        py += [(p.type, p.payload) for p in r.feed(stream)]
        py_err = None
    except soup.SoupError as exc:
        py_err = exc.reason
    c, off, c_err = [], 0, None
    while True:
        x = _native.soup_next(stream[off:], 64)
        if isinstance(x, int):
            c_err = soup.ERRORS[-x - 1]
            break
        if x[0] == 0:
            break
        c.append((x[1], x[2]))
        off += x[0]
    assert (py, py_err) == (c, c_err)
