"""`wirespeed trade`: capture -> ring -> books -> strategy -> risk -> order session.

One config (TOML, with flags over it) names the order session, the symbols,
the strategy and its parameters, the risk limits, and where market data
comes from: a [capture] table (this job captures into its own ring, in a
thread, exactly as `wirespeed capture` does) or `ring` (a ring a running
`wirespeed capture` writes, read from its oldest record). Joining a feed
after its start of day misses the stock directory, so no symbol has a book
until it is recovered: `rtx` names the feed's retransmission server, and the
gap from sequence 1 is re-requested. The trader runs in C on the calling thread
(wirespeed.trade.Trader), the session's I/O in its own thread; progress()
gets a snapshot every `every_s`. At the end every open order is canceled
unless `leave_orders`, and the session logs out.

    symbols = ["S0001", "S0002"]
    strategy = "take_ask"
    params = "limit=36.10,qty=100"
    ring = "/dev/shm/wirespeed"          # or a [capture] table: iface, transport, [[capture.feed]]

    [session]
    host = "198.18.0.2"
    port = 15000
    user = "WSTEST"
    password = "WSTEST"

    [risk]
    max_order_qty = 1000
    collar_bp = 200
    max_position = 5000
"""
from __future__ import annotations

import os
import threading
import time
import tomllib
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirespeed.book.books import Books
from wirespeed.capture import runner as cap
from wirespeed.errors import UsageError, WirespeedError
from wirespeed.net.addr import parse_host_port
from wirespeed.orders.session import STATES, RiskLimits, Session
from wirespeed.ring import RingReader, resolve
from wirespeed.status import StatusPublisher, reader_state
from wirespeed.trade.trader import Trader, strategies


@dataclass
class SessionConfig:
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    firm: str = ""
    journal: str | None = None
    heartbeat_ms: int = 1000
    server_timeout_ms: int = 5000
    reconnect_ms: int = 200
    transport: str = "kernel"  # kernel (the kernel's TCP) | af_xdp (wirespeed's own TCP over AF_XDP)


