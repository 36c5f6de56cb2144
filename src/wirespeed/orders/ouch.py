"""NASDAQ OUCH 5.0 (rev 1.04) messages, both directions: encode and decode.

Layouts are those of NASDAQ's "OUCH 5.0 Order Entry Specification"; the same
table is in C (native/orders/ouch.c) and tests hold the two to each other.
Integers big-endian; alpha fields left-justified and space-padded; prices 8
bytes with 4 implied decimals; timestamps ns since midnight.

Each message is one SoupBinTCP payload and is sized from that length, never
from its type. After the fixed fields a type has no appendage, always has
one, or may have one (the specification's optional appendage: the message
may end after its fixed fields). An appendage is a u16 length and TagValue
elements (u8 length = 1 + value size, u8 tag, value); decoded, it is a tuple
of (tag, value) pairs, values typed by Appendix A (unknown tags keep their
bytes). `options` is None when an optional appendage is absent.

Direction IN is client -> exchange (Enter, Replace, Cancel, ...), OUT is
exchange -> client (Accepted, Executed, ...). Some type letters exist in both
with different layouts, so every class knows its direction.
"""
from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

IN, OUT = 0, 1
PRICE_SCALE = 10_000
MAX_QUANTITY = 999_999
MAX_PRICE = 1_999_999_900  # $199,999.9900

NONE, ALWAYS, OPTIONAL = 0, 1, 2  # appendage
_TS = ("timestamp", "Q")
_URN = ("user_ref_num", "I")

# (direction, type): (class name, appendage, [(field, struct code)]); codes: c = 1 alpha char,
# Ns = N-byte alpha, H/I/Q = 2/4/8-byte unsigned.
SPEC: dict[tuple[int, bytes], tuple[str, int, list[tuple[str, str]]]] = {
    (IN, b"O"): ("EnterOrder", ALWAYS, [
        _URN, ("side", "c"), ("quantity", "I"), ("symbol", "8s"), ("price", "Q"), ("time_in_force", "c"),
        ("display", "c"), ("capacity", "c"), ("intermarket_sweep", "c"), ("cross_type", "c"), ("clordid", "14s")]),
    (IN, b"U"): ("ReplaceOrder", ALWAYS, [
        ("orig_user_ref_num", "I"), _URN, ("quantity", "I"), ("price", "Q"), ("time_in_force", "c"),
        ("display", "c"), ("intermarket_sweep", "c"), ("clordid", "14s")]),
    (IN, b"X"): ("CancelOrder", OPTIONAL, [_URN, ("quantity", "I")]),
    (IN, b"M"): ("ModifyOrder", OPTIONAL, [_URN, ("side", "c"), ("quantity", "I")]),
    (IN, b"Q"): ("AccountQuery", OPTIONAL, []),
    (IN, b"C"): ("MassCancel", ALWAYS, [_URN, ("firm", "4s"), ("symbol", "8s")]),
    (IN, b"D"): ("DisableOrderEntry", ALWAYS, [_URN, ("firm", "4s")]),
    (IN, b"E"): ("EnableOrderEntry", ALWAYS, [_URN, ("firm", "4s")]),
    (OUT, b"S"): ("SystemEvent", NONE, [_TS, ("event_code", "c")]),
    (OUT, b"A"): ("OrderAccepted", ALWAYS, [
        _TS, _URN, ("side", "c"), ("quantity", "I"), ("symbol", "8s"), ("price", "Q"), ("time_in_force", "c"),
        ("display", "c"), ("order_ref", "Q"), ("capacity", "c"), ("intermarket_sweep", "c"), ("cross_type", "c"),
        ("order_state", "c"), ("clordid", "14s")]),
    (OUT, b"U"): ("OrderReplaced", ALWAYS, [
        _TS, ("orig_user_ref_num", "I"), _URN, ("side", "c"), ("quantity", "I"), ("symbol", "8s"), ("price", "Q"),
        ("time_in_force", "c"), ("display", "c"), ("order_ref", "Q"), ("capacity", "c"),
        ("intermarket_sweep", "c"), ("cross_type", "c"), ("order_state", "c"), ("clordid", "14s")]),
    (OUT, b"C"): ("OrderCanceled", OPTIONAL, [_TS, _URN, ("quantity", "I"), ("reason", "c")]),
    (OUT, b"D"): ("AiqCanceled", OPTIONAL, [
        _TS, _URN, ("quantity", "I"), ("reason", "c"), ("quantity_prevented", "I"), ("price", "Q"),
        ("liquidity_flag", "c"), ("aiq_strategy", "c")]),
    (OUT, b"E"): ("OrderExecuted", ALWAYS, [
        _TS, _URN, ("quantity", "I"), ("price", "Q"), ("liquidity_flag", "c"), ("match", "Q")]),
    (OUT, b"B"): ("BrokenTrade", OPTIONAL, [_TS, _URN, ("match", "Q"), ("reason", "c"), ("clordid", "14s")]),
    (OUT, b"J"): ("Rejected", OPTIONAL, [_TS, _URN, ("reason", "H"), ("clordid", "14s")]),
    (OUT, b"P"): ("CancelPending", OPTIONAL, [_TS, _URN]),
    (OUT, b"I"): ("CancelReject", OPTIONAL, [_TS, _URN]),
    (OUT, b"T"): ("PriorityUpdate", OPTIONAL, [_TS, _URN, ("price", "Q"), ("display", "c"), ("order_ref", "Q")]),
    (OUT, b"M"): ("OrderModified", OPTIONAL, [_TS, _URN, ("side", "c"), ("quantity", "I")]),
    (OUT, b"R"): ("OrderRestated", ALWAYS, [_TS, _URN, ("reason", "c")]),
    (OUT, b"X"): ("MassCancelResponse", ALWAYS, [_TS, _URN, ("firm", "4s"), ("symbol", "8s")]),
    (OUT, b"G"): ("DisableOrderEntryResponse", ALWAYS, [_TS, _URN, ("firm", "4s")]),
    (OUT, b"K"): ("EnableOrderEntryResponse", ALWAYS, [_TS, _URN, ("firm", "4s")]),
    (OUT, b"Q"): ("AccountQueryResponse", OPTIONAL, [_TS, ("next_user_ref_num", "I")]),
}

