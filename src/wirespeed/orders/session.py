"""`wirespeed.orders.Session`: OUCH 5.0 orders over SoupBinTCP 4.1, with
pre-trade risk checks that cannot be skipped.

    from wirespeed.orders import RiskLimits, Session

    limits = RiskLimits(max_order_qty=1000, collar_bp=200, max_position=5000)
    with Session("198.18.0.2", 15000, "WSTEST", "WSTEST", symbols=["S0001"],
                 journal="ws.journal", limits=limits, books=books) as s:
        s.wait_up()
        urn = s.enter("S0001", "B", 100, 101.25, tif="IOC")   # or raises OrderRefused("price_collar")
        s.order(urn)["state"]                                  # "pending", then "accepted", "filled", ...
        s.positions()["S0001"]["position"]
        s.events()                                              # every exchange message, one numpy batch

The session is C (native/orders/session.h); this is its face. An I/O thread
(without the GIL) services the socket: login, heartbeats, every message the
exchange sends applied to the orders and positions, and on any loss a
reconnect that asks for the next sequence number it expects, so nothing is
missed or applied twice. Orders go out from the caller's thread with one
send() of a pre-encoded 50-byte Enter Order, after the risk checks
(native/orders/risk.h) and a journal write: a process killed at any moment
restarts on the same journal without reusing a UserRefNum, and learns its
orders again from the exchange's replay. Prices are dollars here (OUCH's
Price(4) inside); shares are integers.
"""
from __future__ import annotations

import math
import os
import threading
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.errors import UsageError, WirespeedError

PRICE_SCALE = 10_000

# ws_order_t (session.h), byte for byte
ORDER_DTYPE = np.dtype({
    "names": ["urn", "orig_urn", "replaced_by", "sym", "side", "tif", "state", "recovered", "reject_code", "qty",
              "open", "filled", "price", "rprice", "order_ref", "exec_notional", "sent_ns", "clordid"],
    "formats": ["<u4", "<u4", "<u4", "<u2", "S1", "S1", "u1", "u1", "<u2", "<u4", "<u4", "<u4", "<u4", "<u4",
                "<u8", "<u8", "<u8", "S14"],
    "offsets": [0, 4, 8, 12, 14, 15, 16, 17, 18, 20, 24, 28, 32, 36, 40, 48, 56, 64],
    "itemsize": 80})
# ws_order_ev_t (session.h): one exchange message
EVENT_DTYPE = np.dtype({
    "names": ["rx_ns", "seq", "timestamp", "price", "match", "order_ref", "urn", "orig_urn", "qty", "sym",
              "reject_code", "type", "flag", "replayed"],
    "formats": ["<u8", "<u8", "<u8", "<u8", "<u8", "<u8", "<u4", "<u4", "<u4", "<u2", "<u2", "S1", "S1", "u1"],
    "offsets": [0, 8, 16, 24, 32, 40, 48, 52, 56, 60, 62, 64, 65, 66],
    "itemsize": 72})

STATES = ("none", "pending", "accepted", "partially_filled", "filled", "canceled", "rejected", "replaced")
CHECKS = ("ok", "kill_switch", "restricted_symbol", "max_order_qty", "max_order_notional", "stale_book",
          "no_reference", "price_collar", "position", "gross_notional", "open_orders", "order_rate",
          "duplicate_order")
REFUSALS = {-100: "link_down", -101: "unknown_symbol", -102: "bad_order", -103: "journal_full",
            -104: "backpressure", -105: "unknown_order", -106: "send_failed"}
TIF = {"DAY": "0", "IOC": "3", "0": "0", "3": "3"}
# reject codes the session gives itself (session.h): the exchange never said no, the order did not reach it
_REJECTS = {0xFFFF: "not_sent", 0xFFFE: "not_received"}


