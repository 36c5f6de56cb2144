"""MoldUDP64: NASDAQ's session layer for ITCH over UDP multicast.

Layout (NASDAQ's "MoldUDP64 Protocol Specification" v1.00; see also
../shared/PROTOCOLS.md), all integers big-endian:

    session @0 (10, ASCII, space-padded) | sequence @10 (8) | count @18 (2) | blocks...
    block:  length (2, payload only) | message (length bytes)

count 0 is a heartbeat, 0xFFFF the end of session (neither carries blocks);
sequence is that of the first message, so the next expected is sequence +
count. A request (receiver -> re-request server) is the same 20-byte header
naming the first sequence and the count wanted, with no blocks.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from wirespeed import _native

HEADER = struct.Struct(">10sQH")
HEADER_LEN = 20
HEARTBEAT = 0
END_OF_SESSION = 0xFFFF
MAX_COUNT = 0xFFFE  # the largest count a data packet or a request may carry


class MoldError(ValueError):
    """A packet that cannot be encoded (bad session, too many messages)."""


def _session(session: str | bytes) -> bytes:
    raw = session.encode("ascii") if isinstance(session, str) else bytes(session)
    if len(raw) > 10:
        raise MoldError(f"session {session!r} is longer than 10 characters")
    return raw.ljust(10, b" ")


def encode(session: str | bytes, seq: int, messages: list[bytes]) -> bytes:
    """A downstream packet carrying `messages`, the first numbered `seq`."""
    if len(messages) > MAX_COUNT:
        raise MoldError(f"{len(messages)} messages do not fit one packet (at most {MAX_COUNT})")
    parts = [HEADER.pack(_session(session), seq, len(messages))]
    for m in messages:
        if len(m) > 0xFFFF:
            raise MoldError(f"message of {len(m)} bytes does not fit a 2-byte length")
        parts.append(struct.pack(">H", len(m)))
        parts.append(m)
    return b"".join(parts)


def heartbeat(session: str | bytes, next_seq: int) -> bytes:
    return HEADER.pack(_session(session), next_seq, HEARTBEAT)


def end_of_session(session: str | bytes, next_seq: int) -> bytes:
    return HEADER.pack(_session(session), next_seq, END_OF_SESSION)


def request(session: str | bytes, seq: int, count: int) -> bytes:
    """A re-request for `count` messages from `seq` (sent to the server, unicast)."""
    if not 1 <= count <= MAX_COUNT:
        raise MoldError(f"request count {count} out of range 1..{MAX_COUNT}")
    return HEADER.pack(_session(session), seq, count)


@dataclass
class MoldStats:
    """Per-packet problems, counted: a packet is never trusted past its end."""

    packets: int = 0
    messages: int = 0
    heartbeats: int = 0
    end_of_session: int = 0
    truncated_header: int = 0   # shorter than 20 bytes
    count_short: int = 0        # messages the count promised but the packet did not hold
    block_overrun: int = 0      # a block length running past the end of the packet
    trailing_bytes: int = 0     # bytes after the last counted block
    control_with_payload: int = 0  # heartbeat / end of session carrying bytes


@dataclass(frozen=True)
class Packet:
    session: bytes
    seq: int
    count: int
    messages: tuple[memoryview, ...] = field(default=())

    @property
    def next_seq(self) -> int:
        """The sequence expected after this packet."""
        return self.seq + (self.count if self.count != END_OF_SESSION else 0)

    @property
    def is_heartbeat(self) -> bool:
        return self.count == HEARTBEAT

    @property
    def is_end_of_session(self) -> bool:
        return self.count == END_OF_SESSION


def decode(data: bytes | memoryview, stats: MoldStats | None = None) -> Packet | None:
    """A packet to its header and message views (no copies), or None if it
    has no valid header. A count that lies or a block that overruns is
    counted; the messages read before it are kept."""
    if stats is None:
        stats = MoldStats()
    view = memoryview(data)
    if len(view) < HEADER_LEN:
        stats.truncated_header += 1
        return None
    session, seq, count = HEADER.unpack_from(view, 0)
    stats.packets += 1
    if count in (HEARTBEAT, END_OF_SESSION):
        if count == HEARTBEAT:
            stats.heartbeats += 1
        else:
            stats.end_of_session += 1
        if len(view) > HEADER_LEN:
            stats.control_with_payload += 1
        return Packet(session, seq, count)
    msgs = []
    off = HEADER_LEN
    for _ in range(count):
        if off + 2 > len(view):
            break
        (n,) = struct.unpack_from(">H", view, off)
        if off + 2 + n > len(view):
            stats.block_overrun += 1
            break
        msgs.append(view[off + 2:off + 2 + n])
        off += 2 + n
    if len(msgs) < count:
        stats.count_short += count - len(msgs)
    elif off < len(view):
        stats.trailing_bytes += len(view) - off
    stats.messages += len(msgs)
    return Packet(session, seq, count, tuple(msgs))


def from_frame(frame: bytes | memoryview, stats: MoldStats | None = None) -> Packet | None:
    """The packet in a captured Ethernet/IPv4/UDP frame (a ring record, a
    pcapng packet), or None if the frame is not one (its headers checked in C,
    net/frame.h) or has no valid MoldUDP64 header."""
    view = memoryview(frame)
    verdict, off, length, _daddr, _dport = _native.frame_check(view)
    return decode(view[off:off + length], stats) if verdict == "ok" else None
