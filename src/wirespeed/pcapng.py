"""A pcapng writer (the format of tcpdump, tshark and Wireshark since 1.8).

Only what wirespeed needs: one section, Ethernet interfaces with
nanosecond timestamps (if_tsresol = 9), enhanced packet blocks, and
interface statistics blocks that say what a capture missed. Layouts from
the pcapng specification (IETF draft-ietf-opsawg-pcapng).
"""
from __future__ import annotations

import struct
from typing import Any, Protocol

import numpy as np

from wirespeed import _native

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

    def __init__(self, out: Writable, application: str = "wirespeed") -> None:
        self.out = out
        self.interfaces: list[str] = []
        opts = _opt(4, application.encode()) + _opt(0, b"")  # shb_userappl
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