class OrderRefused(WirespeedError):
    """An order the session would not send: `check` names the risk check (or the
    reason: link_down, bad_order, ...) that refused it; nothing left the machine."""

    def __init__(self, check: str, detail: str = "") -> None:
        hints = {"link_down": "wait for the link (Session.wait_up); orders are never queued",
                 "kill_switch": "the kill switch is on: Session.unkill() to trade again",
                 "stale_book": "the feed has a gap open: the collar will not guess a price",
                 "no_reference": "the collar has no price to read: give the session books, or no collar"}
        super().__init__(f"order refused: {check}{': ' + detail if detail else ''}",
                         hints.get(check, "see Session.stats()['refused_by_check'] and the limits"))
        self.check = check


def refusal_name(code: int) -> str:
    """The name of a refusal code a native call returned (< 0)."""
    return CHECKS[-code] if -len(CHECKS) < code < 0 else REFUSALS.get(code, f"error {code}")


def _dollars(value: float, what: str) -> int:
    """Dollars to Price(4), exactly when the price has at most 4 decimals."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise WirespeedError(f"{what} {value!r}", "give a positive price in dollars, e.g. 101.25")
    return int(round(value * PRICE_SCALE))


@dataclass
class SymbolLimits:
    """One symbol's limits (0: none): |position| in shares, executed plus open notional
    in dollars, or no orders at all."""
    max_position: int = 0
    max_gross_notional: float = 0.0
    restricted: bool = False

    def native(self) -> dict[str, int]:
        return {"max_position": int(self.max_position),
                "max_gross_notional": int(round(self.max_gross_notional * PRICE_SCALE)),
                "restricted": int(self.restricted)}


@dataclass
class RiskLimits:
    """The pre-trade checks' limits (0: none). Notional in dollars. `max_position` and
    `max_gross_notional` apply to every symbol unless `symbols` says otherwise;
    `restricted` lists symbols that take no orders."""
    max_order_qty: int = 0
    max_order_notional: float = 0.0
    collar_bp: int = 0
    max_open_orders: int = 0
    max_orders_per_s: int = 0
    dup_window_ms: int = 0
    max_position: int = 0
    max_gross_notional: float = 0.0
    restricted: list[str] = field(default_factory=list)
    symbols: dict[str, SymbolLimits] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "risk") -> RiskLimits:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise WirespeedError(f"{where}: unknown key(s) {', '.join(unknown)}",
                                 f"the keys are: {', '.join(sorted(known))}")
        d = dict(d)
        syms = {}
        for name, sd in (d.pop("symbols", None) or {}).items():
            if not isinstance(sd, dict):
                raise WirespeedError(f"{where}.symbols.{name}: a table", "e.g. [risk.symbols.AAPL] max_position = 500")
            bad = sorted(set(sd) - {f.name for f in fields(SymbolLimits)})
            if bad:
                raise WirespeedError(f"{where}.symbols.{name}: unknown key(s) {', '.join(bad)}",
                                     "the keys are: max_position, max_gross_notional, restricted")
            syms[name.upper()] = SymbolLimits(**sd)
        try:
            lim = cls(**d, symbols=syms)
        except TypeError as exc:
            raise WirespeedError(f"{where}: {exc}", "see RiskLimits") from None
        return lim.validate(where)

    @classmethod
    def from_toml(cls, path: str | Path) -> RiskLimits:
        """A TOML file of limits: top-level keys, or a [risk] table."""
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise WirespeedError(f"cannot read risk limits {path}: {exc}", "give a TOML file") from None
        return cls.from_dict(data.get("risk", data), f"{path}")

    def validate(self, where: str = "risk") -> RiskLimits:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (v < 0 or not math.isfinite(v)):
                raise WirespeedError(f"{where}.{f.name} = {v}", "limits are 0 (none) or positive")
        if self.max_orders_per_s > 1_000_000:
            raise WirespeedError(f"{where}.max_orders_per_s = {self.max_orders_per_s}", "at most 1,000,000")
        return self

    def native(self) -> dict[str, int]:
        return {"max_order_qty": int(self.max_order_qty),
                "max_order_notional": int(round(self.max_order_notional * PRICE_SCALE)),
                "collar_bp": int(self.collar_bp), "max_open_orders": int(self.max_open_orders),
                "max_orders_per_s": int(self.max_orders_per_s), "dup_window_ms": int(self.dup_window_ms)}

    def symbol(self, name: str) -> SymbolLimits:
        own = self.symbols.get(name.upper())
        base = own or SymbolLimits(self.max_position, self.max_gross_notional)
        return SymbolLimits(base.max_position, base.max_gross_notional,
                            base.restricted or name.upper() in {s.upper() for s in self.restricted})


def default_journal(user: str, host: str, port: int) -> Path:
    """Where a session's journal goes unless told: $XDG_STATE_HOME/wirespeed (or
    ~/.local/state/wirespeed), one file per account, exchange and day (UTC: the day
    UserRefNums and sequence numbers start again)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "wirespeed"
    return base / f"{user}@{host}_{port}-{time.strftime('%Y-%m-%d', time.gmtime())}.journal"


