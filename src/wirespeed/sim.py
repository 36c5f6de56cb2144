"""`wirespeed sim`: NASDAQ TotalView-ITCH 5.0 over MoldUDP64, like an exchange.

The generator and the sender are C (native/sim.c, which documents the order
flow model); this module is the job around them: the feed lines (an A and a
B line carry identical packets), sockets opened inside the test host when
asked, fault injection per line, the re-request server, live progress, and
the offline mode that writes the same packets to pcapng.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirespeed import _native
from wirespeed.errors import UsageError, WirespeedError
from wirespeed.frames import multicast_mac, udp_frame
from wirespeed.pcapng import PcapngWriter
from wirespeed.system import netns

LINE_NAMES = "abcd"
_FEED_RE = re.compile(r"^(\d+\.\d+\.\d+\.\d+):(\d+)$")


@dataclass(frozen=True)
class Faults:
    """What to do to one line's packets: probabilities 0..1, sequence ranges."""

    drop: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    delay_us: int = 0
    drop_seqs: tuple[tuple[int, int], ...] = ()

    def native(self) -> dict[str, Any]:
        ppm = {k: int(round(getattr(self, k) * 1e6)) for k in ("drop", "dup", "reorder", "delay")}
        return {"drop_ppm": ppm["drop"], "dup_ppm": ppm["dup"], "reorder_ppm": ppm["reorder"],
                "delay_ppm": ppm["delay"], "delay_us": self.delay_us, "drop_seqs": list(self.drop_seqs)}


@dataclass(frozen=True)
class Line:
    group: str
    port: int
    faults: Faults = Faults()


@dataclass
class SimConfig:
    lines: list[Line]
    rate: float = 10_000.0          # messages/s; 0 = as fast as possible
    burst: int = 0                  # 0: evenly paced; else bursts of this many messages
    duration_s: float = 10.0        # 0: until `count` messages or Ctrl-C
    count: int = 0                  # order-flow messages before the end of session (0: by duration)
    symbols: int = 8
    seed: int = 1
    session: str = "WIRESPEED"
    max_payload: int = 1400         # UDP payload cap (a reference MoldUDP64 server's)
    ttl: int = 1
    netns: str | None = None        # send from inside this network namespace (the test host)
    iface: str | None = None        # outgoing interface for multicast (in that namespace)
    source: str | None = None       # source address to bind
    rtx_port: int = 0               # re-request server on this UDP port (0: off)
    rtx_allow: str | None = None    # network allowed to re-request (default: the source's /24, or loopback)
    rtx_rate: int = 100             # replies per second per requester
    heartbeat_ms: int = 1000
    send: str = "udp"               # "udp": kernel UDP sockets; "raw": whole frames through AF_PACKET
    flush_us: float = 10.0          # offline packing window (to-pcapng)
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> SimConfig:
        if not 1 <= len(self.lines) <= 4:
            raise UsageError("give 1 to 4 feed lines", "e.g. --feed 239.1.1.1:30001 --feed-b 239.1.2.1:30001")
        for ln in self.lines:
            ip = ipaddress.IPv4Address(ln.group)
            if not (ip.is_multicast or ip.is_loopback or ip.is_private or ip.is_reserved):
                raise UsageError(f"{ln.group} is a public unicast address",
                                 "send to a multicast group, loopback or the test host, never elsewhere")
        if self.rate < 0 or self.duration_s < 0 or self.count < 0 or self.burst < 0:
            raise UsageError("rate, duration, count and burst cannot be negative")
        if not 1 <= self.symbols <= 65535:
            raise UsageError(f"--symbols {self.symbols}: give 1 to 65535")
        if not 72 <= self.max_payload <= 9000:
            raise UsageError(f"--max-payload {self.max_payload}: give 72 to 9000 bytes")
        if len(self.session) > 10:
            raise UsageError(f"session {self.session!r} is longer than 10 characters")
        if self.send not in ("udp", "raw"):
            raise UsageError(f"--send {self.send!r}", "use udp or raw")
        if self.send == "raw":
            if not (self.iface and self.source):
                raise UsageError("--send raw writes whole frames: it needs --iface and --source")
            if not all(ipaddress.IPv4Address(ln.group).is_multicast for ln in self.lines):
                raise UsageError("--send raw sends to multicast groups only (no ARP for unicast)")
        if self.rate == 0 and not self.count and not self.duration_s:
            raise UsageError("as fast as possible needs an end", "give --count or --duration")
        return self


