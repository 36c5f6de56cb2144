"""pcapng (the format of tcpdump, tshark and Wireshark since 1.8): a writer
and a reader.

The writer does what wirespeed needs: one section, Ethernet interfaces with
nanosecond timestamps (if_tsresol = 9), enhanced packet blocks, and
interface statistics blocks that say what a capture missed. The reader
(read_packets) takes any pcapng or classic pcap file, for replay; open_source
opens one for the C reader (native/formats/pcapread.c), which books and
exports pump without Python per packet. Layouts from
the pcapng specification (IETF draft-ietf-opsawg-pcapng).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

import numpy as np

from wirespeed import _native
from wirespeed.errors import WirespeedError

LINKTYPE_ETHERNET = 1
_SHB, _IDB, _EPB, _ISB = 0x0A0D0D0A, 0x00000001, 0x00000006, 0x00000005


def _opt(code: int, value: bytes) -> bytes:
    pad = (-len(value)) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def _block(btype: int, body: bytes) -> bytes:
    body += b"\0" * ((-len(body)) % 4)
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


class Writable(Protocol):
    def write(self, data: Any, /) -> Any: ...


class PcapngWriter:
    """Write a pcapng stream to a binary file object the caller owns
    (anything with write(): a file, BytesIO, directio.DirectFile)."""

    def __init__(self, out: Writable, application: str = "wirespeed", host: str | None = None) -> None:
        """host: the capture host, kept as the section's comment "host=NAME" (pcapng has no
        field for it; wirespeed's exports read it back as their provenance)."""
        self.out = out
        self.interfaces: list[str] = []
        opts = _opt(4, application.encode())  # shb_userappl
        if host:
            opts += _opt(1, f"host={host}".encode())  # opt_comment
        opts += _opt(0, b"")
        self.out.write(_block(_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + opts))

    def add_interface(self, name: str, description: str = "", snaplen: int = 0) -> int:
        """Returns the interface id for packets of this interface."""
        opts = _opt(2, name.encode())  # if_name
        if description:
            opts += _opt(3, description.encode())  # if_description
        opts += _opt(9, b"\x09") + _opt(0, b"")  # if_tsresol: 10^-9 s
        self.out.write(_block(_IDB, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, snaplen) + opts))
        self.interfaces.append(name)
        return len(self.interfaces) - 1

    def packet(self, iface: int, ts_ns: int, frame: bytes, orig_len: int | None = None) -> None:
        hdr = struct.pack("<IIIII", iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(frame),
                          len(frame) if orig_len is None else orig_len)
        self.out.write(_block(_EPB, hdr + frame))

    def packets(self, headers: np.ndarray, payload: np.ndarray | bytes | memoryview, ifaces: np.ndarray) -> None:
        """A polled ring batch at once (native: one buffer, one write):
        headers are REC_DTYPE records, ifaces the interface id of each."""
        self.out.write(_native.pcapng_epbs(headers, payload, np.ascontiguousarray(ifaces, dtype=np.uint32)))

    def statistics(self, iface: int, ts_ns: int, received: int, dropped: int, *, start_ns: int | None = None,
                   end_ns: int | None = None, os_dropped: int | None = None, delivered: int | None = None) -> None:
        """An interface statistics block: what was seen and what was missed."""
        opts = b""
        if start_ns is not None:
            opts += _opt(2, struct.pack("<II", start_ns >> 32, start_ns & 0xFFFFFFFF))
        if end_ns is not None:
            opts += _opt(3, struct.pack("<II", end_ns >> 32, end_ns & 0xFFFFFFFF))
        opts += _opt(4, struct.pack("<Q", received)) + _opt(5, struct.pack("<Q", dropped))
        if os_dropped is not None:
            opts += _opt(7, struct.pack("<Q", os_dropped))
        if delivered is not None:
            opts += _opt(8, struct.pack("<Q", delivered))
        opts += _opt(0, b"")
        self.out.write(_block(_ISB, struct.pack("<III", iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF) + opts))


# -- reading ------------------------------------------------------------------------

class PcapFileError(ValueError):
    """A capture file that cannot be read; the message says where and why."""


_PCAP_MAGIC = {  # classic pcap: (byte order, ns per tick)
    b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}


def read_packets(path: str) -> Iterator[tuple[int, int, bytes]]:
    """(interface id, timestamp in ns, frame) for every packet of a pcapng or
    classic pcap file (tcpdump's default), in file order. Unknown block types
    are skipped (the format says so); a truncated or corrupt file raises
    PcapFileError naming the byte offset, after the packets before it."""
    with open(path, "rb") as f:
        head = f.read(4)
        f.seek(0)
        if head in _PCAP_MAGIC:
            yield from _read_pcap(f, path)
        elif head == struct.pack("<I", _SHB):
            yield from _read_pcapng(f, path)
        else:
            raise PcapFileError(f"{path}: not a pcap or pcapng file (starts with {head.hex() or 'nothing'})")