@dataclass
class TradeConfig:
    session: SessionConfig
    symbols: list[str]
    strategy: str = "take_ask"
    params: str = ""
    risk: RiskLimits = field(default_factory=RiskLimits)
    ring: str | None = None                 # read this ring (a running capture's) ...
    capture: cap.CaptureConfig | None = None  # ... or capture into one here
    rtx: tuple[str, int] | None = None      # the feed's retransmission server: gaps (a late join too) re-requested
    cpu: int | None = None                  # pin the trader's thread
    leave_orders: bool = False              # at the end: leave open orders working (default: cancel them)

    @classmethod
    def from_toml(cls, path: str | Path) -> TradeConfig:
        try:
            doc = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UsageError(f"no trade config at {path}") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{path}: cannot read it as TOML: {exc}") from None
        return cls.from_dict(doc, str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], where: str = "config") -> TradeConfig:
        known = {"session", "symbols", "strategy", "params", "risk", "ring", "capture", "cpu", "leave_orders", "rtx"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise UsageError(f"{where}: unknown setting(s) {', '.join(unknown)}", f"known: {', '.join(sorted(known))}")
        sd = doc.get("session", {})
        try:
            sess = SessionConfig(**sd)
        except TypeError as exc:
            raise UsageError(f"{where}: [session]: {exc}",
                             "keys: host, port, user, password, firm, journal, heartbeat_ms, server_timeout_ms, "
                             "reconnect_ms, transport") from None
        capture = cap.CaptureConfig.from_dict(doc["capture"], f"{where} [capture]") if "capture" in doc else None
        try:
            risk = RiskLimits.from_dict(doc.get("risk", {}), f"{where} [risk]")
        except WirespeedError as exc:
            raise UsageError(exc.message, exc.hint) from None
        return cls(session=sess, symbols=list(doc.get("symbols", [])), strategy=str(doc.get("strategy", "take_ask")),
                   params=str(doc.get("params", "")), risk=risk, ring=doc.get("ring"), capture=capture,
                   cpu=doc.get("cpu"), leave_orders=bool(doc.get("leave_orders", False)),
                   rtx=parse_host_port(doc["rtx"], "rtx") if "rtx" in doc else None)

    def validate(self) -> TradeConfig:
        s = self.session
        if not s.host or not s.port or not s.user:
            raise UsageError("the order session needs the exchange's address and an account",
                             "give --exchange HOST:PORT --user USER --password PASSWORD (or the config's session table)")
        if not self.symbols:
            raise UsageError("no symbols to trade", "give --symbols S0001,S0002 (or symbols = [...])")
        if s.transport not in ("kernel", "af_xdp"):
            raise UsageError(f"order transport {s.transport!r}", "kernel or af_xdp")
        if (self.ring is None) == (self.capture is None):
            raise UsageError("market data: give either a ring to read or a capture to run",
                             "--ring /dev/shm/wirespeed (a running `wirespeed capture`), or -i IFACE --feed ...")
        if self.strategy not in strategies() and ".so" not in self.strategy:
            raise UsageError(f"no strategy {self.strategy!r}",
                             f"built in: {', '.join(strategies())}; or path/to/lib.so[:symbol]")
        if self.cpu is not None and self.cpu not in os.sched_getaffinity(0):
            raise UsageError(f"cpu {self.cpu} is not available to this process")
        return self


def order_status(session: Session) -> dict[str, Any]:
    """The order session's counters a trader publishes (wirespeed.status) for top and metrics."""
    st = session.stats()
    return {k: st[k] for k in ("link", "sent", "received", "fills", "filled_shares", "refused_by_check", "refused",
                               "open_orders", "seq_lost", "lost_in_transit", "killed", "transport")}


def snapshot(session: Session, trader: Trader, books: Books, started: float) -> dict[str, Any]:
    """What the live view and --json show: link, orders by state, fills, positions,
    refusals by check, the strategy's counters, the feed's health."""
    orders = session.orders()
    by_state: dict[str, int] = {}
    for st in orders["state"]:
        by_state[STATES[st]] = by_state.get(STATES[st], 0) + 1
    stats = session.stats()
    refused = {k: v for k, v in stats["refused_by_check"].items() if v}
    refused.update({k: v for k, v in stats["refused"].items() if v})
    return {"elapsed_s": round(time.monotonic() - started, 3), "link": stats["link"],
            "drops": {k: v for k, v in stats["drops"].items() if v}, "orders": len(orders), "by_state": by_state,
            "open_orders": stats["open_orders"], "fills": stats["fills"], "filled_shares": stats["filled_shares"],
            "positions": {k: v for k, v in session.positions().items() if v["bought"] or v["sold"] or v["open_buy"]
                          or v["open_sell"]},
            "refused": refused, "sent": stats["sent"], "received": stats["received"], "killed": stats["killed"],
            "strategy": trader.stats(), "book_errors": books.book_errors(), "stale": books.stale,
            "seq_lost": stats["seq_lost"], "events_lost": stats["events_lost"],
            "lost_in_transit": stats["lost_in_transit"], "revived": stats["revived"],
            "transport": stats["transport"], "tcp": {k: stats["tcp"][k] for k in TCP_VIEW} if "tcp" in stats else None}


# What the view shows of the user-space TCP: what the kernel's TCP would have counted.
TCP_VIEW = ("state", "retransmits", "rto_expiries", "fast_retransmits", "out_of_order", "zero_window_waits",
            "bad_csum", "srtt_us", "rto_ms")


class _Fills:
    """The session's executions, from its event batches: what --json reports (the
    first MAX of them; the total is counted)."""

    MAX = 10_000

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: list[dict[str, Any]] = []
        self.total = 0

    def take(self) -> None:
        ev = self.session.events()
        ex = ev[ev["type"] == b"E"]
        self.total += len(ex)
        for e in ex[:max(0, self.MAX - len(self.rows))]:
            self.rows.append({"urn": int(e["urn"]), "symbol": self.session.symbols[e["sym"]]
                              if e["sym"] < len(self.session.symbols) else "", "qty": int(e["qty"]),
                              "price": int(e["price"]) / 10_000, "match": int(e["match"]),
                              "liquidity": e["flag"].decode("ascii", "replace")})


def _user_tcp(s: SessionConfig, capture: cap.Background | None) -> Any:
    """The session's user-space TCP: on the capture's queue when this process captures
    with af_xdp on the interface the exchange is reached by (one UMEM and one XDP program
    per interface), else on the interface alone."""
    from wirespeed.transports.tcp_xsk import UserTcp, resolve

    t = capture.transport if capture is not None else None
    if t is not None and getattr(t, "name", "") == "af_xdp" and resolve(s.host).iface == t.iface:
        return UserTcp(s.host, s.port, share=t)
    return UserTcp(s.host, s.port)


def run(cfg: TradeConfig, duration_s: float = 0.0, progress: Callable[[dict[str, Any]], None] | None = None,
        every_s: float = 0.25, stop: threading.Event | None = None, wait_s: float = 30.0) -> dict[str, Any]:
    """The job (see the module). duration_s 0: until stop is set (the CLI sets it at
    Ctrl-C or SIGTERM); wait_s: how long the order port may take to log the session
    in. Returns the last snapshot plus the capture's result."""
    cfg.validate()
    stop = stop or threading.Event()
    with ExitStack() as stack:
        capture = None
        if cfg.capture is not None:  # a ring of its own, fresh, removed at the end
            ring_path = cfg.capture.ring
            resolve(ring_path).unlink(missing_ok=True)
            stack.callback(resolve(ring_path).unlink, missing_ok=True)
            if cfg.session.transport == "af_xdp" and cfg.capture.transport == "af_xdp":
                cfg.capture.xdp.tcp_frames = cfg.capture.xdp.tcp_frames or 256  # in case the session shares it
            capture = stack.enter_context(cap.Background(cfg.capture))
        else:
            ring_path = str(cfg.ring)
        if not resolve(ring_path).exists():
            raise WirespeedError(f"no ring at {ring_path}", "start `wirespeed capture` first, or give a [capture]")
        reader = stack.enter_context(RingReader(ring_path, "oldest"))  # the day's directory is at its start
        books = Books(max_orders=1 << 21, max_levels=1 << 18, rtx=cfg.rtx)
        stack.callback(books.close)
        s = cfg.session
        tcp = _user_tcp(s, capture) if s.transport == "af_xdp" else None
        session = Session(s.host, s.port, s.user, s.password, cfg.symbols, journal=s.journal, limits=cfg.risk,
                          firm=s.firm, books=books, heartbeat_ms=s.heartbeat_ms,
                          server_timeout_ms=s.server_timeout_ms, reconnect_ms=s.reconnect_ms,
                          transport=s.transport, tcp=tcp)
        stack.callback(session.close)
        session.wait_up(wait_s)
        trader = Trader(session, books, cfg.strategy, cfg.params)
        stack.callback(trader.close)
        if cfg.cpu is not None:
            home = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {cfg.cpu})
            stack.callback(os.sched_setaffinity, 0, home)
        started = time.monotonic()
        end = started + duration_s if duration_s else float("inf")
        fills = _Fills(session)
        status = stack.enter_context(StatusPublisher(ring_path, "trade"))
        while not stop.is_set() and time.monotonic() < end:
            if capture is not None and capture.error is not None:
                raise capture.error
            trader.follow(reader, min(every_s, end - time.monotonic()))
            fills.take()
            if status.due():
                status.publish({"reader": reader_state(reader), **books.status(), "orders": order_status(session)})
            if progress:
                progress(snapshot(session, trader, books, started))
        if not cfg.leave_orders:
            session.kill()   # cancel what is open; refuse anything after
            time.sleep(0.2)  # the Canceled messages' way back
        fills.take()
        result = snapshot(session, trader, books, started)
        result["executions"] = fills.rows
        result["executions_total"] = fills.total
        result["canceled_at_exit"] = not cfg.leave_orders
        result["journal"] = str(session.journal)
        result["stats"] = session.stats()
        if capture is not None:
            result["capture"] = capture.finish()
    return result