class Session:
    """An OUCH order session (see the module's docstring)."""

    def __init__(self, host: str, port: int, user: str, password: str, symbols: list[str],
                 journal: str | Path | None = None, limits: RiskLimits | None = None, firm: str = "",
                 books: Any = None, heartbeat_ms: int = 1000, server_timeout_ms: int = 5000,
                 reconnect_ms: int = 200, max_orders: int = 1 << 20, event_cap: int = 1 << 16,
                 start: bool = True, transport: str = "kernel", tcp: Any = None) -> None:
        """`books`: a wirespeed.Books whose best bid and offer the price collar reads (and
        whose open gaps make it refuse: stale_book); without it a collar refuses
        (no_reference). `start`: begin the I/O thread now (it connects and logs in).
        `transport`: "kernel" (the kernel's TCP) or "af_xdp" (wirespeed's own TCP over
        AF_XDP on the interface the route to `host` leaves by: transports/tcp_xsk.py;
        root, and an interface no other process has an XDP program on). `tcp`: a
        prepared transports.tcp_xsk.UserTcp to use for af_xdp (the session closes it)."""
        if transport not in ("kernel", "af_xdp"):
            raise UsageError(f"order transport {transport!r}", "kernel or af_xdp")
        self.symbols = [s.upper() for s in symbols]
        if len(set(self.symbols)) != len(self.symbols):
            raise WirespeedError("a symbol is listed twice", "give each symbol once")
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self.limits = (limits or RiskLimits()).validate()
        self.journal = Path(journal) if journal else default_journal(user, host, port)
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        self.transport = transport
        self._tcp = tcp
        if transport == "af_xdp" and tcp is None:
            from wirespeed.transports.tcp_xsk import UserTcp

            self._tcp = UserTcp(host, port)
        try:
            self._s = self._open_native(host, port, user, password, firm, heartbeat_ms, server_timeout_ms,
                                        reconnect_ms, max_orders, event_cap)
        except BaseException:
            if self._tcp is not None:
                self._tcp.close()
            raise
        for name in self.symbols:
            self._s.set_symbol_limits(self._index[name], self.limits.symbol(name).native())
        self.books = books
        if books is not None:
            self._s.use_books(books._router)
        self._stop = threading.Event()
        self._io: threading.Thread | None = None
        if start:
            self.start()

    def _open_native(self, host: str, port: int, user: str, password: str, firm: str, heartbeat_ms: int,
                     server_timeout_ms: int, reconnect_ms: int, max_orders: int, event_cap: int) -> Any:
        try:
            return _native.OrderSession(
                host=host, port=port, user=user, password=password, journal=str(self.journal),
                symbols=self.symbols, firm=firm, heartbeat_ms=heartbeat_ms, server_timeout_ms=server_timeout_ms,
                reconnect_ms=reconnect_ms, max_orders=max_orders, event_cap=event_cap,
                limits=self.limits.native(), symbol_limits=SymbolLimits().native(),
                tcp=self._tcp.conn if self._tcp is not None else None)
        except OSError as exc:
            if exc.errno == 116:  # ESTALE
                raise WirespeedError(f"journal {self.journal} is from an earlier day",
                                     "UserRefNums and sequence numbers start again each day: move it away") from None
            if exc.errno == 22:
                raise WirespeedError(f"journal {self.journal} is not this session's (another account or symbols, "
                                     "or not a wirespeed journal)", "give another --journal path") from None
            raise WirespeedError(f"cannot open the journal {self.journal}: {exc.strerror}",
                                 "check the path and its permissions") from None
        except ValueError as exc:
            raise WirespeedError(f"order session: {exc}", "see Session's arguments") from None

    # -- life --------------------------------------------------------------------------

    def start(self) -> Session:
        """Start the I/O thread (connect, log in, keep the link)."""
        if self._io is None:
            self._io = threading.Thread(target=self._loop, name="wirespeed-orders", daemon=True)
            self._io.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._s.run(0.05)

    def wait_up(self, timeout: float = 5.0) -> Session:
        """Block until the session is logged in; raise if it is not within timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = self._s.stats()
            if st["link"] == "up":
                return self
            if st["link"] == "closed":
                raise WirespeedError(f"the order session is closed ({st['last_drop']})",
                                     "check the account's user and password, and the exchange's session")
            time.sleep(0.005)
        st = self._s.stats()
        raise WirespeedError(f"the order session is not up after {timeout:g} s (link {st['link']}, "
                             f"{st['connects']} connects, last drop {st['last_drop']})",
                             "is the exchange's order port listening? (wirespeed sim --ouch-port)")

    @property
    def link(self) -> str:
        return str(self._s.stats()["link"])

    def sync(self) -> None:
        """Make the journal durable against the machine failing (msync); without it, it
        survives the process dying (the page cache keeps it), not a power loss."""
        try:
            self._s.sync()
        except OSError as exc:
            raise WirespeedError(f"cannot sync the journal {self.journal}: {exc.strerror}",
                                 "check the disk it is on") from None

    def close(self) -> None:
        """Log out, stop the I/O thread; the journal stays for a restart the same day."""
        self._s.close()
        self._stop.set()
        if self._io is not None:
            self._io.join(timeout=2)
            self._io = None
        if self._tcp is not None:  # the XDP program and the socket go (the connection closed above)
            self._tcp.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def native(self) -> Any:
        """The _native.OrderSession (for wirespeed.trade.Trader)."""
        return self._s

    # -- orders --------------------------------------------------------------------------

    def _sym(self, symbol: str) -> int:
        i = self._index.get(symbol.upper())
        if i is None:
            raise OrderRefused("unknown_symbol", f"{symbol} is not one of the session's {len(self.symbols)} symbols")
        return i

    @staticmethod
    def _check(rc: int, what: str) -> int:
        if rc < 0:
            raise OrderRefused(refusal_name(rc), what)
        return rc

    def enter(self, symbol: str, side: str, qty: int, price: float, tif: str = "DAY",
              clordid: str | None = None) -> int:
        """An Enter Order: side "B", "S" (or "T"/"E": short), qty shares, price in dollars,
        tif "DAY" or "IOC". Returns its UserRefNum, or raises OrderRefused naming the check."""
        if tif.upper() not in TIF:
            raise WirespeedError(f"time in force {tif!r}", "give DAY or IOC")
        if side not in ("B", "S", "T", "E"):
            raise WirespeedError(f"side {side!r}", "give B, S, T (short) or E (short exempt)")
        rc = self._s.enter(self._sym(symbol), side, int(qty), _dollars(price, "price"), TIF[tif.upper()], clordid)
        return self._check(rc, f"{side} {qty} {symbol} @ {price}")

    def replace(self, urn: int, qty: int, price: float) -> int:
        """Replace an open order: qty is the new total including what executed (OUCH's
        rule). Returns the new UserRefNum (risk-checked like an Enter)."""
        return self._check(self._s.replace(int(urn), int(qty), _dollars(price, "price")), f"replace {urn}")

    def cancel(self, urn: int, leave: int = 0) -> None:
        """Cancel an open order (down to `leave` shares open)."""
        self._check(self._s.cancel(int(urn), int(leave)), f"cancel {urn}")

    def kill(self, disable: bool = False) -> int:
        """The kill switch: refuse every order from now on, cancel every open one, and with
        `disable` send the exchange's Disable Order Entry. Returns the cancels sent."""
        return int(self._s.kill(disable))

    def unkill(self) -> None:
        self._s.unkill()

    def set_limits(self, limits: RiskLimits) -> None:
        """New limits for the next order."""
        self.limits = limits.validate()
        self._s.set_limits(limits.native())
        for name in self.symbols:
            self._s.set_symbol_limits(self._index[name], limits.symbol(name).native())

    # -- state ---------------------------------------------------------------------------

    def orders(self) -> np.ndarray:
        """Every order sent, by UserRefNum (ORDER_DTYPE; `state` indexes STATES)."""
        a = np.frombuffer(self._s.orders(), dtype=ORDER_DTYPE)
        return a[a["urn"] > 0]

    def order(self, urn: int) -> dict[str, Any]:
        """One order as a dict (prices in dollars), or KeyError."""
        a = self.orders()
        hit = a[a["urn"] == urn]
        if not len(hit):
            raise KeyError(urn)
        o = hit[0]
        return {"urn": int(o["urn"]), "symbol": self.symbols[o["sym"]], "side": o["side"].decode(),
                "tif": "IOC" if o["tif"] == b"3" else "DAY", "state": STATES[o["state"]], "qty": int(o["qty"]),
                "open": int(o["open"]), "filled": int(o["filled"]), "price": float(o["price"] / PRICE_SCALE),
                "order_ref": int(o["order_ref"]), "orig_urn": int(o["orig_urn"]),
                "replaced_by": int(o["replaced_by"]), "reject_code": int(o["reject_code"]),
                "reject": _REJECTS.get(int(o["reject_code"]), f"0x{int(o['reject_code']):04X}") if o["state"] == 6 else "",
                "recovered": bool(o["recovered"]), "clordid": o["clordid"].decode("ascii", "replace").strip(),
                "exec_notional": float(o["exec_notional"] / PRICE_SCALE)}

    def positions(self) -> dict[str, dict[str, Any]]:
        """Per symbol: position (shares), open buy/sell shares, executed shares and
        notional (dollars) by side."""
        return {name: {"position": pos, "open_buy": ob, "open_sell": os_, "bought": eb, "sold": es,
                       "bought_notional": nb / PRICE_SCALE, "sold_notional": ns / PRICE_SCALE}
                for name, pos, ob, os_, eb, es, nb, ns in self._s.positions()}

    def events(self) -> np.ndarray:
        """Every exchange message since the last call, as one EVENT_DTYPE batch."""
        return np.frombuffer(self._s.take_events(), dtype=EVENT_DTYPE)

    def stats(self) -> dict[str, Any]:
        """The link, its drops by reason, messages by type, refusals by check and reason;
        with transport af_xdp, `tcp`: the user-space TCP's counters (what the kernel's
        TCP would count: retransmits, out-of-order, RTO expiries, zero-window waits...)."""
        st = dict(self._s.stats())
        st["transport"] = self.transport
        if self._tcp is not None and self._tcp.conn is not None:
            st["tcp"] = self._tcp.conn.stats()
        return st