def _read_pcap(f: BinaryIO, path: str) -> Iterator[tuple[int, int, bytes]]:
    hdr = f.read(24)
    if len(hdr) < 24:
        raise PcapFileError(f"{path}: truncated pcap header")
    order, tick = _PCAP_MAGIC[hdr[:4]]
    off = 24
    while True:
        rec = f.read(16)
        if not rec:
            return
        if len(rec) < 16:
            raise PcapFileError(f"{path}: truncated packet header at byte {off}")
        sec, frac, incl, _orig = struct.unpack(order + "IIII", rec)
        if incl > 262144:
            raise PcapFileError(f"{path}: packet at byte {off} claims {incl} bytes: corrupt")
        data = f.read(incl)
        if len(data) < incl:
            raise PcapFileError(f"{path}: truncated packet at byte {off}")
        yield 0, sec * 1_000_000_000 + frac * tick, data
        off += 16 + incl


def _tsresol(value: int) -> tuple[int, int]:
    """if_tsresol -> (numerator, denominator) of ns per tick."""
    if value & 0x80:
        return 1_000_000_000, 1 << (value & 0x7F)
    exp = value & 0x7F
    return (10 ** (9 - exp), 1) if exp <= 9 else (1, 10 ** (exp - 9))


def _read_pcapng(f: BinaryIO, path: str) -> Iterator[tuple[int, int, bytes]]:
    order = "<"
    resol: list[tuple[int, int]] = []
    off = 0
    while True:
        head = f.read(8)
        if not head:
            return
        if len(head) < 8:
            raise PcapFileError(f"{path}: truncated block header at byte {off}")
        btype = struct.unpack("<I", head[:4])[0]
        if btype == _SHB:
            bom = f.read(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                raise PcapFileError(f"{path}: bad byte-order magic in the section header at byte {off}")
            total = struct.unpack(order + "I", head[4:])[0]
            body = bom + f.read(max(0, total - 16))
            resol = []  # interface ids restart in every section
        else:
            total = struct.unpack(order + "I", head[4:])[0]
            if total < 12 or total % 4:
                raise PcapFileError(f"{path}: block at byte {off} has a bad length {total}: corrupt")
            body = f.read(total - 12)
        trailer = f.read(4)
        if len(body) < total - 12 or len(trailer) < 4:
            raise PcapFileError(f"{path}: truncated block at byte {off}")
        if struct.unpack(order + "I", trailer)[0] != total:
            raise PcapFileError(f"{path}: block at byte {off}: trailing length disagrees: corrupt")
        btype = struct.unpack(order + "I", head[:4])[0]
        if btype == _IDB:
            resol.append(_idb_resol(body, order))
        elif btype == _EPB:
            if len(body) < 20:
                raise PcapFileError(f"{path}: packet block at byte {off} too short")
            iface, hi, lo, cap, _orig = struct.unpack(order + "IIIII", body[:20])
            if iface >= len(resol) or 20 + cap > len(body):
                raise PcapFileError(f"{path}: packet block at byte {off}: unknown interface or bad length")
            num, den = resol[iface]
            yield iface, ((hi << 32) | lo) * num // den, body[20:20 + cap]
        elif btype == 3:  # simple packet block: no timestamp
            if len(body) < 4:
                raise PcapFileError(f"{path}: simple packet block at byte {off} too short")
            orig = struct.unpack(order + "I", body[:4])[0]
            yield 0, 0, body[4:4 + orig]
        off += total


def _idb_resol(body: bytes, order: str) -> tuple[int, int]:
    res = (1000, 1)  # default: microseconds
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack(order + "HH", body[pos:pos + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            res = _tsresol(body[pos + 4])
        pos += 4 + length + ((-length) % 4)
    return res


def open_source(path: str | Any) -> Any:
    """A recording opened for the C reader (_native.PcapSource), or a WirespeedError
    that says why not (unreadable, or not a capture)."""
    try:
        return _native.PcapSource(str(path))
    except OSError as exc:
        raise WirespeedError(f"cannot read {path}: {exc.strerror or exc}", "give a pcapng or pcap file") from None
    except ValueError as exc:
        raise WirespeedError(f"{path}: {exc}", "give a pcapng or pcap file (a recording)") from None
