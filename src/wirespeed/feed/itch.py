"""NASDAQ TotalView-ITCH 5.0 messages: encode and decode.

Layouts are those of NASDAQ's "Nasdaq TotalView-ITCH 5.0" specification
(the version of 2015 onwards), cross-checked against independent public
implementations (see ../shared/PROTOCOLS.md). All integers are big-endian;
alpha fields are left-justified and space-padded; prices are integers with 4
implied decimals (Price(8) of the MWCB message: 8 decimals).

Every message starts with the same 11 bytes:

    type @0 (1) | stock locate @1 (2) | tracking number @3 (2) | timestamp @5 (6, ns since midnight)

Decoded messages are named tuples: `type, locate, tracking, timestamp` and
then the body fields of that type, in wire order. Alpha fields decode to str
with the padding removed and encode back padded, so a decode/encode round
trip reproduces the bytes. One-character fields are kept as they are: a
space is a value there ("not available").
"""
from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any

HEADER = struct.Struct(">cHHHI")  # type, locate, tracking, timestamp high 16 bits, low 32 bits
HEADER_LEN = 11
PRICE_SCALE = 10_000

# type: (name, [(field, struct code)]); the body follows the 11-byte header.
# Codes: c = 1 alpha char, Ns = N-byte alpha, H/I/Q = 2/4/8-byte unsigned.
SPEC: dict[bytes, tuple[str, list[tuple[str, str]]]] = {
    b"S": ("SystemEvent", [("event_code", "c")]),
    b"R": ("StockDirectory", [
        ("stock", "8s"), ("market_category", "c"), ("financial_status", "c"), ("round_lot_size", "I"),
        ("round_lots_only", "c"), ("issue_classification", "c"), ("issue_subtype", "2s"),
        ("authenticity", "c"), ("short_sale_threshold", "c"), ("ipo_flag", "c"), ("luld_tier", "c"),
        ("etp_flag", "c"), ("etp_leverage", "I"), ("inverse", "c")]),
    b"H": ("TradingAction", [("stock", "8s"), ("trading_state", "c"), ("reserved", "c"), ("reason", "4s")]),
    b"Y": ("RegShoRestriction", [("stock", "8s"), ("reg_sho_action", "c")]),
    b"L": ("MarketParticipantPosition", [("mpid", "4s"), ("stock", "8s"), ("primary_market_maker", "c"),
                                          ("market_maker_mode", "c"), ("participant_state", "c")]),
    b"V": ("MwcbDeclineLevel", [("level1", "Q"), ("level2", "Q"), ("level3", "Q")]),
    b"W": ("MwcbStatus", [("breached_level", "c")]),
    b"K": ("IpoQuotingPeriod", [("stock", "8s"), ("release_time", "I"), ("release_qualifier", "c"),
                                 ("ipo_price", "I")]),
    b"J": ("LuldAuctionCollar", [("stock", "8s"), ("ref_price", "I"), ("upper_price", "I"),
                                  ("lower_price", "I"), ("extension", "I")]),
    b"h": ("OperationalHalt", [("stock", "8s"), ("market_code", "c"), ("halt_action", "c")]),
    b"A": ("AddOrder", [("order_ref", "Q"), ("side", "c"), ("shares", "I"), ("stock", "8s"), ("price", "I")]),
    b"F": ("AddOrderMpid", [("order_ref", "Q"), ("side", "c"), ("shares", "I"), ("stock", "8s"), ("price", "I"),
                            ("attribution", "4s")]),
    b"E": ("OrderExecuted", [("order_ref", "Q"), ("shares", "I"), ("match", "Q")]),
    b"C": ("OrderExecutedWithPrice", [("order_ref", "Q"), ("shares", "I"), ("match", "Q"), ("printable", "c"),
                                      ("price", "I")]),
    b"X": ("OrderCancel", [("order_ref", "Q"), ("shares", "I")]),
    b"D": ("OrderDelete", [("order_ref", "Q")]),
    b"U": ("OrderReplace", [("order_ref", "Q"), ("new_order_ref", "Q"), ("shares", "I"), ("price", "I")]),
    b"P": ("Trade", [("order_ref", "Q"), ("side", "c"), ("shares", "I"), ("stock", "8s"), ("price", "I"),
                     ("match", "Q")]),
    b"Q": ("CrossTrade", [("shares", "Q"), ("stock", "8s"), ("price", "I"), ("match", "Q"), ("cross_type", "c")]),
    b"B": ("BrokenTrade", [("match", "Q")]),
    b"I": ("Noii", [("paired_shares", "Q"), ("imbalance_shares", "Q"), ("direction", "c"), ("stock", "8s"),
                    ("far_price", "I"), ("near_price", "I"), ("ref_price", "I"), ("cross_type", "c"),
                    ("price_variation", "c")]),
    b"N": ("RetailInterest", [("stock", "8s"), ("interest_flag", "c")]),
}


@dataclass(frozen=True)
class _Kind:
    type: bytes
    cls: type
    body: struct.Struct
    alpha: tuple[bool, ...]  # per body field: decode to str
    padded: tuple[bool, ...]  # per body field: multi-byte alpha, padding stripped on decode
    length: int


def _build() -> dict[bytes, _Kind]:
    kinds = {}
    for t, (name, fields) in SPEC.items():
        body = struct.Struct(">" + "".join(code for _, code in fields))
        cls = namedtuple(name, ["type", "locate", "tracking", "timestamp", *[f for f, _ in fields]])  # type: ignore[misc]
        alpha = tuple(code.endswith(("c", "s")) for _, code in fields)
        padded = tuple(code.endswith("s") for _, code in fields)
        kinds[t] = _Kind(t, cls, body, alpha, padded, HEADER_LEN + body.size)
    return kinds