def parse_feed(text: str) -> tuple[str, int]:
    m = _FEED_RE.match(text)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise UsageError(f"invalid feed {text!r}", "write GROUP:PORT, e.g. 239.1.1.1:30001")
    try:
        ipaddress.IPv4Address(m.group(1))
    except ValueError:
        raise UsageError(f"invalid address in feed {text!r}") from None
    return m.group(1), int(m.group(2))


def parse_fault(text: str, faults: dict[int, dict[str, Any]]) -> None:
    """LINE:KIND:VALUE, e.g. a:drop:0.01, b:dup:0.001, a:reorder:0.01,
    a:delay:0.01:500 (µs), a:drop-seq:100-120."""
    parts = text.split(":")
    if len(parts) < 3 or parts[0] not in LINE_NAMES:
        raise UsageError(f"invalid fault {text!r}", "write LINE:KIND:VALUE, e.g. a:drop:0.01 or b:drop-seq:100-120")
    line = LINE_NAMES.index(parts[0])
    kind = parts[1]
    f = faults.setdefault(line, {})
    try:
        if kind in ("drop", "dup", "reorder"):
            p = float(parts[2])
            if not 0 <= p <= 1:
                raise ValueError
            f[kind] = p
        elif kind == "delay":
            f["delay"], f["delay_us"] = float(parts[2]), int(parts[3]) if len(parts) > 3 else 1000
        elif kind == "drop-seq":
            lo, _, hi = parts[2].partition("-")
            rng = (int(lo), int(hi or lo))
            if rng[0] < 1 or rng[1] < rng[0]:
                raise ValueError
            f["drop_seqs"] = (*f.get("drop_seqs", ()), rng)
        else:
            raise UsageError(f"unknown fault kind {kind!r}", "one of drop, dup, reorder, delay, drop-seq")
    except (ValueError, IndexError):
        raise UsageError(f"invalid fault value in {text!r}",
                         "probabilities are 0..1; delay takes PROB:MICROSECONDS; drop-seq takes LO-HI") from None


SOL_PACKET, PACKET_QDISC_BYPASS = 263, 20
SIOCGIFHWADDR = 0x8927
RAW_SPORT = 40000


def _mac(sock: socket.socket, iface: str) -> bytes:
    """The interface's MAC, asked through a socket of its namespace."""
    import fcntl

    return fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", iface.encode()))[18:24]


def _mreqn(ifindex: int) -> bytes:
    return struct.pack("4s4si", b"\0" * 4, b"\0" * 4, ifindex)


@contextmanager
def _sockets(cfg: SimConfig) -> Iterator[tuple[list[socket.socket], socket.socket | None]]:
    """Sender sockets (one per line) and the re-request socket, opened inside
    the namespace if one is named; they keep working from here."""
    with ExitStack() as stack:
        where = netns.entered(cfg.netns) if cfg.netns else nullcontext()
        with where:
            ifindex = socket.if_nametoindex(cfg.iface) if cfg.iface else 0
            socks = []
            for _ in cfg.lines:
                if cfg.send == "raw":
                    s = stack.enter_context(socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
                    s.bind((cfg.iface, 0))
                    s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
                else:
                    s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, cfg.ttl)
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
                    if ifindex:
                        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, _mreqn(ifindex))
                    s.bind((cfg.source or "0.0.0.0", 0))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
                socks.append(s)
            rtx = None
            if cfg.rtx_port:
                rtx = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                rtx.bind((cfg.source or "0.0.0.0", cfg.rtx_port))
                rtx.setblocking(False)
        yield socks, rtx


def _allow(cfg: SimConfig) -> tuple[str, str]:
    if cfg.rtx_allow:
        net = ipaddress.IPv4Network(cfg.rtx_allow, strict=False)
    elif cfg.source:
        net = ipaddress.IPv4Network(f"{cfg.source}/24", strict=False)
    else:
        net = ipaddress.IPv4Network("127.0.0.0/8")
    return str(net.network_address), str(net.netmask)


def make_sim(cfg: SimConfig, total: int | None = None) -> Any:
    return _native.Sim(n_symbols=cfg.symbols, seed=cfg.seed, session=cfg.session, max_payload=cfg.max_payload,
                       total_msgs=cfg.count if total is None else total)


