"""`wirespeed.trade.Trader`: the strategy runs where the book changes.

    books = Books()
    session = Session(host, port, user, password, symbols=["S0001"], books=books, limits=limits)
    trader = Trader(session, books, "take_ask", "limit=36.10,qty=100")     # C: no Python per packet
    trader.follow(RingReader("/dev/shm/wirespeed"), seconds=60)

With a C strategy (a built-in name, or "path/to/lib.so[:symbol]" exporting a
ws_strategy_t, native/trade/strategy.h) the whole loop is C without the GIL:
each ring record is routed to the books, each BBO change of a session symbol
calls the strategy, and an intent becomes an order through the session's
risk checks before the rest of the packet is applied. The order's ClOrdID
is the triggering packet's MoldUDP64 sequence number.

With a Python callable the loop is Python, batch by batch - clearly slower,
for starting out: `decide(changes, symbols)` gets the batch's BBO changes of
the session's symbols (BBO_CHANGE_DTYPE plus `sym`, the session's symbol
index) and returns Intents; each goes through the same Session.enter, so
the same checks.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.book.books import BBO_CHANGE_DTYPE, Books
from wirespeed.errors import WirespeedError
from wirespeed.orders.session import OrderRefused, Session

PRICE_SCALE = 10_000
TICK_DTYPE = np.dtype(BBO_CHANGE_DTYPE.descr + [("sym", "<i4")])


@dataclass(frozen=True)
class Intent:
    """What a Python strategy wants: an order of qty shares of the session's symbol
    at price (dollars)."""
    symbol: str
    side: str
    qty: int
    price: float
    tif: str = "IOC"


def include_dir() -> Path:
    """The folder to give a C compiler (-I) for trade/strategy.h, to build a strategy
    of your own as a shared object (see examples/hit_bid.c)."""
    return Path(__file__).resolve().parent.parent / "native"


def strategies() -> dict[str, str]:
    """The built-in C strategies: name -> what it does and its parameters."""
    return dict(_native.strategies())


class Trader:
    """Books, a strategy and an order session, driven by a ring (see the module)."""

    def __init__(self, session: Session, books: Books, strategy: str | Callable[..., Iterable[Intent]],
                 params: str = "") -> None:
        self.session, self.books = session, books
        self._py = strategy if callable(strategy) else None
        self._t: Any = None
        self._py_stats = {"records": 0, "ticks": 0, "intents": 0, "entered": 0, "refused": 0}
        self.refused_by: dict[str, int] = {}
        if self._py is None:
            # the trader's books are the collar's from now on (it sets them in C)
            try:
                session.native.use_books(None)
            except RuntimeError:
                raise WirespeedError("this session already has a trader", "close that one first (Trader.close)") \
                    from None
            try:
                self._t = _native.Trader(session.native, books._router, str(strategy), params)
            except ValueError as exc:
                session.native.use_books(books._router)
                raise WirespeedError(str(exc), "see `wirespeed trade --list-strategies` and "
                                     "native/trade/strategy.h for a shared object's ABI") from None
            self.name = str(strategy)
        else:
            if session.books is not books:
                session.native.use_books(books._router)
            self.name = getattr(strategy, "__name__", "python")
        self._locs: dict[int, int] = {}
        self._dir_seen = -1

    def follow(self, reader: Any, seconds: float, slice_s: float = 0.02,
               stop: Callable[[], bool] | None = None) -> int:
        """Run for `seconds` on `reader` (a RingReader), with the books' service()
        (re-requests, gap timeouts) between slices. Returns the records read."""
        end = time.monotonic() + seconds
        total = 0
        while (left := end - time.monotonic()) > 0 and not (stop and stop()):
            if self._t is not None:
                total += self._t.follow(reader.native, min(slice_s, left))
            else:
                total += self._python_slice(reader, min(slice_s, left))
            self.books.service()
        return total

    def _sym_of_locate(self) -> dict[int, int]:
        seen = self.books._engine.stats()["directory"]
        if seen != self._dir_seen:
            syms = self.books.symbols()
            self._locs = {syms[s]: i for i, s in enumerate(self.session.symbols) if s in syms}
            self._dir_seen = seen
        return self._locs

    def _python_slice(self, reader: Any, seconds: float) -> int:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            batch = reader.poll(256)
            if not len(batch):
                continue
            n += self.books.records(batch)
            changes = self.books.bbo_changes()
            locs = self._sym_of_locate()
            if not len(changes) or not locs:
                continue
            sym = np.array([locs.get(int(x), -1) for x in changes["locate"]], dtype="<i4")
            mine = sym >= 0
            if not mine.any():
                continue
            ticks = np.zeros(int(mine.sum()), dtype=TICK_DTYPE)
            for name in BBO_CHANGE_DTYPE.names:
                ticks[name] = changes[name][mine]
            ticks["sym"] = sym[mine]
            self._py_stats["ticks"] += len(ticks)
            for it in self._py(ticks, self.session.symbols) or ():  # type: ignore[misc]
                self._py_stats["intents"] += 1
                try:
                    self.session.enter(it.symbol, it.side, it.qty, it.price, it.tif)
                    self._py_stats["entered"] += 1
                except OrderRefused as exc:
                    self._py_stats["refused"] += 1
                    self.refused_by[exc.check] = self.refused_by.get(exc.check, 0) + 1
        self._py_stats["records"] += n
        return n

    def stats(self) -> dict[str, Any]:
        """Records, BBO changes seen (ticks), intents, orders entered/replaced, refusals."""
        if self._t is not None:
            return dict(self._t.stats())
        return {"strategy": self.name, **self._py_stats}

    def close(self) -> None:
        """Stop using the books for the session's collar through the trader."""
        if self._t is not None:
            self._t = None  # unhooks the books, drops the session
            self.session.native.use_books(self.books._router)