# The fixed sizes the specification gives (bytes before the appendage length);
# checked at import so a typo cannot ship.
_SPEC_FIXED = {
    (IN, b"O"): 45, (IN, b"U"): 38, (IN, b"X"): 9, (IN, b"M"): 10, (IN, b"Q"): 1, (IN, b"C"): 17, (IN, b"D"): 9,
    (IN, b"E"): 9, (OUT, b"S"): 10, (OUT, b"A"): 62, (OUT, b"U"): 66, (OUT, b"C"): 18, (OUT, b"D"): 32,
    (OUT, b"E"): 34, (OUT, b"B"): 36, (OUT, b"J"): 29, (OUT, b"P"): 13, (OUT, b"I"): 13, (OUT, b"T"): 30,
    (OUT, b"M"): 18, (OUT, b"R"): 14, (OUT, b"X"): 25, (OUT, b"G"): 17, (OUT, b"K"): 17, (OUT, b"Q"): 13,
}

# Appendix A: tag -> (name, struct code). Codes as above; i = signed 4 bytes, B = 1-byte unsigned.
OPTIONS: dict[int, tuple[str, str]] = {
    1: ("secondary_ord_ref_num", "Q"), 2: ("firm", "4s"), 3: ("min_qty", "I"), 4: ("customer_type", "c"),
    5: ("max_floor", "I"), 6: ("price_type", "c"), 7: ("peg_offset", "i"), 9: ("discretion_price", "Q"),
    10: ("discretion_price_type", "c"), 11: ("discretion_peg_offset", "i"), 12: ("post_only", "c"),
    13: ("random_reserves", "I"), 14: ("route", "4s"), 15: ("expire_time", "I"), 16: ("trade_now", "c"),
    17: ("handle_inst", "c"), 18: ("bbo_weight_indicator", "c"), 22: ("display_quantity", "I"),
    23: ("display_price", "Q"), 24: ("group_id", "H"), 25: ("shares_located", "c"), 26: ("locate_broker", "4s"),
    27: ("side", "c"), 28: ("user_ref_idx", "B"),
}
OPTION_TAGS = {name: tag for tag, (name, _) in OPTIONS.items()}

