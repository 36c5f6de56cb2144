"""`wirespeed sim`: NASDAQ TotalView-ITCH 5.0 over MoldUDP64, like an exchange.

The generator and the sender are C (native/exchange/sim.c, which documents the order
flow model); this module is the job around them: feeds and their lines,
sockets opened inside the test host when asked, fault injection per line, the
re-request server, live progress, and the offline mode that writes the same
packets to pcapng.

Feeds and lines: a feed is one MoldUDP64 session with its own sequence
numbers and its own share of the symbols and of the rate (as venues split
symbols across multicast channels); each feed runs in its own native thread.
A feed has one to four lines (A, B, ...) carrying identical packets. With
several feeds, feed k's session is the given name cut to 8 characters plus
k as two digits (WIRESPEE01, WIRESPEE02, ...).

Order entry (`ouch_port`): the first feed's thread also serves an OUCH 5.0
over SoupBinTCP 4.1 port (native/exchange/port.h) for its accounts; clients'
orders trade in the same books as the simulator's flow and the feed
publishes what they do. start() runs it all in the background, for tests
and notebooks; run() waits for the end.
"""
from __future__ import annotations

import ipaddress
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.errors import UsageError, WirespeedError
from wirespeed.net.frames import multicast_mac, udp_frame
from wirespeed.formats.pcapng import PcapngWriter
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
    dup_seqs: tuple[tuple[int, int], ...] = ()
    reorder_seqs: tuple[tuple[int, int], ...] = ()
    delay_seqs: tuple[tuple[int, int], ...] = ()

    KINDS = ("drop", "dup", "reorder", "delay")  # their order is enum ws_sim_fault's

    def native(self) -> dict[str, Any]:
        ppm = {k: int(round(getattr(self, k) * 1e6)) for k in self.KINDS}
        ranges = [(i, lo, hi) for i, k in enumerate(self.KINDS) for lo, hi in getattr(self, f"{k}_seqs")]
        if len(ranges) > 16:
            raise UsageError("at most 16 sequence ranges per line")
        return {"drop_ppm": ppm["drop"], "dup_ppm": ppm["dup"], "reorder_ppm": ppm["reorder"],
                "delay_ppm": ppm["delay"], "delay_us": self.delay_us or 1000, "ranges": ranges}


@dataclass(frozen=True)
class Line:
    group: str
    port: int
    faults: Faults = Faults()
    feed: int = 0  # lines of the same feed carry identical packets


@dataclass(frozen=True)
class Account:
    """An account of the order port, with its exchange-side limits (each
    refused order gets NASDAQ's reject code: 0x0031 max quantity, 0x0030
    notional, 0x0026 price collar, 0x0020 open orders, 0x0029 message rate)."""

    user: str
    password: str
    firm: str = ""                      # MPID of its attributable orders in the feed (default: user's first 4)
    max_order_qty: int = 100_000        # shares per order
    max_notional: float = 10_000_000.0  # dollars per order
    collar_pct: float = 10.0            # how far from the book's best price an order may be priced
    max_open: int = 10_000              # open orders
    max_msgs_per_s: int = 10_000        # inbound OUCH messages a second

    def validate(self) -> Account:
        for what, v, w in (("user", self.user, 6), ("password", self.password, 10), ("firm", self.firm, 4)):
            if len(v) > w or not v.isascii() or " " in v or (what != "firm" and not v):
                raise UsageError(f"order port account: {what} {v!r} must be 1 to {w} ASCII characters, no spaces",
                                 "e.g. --ouch-account TRADER:SECRET")
        if min(self.max_order_qty, self.max_open, self.max_msgs_per_s) < 0 or self.max_notional < 0 \
                or self.collar_pct < 0:
            raise UsageError("order port limits cannot be negative")
        return self

    def native(self) -> dict[str, Any]:
        return {"user": self.user, "password": self.password, "firm": (self.firm or self.user[:4]).upper(),
                "max_order_qty": self.max_order_qty, "max_notional": int(round(self.max_notional * 10_000)),
                "collar_bp": int(round(self.collar_pct * 100)), "max_open": self.max_open,
                "max_msgs_per_s": self.max_msgs_per_s}


