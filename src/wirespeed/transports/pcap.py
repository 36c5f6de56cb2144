"""The pcap transport: a capture file replayed into the ring.

Any pcapng or classic pcap file (wirespeed's own recordings, tcpdump's,
Wireshark's). Every frame is checked like a live AF_XDP frame
(ws_frame_check) and matched to a feed by destination group and port:
feed frames are published with the file's timestamps and the PCAP transport
flag; frames of other flows are counted (`other_flows`) and skipped;
malformed frames are counted by verdict and skipped or kept (flagged), as
the live path does.

Pace: `max` publishes as fast as the ring takes it; `recorded` keeps the
gaps between the file's timestamps (divided by `speed`), so a reader sees
the day as it happened.

This path runs in Python, one call per packet (~1 µs): replay is offline
work; the live paths are the native ones.
"""
from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from wirespeed import _native
from wirespeed.errors import UsageError, WirespeedError
from wirespeed.formats.pcapng import PcapFileError, read_packets
from wirespeed.ring import DROP_CAUSES
from wirespeed.transports import Stream

REC_PCAP = 3 << 8         # capture.h: WS_REC_PCAP
REC_MALFORMED = 0x0008    # native/transports/capture.h: WS_REC_MALFORMED
_MALFORMED_CAUSE = DROP_CAUSES.index("malformed")
VERDICTS = ("truncated", "not_ipv4", "bad_ip_header", "bad_ip_checksum", "bad_ip_length", "fragment", "not_udp",
            "bad_udp_length")


class PcapTransport:
    name = "pcap"

    def __init__(self, path: str, streams: list[Stream], pace: str = "max", speed: float = 1.0,
                 malformed: str = "skip") -> None:
        if pace not in ("max", "recorded"):
            raise UsageError(f"pace {pace!r}", "max (as fast as possible) or recorded (the file's own timing)")
        if not speed > 0:
            raise UsageError(f"speed {speed!r}", "a positive factor: 1 = as recorded, 10 = ten times faster")
        self.path = path
        self.streams = streams
        self.pace = pace
        self.speed = speed
        self.malformed = malformed
        self._stop = False
        self._flows = {(socket.inet_aton(s.group), s.port): s.id for s in streams}
        self._groups = {socket.inet_aton(s.group): s.id for s in streams}
        self.counts: dict[str, int] = {"packets": 0, "bytes": 0, "other_flows": 0, "malformed": 0,
                                       **dict.fromkeys(VERDICTS, 0)}
        self.ended = ""

    def open(self) -> None:
        p = Path(self.path)
        if not p.is_file():
            raise UsageError(f"no capture file at {self.path}")
        try:
            next(iter(read_packets(self.path)), None)
        except PcapFileError as exc:
            raise WirespeedError(str(exc), "is it a pcap or pcapng file, and complete?") from None

    def _stream_of(self, verdict: str, daddr: bytes, dport: int) -> int:
        """The feed a frame belongs to, as the af_xdp loop decides it: by
        group and port, or by group alone when the port cannot be trusted."""
        if verdict == "ok":
            return self._flows.get((daddr, dport), 0)
        return self._groups.get(daddr, 0)

    def run(self, writer: Any) -> None:
        """Replay until the file ends or stop(); a corrupt tail ends the
        replay with the reason in stats()['ended'] (the packets before it
        are in the ring)."""
        c = self.counts
        t0 = first = None
        try:
            for _iface, ts, frame in read_packets(self.path):
                if self._stop:
                    self.ended = "stopped"
                    return
                verdict, _off, _len, daddr, dport = _native.frame_check(frame)
                stream = self._stream_of(verdict, daddr, dport)
                flags = REC_PCAP
                if verdict != "ok":
                    if not stream:
                        c["other_flows"] += 1
                        continue
                    c["malformed"] += 1
                    c[verdict] += 1
                    if self.malformed == "skip":
                        writer.count_drop(_MALFORMED_CAUSE, 1)
                        continue
                    flags |= REC_MALFORMED
                elif not stream:
                    c["other_flows"] += 1
                    continue
                if self.pace == "recorded" and ts:
                    if first is None:
                        first, t0 = ts, time.monotonic()
                    due = t0 + (ts - first) / 1e9 / self.speed
                    while not self._stop and (wait := due - time.monotonic()) > 0:
                        time.sleep(min(wait, 0.05))
                writer.publish(frame, stream, flags, ts or 0)
                c["packets"] += 1
                c["bytes"] += len(frame)
            self.ended = "end of file"
        except PcapFileError as exc:
            self.ended = str(exc)

    def stop(self) -> None:
        self._stop = True

    def stats(self) -> dict[str, Any]:
        return dict(self.counts, ended=self.ended)

    def describe(self) -> dict[str, Any]:
        return {"transport": "pcap", "file": self.path, "pace": self.pace, "speed": self.speed}

    def account(self, writer: Any) -> None:
        """Nothing to carry: malformed frames are counted as they are met."""

    def close(self) -> None:
        pass