# Appendix C: reject reasons.
REJECT_REASONS: dict[int, str] = {
    0x0001: "Quote Unavailable", 0x0002: "Destination Closed", 0x0003: "Invalid Display",
    0x0004: "Invalid Max Floor", 0x0005: "Invalid Peg Type", 0x0006: "Fat Finger", 0x0007: "Halted",
    0x0008: "ISO Not Allowed", 0x0009: "Invalid Side", 0x000A: "Processing Error", 0x000B: "Cancel Pending",
    0x000C: "Firm Not Authorized", 0x000D: "Invalid Min Quantity", 0x000E: "No Closing Reference Price",
    0x000F: "Other", 0x0010: "Cancel Not Allowed", 0x0011: "Pegging Not Allowed", 0x0012: "Crossed Market",
    0x0013: "Invalid Quantity", 0x0014: "Invalid Cross Order", 0x0015: "Replace Not Allowed",
    0x0016: "Routing Not Allowed", 0x0017: "Invalid Symbol", 0x0018: "Test", 0x0019: "Late LOC Too Aggressive",
    0x001A: "Retail Not Allowed", 0x001B: "Invalid Midpoint Post Only Price", 0x001C: "Invalid Destination",
    0x001D: "Invalid Price", 0x001E: "Shares Exceed Threshold", 0x001F: "Exceeds Maximum Allowed Notional Value",
    0x0020: "Risk: Aggregate Exposure Exceeded", 0x0021: "Risk: Market Impact", 0x0022: "Risk: Restricted Stock",
    0x0023: "Risk: Short Sell Restricted", 0x0024: "Risk: ISO Not Allowed", 0x0025: "Risk: Exceeds ADV Limit",
    0x0026: "Risk: Fat Finger", 0x0027: "Risk: Locate Required", 0x0028: "Risk: Symbol Message Rate Restriction",
    0x0029: "Risk: Port Message Rate Restriction", 0x002A: "Risk: Duplicate Message Rate Restriction",
    0x002B: "Risk: Short Sell Not Allowed", 0x002C: "Risk: Market Order Not Allowed",
    0x002D: "Risk: Pre-Market Not Allowed", 0x002E: "Risk: Post-Market Not Allowed",
    0x002F: "Risk: Short Sell Exempt Not Allowed", 0x0030: "Risk: Single Order Notional Exceeded",
    0x0031: "Risk: Max Quantity Exceeded", 0x0032: "Reg SHO State Not Available",
    0x0033: "Risk: IPO Market Buy Not Allowed",
}

# Appendix B: cancel reasons the simulator gives.
CANCEL_USER, CANCEL_IOC, CANCEL_SUPERVISORY, CANCEL_SYSTEM = "U", "I", "S", "Z"

#: Why a message could not be decoded (the C decoder's enum ws_ouch_err, by name).
ERRORS = ("empty", "unknown_type", "short", "trailing", "app_length", "bad_option")