def parse_account(text: str) -> Account:
    """USER:PASSWORD[:FIRM]"""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise UsageError(f"invalid account {text!r}", "write USER:PASSWORD or USER:PASSWORD:FIRM")
    return Account(*parts).validate()


RISK_KEYS = {"max-qty": ("max_order_qty", int), "max-notional": ("max_notional", float),
             "collar-pct": ("collar_pct", float), "max-open": ("max_open", int), "max-rate": ("max_msgs_per_s", int)}


def parse_risk(texts: list[str], accounts: list[Account]) -> list[Account]:
    """KEY=VALUE limits (max-qty, max-notional in dollars, collar-pct, max-open, max-rate) for every account."""
    from dataclasses import replace

    changes = {}
    for text in texts:
        key, _, value = text.partition("=")
        if key not in RISK_KEYS:
            raise UsageError(f"unknown limit {key!r} in --ouch-risk {text!r}", f"one of {', '.join(RISK_KEYS)}")
        attr, kind = RISK_KEYS[key]
        try:
            changes[attr] = kind(value)
        except ValueError:
            raise UsageError(f"invalid value in --ouch-risk {text!r}", f"{key} takes a number") from None
    return [replace(a, **changes).validate() for a in accounts]


#: Messages per packet as a feed sends them through a day, stated rather
#: than left to the sender's wake-ups: PROTOCOLS.md has ~31 bytes a message
#: (a 1400-byte packet holds ~45) and senders that flush on time, so most
#: packets carry one or a few. (count or inclusive range, share); mean 3.6.
#: Not measured from a real feed: a fixed definition, so a figure taken at
#: this fill means the same on any host.
REALISTIC_FILL: tuple[tuple[int | tuple[int, int], float], ...] = (
    (1, 0.40), (2, 0.20), (3, 0.12), (4, 0.08), ((5, 8), 0.12), ((9, 16), 0.06), ((17, 45), 0.02))
FILLS = {"due": None, "realistic": REALISTIC_FILL}