def run(cfg: SimConfig, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Send the session; returns the final statistics. Ctrl-C ends it cleanly
    (end of session sent)."""
    cfg.validate()
    sim = make_sim(cfg)
    stack = ExitStack()
    try:
        socks, rtx = stack.enter_context(_sockets(cfg))
    except OSError as exc:
        raise WirespeedError(f"cannot open the feed sockets: {exc}",
                             "check --netns, --iface and --source (is the test host up?)") from None
    with stack:
        def raw(s: socket.socket, i: int) -> tuple[bytes, str, int, int] | None:
            if cfg.send != "raw":
                return None
            return (_mac(s, cfg.iface or ""), cfg.source or "", RAW_SPORT + i, cfg.ttl)

        native_cfg: dict[str, Any] = {
            "lines": [(s.fileno(), ln.group, ln.port, ln.faults.native(), raw(s, i))
                      for i, (s, ln) in enumerate(zip(socks, cfg.lines))],
            "rate": float(cfg.rate), "burst": cfg.burst, "duration_s": float(cfg.duration_s),
            "heartbeat_ms": cfg.heartbeat_ms, "rtx_rate": cfg.rtx_rate,
        }
        if rtx is not None:
            native_cfg["rtx_fd"] = rtx.fileno()
            native_cfg["rtx_allow"] = _allow(cfg)
        error: list[BaseException] = []

        def body() -> None:
            try:
                sim.run(native_cfg)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                error.append(exc)

        t = threading.Thread(target=body, name="wirespeed-sim", daemon=True)
        t0 = time.monotonic()
        t.start()
        try:
            while t.is_alive():
                t.join(0.25)
                if progress:
                    progress(_summary(sim.stats(), time.monotonic() - t0))
        except KeyboardInterrupt:
            sim.stop()
            t.join()
        if error:
            raise WirespeedError(f"the simulator failed: {error[0]}")
        return _summary(sim.stats(), time.monotonic() - t0)


def _summary(st: dict[str, Any], wall_s: float) -> dict[str, Any]:
    span = (st["end_ns"] or 0) - st["start_ns"]
    out = dict(st)
    out["wall_s"] = wall_s
    out["msgs_per_s"] = st["msgs"] / (span / 1e9) if span > 0 else st["msgs"] / max(wall_s, 1e-9)
    out["pkts_per_s"] = st["packets"] / (span / 1e9) if span > 0 else st["packets"] / max(wall_s, 1e-9)
    out["msgs_per_packet"] = st["msgs"] / st["packets"] if st["packets"] else 0.0
    return out


def to_pcapng(cfg: SimConfig, path: Path, start_epoch_ns: int | None = None) -> dict[str, Any]:
    """Write the session to pcapng without a network: the frames the sender
    would put on the wire, one interface per line, timestamped as if sent at
    `rate` (messages due within one flush window share a packet)."""
    cfg.validate()
    total = cfg.count or int(cfg.rate * cfg.duration_s) or 1000
    sim = make_sim(cfg, total)
    rate = cfg.rate or 1e6
    t0 = start_epoch_ns if start_epoch_ns is not None else time.time_ns()
    midnight0 = t0 % 86_400_000_000_000
    src_ip = cfg.source or "198.18.0.2"
    src_mac = bytes.fromhex("020000000002")
    window = max(1, int(rate * cfg.flush_us / 1e6))
    sent = pkts = 0
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        ifaces = [w.add_interface(f"line-{LINE_NAMES[i]}", f"{ln.group}:{ln.port}") for i, ln in enumerate(cfg.lines)]
        eos = 0
        while eos < 3:
            off_ns = int(sent / rate * 1e9)
            payload, count = sim.packet(window, midnight0 + off_ns)
            if count == 0xFFFF:
                eos += 1
                off_ns += eos * 1_000_000
            else:
                sent += count
            pkts += 1
            for iface, ln in zip(ifaces, cfg.lines):
                frame = udp_frame(src_mac, multicast_mac(ln.group), src_ip, ln.group, 40000 + iface, ln.port,
                                  payload, cfg.ttl)
                w.packet(iface, t0 + off_ns, frame)
    st = sim.stats()
    return {"path": str(path), "msgs": st["msgs"], "packets": pkts, "lines": len(cfg.lines), "by_type": st["by_type"],
            "next_seq": st["next_seq"]}
