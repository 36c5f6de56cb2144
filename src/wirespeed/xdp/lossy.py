"""Loss on a path, for tests: an XDP program (programs.xdp_lossy) that drops
one flow's packets with a given probability, attached to a device's
ingress (in a network namespace if named), with its counts.

    with Lossy("ws-exch0", ppm=50_000, proto=6, port=15000, netns="ws-exchange") as loss:
        ...                           # 5 % of the TCP segments to or from port 15000 arriving there drop
        loss.counts()                 # (seen, dropped)

This machine's kernel has no netem; this is how a test puts loss on the
veth between the test host and this one. The link goes with the process.
"""
from __future__ import annotations

import socket
import struct
from contextlib import nullcontext

from wirespeed import _native
from wirespeed.system import netns as ns
from wirespeed.xdp import programs
from wirespeed.xdp.bpf import LoadedProgram, XdpLink, XdpMode, load_xdp


class Lossy:
    def __init__(self, iface: str, ppm: int, proto: int, port: int, netns: str | None = None) -> None:
        self.map_fd = _native.bpf_map_create(programs.BPF_MAP_TYPE_ARRAY, 4, 8, 2, "ws_lossy")
        self.prog: LoadedProgram | None = None
        self.link: XdpLink | None = None
        try:
            self.prog = load_xdp(programs.xdp_lossy(self.map_fd, ppm, proto, port))
            with ns.entered(netns) if netns else nullcontext():
                self.link = XdpLink.attach(self.prog, socket.if_nametoindex(iface), XdpMode.AUTO)
        except BaseException:
            self.close()
            raise

    def counts(self) -> tuple[int, int]:
        """(packets of the flow seen, dropped) so far."""
        out = []
        for key in (programs.LOSSY_SEEN, programs.LOSSY_DROPPED):
            v = _native.bpf_map_lookup(self.map_fd, struct.pack("<I", key), 8)
            out.append(struct.unpack("<Q", v)[0] if v else 0)
        return out[0], out[1]

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.prog is not None:
            self.prog.close()
            self.prog = None
        if self.map_fd >= 0:
            import os

            os.close(self.map_fd)
            self.map_fd = -1

    def __enter__(self) -> Lossy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
