"""The af_xdp transport: feed datagrams bypass the kernel's stack.

What happens on open(), in this order, so that every failure surfaces before
the interface is touched and a half-built state is always unwound:

1. one AF_XDP socket and UMEM per receive queue of the interface, bound in
   zero-copy mode where the driver has it, else copy (native/transports/xsk.c);
2. three BPF maps: `flows` (group:port -> stream), `xsks` (queue -> socket,
   and one slot more for an order session's TCP: UserTcp(share=...)) and
   `tcp_flows` (empty until an order session's TCP steers its connection);
3. the XDP program (xdp/programs.py, assembled here, no clang, no libbpf),
   loaded with bpf();
4. a kernel UDP socket joined to every group: AF_XDP sends no IGMP, and a
   switch stops forwarding a group nobody on the port has joined;
5. the program attached through a bpf_link, native mode where the driver
   allows, else generic. The link is an fd: if the process dies, even by
   kill -9, the kernel detaches the program and traffic returns to the stack.

Only the feeds' datagrams (and an order session's own TCP connection, if it
shares the capture: transports/tcp_xsk.py) are redirected; ARP, other TCP,
other UDP and IPv6 pass to the kernel untouched. Feeds can be added and removed while running
(add_stream/remove_stream update the map; no reload).

Drops the kernel counts for the sockets (XDP_STATISTICS) are carried into
the ring's drop counters by account(), which the capture's control thread
calls: rx_ring_full -> xsk_rx_ring_full, fill ring empty ->
xsk_fill_ring_empty, and the rest of rx_dropped (frames too big for a UMEM
frame, which the kernel also counts there) -> xsk_rx_dropped.
"""
from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirespeed import _native
from wirespeed.errors import PrivilegeError, UsageError, WirespeedError
from wirespeed.transports import Stream
from wirespeed.transports.kernel import iface_index, join_groups
from wirespeed.xdp import programs
from wirespeed.xdp.bpf import LoadedProgram, XdpLink, load_xdp

ZEROCOPY = {"off": 0, "auto": 1, "on": 2}


@dataclass
class AfXdpOptions:
    """Knobs of the af_xdp transport (capture config keys in brackets)."""

    xdp_mode: str = "auto"  # [xdp_mode] native | generic | auto (native, else generic)
    zerocopy: str = "auto"  # [zerocopy] on | off | auto (on where the driver has it)
    frames: int = 16384  # [xsk_frames] UMEM frames per queue = fill and RX ring size (64 MB: ~35 ms at 470 k pps)
    frame_size: int = 4096  # [xsk_frame_size] 2048 or 4096 bytes
    queues: list[int] | None = field(default=None)  # [queues] default: every RX queue
    malformed: str = "skip"  # [malformed] skip (count) | keep (publish, flagged)
    tcp_frames: int = 0  # UMEM frames per queue kept for an order session's TCP sharing the queue (0: none)

    def validate(self) -> AfXdpOptions:
        if self.xdp_mode not in ("auto", "native", "generic"):
            raise UsageError(f"xdp_mode {self.xdp_mode!r}", "auto, native or generic")
        if self.zerocopy not in ZEROCOPY:
            raise UsageError(f"zerocopy {self.zerocopy!r}", "auto, on or off")
        if self.frames < 64 or self.frames & (self.frames - 1):
            raise UsageError(f"xsk_frames {self.frames}", "a power of two, at least 64 (default 16384)")
        if self.frame_size not in (2048, 4096):
            raise UsageError(f"xsk_frame_size {self.frame_size}", "2048 or 4096")
        if not 0 <= self.tcp_frames < self.frames // 2:
            raise UsageError(f"tcp_frames {self.tcp_frames}", f"0 .. {self.frames // 2 - 1}")
        if self.malformed not in ("skip", "keep"):
            raise UsageError(f"malformed {self.malformed!r}", "skip (count and drop) or keep (publish, flagged)")
        return self


def rx_queues(iface: str) -> list[int]:
    """The interface's receive queues (sysfs), e.g. [0] for a veth."""
    qdir = Path("/sys/class/net") / iface / "queues"
    qs = sorted(int(p.name[3:]) for p in qdir.glob("rx-*") if p.name[3:].isdigit())
    return qs or [0]


