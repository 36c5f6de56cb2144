"""One TCP client connection in user space over AF_XDP (transports/tcp_xsk.c):
the order session's `af_xdp` transport.

The data plane is C (`_native.TcpXsk`); this module is its control plane:

  * the path to the peer from the kernel's tables: the route (interface,
    our source address, next hop) and the next hop's MAC from the
    neighbour table, resolved through the kernel when it is missing (a
    datagram to the peer's discard port makes the kernel ARP);
  * the interface's XDP program: the af_xdp transport's program
    (xdp/programs.xdp_feed_redirect) with its TCP steering map, attached
    through a bpf_link, so it goes with the process (kill -9 included: the
    connection's segments then reach the kernel, which resets it);
  * one AF_XDP socket on the interface's queue 0, in the program's XSKMAP.

    with UserTcp("198.18.0.2", 15000) as tcp:
        tcp.conn.connect(); ...               # or lend tcp.conn to an OrderSession

On an interface where an af_xdp capture of this process runs (the kernel
allows one UMEM per queue, and one XDP program per interface), the
connection shares the capture's instead: UserTcp(..., share=transport)
puts its socket on the capture's queue-0 UMEM (XDP_SHARED_UMEM; the
capture must have been opened with AfXdpOptions.tcp_frames to send from)
and its 4-tuple in the capture's program's TCP map.

Not a general TCP stack: one client connection, no listening (see
tcp_xsk.h). The interface must be one the process can give an XDP
program to (no other program attached: a capture on the same interface in
another process holds it), with one receive queue or the connection's
flow steered to queue 0 (ethtool ntuple) on a multi-queue NIC.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from wirespeed import _native
from wirespeed.errors import PrivilegeError, UsageError, WirespeedError
from wirespeed.transports.af_xdp import rx_queues
from wirespeed.xdp import programs
from wirespeed.xdp.bpf import LoadedProgram, XdpLink, load_xdp

NEIGH_WAIT_S = 1.0
_NUD_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x40 | 0x80  # REACHABLE STALE DELAY PROBE NOARP PERMANENT


@dataclass(frozen=True)
class TcpPath:
    """Where the connection's frames go: from the kernel's route and neighbour tables."""

    iface: str
    ifindex: int
    saddr: str
    smac: bytes
    daddr: str
    dmac: bytes
    next_hop: str


def _attr(msg: object, name: str) -> object:
    return msg.get_attr(name)  # type: ignore[attr-defined]


def resolve(daddr: str) -> TcpPath:
    """The route to `daddr` and the next hop's MAC (asking the kernel to
    resolve it if the neighbour table has none)."""
    from pyroute2 import IPRoute

    try:
        ipaddress.IPv4Address(daddr)
    except ValueError:
        raise UsageError(f"{daddr!r} is not an IPv4 address", "the user-space TCP speaks IPv4 only") from None
    with IPRoute() as ipr:
        try:
            route = ipr.route("get", dst=daddr)[0]
        except Exception as exc:  # NetlinkError: no route
            raise WirespeedError(f"no route to {daddr}: {exc}", "ip route get " + daddr) from None
        ifindex = int(_attr(route, "RTA_OIF"))  # type: ignore[arg-type]
        saddr = str(_attr(route, "RTA_PREFSRC") or "")
        hop = str(_attr(route, "RTA_GATEWAY") or daddr)
        link = ipr.link("get", index=ifindex)[0]
        iface = str(_attr(link, "IFLA_IFNAME"))
        if iface == "lo" or not _attr(link, "IFLA_ADDRESS"):
            raise UsageError(f"{daddr} is reached through {iface}, which has no Ethernet",
                             "the user-space TCP needs an Ethernet interface (a NIC or a veth); use transport kernel")
        smac = bytes.fromhex(str(_attr(link, "IFLA_ADDRESS")).replace(":", ""))
        if not saddr:
            raise WirespeedError(f"the route to {daddr} names no source address on {iface}",
                                 f"give {iface} an IPv4 address")
        dmac = _neighbour(ipr, ifindex, hop)
        if dmac is None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # the kernel ARPs for it
                try:
                    s.sendto(b"", (hop, 9))
                except OSError:
                    pass
            end = time.monotonic() + NEIGH_WAIT_S
            while dmac is None and time.monotonic() < end:
                time.sleep(0.01)
                dmac = _neighbour(ipr, ifindex, hop)
        if dmac is None:
            raise WirespeedError(f"{hop} did not answer ARP on {iface} within {NEIGH_WAIT_S:.0f} s",
                                 f"is the peer up? ip neigh show dev {iface}")
    return TcpPath(iface, ifindex, saddr, smac, daddr, dmac, hop)


def _neighbour(ipr: object, ifindex: int, addr: str) -> bytes | None:
    for n in ipr.get_neighbours(ifindex=ifindex, dst=addr):  # type: ignore[attr-defined]
        mac = _attr(n, "NDA_LLADDR")
        if mac and n["state"] & _NUD_USABLE:
            return bytes.fromhex(str(mac).replace(":", ""))
    return None


class UserTcp:
    """The XDP program, its maps and one `_native.TcpXsk` on the path to
    (daddr, dport). `conn` is the connection (not yet connected)."""

    def __init__(self, daddr: str, dport: int, *, frames: int = 512, rx_drop_ppm: int = 0,
                 rx_reorder_ppm: int = 0, tx_reorder_ppm: int = 0, xdp_mode: str = "auto",
                 share: Any = None) -> None:
        """`rx_drop_ppm`, `rx_reorder_ppm`, `tx_reorder_ppm`: fault injection for tests
        (received frames dropped, or held back until after the next; segments sent
        after the next frame), each counted in the connection's stats."""
        if not 0 < dport < 65536:
            raise UsageError(f"port {dport}: 1..65535")
        self.path = resolve(daddr)
        queues = rx_queues(self.path.iface)
        if queues != [0]:
            raise UsageError(
                f"{self.path.iface} has {len(queues)} receive queues; the user-space TCP listens on queue 0 only",
                f"steer the flow there (ethtool -N {self.path.iface} flow-type tcp4 src-ip {daddr} "
                f"src-port {dport} action 0) and set the queues to 1, or use transport kernel")
        self.prog: LoadedProgram | None = None
        self.link: XdpLink | None = None
        self.fds: list[int] = []
        self.conn: _native.TcpXsk | None = None
        self.xdp_mode = ""
        try:
            faults = {"rx_drop_ppm": rx_drop_ppm, "rx_reorder_ppm": rx_reorder_ppm, "tx_reorder_ppm": tx_reorder_ppm}
            if share is not None:
                self._share(share, dport, faults)
            else:
                self._open(dport, frames, faults, xdp_mode)
        except BaseException:
            self.close()
            raise

    def _share(self, cap: Any, dport: int, faults: dict[str, int]) -> None:
        """On an af_xdp capture's queue 0: its UMEM, its program, its maps."""
        p = self.path
        if getattr(cap, "iface", None) != p.iface or getattr(cap, "rx", None) is None or cap.tcp_fd < 0:
            raise UsageError(f"the capture to share is not an open af_xdp capture on {p.iface}",
                             "share the capture that receives on the interface the route to the exchange leaves by")
        if not cap.opts.tcp_frames:
            raise UsageError("the capture keeps no frames for an order session's TCP",
                             "open it with AfXdpOptions(tcp_frames=256)")
        # our own references to the capture's maps: they stay valid should the capture close first
        tcp, xsks = os.dup(cap.tcp_fd), os.dup(cap.xsks_fd)
        self.fds += [tcp, xsks]
        try:
            self.conn = _native.TcpXsk(p.ifindex, 0, p.smac, p.dmac, p.saddr, p.daddr, dport, tcp_map_fd=tcp,
                                       xsks_map_fd=xsks, xsk_index=cap.tcp_index, share=cap.rx, **faults)
        except (OSError, ValueError) as exc:
            raise WirespeedError(f"user-space TCP on {p.iface}'s capture: {exc}") from None
        self.xdp_mode = cap.attached_mode + " (the capture's)"

    def _open(self, dport: int, frames: int, faults: dict[str, int], xdp_mode: str) -> None:
        try:
            flows = _native.bpf_map_create(programs.BPF_MAP_TYPE_HASH, programs.FLOW_KEY_SIZE,
                                           programs.FLOW_VALUE_SIZE, 1, "ws_flows")
            self.fds.append(flows)
            xsks = _native.bpf_map_create(programs.BPF_MAP_TYPE_XSKMAP, 4, 4, 1, "ws_xsks")
            self.fds.append(xsks)
            tcp = _native.bpf_map_create(programs.BPF_MAP_TYPE_HASH, programs.TCP_KEY_SIZE,
                                         programs.TCP_VALUE_SIZE, 4, "ws_tcp_flows")
            self.fds.append(tcp)
        except OSError as exc:
            if exc.errno == errno.EPERM:
                raise PrivilegeError("the user-space TCP needs CAP_BPF and CAP_NET_ADMIN (or root)") from None
            raise WirespeedError(f"BPF map setup failed: {exc}") from None
        p = self.path
        try:
            self.conn = _native.TcpXsk(p.ifindex, 0, p.smac, p.dmac, p.saddr, p.daddr, dport, frames=frames,
                                       tcp_map_fd=tcp, xsks_map_fd=xsks, xsk_index=0, **faults)
        except OSError as exc:
            hint = {errno.EBUSY: f"another AF_XDP socket holds {p.iface} queue 0 (a capture?)",
                    errno.EPERM: "needs CAP_NET_RAW and CAP_BPF (or root)"}.get(exc.errno or 0)
            raise WirespeedError(f"user-space TCP on {p.iface}: {exc.strerror or exc}", hint) from None
        self.prog = load_xdp(programs.xdp_feed_redirect(flows, xsks, tcp))
        try:
            self.link = XdpLink.attach_best(self.prog, p.ifindex, xdp_mode)
        except OSError as exc:
            hint = ("another XDP program holds the interface (a capture in another process?): run the capture in "
                    "this process (wirespeed trade -i), put the order session on its own interface, or use "
                    "transport kernel") if exc.errno == errno.EBUSY else None
            raise WirespeedError(f"cannot attach XDP to {p.iface}: {exc.strerror}", hint) from None
        self.xdp_mode = self.link.mode.value

    def describe(self) -> dict[str, object]:
        p = self.path
        return {"iface": p.iface, "saddr": p.saddr, "daddr": p.daddr, "next_hop": p.next_hop,
                "dmac": p.dmac.hex(":"), "xdp_mode": self.xdp_mode}

    def close(self) -> None:
        """The connection forgotten (no word to the peer: abort() first to
        reset it), the program detached, the maps freed."""
        if self.conn is not None:
            try:
                self.conn.delete()
            except RuntimeError:
                return  # lent to a session that is still open: it goes with the session
            self.conn = None
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.prog is not None:
            self.prog.close()
            self.prog = None
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def __enter__(self) -> UserTcp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