class OuchError(ValueError):
    """A message that cannot be decoded or encoded; .reason is one of ERRORS
    (decoding) or "invalid" (encoding)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class _Kind:
    direction: int
    type: bytes
    cls: type
    body: struct.Struct
    appendage: int
    fields: tuple[tuple[str, str], ...]

    @property
    def fixed(self) -> int:
        return 1 + self.body.size


def _build() -> tuple[dict[tuple[int, bytes], _Kind], dict[type, _Kind]]:
    kinds, by_cls = {}, {}
    for (d, t), (name, app, fields) in SPEC.items():
        cls = namedtuple(name, ["type", *[f for f, _ in fields], "options"],  # type: ignore[misc]
                         defaults=[None])
        k = _Kind(d, t, cls, struct.Struct(">" + "".join(code for _, code in fields)), app, tuple(fields))
        kinds[(d, t)] = k
        by_cls[cls] = k
    return kinds, by_cls


KINDS, _BY_CLASS = _build()
FIXED = {key: k.fixed for key, k in KINDS.items()}
assert FIXED == _SPEC_FIXED, {key: (FIXED[key], n) for key, n in _SPEC_FIXED.items() if FIXED[key] != n}
globals().update({k.cls.__name__: k.cls for k in KINDS.values()})


def _alpha_in(v: Any, width: int, where: str) -> bytes:
    raw = v.encode("ascii") if isinstance(v, str) else bytes(v)
    if len(raw) > width:
        raise OuchError("invalid", f"{where} {v!r} is longer than {width}")
    return raw.ljust(width, b" ")


def _alpha_out(raw: bytes, code: str) -> str:
    s = raw.decode("latin-1")
    return s if code == "c" else s.rstrip(" ")  # one character keeps its space: ' ' is a value there


def encode_options(options: Any) -> bytes:
    """(tag or name, value) pairs to TagValue elements."""
    out = []
    for tag, value in options:
        t = OPTION_TAGS[tag] if isinstance(tag, str) else int(tag)
        if t in OPTIONS:
            name, code = OPTIONS[t]
            try:
                raw = _alpha_in(value, 1 if code == "c" else int(code[:-1]), name) if code.endswith(("c", "s")) \
                    else struct.pack(">" + code, value)
            except struct.error as exc:
                raise OuchError("invalid", f"option {name}: {exc}") from None
        else:
            raw = bytes(value)
        if not 0 <= t <= 255 or len(raw) > 254:
            raise OuchError("invalid", f"option tag {t} with {len(raw)} bytes does not fit a TagValue element")
        out.append(bytes((len(raw) + 1, t)) + raw)
    return b"".join(out)


def decode_options(app: bytes | memoryview) -> tuple[tuple[int, Any], ...]:
    """TagValue elements to (tag, value) pairs; OuchError("bad_option") if
    one overruns, is empty, or has a known tag with the wrong value size."""
    out, off = [], 0
    while off < len(app):
        n = app[off]
        if n == 0 or off + 1 + n > len(app):
            raise OuchError("bad_option", f"TagValue at {off} of length {n} in {len(app)} bytes")
        tag, raw = app[off + 1], bytes(app[off + 2:off + 1 + n])
        if tag in OPTIONS:
            name, code = OPTIONS[tag]
            size = 1 if code == "c" else struct.calcsize(">" + code) if not code.endswith("s") else int(code[:-1])
            if len(raw) != size:
                raise OuchError("bad_option", f"option {name} (tag {tag}) has {len(raw)} bytes, not {size}")
            value: Any = _alpha_out(raw, code) if code.endswith(("c", "s")) else struct.unpack(">" + code, raw)[0]
        else:
            value = raw
        out.append((tag, value))
        off += 1 + n
    return tuple(out)


def decode(data: bytes | memoryview, direction: int) -> Any:
    """One message (exactly one SoupBinTCP payload) to its named tuple.
    Raises OuchError naming what was wrong (.reason in ERRORS); never reads
    past the data."""
    view = memoryview(data)
    if not len(view):
        raise OuchError("empty", "no bytes")
    t = bytes(view[:1])
    kind = KINDS.get((direction, t))
    if kind is None:
        raise OuchError("unknown_type", f"{t!r} is not an OUCH 5.0 {'inbound' if direction == IN else 'outbound'} type")
    if len(view) < kind.fixed:
        raise OuchError("short", f"{kind.cls.__name__} needs {kind.fixed} bytes, got {len(view)}")
    body = list(kind.body.unpack_from(view, 1))
    for i, (_, code) in enumerate(kind.fields):
        if code.endswith(("c", "s")):
            body[i] = _alpha_out(body[i], code)
    options = None
    if kind.appendage == NONE:
        if len(view) != kind.fixed:
            raise OuchError("trailing", f"{len(view) - kind.fixed} bytes after a {kind.cls.__name__}")
    elif not (kind.appendage == OPTIONAL and len(view) == kind.fixed):
        if len(view) < kind.fixed + 2:
            raise OuchError("short" if kind.appendage == ALWAYS else "trailing",
                            f"{kind.cls.__name__} has {len(view) - kind.fixed} byte(s) where its appendage length goes")
        (n,) = struct.unpack_from(">H", view, kind.fixed)
        if kind.fixed + 2 + n != len(view):
            raise OuchError("app_length", f"{kind.cls.__name__}'s appendage length says {n} bytes, "
                                          f"{len(view) - kind.fixed - 2} follow")
        options = decode_options(view[kind.fixed + 2:])
    return kind.cls(t.decode(), *body, options)


def encode(msg: Any) -> bytes:
    """A message (one of this module's classes) to its bytes."""
    kind = _BY_CLASS.get(type(msg))
    if kind is None:
        raise OuchError("invalid", f"{type(msg).__name__} is not an OUCH 5.0 message class")
    values = []
    for name, code in kind.fields:
        v = getattr(msg, name)
        if code.endswith(("c", "s")):
            v = _alpha_in(v, 1 if code == "c" else int(code[:-1]), f"{kind.cls.__name__}.{name}")
        values.append(v)
    try:
        out = kind.type + kind.body.pack(*values)
    except struct.error as exc:
        raise OuchError("invalid", f"{kind.cls.__name__}: {exc}") from None
    if kind.appendage == ALWAYS or (kind.appendage == OPTIONAL and msg.options is not None):
        app = encode_options(msg.options or ())
        out += struct.pack(">H", len(app)) + app
    elif msg.options:
        raise OuchError("invalid", f"{kind.cls.__name__} has no appendage")
    return out


def make(direction: int, type_: str, **fields: Any) -> Any:
    """A message with defaults for what is not given: numbers 0, alpha
    fields blank, one-character fields a space, no optional appendage."""
    kind = KINDS.get((direction, type_.encode()))
    if kind is None:
        raise OuchError("unknown_type", f"{type_!r} is not an OUCH 5.0 {'inbound' if direction == IN else 'outbound'} type")
    values = {name: (" " if code == "c" else "" if code.endswith("s") else 0) for name, code in kind.fields}
    unknown = set(fields) - set(values) - {"options"}
    if unknown:
        raise OuchError("invalid", f"{kind.cls.__name__} has no field(s) {', '.join(sorted(unknown))}")
    values.update(fields)
    return kind.cls(type_, **values)


def price(p: int) -> float:
    """Price(4) integer to a float (for display, never for book keeping)."""
    return p / PRICE_SCALE