class AfXdpTransport:
    name = "af_xdp"

    def __init__(self, iface: str, streams: list[Stream], mode: str = "busy",
                 options: AfXdpOptions | None = None) -> None:
        self.iface = iface
        self.streams = list(streams)
        self.mode = mode
        self.opts = (options or AfXdpOptions()).validate()
        self.rx: Any = None
        self.prog: LoadedProgram | None = None
        self.link: XdpLink | None = None
        self.flows_fd = -1
        self.xsks_fd = -1
        self.tcp_fd = -1
        self.tcp_index = -1  # the XSKMAP slot an order session's TCP takes (UserTcp(share=self))
        self.igmp: socket.socket | None = None
        self.attached_mode = ""  # native | generic, once attached
        self._accounted = {"xsk_rx_dropped": 0, "xsk_rx_ring_full": 0, "xsk_fill_ring_empty": 0}

    # -- setup ---------------------------------------------------------------
    def open(self) -> None:
        ifindex = iface_index(self.iface)
        queues = self.opts.queues if self.opts.queues is not None else rx_queues(self.iface)
        try:
            self._open(ifindex, queues)
        except BaseException:
            self.close()
            raise

    def _open(self, ifindex: int, queues: list[int]) -> None:
        try:
            self.rx = _native.XskRx(ifindex, list(queues), self.opts.frames, self.opts.frame_size,
                                    ZEROCOPY[self.opts.zerocopy], True, self.mode, self.opts.malformed,
                                    self.opts.tcp_frames)
        except OSError as exc:
            raise _xsk_error(exc, self.iface, self.opts.zerocopy) from None
        try:
            self.flows_fd = _native.bpf_map_create(programs.BPF_MAP_TYPE_HASH, programs.FLOW_KEY_SIZE,
                                                   programs.FLOW_VALUE_SIZE, 256, "ws_flows")
            self.tcp_index = max(queues) + 1
            self.xsks_fd = _native.bpf_map_create(programs.BPF_MAP_TYPE_XSKMAP, 4, 4, max(queues) + 2, "ws_xsks")
            self.tcp_fd = _native.bpf_map_create(programs.BPF_MAP_TYPE_HASH, programs.TCP_KEY_SIZE,
                                                 programs.TCP_VALUE_SIZE, 4, "ws_tcp_flows")
            for sock in self.rx.sockets():
                _native.bpf_map_update(self.xsks_fd, struct.pack("=I", sock["queue"]), struct.pack("=i", sock["fd"]))
        except OSError as exc:
            if exc.errno == errno.EPERM:
                raise PrivilegeError("af_xdp: creating BPF maps needs CAP_BPF (or root)") from None
            raise WirespeedError(f"af_xdp: BPF map setup failed: {exc}") from None
        for st in self.streams:
            self._map_add(st)
        self.prog = load_xdp(programs.xdp_feed_redirect(self.flows_fd, self.xsks_fd, self.tcp_fd))
        self._join_groups()
        self.link, self.attached_mode = self._attach(ifindex)

    def _join_groups(self) -> None:
        self.igmp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        join_groups(self.igmp, self.streams, self.iface, "af_xdp")

    def _attach(self, ifindex: int) -> tuple[XdpLink, str]:
        assert self.prog is not None
        try:
            link = XdpLink.attach_best(self.prog, ifindex, self.opts.xdp_mode)
        except OSError as exc:
            hint = {errno.EBUSY: "another XDP program holds the interface: `ip link show` names it",
                    errno.EPERM: "needs CAP_NET_ADMIN and CAP_BPF (or root)",
                    errno.EOPNOTSUPP: "the driver has no native XDP: use xdp_mode = \"generic\" or \"auto\""}
            raise WirespeedError(f"af_xdp: cannot attach XDP to {self.iface}: {exc.strerror}",
                                 hint.get(exc.errno or 0)) from None
        return link, link.mode.value

    def _map_add(self, st: Stream) -> None:
        value = struct.pack("=I", st.id)
        _native.bpf_map_update(self.flows_fd, programs.flow_key(st.group, st.port), value)
        # frames of the group whose port cannot be read: to the socket, to be counted
        _native.bpf_map_update(self.flows_fd, programs.flow_key(st.group, 0), value)
        self.rx.add_flow(st.group, st.port, st.id)

    # -- feeds while running -------------------------------------------------
    def add_stream(self, st: Stream) -> None:
        """Start redirecting st's datagrams (map update: no reload)."""
        self.rx.add_flow(st.group, st.port, st.id)  # the loop knows it before the first frame
        self._map_add(st)
        self.streams.append(st)
        if self.igmp is not None:
            join_groups(self.igmp, [st], self.iface, "af_xdp")

    def remove_stream(self, st: Stream) -> None:
        """Stop redirecting st's datagrams: they go back to the kernel."""
        _native.bpf_map_delete(self.flows_fd, programs.flow_key(st.group, st.port))
        if not any(o.group == st.group and o is not st for o in self.streams):
            try:
                _native.bpf_map_delete(self.flows_fd, programs.flow_key(st.group, 0))
            except OSError:
                pass
        self.rx.remove_flow(st.group, st.port)
        self.streams = [o for o in self.streams if o is not st]

    # -- run -----------------------------------------------------------------
    def run(self, writer: Any) -> None:
        self.rx.run(writer)

    def stop(self) -> None:
        if self.rx is not None:
            self.rx.stop()

    def describe(self) -> dict[str, Any]:
        socks = self.rx.sockets() if self.rx is not None else []
        return {"transport": "af_xdp", "xdp_mode": self.attached_mode,
                "zerocopy": bool(socks) and all(s["zerocopy"] for s in socks),
                "need_wakeup": bool(socks) and all(s["need_wakeup"] for s in socks),
                "queues": [s["queue"] for s in socks], "busy_poll": self.mode == "busy"}

    def stats(self) -> dict[str, Any]:
        if self.rx is None:
            return {}
        out: dict[str, Any] = dict(self.rx.stats())
        out.update({f"xsk_{k}": v for k, v in self.kernel_drops().items()})
        return out

    def kernel_drops(self) -> dict[str, int]:
        """The kernel's XDP_STATISTICS, summed over the sockets."""
        try:
            return dict(self.rx.statistics())
        except (OSError, RuntimeError):
            return {}

    def account(self, writer: Any) -> None:
        """Carry the kernel's new drop counts into the ring (control thread)."""
        k = self.kernel_drops()
        if not k:
            return
        fill = k["rx_fill_ring_empty"]
        now = {"xsk_rx_ring_full": k["rx_ring_full"], "xsk_fill_ring_empty": fill,
               "xsk_rx_dropped": max(0, k["rx_dropped"] - fill)}
        for cause, total in now.items():
            delta = total - self._accounted[cause]
            if delta > 0:
                writer.count_drop(cause, delta)
                self._accounted[cause] = total

    def close(self) -> None:
        """Detach first (traffic back to the kernel), then free the rest."""
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.prog is not None:
            self.prog.close()
            self.prog = None
        for attr in ("flows_fd", "xsks_fd", "tcp_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                os.close(fd)
                setattr(self, attr, -1)
        if self.igmp is not None:
            self.igmp.close()
            self.igmp = None
        if self.rx is not None:
            self.rx.stop()
            try:
                self.rx.close()
            except RuntimeError:
                pass  # still running: the sockets close when the object goes
            self.rx = None


def _xsk_error(exc: OSError, iface: str, zerocopy: str) -> WirespeedError:
    err = exc.errno or 0
    if err == errno.EPERM or err == errno.EACCES:
        return PrivilegeError(f"af_xdp: {exc.strerror}", "AF_XDP needs CAP_NET_RAW and CAP_NET_ADMIN (or root)")
    if err == errno.EOPNOTSUPP and zerocopy == "on":
        return WirespeedError(f"af_xdp: {iface} has no zero-copy AF_XDP ({exc.strerror})",
                              'use zerocopy = "auto" to fall back to copy mode')
    if err == errno.EBUSY:
        return WirespeedError(f"af_xdp: a queue of {iface} already has an AF_XDP socket ({exc.strerror})",
                              "is another capture running on this interface?")
    if err in (errno.ENOBUFS, errno.ENOMEM):
        return WirespeedError(f"af_xdp: cannot register the UMEM ({exc.strerror})",
                              "raise the memlock limit (ulimit -l) or run with CAP_IPC_LOCK")
    return WirespeedError(f"af_xdp on {iface}: {exc.strerror or exc}")
