"""Transports: how packets get from an interface into the ring.

One interface for every path (seed 003's strategy pattern: a feed config
names the transport per flow, and everything above is the same):

    t = KernelTransport(iface, streams, mode="busy")
    t.open()                  # sockets, programs, rings: everything that can fail, fails here
    t.run(writer)             # receive until stop(); native, GIL released
    t.stop(); t.stats(); t.close()

`kernel` works everywhere; `af_xdp` bypasses the stack where the driver
allows; `pcap` replays a file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Stream:
    """One feed line as the capture sees it: the ring's stream id is `id`."""

    id: int
    name: str
    group: str
    port: int
    line: str = "A"
    source: str | None = None  # source-specific multicast: only from this sender


class Transport(Protocol):
    name: str

    def open(self) -> None: ...
    def run(self, writer: Any) -> None: ...
    def stop(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    def describe(self) -> dict[str, Any]: ...  # how it is set up (modes, offloads), for the ring and the user
    def account(self, writer: Any) -> None: ...  # carry drops counted elsewhere (the kernel) into the ring
    def close(self) -> None: ...