def fill_table(dist: tuple[tuple[int | tuple[int, int], float], ...], size: int = 1024) -> bytes:
    """The sim's fill table (ws_sim_run_cfg_t.fill): `size` uint16 caps whose
    histogram is the distribution, ranges spread evenly over their counts."""
    caps: list[int] = []
    for what, share in dist:
        lo, hi = what if isinstance(what, tuple) else (what, what)
        k = round(share * size)
        caps += [lo + (i * (hi - lo + 1)) // max(k, 1) for i in range(k)]
    caps = (caps + [caps[-1]] * size)[:size]
    return np.array(caps, dtype="<u2").tobytes()


def fill_mean(dist: tuple[tuple[int | tuple[int, int], float], ...]) -> float:
    return sum(share * ((w[0] + w[1]) / 2 if isinstance(w, tuple) else w) for w, share in dist)


# ws_sim_sent_t and ws_port_stamp_t (exchange/sim.h, port.h): tick-to-trade, measured at the exchange
SENT_DTYPE = np.dtype([("seq", "<u8"), ("ns", "<u8"), ("tx_ns", "<u8")])
ARRIVAL_DTYPE = np.dtype([("rx_ns", "<u8"), ("tag", "<u8"), ("urn", "<u4"), ("type", "S1"), ("account", "u1"),
                          ("_pad", "V2")])


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
    send: str = "udp"               # "udp": kernel UDP sockets; "raw": whole frames through AF_PACKET;
                                    # "af_xdp": pre-armed frames through an AF_XDP socket (no socket path)
    flush_us: float = 10.0          # offline packing window (to-pcapng)
    ouch_port: int = 0              # the order port's TCP port (0: none)
    ouch_accounts: tuple[Account, ...] = (Account("WSTEST", "WSTEST"),)
    ouch_listen: str | None = None  # the order port's address (default: the source, i.e. the test host's)
    ouch_login_timeout_s: float = 5.0  # a connection that has not logged in by then is dropped
    stamp_log: int = 0              # tick-to-trade: keep this many packet-sent and order-arrived stamps
    tx_stamps: bool = False         # with stamp_log and send="raw": each packet's kernel TX stamp too
    fill: str = "due"               # messages per packet: "due" (what is due when the sender wakes, up to
                                    # max_payload) or "realistic" (REALISTIC_FILL, whatever the pacing)

    def feeds(self) -> list[list[Line]]:
        """The lines of each feed, feed 0 first."""
        return [[ln for ln in self.lines if ln.feed == k] for k in range(max(ln.feed for ln in self.lines) + 1)]

    def session_of(self, feed: int) -> str:
        return self.session if len(self.feeds()) == 1 else f"{self.session[:8]}{feed + 1:02d}"

    def validate(self) -> SimConfig:
        if not self.lines:
            raise UsageError("give at least one feed", "e.g. --feed 239.1.1.1:30001 --feed-b 239.1.2.1:30001")
        feeds = self.feeds()
        if any(not f for f in feeds) or any(len(f) > 4 for f in feeds) or len(feeds) > 16:
            raise UsageError("each feed has 1 to 4 lines, feeds are numbered from 0 without gaps, 16 at most")
        if self.symbols < len(feeds):
            n = len(feeds)
            raise UsageError(f"--symbols {self.symbols} is too few: {n} feed{'s' if n > 1 else ''} "
                             f"need{'' if n > 1 else 's'} at least {n} symbol{'s' if n > 1 else ''} (one each)",
                             f"give --symbols {n} or more")
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
        if self.send not in ("udp", "raw", "af_xdp"):
            raise UsageError(f"--send {self.send!r}", "use udp, raw or af_xdp")
        if self.send in ("raw", "af_xdp"):
            if not (self.iface and self.source):
                raise UsageError(f"--send {self.send} writes whole frames: it needs --iface and --source")
            if not all(ipaddress.IPv4Address(ln.group).is_multicast for ln in self.lines):
                raise UsageError(f"--send {self.send} sends to multicast groups only (no ARP for unicast)")
            if self.max_payload > 1472:
                raise UsageError(f"--send {self.send} with --max-payload {self.max_payload}",
                                 "whole frames must fit the link's 1500-byte MTU: at most 1472")
        if self.fill not in FILLS:
            raise UsageError(f"fill {self.fill!r}", f"use {' or '.join(FILLS)}")
        if self.tx_stamps and (self.send != "raw" or not self.stamp_log):
            raise UsageError("TX stamps are taken on raw sends into the stamp log",
                             "give send='raw' and a stamp_log with tx_stamps")
        if self.rate == 0 and not self.count and not self.duration_s:
            raise UsageError("as fast as possible needs an end", "give --count or --duration")
        if self.ouch_port:
            if not 0 < self.ouch_port < 65536:
                raise UsageError(f"--ouch-port {self.ouch_port}: give 1 to 65535")
            if not 1 <= len(self.ouch_accounts) <= 64:
                raise UsageError("the order port takes 1 to 64 accounts")
            users = [a.validate().user for a in self.ouch_accounts]
            if len(set(users)) != len(users):
                raise UsageError("an account is named twice", "give each --ouch-account a user of its own")
            if self.ouch_listen is not None:
                ipaddress.IPv4Address(self.ouch_listen)
        return self

    def listen_addr(self) -> str:
        """Where the order port listens: as asked, else the address the feed is sent from."""
        return self.ouch_listen or self.source or "127.0.0.1"


def parse_feed(text: str) -> tuple[str, int]:
    m = _FEED_RE.match(text)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise UsageError(f"invalid feed {text!r}", "write GROUP:PORT, e.g. 239.1.1.1:30001")
    try:
        ipaddress.IPv4Address(m.group(1))
    except ValueError:
        raise UsageError(f"invalid address in feed {text!r}") from None
    return m.group(1), int(m.group(2))


_LINE_RE = re.compile(r"^([abcd])(\d*)$")


def parse_fault(text: str, faults: dict[Any, dict[str, Any]]) -> None:
    """LINE:KIND:VALUE, e.g. a:drop:0.01, b:dup:0.001, a:reorder:0.01,
    a:delay:0.01:500 (µs), a:drop-seq:100-120, a:dup-seq:7, a:reorder-seq:50,
    a:delay-seq:80-90:2000 (µs). LINE is a line letter (that
    line of every feed, key: line index) or a letter and a feed number from 1
    (a2: feed 2's A line, key: (line index, feed index))."""
    parts = text.split(":")
    m = _LINE_RE.match(parts[0]) if parts else None
    if len(parts) < 3 or not m or m.group(2) == "0":
        raise UsageError(f"invalid fault {text!r}",
                         "write LINE:KIND:VALUE, e.g. a:drop:0.01, a2:dup:0.001 or b:drop-seq:100-120")
    line = LINE_NAMES.index(m.group(1))
    key: Any = (line, int(m.group(2)) - 1) if m.group(2) else line
    kind = parts[1]
    f = faults.setdefault(key, {})
    try:
        if kind in ("drop", "dup", "reorder"):
            p = float(parts[2])
            if not 0 <= p <= 1:
                raise ValueError
            f[kind] = p
        elif kind == "delay":
            f["delay"], f["delay_us"] = float(parts[2]), int(parts[3]) if len(parts) > 3 else 1000
        elif kind in ("drop-seq", "dup-seq", "reorder-seq", "delay-seq"):
            lo, _, hi = parts[2].partition("-")
            rng = (int(lo), int(hi or lo))
            if rng[0] < 1 or rng[1] < rng[0]:
                raise ValueError
            name = kind.replace("-seq", "_seqs")
            f[name] = (*f.get(name, ()), rng)
            if kind == "delay-seq" and len(parts) > 3:
                f["delay_us"] = int(parts[3])
        else:
            raise UsageError(f"unknown fault kind {kind!r}",
                             "one of drop, dup, reorder, delay (probabilities), drop-seq, dup-seq, reorder-seq, delay-seq")
    except (ValueError, IndexError):
        raise UsageError(f"invalid fault value in {text!r}",
                         "probabilities are 0..1; delay takes PROB:MICROSECONDS; drop-seq takes LO-HI") from None


def build_lines(feeds_a: list[str], feeds_b: list[str], faults: dict[Any, dict[str, Any]]) -> list[Line]:
    """Lines from --feed (A lines, one per feed) and --feed-b (B lines, in
    the same order); faults keyed as parse_fault makes them."""
    if len(feeds_b) > len(feeds_a):
        raise UsageError("more --feed-b than --feed", "give each B line after its feed's A line")
    lines = []
    for k, texts in enumerate(zip(feeds_a, feeds_b + [None] * (len(feeds_a) - len(feeds_b)))):
        for i, text in enumerate(texts):
            if text is None:
                continue
            group, port = parse_feed(text)
            f = {**faults.get(i, {}), **faults.get((i, k), {})}
            lines.append(Line(group, port, Faults(**f), feed=k))
    known = {(lines_index(lines, ln), ln.feed) for ln in lines}
    for key in faults:
        line, feed = (key, None) if isinstance(key, int) else key
        if (feed is None and not any(li == line for li, _ in known)) or (feed is not None and (line, feed) not in known):
            raise UsageError("a fault names a line that does not exist", "line b needs --feed-b; feeds count from 1")
    return lines


def lines_index(lines: list[Line], ln: Line) -> int:
    """The line's letter index within its feed (0 = A, 1 = B)."""
    return [x for x in lines if x.feed == ln.feed].index(ln)


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
def _sockets(cfg: SimConfig) -> Iterator[tuple[list[socket.socket], socket.socket | None, socket.socket | None]]:
    """Sender sockets (one per line), the re-request socket and the order
    port's listening socket, opened inside the namespace if one is named;
    they keep working from here."""
    with ExitStack() as stack:
        where = netns.entered(cfg.netns) if cfg.netns else nullcontext()
        with where:
            ifindex = socket.if_nametoindex(cfg.iface) if cfg.iface else 0
            socks: list[Any] = []
            tx = None
            if cfg.send == "af_xdp":  # one AF_XDP sender on the interface's queue 0, a flow per line
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ms:
                    mac = _mac(ms, cfg.iface or "")
                tx = _native.UdpTx(ifindex, 0, 1024)
                stack.callback(tx.close)
            for i, ln in enumerate(cfg.lines):
                if tx is not None:
                    socks.append((tx, tx.flow(b"\0" * 6, mac, cfg.source or "", ln.group, RAW_SPORT + i, ln.port,
                                              cfg.ttl)))
                    continue
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
            port = None
            if cfg.ouch_port:
                port = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                port.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                port.bind((cfg.listen_addr(), cfg.ouch_port))
                port.listen(64)
                port.setblocking(False)
        yield socks, rtx, port


def _allow(cfg: SimConfig) -> tuple[str, str]:
    if cfg.rtx_allow:
        net = ipaddress.IPv4Network(cfg.rtx_allow, strict=False)
    elif cfg.source:
        net = ipaddress.IPv4Network(f"{cfg.source}/24", strict=False)
    else:
        net = ipaddress.IPv4Network("127.0.0.0/8")
    return str(net.network_address), str(net.netmask)


def make_sim(cfg: SimConfig, total: int | None = None, feed: int = 0) -> Any:
    """The generator of one feed: its slice of the symbols, its session, its
    share of `count` (or of `total`)."""
    n = len(cfg.feeds())
    base, end = feed * cfg.symbols // n, (feed + 1) * cfg.symbols // n
    count = cfg.count if total is None else total
    share = count // n + (count % n if feed == 0 else 0)
    return _native.Sim(n_symbols=end - base, symbol_base=base, seed=cfg.seed + feed, session=cfg.session_of(feed),
                       max_payload=cfg.max_payload, total_msgs=share)


def where_to_send(cfg: SimConfig) -> SimConfig:
    """Never out of the machine's own interface unasked: with neither --netns
    nor --iface, send from the test host if it is up, else refuse. (From the
    host namespace, multicast follows the default route: out of eth0.)"""
    if cfg.netns or cfg.iface:
        return cfg
    from dataclasses import replace

    from wirespeed.host.testbed import TestbedConfig, status

    tb = TestbedConfig()
    try:
        up = status(tb).complete
    except Exception:  # noqa: BLE001 - any failure to look means: not usable
        up = False
    if not up:
        raise UsageError("no test host to send from, and no --iface given",
                         "make one (as root): wirespeed testbed up; or name the interface: --iface IF")
    return replace(cfg, netns=tb.netns, iface=tb.peer_if, source=cfg.source or tb.peer_addr)


class Running:
    """A simulator sending from threads of this process (what start() returns).

        with start(cfg) as sim:           # sockets open, feeds sending, order port listening
            sim.order_stats()             # the port's counters, live
        sim.result                        # run()'s statistics

    It ends by itself (count, duration) or with stop(); leaving the block stops it and waits."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.sims = [make_sim(cfg, feed=k) for k in range(len(cfg.feeds()))]
        self.stack = ExitStack()
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self.result: dict[str, Any] = {}
        self.t0 = time.monotonic()

    def _open(self) -> None:
        cfg = self.cfg
        try:
            socks, rtx, port = self.stack.enter_context(_sockets(cfg))
        except OSError as exc:
            self.stack.close()
            what = "the order port" if cfg.ouch_port and "ddress" in str(exc) else "the feed sockets"
            raise WirespeedError(f"cannot open {what}: {exc}",
                                 "check --netns, --iface, --source and --ouch-port (is the test host up? "
                                 "is the port in use?)") from None
        by_line = dict(zip(cfg.lines, socks))

        def raw(s: socket.socket, i: int) -> tuple[bytes, str, int, int] | None:
            if cfg.send != "raw":
                return None
            return (_mac(s, cfg.iface or ""), cfg.source or "", RAW_SPORT + i, cfg.ttl)

        def line(ln: Line) -> tuple[Any, ...]:
            s = by_line[ln]
            if cfg.send == "af_xdp":  # no socket: the sender is the line's UdpTx
                return (-1, ln.group, ln.port, ln.faults.native(), None, s)
            return (s.fileno(), ln.group, ln.port, ln.faults.native(), raw(s, cfg.lines.index(ln)))

        feeds = cfg.feeds()
        for k, (sim, lines) in enumerate(zip(self.sims, feeds)):
            native_cfg: dict[str, Any] = {
                "lines": [line(ln) for ln in lines],
                "rate": float(cfg.rate) / len(feeds), "burst": cfg.burst, "duration_s": float(cfg.duration_s),
                "heartbeat_ms": cfg.heartbeat_ms, "rtx_rate": cfg.rtx_rate, "stamp_log": cfg.stamp_log,
                "tx_stamps": int(cfg.tx_stamps),
            }
            dist = FILLS[cfg.fill]
            if dist is not None:
                native_cfg["fill"] = fill_table(dist)
            if rtx is not None and k == 0:  # one re-request port: it serves feed 0 (one session)
                native_cfg["rtx_fd"] = rtx.fileno()
                native_cfg["rtx_allow"] = _allow(cfg)
            if port is not None and k == 0:  # one order port: it trades feed 0's symbols
                native_cfg["ouch"] = {"listen_fd": port.fileno(), "session": cfg.session_of(0),
                                      "login_timeout_ms": int(cfg.ouch_login_timeout_s * 1000),
                                      "accounts": [a.native() for a in cfg.ouch_accounts]}
            self.threads.append(threading.Thread(target=self._body, args=(sim, native_cfg),
                                                 name=f"wirespeed-sim-{k}", daemon=True))

    def _body(self, sim: Any, native_cfg: dict[str, Any]) -> None:
        try:
            sim.run(native_cfg)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self.errors.append(exc)

    def start(self) -> Running:
        self._open()
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    @property
    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def stats(self) -> dict[str, Any]:
        """The statistics so far (run()'s shape), with the order port's under "ouch"."""
        return _merge(self.cfg, [s.stats() for s in self.sims], time.monotonic() - self.t0,
                      self.sims[0].order_stats() if self.cfg.ouch_port else None)

    def order_stats(self) -> dict[str, Any]:
        """The order port's counters and the books' (matching engine), live."""
        return self.sims[0].order_stats()

    def symbols(self) -> dict[str, int]:
        """The order port's symbols (the first feed's) and the mid each one's
        simulator orders rest around, Price(4): its buys 1 to 20 cents below,
        its sells above, so a buy at mid + 0.21 takes every sell it has."""
        return {stock: mid for _loc, stock, mid in self.sims[0].symbols()}

    def stop(self) -> None:
        for sim in self.sims:
            sim.stop()

    def sent_by_session(self) -> dict[bytes, np.ndarray]:
        """After the run (stamp_log > 0): every feed's packets as sent (SENT_DTYPE), by
        the feed's session (10 bytes, space-padded, as MoldUDP64 carries it)."""
        return {self.cfg.session_of(k).ljust(10).encode(): np.frombuffer(sim.stamps()[0], dtype=SENT_DTYPE)
                for k, sim in enumerate(self.sims)}

    def stamps(self) -> tuple[np.ndarray, np.ndarray]:
        """After the run (stamp_log > 0): the first feed's packets as sent (SENT_DTYPE:
        first message's sequence number, CLOCK_REALTIME ns as the send call started,
        the kernel's TX stamp with tx_stamps, else 0) and
        the orders as they arrived at the order port (ARRIVAL_DTYPE: the kernel's receive
        stamp, the ClOrdID read as a number, UserRefNum, type, account). Counts past
        stamp_log are not kept; stamps_total() says how many there were."""
        sent, orders, _ns, _no = self.sims[0].stamps()
        return np.frombuffer(sent, dtype=SENT_DTYPE), np.frombuffer(orders, dtype=ARRIVAL_DTYPE)

    def stamps_total(self) -> tuple[int, int]:
        _s, _o, ns, no = self.sims[0].stamps()
        return int(ns), int(no)

    def wait(self, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Until every feed has ended (Ctrl-C: stop, then wait); the final statistics."""
        try:
            try:
                while self.alive:
                    self.threads[0].join(0.25) if self.threads[0].is_alive() else time.sleep(0.25)
                    if progress:
                        progress(self.stats())
            except KeyboardInterrupt:
                self.stop()
                for t in self.threads:
                    t.join()
        finally:
            self.stack.close()
        if self.errors:
            raise WirespeedError(f"the simulator failed: {self.errors[0]}")
        self.result = self.stats()
        return self.result

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.threads and not self.result:
            self.stop()
            try:
                self.wait()
            except WirespeedError:
                if exc[0] is None:
                    raise


def start(cfg: SimConfig) -> Running:
    """Start sending in the background (see Running); returns once the
    sockets are open and the order port listens."""
    return Running(where_to_send(cfg).validate()).start()  # the test host's interface counts as given


def run(cfg: SimConfig, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Send the session of every feed; returns the final statistics. Ctrl-C
    ends it cleanly (end of session sent on every feed)."""
    return start(cfg).wait(progress)


def _summary(st: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """Rates of one feed, over its sending span (first send to end of session)."""
    span = (st["end_ns"] or 0) - st["start_ns"]
    out = dict(st)
    out["msgs_per_s"] = st["msgs"] / (span / 1e9) if span > 0 else st["msgs"] / max(wall_s, 1e-9)
    out["pkts_per_s"] = st["packets"] / (span / 1e9) if span > 0 else st["packets"] / max(wall_s, 1e-9)
    return out


def _merge(cfg: SimConfig, stats: list[dict[str, Any]], wall_s: float,
           ouch: dict[str, Any] | None = None) -> dict[str, Any]:
    """One summary over all feeds; per-line lists follow cfg.lines' order;
    the order port's counters under "ouch" when there is one."""
    feeds = [_summary(st, wall_s) for st in stats]
    lines_of = cfg.feeds()
    out: dict[str, Any] = {k: sum(f[k] for f in feeds) for k in (
        "msgs", "packets", "bytes", "send_errors", "heartbeats", "rtx_requests", "rtx_answered", "rtx_refused_addr",
        "rtx_rate_limited", "rtx_bad", "rtx_msgs", "msgs_per_s", "pkts_per_s", "tx_stamps", "tx_stamps_unmatched")}
    for key in ("sent_pkts", "dropped", "duplicated", "reordered", "delayed"):
        out[key] = [feeds[ln.feed][key][lines_of[ln.feed].index(ln)] for ln in cfg.lines]
    out["by_type"] = {}
    for f in feeds:
        for t, n in f["by_type"].items():
            out["by_type"][t] = out["by_type"].get(t, 0) + n
    out["msgs_per_packet"] = out["msgs"] / out["packets"] if out["packets"] else 0.0
    out["next_seq"] = feeds[0]["next_seq"]
    out["wall_s"] = wall_s
    out["feeds"] = [{"session": cfg.session_of(k), "next_seq": f["next_seq"], "msgs": f["msgs"],
                     "packets": f["packets"], "msgs_per_s": f["msgs_per_s"]} for k, f in enumerate(feeds)]
    if ouch is not None:
        out["ouch"] = ouch
    return out


def _in_ranges(packet: bytes, ranges: tuple[tuple[int, int], ...]) -> bool:
    """Does a MoldUDP64 packet carry a message whose number is in one of the ranges?"""
    if not ranges:
        return False
    first, n = int.from_bytes(packet[10:18], "big"), int.from_bytes(packet[18:20], "big")
    last = first + (n - 1 if 0 < n < 0xFFFF else 0)
    return any(lo <= last and first <= hi for lo, hi in ranges)


def to_pcapng(cfg: SimConfig, path: Path, start_epoch_ns: int | None = None) -> dict[str, Any]:
    """Write the session to pcapng without a network: the frames the sender
    would put on the wire, one interface per line, timestamped as if sent at
    `rate` (messages due within one flush window share a packet); several
    feeds are merged in time order. Each line's drop, dup and reorder faults
    apply, by probability (seeded) and by sequence range (a packet any of
    whose messages is in a range); delay faults do not."""
    import heapq

    cfg.validate()
    feeds = cfg.feeds()
    total = cfg.count or int(cfg.rate * cfg.duration_s) or 1000
    rate = (cfg.rate or 1e6) / len(feeds)
    t0 = start_epoch_ns if start_epoch_ns is not None else time.time_ns()
    midnight0 = t0 % 86_400_000_000_000
    src_ip = cfg.source or "198.18.0.2"
    src_mac = bytes.fromhex("020000000002")
    window = max(1, int(rate * cfg.flush_us / 1e6))
    sims = [make_sim(cfg, total, k) for k in range(len(feeds))]

    def packets(k: int) -> Iterator[tuple[int, int, bytes]]:
        """(offset ns, feed, payload) for every packet of feed k, in time order."""
        sent, eos = 0, 0
        while eos < 3:
            off_ns = int(sent / rate * 1e9)
            payload, count = sims[k].packet(window, midnight0 + off_ns)
            if count == 0xFFFF:
                eos += 1
                off_ns += eos * 1_000_000
            else:
                sent += count
            yield off_ns, k, payload

    pkts = 0
    # faults, offline: each line's own seeded dice; drop, dup and reorder (a
    # packet held back behind the line's next one) apply, delay does not
    # (the file's clock is the sender's)
    dice = {ln: random.Random(cfg.seed * 1_000_003 + i) for i, ln in enumerate(cfg.lines)}
    held: dict[Line, bytes | None] = {ln: None for ln in cfg.lines}
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        ifaces = {ln: w.add_interface(f"feed{ln.feed}-{LINE_NAMES[feeds[ln.feed].index(ln)]}", f"{ln.group}:{ln.port}")
                  for ln in cfg.lines}
        for off_ns, k, payload in heapq.merge(*(packets(k) for k in range(len(feeds)))):
            pkts += 1
            for ln in feeds[k]:
                frame = udp_frame(src_mac, multicast_mac(ln.group), src_ip, ln.group, RAW_SPORT + cfg.lines.index(ln),
                                  ln.port, payload, cfg.ttl)
                fl, r = ln.faults, dice[ln].random()
                if r < fl.drop or _in_ranges(payload, fl.drop_seqs):
                    continue
                if held[ln] is None and (r < fl.drop + fl.reorder or _in_ranges(payload, fl.reorder_seqs)):
                    held[ln] = frame
                    continue
                w.packet(ifaces[ln], t0 + off_ns, frame)
                if r >= 1 - fl.dup or _in_ranges(payload, fl.dup_seqs):
                    w.packet(ifaces[ln], t0 + off_ns, frame)
                if held[ln] is not None and frame is not held[ln]:
                    w.packet(ifaces[ln], t0 + off_ns, held[ln])
                    held[ln] = None
        for ln, frame in held.items():
            if frame is not None:
                w.packet(ifaces[ln], t0 + off_ns, frame)
    stats = [s.stats() for s in sims]
    by_type: dict[str, int] = {}
    for st in stats:
        for t, n in st["by_type"].items():
            by_type[t] = by_type.get(t, 0) + n
    return {"path": str(path), "msgs": sum(st["msgs"] for st in stats), "packets": pkts, "lines": len(cfg.lines),
            "feeds": len(feeds), "by_type": by_type, "next_seq": stats[0]["next_seq"]}


def itch_day(count: int, symbols: int = 8, seed: int = 1) -> bytes:
    """The simulator's session as a NASDAQ day file: every message framed by
    its 2-byte big-endian length, no MoldUDP64 around it (its message blocks
    have that framing already). For books and their benchmarks, offline."""
    if count < 1 or not 1 <= symbols <= 65535:
        raise UsageError("itch_day: count >= 1 and 1..65535 symbols")
    sim = _native.Sim(n_symbols=symbols, seed=seed, total_msgs=count)
    parts = []
    while True:
        pkt, _n = sim.packet()
        n = int.from_bytes(pkt[18:20], "big")
        if n == 0xFFFF:  # end of session
            return b"".join(parts)
        parts.append(pkt[20:])
