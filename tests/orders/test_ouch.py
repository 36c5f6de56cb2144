"""OUCH 5.0: one message of every type, both directions, against bytes
written out by hand from NASDAQ's specification; the C table and codec held
to the Python one; round trips of every type; and decoders that, on
truncated input, lying appendage lengths and unknown types, give a reason
and never raise anything else or read past the message."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirespeed import _native
from wirespeed.orders import ouch
from wirespeed.orders.ouch import IN, OUT

TS = "00001f1aced9f07b"          # 34,200,000,000,123 ns: 09:30:00.000000123
URN7 = "00000007"
SYM = "4141504c20202020"          # "AAPL" padded to 8
PX = "00000000001d2dec"           # 191.2300 -> 1912300
CLORD = "4f52444552312020202020202020"  # "ORDER1" padded to 14
FIRM = "5753464d"                 # "WSFM"
APP0 = "0000"                     # an appendage of length 0


def hx(*parts: str) -> bytes:
    return bytes.fromhex("".join(parts))


ENTER = dict(user_ref_num=7, side="B", quantity=100, symbol="AAPL", price=1912300, time_in_force="0", display="Y",
             capacity="A", intermarket_sweep="N", cross_type="N", clordid="ORDER1")
HAND = [
    (IN, "O", dict(ENTER, options=()), hx("4f", URN7, "42", "00000064", SYM, PX, "30", "59", "41", "4e", "4e", CLORD,
                                          APP0)),
    (IN, "O", dict(ENTER, options=((2, "WSFM"), (28, 3))),   # Firm and UserRefIdx as TagValue elements
     hx("4f", URN7, "42", "00000064", SYM, PX, "30", "59", "41", "4e", "4e", CLORD, "0009", "0502", FIRM, "021c03")),
    (IN, "U", dict(orig_user_ref_num=7, user_ref_num=8, quantity=500, price=1912300, time_in_force="0", display="Y",
                   intermarket_sweep="N", clordid="ORDER1", options=()),
     hx("55", URN7, "00000008", "000001f4", PX, "30", "59", "4e", CLORD, APP0)),
    (IN, "X", dict(user_ref_num=7, quantity=0), hx("58", URN7, "00000000")),
    (IN, "X", dict(user_ref_num=7, quantity=0, options=()), hx("58", URN7, "00000000", APP0)),
    (IN, "M", dict(user_ref_num=7, side="S", quantity=50), hx("4d", URN7, "53", "00000032")),
    (IN, "Q", dict(), hx("51")),
    (IN, "Q", dict(options=((28, 1),)), hx("51", "0003", "021c01")),
    (IN, "C", dict(user_ref_num=9, firm="WSFM", symbol="AAPL", options=()), hx("43", "00000009", FIRM, SYM, APP0)),
    (IN, "C", dict(user_ref_num=9, firm="WSFM", symbol="", options=()),
     hx("43", "00000009", FIRM, "2020202020202020", APP0)),
    (IN, "D", dict(user_ref_num=10, firm="WSFM", options=()), hx("44", "0000000a", FIRM, APP0)),
    (IN, "E", dict(user_ref_num=11, firm="WSFM", options=()), hx("45", "0000000b", FIRM, APP0)),
    (OUT, "S", dict(timestamp=34_200_000_000_123, event_code="S"), hx("53", TS, "53")),
    (OUT, "A", dict(timestamp=34_200_000_000_123, user_ref_num=7, side="B", quantity=100, symbol="AAPL",
                    price=1912300, time_in_force="0", display="Y", order_ref=42, capacity="A",
                    intermarket_sweep="N", cross_type="N", order_state="L", clordid="ORDER1", options=()),
     hx("41", TS, URN7, "42", "00000064", SYM, PX, "30", "59", "000000000000002a", "41", "4e", "4e", "4c", CLORD,
        APP0)),
    (OUT, "U", dict(timestamp=34_200_000_000_123, orig_user_ref_num=7, user_ref_num=8, side="B", quantity=400,
                    symbol="AAPL", price=1912300, time_in_force="0", display="Y", order_ref=43, capacity="A",
                    intermarket_sweep="N", cross_type="N", order_state="L", clordid="ORDER1", options=()),
     hx("55", TS, URN7, "00000008", "42", "00000190", SYM, PX, "30", "59", "000000000000002b", "41", "4e", "4e",
        "4c", CLORD, APP0)),
    (OUT, "C", dict(timestamp=34_200_000_000_123, user_ref_num=7, quantity=100, reason="U"),
     hx("43", TS, URN7, "00000064", "55")),
    (OUT, "D", dict(timestamp=34_200_000_000_123, user_ref_num=7, quantity=100, reason="Q", quantity_prevented=100,
                    price=1912300, liquidity_flag="R", aiq_strategy="O"),
     hx("44", TS, URN7, "00000064", "51", "00000064", PX, "52", "4f")),
    (OUT, "E", dict(timestamp=34_200_000_000_123, user_ref_num=7, quantity=30, price=1912300, liquidity_flag="R",
                    match=0x0102030405060708, options=()),
     hx("45", TS, URN7, "0000001e", PX, "52", "0102030405060708", APP0)),
    (OUT, "B", dict(timestamp=34_200_000_000_123, user_ref_num=7, match=9, reason="E", clordid="ORDER1"),
     hx("42", TS, URN7, "0000000000000009", "45", CLORD)),
    (OUT, "J", dict(timestamp=34_200_000_000_123, user_ref_num=7, reason=0x0013, clordid="ORDER1"),
     hx("4a", TS, URN7, "0013", CLORD)),
    (OUT, "P", dict(timestamp=34_200_000_000_123, user_ref_num=7), hx("50", TS, URN7)),
    (OUT, "I", dict(timestamp=34_200_000_000_123, user_ref_num=7), hx("49", TS, URN7)),
    (OUT, "T", dict(timestamp=34_200_000_000_123, user_ref_num=7, price=1912300, display="Y", order_ref=44),
     hx("54", TS, URN7, PX, "59", "000000000000002c")),
    (OUT, "M", dict(timestamp=34_200_000_000_123, user_ref_num=7, side="S", quantity=50),
     hx("4d", TS, URN7, "53", "00000032")),
    (OUT, "R", dict(timestamp=34_200_000_000_123, user_ref_num=7, reason="P", options=()), hx("52", TS, URN7, "50",
                                                                                          APP0)),
    (OUT, "X", dict(timestamp=34_200_000_000_123, user_ref_num=9, firm="WSFM", symbol="AAPL", options=()),
     hx("58", TS, "00000009", FIRM, SYM, APP0)),
    (OUT, "G", dict(timestamp=34_200_000_000_123, user_ref_num=10, firm="WSFM", options=()),
     hx("47", TS, "0000000a", FIRM, APP0)),
    (OUT, "K", dict(timestamp=34_200_000_000_123, user_ref_num=11, firm="WSFM", options=()),
     hx("4b", TS, "0000000b", FIRM, APP0)),
    (OUT, "Q", dict(timestamp=34_200_000_000_123, next_user_ref_num=12), hx("51", TS, "0000000c")),
]


def _c_view(msg) -> dict:
    """The Python message as the C binding shows one: padded alpha fields,
    the appendage as its bytes."""
    kind = ouch.KINDS[(0 if type(msg).__name__ in _IN_NAMES else 1, msg.type.encode())]
    out = {"type": msg.type}
    for name, code in kind.fields:
        v = getattr(msg, name)
        out[name] = v.ljust(int(code[:-1])) if code.endswith("s") else v
    out["options"] = None if msg.options is None else ouch.encode_options(msg.options)
    return out


_IN_NAMES = {k.cls.__name__ for (d, _), k in ouch.KINDS.items() if d == IN}


@pytest.mark.parametrize("direction, type_, fields, wire", HAND,
                         ids=[f"{'in' if d == IN else 'out'}-{t}-{len(w)}" for d, t, _, w in HAND])
def test_bytes_match_the_specification(direction, type_, fields, wire) -> None:
    msg = ouch.make(direction, type_, **fields)
    assert ouch.encode(msg) == wire
    assert ouch.decode(wire, direction) == msg
    assert _native.ouch_decode(direction, wire) == _c_view(msg)  # the C decoder agrees
    assert _native.ouch_encode(direction, _c_view(msg)) == wire   # and so does the C encoder


def test_every_type_has_a_hand_written_message() -> None:
    assert {(d, t.decode()) for d, t in ouch.SPEC} == {(d, t) for d, t, _, _ in HAND}


def test_c_table_is_the_python_table() -> None:
    kinds = {1: "c", 2: "s", 3: "H", 4: "I", 5: "Q"}
    for direction in (IN, OUT):
        c = {t.encode(): (name, fixed, app, [(f, w) for f, _, w in fields])
             for t, name, fixed, app, fields in _native.ouch_specs(direction)}
        py = {t: (k.cls.__name__, k.fixed, k.appendage,
                  [(f, 1 if code == "c" else struct.calcsize(">" + code) if not code.endswith("s") else int(code[:-1]))
                   for f, code in k.fields])
              for (d, t), k in ouch.KINDS.items() if d == direction}
        assert c == py
        for t, name, fixed, app, fields in _native.ouch_specs(direction):
            assert 1 + sum(w for _, _, w in fields) == fixed, name
            for _, kind, _ in fields:
                assert kind in kinds


# -- round trips ---------------------------------------------------------------------------

def _value(code: str) -> st.SearchStrategy:
    alpha = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126))
    if code == "c":
        return st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=1)
    if code.endswith("s"):
        return alpha.filter(lambda s, w=int(code[:-1]): len(s) <= w)
    return st.integers(0, (1 << (8 * struct.calcsize(">" + code))) - 1)


OPTION_VALUES = st.lists(st.sampled_from(sorted(ouch.OPTIONS)).flatmap(
    lambda tag: st.tuples(st.just(tag), _value(ouch.OPTIONS[tag][1]) if ouch.OPTIONS[tag][1] != "i"
                          else st.integers(-(1 << 31), (1 << 31) - 1))), max_size=4)


@st.composite
def messages(draw):
    (direction, t), kind = draw(st.sampled_from(sorted(ouch.KINDS.items())))
    fields = {name: draw(_value(code)) for name, code in kind.fields}
    if kind.appendage == ouch.ALWAYS:
        fields["options"] = tuple(draw(OPTION_VALUES))
    elif kind.appendage == ouch.OPTIONAL:
        fields["options"] = draw(st.none() | OPTION_VALUES.map(tuple))
    return direction, ouch.make(direction, t.decode(), **fields)


@pytest.mark.property
@settings(max_examples=400, deadline=None)
@given(messages())
def test_round_trip_in_python_and_in_c(dm) -> None:
    direction, msg = dm
    wire = ouch.encode(msg)
    assert ouch.decode(wire, direction) == msg
    assert _native.ouch_decode(direction, wire) == _c_view(msg)
    assert _native.ouch_encode(direction, _c_view(msg)) == wire


# -- bad input ---------------------------------------------------------------------------

def _verdict_py(data: bytes, direction: int) -> str:
    try:
        ouch.decode(data, direction)
    except ouch.OuchError as exc:
        return exc.reason
    return "ok"


def _verdict_c(data: bytes, direction: int) -> str:
    r = _native.ouch_decode(direction, data)
    return "ok" if isinstance(r, dict) else ouch.ERRORS[-r - 1]


@pytest.mark.parametrize("data, direction, reason", [
    (b"", IN, "empty"),
    (b"Z", IN, "unknown_type"),
    (b"A", IN, "unknown_type"),                            # an outbound type sent inbound
    (HAND[0][3][:-1], IN, "short"),                        # Enter Order without its appendage length's last byte
    (HAND[0][3][:46], IN, "short"),
    (hx("58", URN7, "00000000", "00"), IN, "trailing"),    # Cancel with one stray byte: no room for a length
    (hx("53", TS, "53", "00"), OUT, "trailing"),           # System Event has no appendage at all
    (HAND[0][3][:-2] + b"\x00\x05", IN, "app_length"),     # says 5 bytes follow, none do
    (HAND[1][3] + b"\x00", IN, "app_length"),              # a byte after the appendage it declared
    (HAND[0][3][:-2] + b"\x00\x02\x05\x02", IN, "bad_option"),  # a TagValue longer than the appendage
    (HAND[0][3][:-2] + b"\x00\x01\x00", IN, "bad_option"),      # an empty TagValue
    (HAND[0][3][:-2] + b"\x00\x03\x02\x02\x41", IN, "bad_option"),  # Firm with 1 byte, not 4
])
def test_bad_messages_are_named(data, direction, reason) -> None:
    assert _verdict_py(data, direction) == reason
    assert _verdict_c(data, direction) == reason


def test_unknown_option_tags_are_kept() -> None:
    wire = HAND[0][3][:-2] + b"\x00\x04\x03\x63\xab\xcd"  # tag 99, two bytes
    msg = ouch.decode(wire, IN)
    assert msg.options == ((99, b"\xab\xcd"),) and ouch.encode(msg) == wire
    assert _verdict_c(wire, IN) == "ok"


@pytest.mark.property
@settings(max_examples=600, deadline=None)
@given(st.sampled_from([w for _, _, _, w in HAND]), st.sampled_from([IN, OUT]), st.data())
def test_mangled_messages_give_the_same_verdict_in_python_and_c(wire, direction, data) -> None:
    """Truncated, extended, with bytes flipped (lengths lying): a reason, the same one in both."""
    b = bytearray(wire)
    for _ in range(data.draw(st.integers(0, 3))):
        op = data.draw(st.sampled_from(["cut", "grow", "flip"]))
        if op == "cut" and b:
            del b[data.draw(st.integers(0, len(b) - 1)):]
        elif op == "grow":
            b += data.draw(st.binary(max_size=8))
        elif b:
            b[data.draw(st.integers(0, len(b) - 1))] = data.draw(st.integers(0, 255))
    assert _verdict_py(bytes(b), direction) == _verdict_c(bytes(b), direction)


@pytest.mark.property
@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=90), st.sampled_from([IN, OUT]))
def test_random_bytes_give_the_same_verdict_in_python_and_c(data, direction) -> None:
    assert _verdict_py(data, direction) == _verdict_c(data, direction)


def test_encoding_refuses_what_does_not_fit() -> None:
    with pytest.raises(ouch.OuchError, match="longer than 8"):
        ouch.encode(ouch.make(IN, "O", symbol="TOOLONGSYM"))
    with pytest.raises(ouch.OuchError, match="invalid"):
        ouch.encode(ouch.make(IN, "O", quantity=1 << 32))
    with pytest.raises(ouch.OuchError, match="no appendage"):
        ouch.encode(ouch.make(OUT, "S", options=((28, 1),)))
    with pytest.raises(ouch.OuchError, match="unknown_type"):
        ouch.make(IN, "A")
