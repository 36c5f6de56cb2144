"""SoupBinTCP 4.1 (and 4.0 logins): NASDAQ's session layer over TCP.

Layout (NASDAQ's "SoupBinTCP 4.1"; ../shared/PROTOCOLS.md): every logical
packet is `u16 length` (bytes after it) · `u8 type` · payload, on a byte
stream where packets arrive split or merged across reads (Reassembler puts
them back together). The same framing and login parser is in C
(native/orders/soupbin.c).

Client -> server: Login Request `L` (username 6, password 10, requested
session 10, requested sequence number 20, and in 4.1 the heartbeat timeout
5: ASCII, numbers right-justified), Unsequenced Data `U` (an OUCH inbound
message), Client Heartbeat `R`, Logout Request `O`. Server -> client: Login
Accepted `A` (session 10, next sequence number 20), Login Rejected `J`
(reason `A` not authorised, `S` session not available), Sequenced Data `S`
(numbered by counting, from 1), Server Heartbeat `H`, End of Session `Z`.
Debug `+` either way. Readers trim ASCII fields on both sides.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

DEBUG, LOGIN_ACCEPTED, LOGIN_REJECTED, SEQUENCED, SERVER_HEARTBEAT, END_OF_SESSION = b"+", b"A", b"J", b"S", b"H", b"Z"
LOGIN_REQUEST, UNSEQUENCED, CLIENT_HEARTBEAT, LOGOUT_REQUEST = b"L", b"U", b"R", b"O"
REJECT_NOT_AUTHORIZED, REJECT_SESSION = b"A", b"S"
LOGIN_40, LOGIN_41 = 47, 52  # the length field of a Login Request
MAX_LENGTH = 0xFFFF

#: Why a stream or a login cannot be read (the C enum ws_soup_err, by name).
ERRORS = ("zero_length", "too_long", "bad_login", "bad_number")


class SoupError(ValueError):
    """A stream that cannot be framed or a login that cannot be read; .reason in ERRORS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def packet(type_: bytes, payload: bytes = b"") -> bytes:
    """One logical packet."""
    if len(payload) + 1 > MAX_LENGTH:
        raise SoupError("too_long", f"a payload of {len(payload)} bytes does not fit a 2-byte length")
    return struct.pack(">H", len(payload) + 1) + type_ + payload


def _ljust(s: str, width: int, what: str) -> bytes:
    raw = s.encode("ascii")
    if len(raw) > width:
        raise SoupError("bad_login", f"{what} {s!r} is longer than {width}")
    return raw.ljust(width, b" ")


def _rjust(n: int, width: int, what: str) -> bytes:
    raw = str(n).encode("ascii")
    if n < 0 or len(raw) > width:
        raise SoupError("bad_number", f"{what} {n} does not fit {width} digits")
    return raw.rjust(width, b" ")


def login_request(username: str, password: str, session: str = "", sequence: int = 1,
                  heartbeat_timeout_ms: int | None = 15_000) -> bytes:
    """A Login Request: 4.1 with a heartbeat timeout, 4.0 with None.
    sequence 1 = every message from the start, 0 = from now on."""
    payload = (_ljust(username, 6, "username") + _ljust(password, 10, "password") + _ljust(session, 10, "session")
               + _rjust(sequence, 20, "sequence"))
    if heartbeat_timeout_ms is not None:
        payload += _rjust(heartbeat_timeout_ms, 5, "heartbeat timeout")
    return packet(LOGIN_REQUEST, payload)


def login_accepted(session: str, sequence: int) -> bytes:
    return packet(LOGIN_ACCEPTED, _ljust(session, 10, "session") + _rjust(sequence, 20, "sequence"))


def login_rejected(reason: bytes) -> bytes:
    return packet(LOGIN_REJECTED, reason)


def sequenced(message: bytes) -> bytes:
    return packet(SEQUENCED, message)


def unsequenced(message: bytes) -> bytes:
    return packet(UNSEQUENCED, message)


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    session: str
    sequence: int                       # 0 = live
    heartbeat_timeout_ms: int | None    # None: a 4.0 login
    version: int                        # 40 or 41


def _digits(raw: bytes, what: str) -> int:
    s = raw.strip(b" ")
    if s and not s.isdigit():
        raise SoupError("bad_number", f"{what} {raw!r} is not a number")
    return int(s) if s else 0


def parse_login(payload: bytes | memoryview) -> Login:
    """A Login Request's payload (after the type byte)."""
    p = bytes(payload)
    if len(p) not in (LOGIN_40 - 1, LOGIN_41 - 1):
        raise SoupError("bad_login", f"a login of {len(p) + 1} bytes (4.0: {LOGIN_40}, 4.1: {LOGIN_41})")
    text = [p[a:b].strip(b" ").decode("latin-1") for a, b in ((0, 6), (6, 16), (16, 26))]
    seq = _digits(p[26:46], "requested sequence number")
    hb = _digits(p[46:51], "heartbeat timeout") if len(p) == LOGIN_41 - 1 else None
    return Login(text[0], text[1], text[2], seq, hb, 41 if hb is not None else 40)


def parse_login_accepted(payload: bytes | memoryview) -> tuple[str, int]:
    """(session, next sequence number) of a Login Accepted payload."""
    p = bytes(payload)
    if len(p) != 30:
        raise SoupError("bad_login", f"a Login Accepted of {len(p) + 1} bytes, not 31")
    return p[:10].strip(b" ").decode("latin-1"), _digits(p[10:30], "sequence number")


@dataclass(frozen=True)
class Packet:
    type: bytes
    payload: bytes


class Reassembler:
    """Bytes in, whole packets out, however the stream was cut:

        r = Reassembler(max_length=4096)
        for pkt in r.feed(sock.recv(65536)): ...

    A length of 0 or above max_length is a protocol error (SoupError): the
    stream cannot be trusted past it, so the caller drops the connection."""

    def __init__(self, max_length: int = MAX_LENGTH) -> None:
        self.max_length = max_length
        self.buf = bytearray()

    def feed(self, data: bytes | memoryview) -> Iterator[Packet]:
        self.buf += data
        off = 0
        try:
            while len(self.buf) - off >= 2:
                (n,) = struct.unpack_from(">H", self.buf, off)
                if n == 0:
                    raise SoupError("zero_length", f"a packet length of 0 at stream byte {off}")
                if n > self.max_length:
                    raise SoupError("too_long", f"a packet length of {n} (at most {self.max_length})")
                if len(self.buf) - off < 2 + n:
                    break
                yield Packet(bytes(self.buf[off + 2:off + 3]), bytes(self.buf[off + 3:off + 2 + n]))
                off += 2 + n
        finally:
            del self.buf[:off]

    @property
    def pending(self) -> int:
        """Bytes of a packet not yet whole."""
        return len(self.buf)