KINDS = _build()
LENGTHS = {t: k.length for t, k in KINDS.items()}
globals().update({k.cls.__name__: k.cls for k in KINDS.values()})

# The lengths the specification gives; checked at import so a typo cannot ship.
_SPEC_LENGTHS = {b"S": 12, b"R": 39, b"H": 25, b"Y": 20, b"L": 26, b"V": 35, b"W": 12, b"K": 28, b"J": 35,
                 b"h": 21, b"A": 36, b"F": 40, b"E": 31, b"C": 36, b"X": 23, b"D": 19, b"U": 35, b"P": 44,
                 b"Q": 40, b"B": 19, b"I": 50, b"N": 20}
assert LENGTHS == _SPEC_LENGTHS, {t: (LENGTHS[t], n) for t, n in _SPEC_LENGTHS.items() if LENGTHS[t] != n}


class ItchError(ValueError):
    """A message that cannot be encoded (unknown type, field out of range)."""


def encode(msg: Any) -> bytes:
    """One message to its wire bytes (without MoldUDP64's length prefix)."""
    t = msg.type.encode() if isinstance(msg.type, str) else msg.type
    kind = KINDS.get(t)
    if kind is None:
        raise ItchError(f"unknown ITCH message type {t!r}")
    if not 0 <= msg.timestamp < 1 << 48:
        raise ItchError(f"timestamp {msg.timestamp} does not fit 48 bits")
    values = []
    for (name, code), is_alpha in zip(SPEC[t][1], kind.alpha):
        v = getattr(msg, name)
        if is_alpha:
            width = 1 if code == "c" else int(code[:-1])
            raw = v.encode("ascii") if isinstance(v, str) else bytes(v)
            if len(raw) > width:
                raise ItchError(f"{kind.cls.__name__}.{name} {v!r} longer than {width}")
            v = raw.ljust(width, b" ")
        values.append(v)
    try:
        return HEADER.pack(t, msg.locate, msg.tracking, msg.timestamp >> 32, msg.timestamp & 0xFFFFFFFF) + \
            kind.body.pack(*values)
    except struct.error as exc:
        raise ItchError(f"{kind.cls.__name__}: {exc}") from None


def make(type_: str, timestamp: int = 0, locate: int = 0, tracking: int = 0, **body: Any) -> Any:
    """Build a message: make("A", timestamp=t, order_ref=1, side="B", ...)."""
    kind = KINDS.get(type_.encode())
    if kind is None:
        raise ItchError(f"unknown ITCH message type {type_!r}")
    try:
        return kind.cls(type_, locate, tracking, timestamp, **body)
    except TypeError as exc:
        raise ItchError(f"{kind.cls.__name__}: {exc}") from None


@dataclass
class DecodeStats:
    """What a decoder skipped, and why: nothing is skipped silently."""

    messages: int = 0
    unknown_type: int = 0   # skipped by length, as the specification asks
    bad_length: int = 0     # known type whose length is not the specification's
    empty: int = 0          # zero-length message
    by_type: dict[str, int] = field(default_factory=dict)

    def add(self, other: DecodeStats) -> None:
        self.messages += other.messages
        self.unknown_type += other.unknown_type
        self.bad_length += other.bad_length
        self.empty += other.empty
        for k, v in other.by_type.items():
            self.by_type[k] = self.by_type.get(k, 0) + v


def decode(data: bytes | memoryview, stats: DecodeStats | None = None) -> Any | None:
    """One message (exactly one length-delimited block) to a named tuple, or
    None if it is skipped (counted in stats). Never raises on bad input."""
    if stats is None:
        stats = DecodeStats()
    if len(data) == 0:
        stats.empty += 1
        return None
    t = bytes(data[:1])
    kind = KINDS.get(t)
    if kind is None:
        stats.unknown_type += 1
        return None
    if len(data) != kind.length:
        stats.bad_length += 1
        return None
    _, locate, tracking, ts_hi, ts_lo = HEADER.unpack_from(data, 0)
    body = list(kind.body.unpack_from(data, HEADER_LEN))
    for i, (is_alpha, is_padded) in enumerate(zip(kind.alpha, kind.padded)):
        if is_alpha:
            body[i] = body[i].decode("latin-1")
            if is_padded:  # a single-character field keeps its space: ' ' is a value there
                body[i] = body[i].rstrip(" ")
    stats.messages += 1
    name = t.decode()
    stats.by_type[name] = stats.by_type.get(name, 0) + 1
    return kind.cls(name, locate, tracking, (ts_hi << 32) | ts_lo, *body)


def price(p: int) -> float:
    """Price(4) integer to a float (for display, never for book keeping)."""
    return p / PRICE_SCALE


def from_ring(path: str, types: str | None = None) -> Iterator[Any]:
    """Every ITCH message a capture's ring holds, decoded, oldest first (those of
    `types` only, if given): for checking after a run what the feed carried. Frames
    that are not MoldUDP64 and messages that do not decode are skipped."""
    from wirespeed.feed import moldudp64
    from wirespeed.ring import RingReader

    with RingReader(path, "oldest") as r:
        while batch := r.poll(8192):
            for _rec, frame in batch:
                pkt = moldudp64.from_frame(frame)
                for m in pkt.messages if pkt else ():
                    if types is None or bytes(m[:1]).decode("latin-1") in types:
                        msg = decode(m)
                        if msg is not None:
                            yield msg
