"""The kernel transport: UDP sockets joined to the feed groups, received by
native/transports/rx_kernel.c (recvmmsg, SO_TIMESTAMPNS, SO_RXQ_OVFL) into the ring.

Stamps (`stamp`): kernel (SO_TIMESTAMPNS), user (when the rx thread dequeues),
hardware (SO_TIMESTAMPING: the NIC's raw stamp of each packet, the kernel's
where the NIC gave none), or auto: hardware where the interface has a PHC that
stamps every received packet (what `doctor` checks), kernel elsewhere. Each
record's flags say which clock its stamp came from (TS_NIC, TS_KERNEL, TS_USER).

Only standard socket calls: it runs unchanged under OpenOnload's `onload`.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from typing import Any

from wirespeed import _native
from wirespeed.errors import WirespeedError
from wirespeed.system import ethtool
from wirespeed.transports import Stream

# linux/socket.h, linux/in.h (not all in Python's socket module)
SO_TIMESTAMPNS = 35
SO_TIMESTAMPING = 37
SO_RXQ_OVFL = 40
SO_BUSY_POLL = 46
SO_RCVBUFFORCE = 33
HW_STAMP_FLAGS = (ethtool.SOF_TIMESTAMPING_RX_HARDWARE | ethtool.SOF_TIMESTAMPING_RAW_HARDWARE
                  | ethtool.SOF_TIMESTAMPING_RX_SOFTWARE | ethtool.SOF_TIMESTAMPING_SOFTWARE)
IP_PKTINFO = 8
IP_RECVTTL = 12
IP_ADD_SOURCE_MEMBERSHIP = 39
RCVBUF = 32 << 20  # room for ~30 ms of a saturated bed before the queue overflows (counted if it does)


class KernelTransport:
    name = "kernel"

    def __init__(self, iface: str, streams: list[Stream], mode: str = "block", stamp: str = "kernel",
                 rcvbuf: int = RCVBUF) -> None:
        self.iface = iface
        self.streams = streams
        self.mode = mode
        self.stamp = stamp
        self.rcvbuf = rcvbuf
        self.phc: int | None = None
        self.socks: list[socket.socket] = []
        self._rx: Any = None
        self._stopped = False

    def resolve_stamp(self, info: ethtool.TimestampInfo | None) -> None:
        """auto -> hardware where the NIC stamps every received packet on a PHC, else kernel."""
        self.phc = info.rx_phc if info is not None else None
        if self.stamp == "auto":
            self.stamp = "hardware" if self.phc is not None else "kernel"

    def open(self) -> None:
        ifindex = iface_index(self.iface)
        local = iface_addr(self.iface)
        try:
            info = ethtool.timestamping(self.iface)
        except OSError:
            info = None
        self.resolve_stamp(info)
        try:
            for st in self.streams:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.rcvbuf)  # root: past net.core.rmem_max
                except PermissionError:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
                s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
                if self.stamp == "hardware":  # the NIC's raw stamp, the kernel's as the fallback
                    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, HW_STAMP_FLAGS)
                else:
                    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
                if self.mode == "busy":
                    try:
                        s.setsockopt(socket.SOL_SOCKET, SO_BUSY_POLL, 50)  # µs; needs CAP_NET_ADMIN to raise
                    except PermissionError:
                        pass
                s.bind((st.group, st.port))  # only this group's datagrams on this port
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.iface.encode())
                if ipaddress.IPv4Address(st.group).is_multicast:
                    join_group(s, st, ifindex, local)
        except OSError as exc:
            self.close()
            raise WirespeedError(f"kernel transport: cannot open a socket for the feeds on {self.iface}: {exc}",
                                 "check the interface, the groups and ports (is another capture bound?)") from None

    def run(self, writer: Any) -> None:
        self._rx = _native.KernelRx(writer, [(s.fileno(), st.id, st.port) for s, st in zip(self.socks, self.streams)],
                                    self.mode, self.stamp)
        if self._stopped:  # stop() came before the engine existed
            return
        self._rx.run()

    def stop(self) -> None:
        self._stopped = True
        if self._rx is not None:
            self._rx.stop()

    def stats(self) -> dict[str, Any]:
        return self._rx.stats() if self._rx is not None else {}

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"transport": "kernel", "mode": self.mode, "stamp": self.stamp}
        if self.stamp == "hardware":
            out["clock"] = f"/dev/ptp{self.phc}" if self.phc is not None else "none (kernel stamps as the fallback)"
        return out

    def account(self, writer: Any) -> None:
        """Nothing to carry: the receive loop counts socket overflow itself."""

    def close(self) -> None:
        for s in self.socks:
            s.close()
        self.socks = []


def join_group(s: socket.socket, st: Stream, ifindex: int, local: str) -> None:
    """Join st's group on the interface (source-specific when st.source):
    the kernel then answers IGMP queries for it for as long as s is open."""
    group = socket.inet_aton(st.group)
    if st.source:  # struct ip_mreq_source: group, interface address, source
        s.setsockopt(socket.IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP,
                     group + socket.inet_aton(local) + socket.inet_aton(st.source))
    else:  # struct ip_mreqn: group, address, ifindex
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack("4s4si", group, b"\0" * 4, ifindex))


def join_groups(s: socket.socket, streams: list[Stream], iface: str, who: str) -> None:
    """Join every multicast group of streams on iface through s, for a
    transport the kernel does not receive for (af_xdp, dpdk on a vdev): the
    kernel answers IGMP for them while s is open. A group already joined on s
    (A and B lines on one group) is joined."""
    ifindex, local = iface_index(iface), iface_addr(iface)
    for st in streams:
        if not ipaddress.IPv4Address(st.group).is_multicast:
            continue
        try:
            join_group(s, st, ifindex, local)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise WirespeedError(f"{who}: cannot join {st.group} on {iface}: {exc}") from None


def iface_index(iface: str) -> int:
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        raise WirespeedError(f"no interface named {iface!r}", "list them with: ip -br link") from None


def iface_addr(iface: str) -> str:
    """The interface's IPv4 address (SIOCGIFADDR), 0.0.0.0 if it has none."""
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            raw = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", iface.encode()[:15]))
        except OSError:
            return "0.0.0.0"
    return socket.inet_ntoa(raw[20:24])
