"""Price-time matching in plain Python: the reference the C engine
(native/exchange/match.c, `_native.MatchEngine`) must equal event for
event, and the peer `wirespeed bench exchange` measures it against.

Same contract as match.h: one book per symbol (locates 1..n); an incoming
limit order trades with the other side while the prices cross, at the
resting order's price, best price first and oldest first; what is left
rests (day) or is canceled (IOC). A reduction keeps priority, a replace
loses it (new reference), and if the replacement crosses the old order is
canceled and the new one enters like an add. Every call returns its events,
as dicts with the keys of MatchEngine.events(); orders are named by handle.

Also the order mix both engines are measured on (order_mix) and a loop that
applies it here (run).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ADD, EXEC, CANCEL, REPLACE = 1, 2, 3, 4
OP_ADD, OP_REDUCE, OP_REPLACE = 0, 1, 2
#: One operation of a benchmark or test run; target is the index of the op
#: (an add) whose order a reduce or replace names.
OP_DTYPE = np.dtype([("op", "u1"), ("side", "u1"), ("ioc", "u1"), ("pad", "u1"), ("locate", "<u2"),
                     ("pad2", "<u2"), ("qty", "<u4"), ("price", "<u4"), ("target", "<u4")])


@dataclass
class _Order:
    ref: int
    tag: int
    qty: int
    price: int
    owner: int
    locate: int
    side: str


def _event(kind: int, o: _Order, handle: int | None, **kw: Any) -> dict[str, Any]:
    ev = {"kind": kind, "side": o.side, "attributed": 0, "with_price": 0, "rested": 0, "locate": o.locate,
          "qty": 0, "remaining": o.qty, "price": o.price, "handle": handle, "ref": o.ref, "new_ref": 0, "match": 0,
          "owner": o.owner, "tag": o.tag, "taker_owner": 0, "taker_tag": 0}
    ev.update(kw)
    return ev


class ReferenceMatcher:
    def __init__(self, n_symbols: int) -> None:
        # per locate, per side: price -> handles in time priority (a dict keeps insertion order
        # and removes any of them in O(1))
        self.books: dict[int, dict[str, dict[int, dict[int, None]]]] = {
            loc: {"B": {}, "S": {}} for loc in range(1, n_symbols + 1)}
        self.orders: dict[int, _Order] = {}
        self.next_handle = 0
        self.next_ref = 1
        self.next_match = 1

    # -- what the book holds -----------------------------------------------------------
    def _best(self, locate: int, side: str) -> int | None:
        levels = self.books[locate][side]
        if not levels:
            return None
        return max(levels) if side == "B" else min(levels)

    def bbo(self, locate: int) -> tuple[int, int, int, int]:
        out = []
        for side in ("B", "S"):
            p = self._best(locate, side)
            out += [0, 0] if p is None else [p, sum(self.orders[h].qty for h in self.books[locate][side][p])]
        return out[0], out[1], out[2], out[3]

    def sim_orders(self, locate: int) -> set[int]:
        return {h for h, o in self.orders.items() if o.locate == locate and o.owner == 0}

    # -- changes -----------------------------------------------------------------------
    def _remove(self, h: int) -> None:
        o = self.orders.pop(h)
        q = self.books[o.locate][o.side][o.price]
        del q[h]
        if not q:
            del self.books[o.locate][o.side][o.price]

    def _fill_front(self, locate: int, side: str, price: int, n: int, taker_owner: int, taker_tag: int,
                    with_price: int, events: list[dict[str, Any]]) -> None:
        h = next(iter(self.books[locate][side][price]))
        o = self.orders[h]
        o.qty -= n
        events.append(_event(EXEC, o, h, qty=n, match=self.next_match, taker_owner=taker_owner, taker_tag=taker_tag,
                             with_price=with_price))
        self.next_match += 1
        if not o.qty:
            self._remove(h)

    def add(self, locate: int, side: str, price: int, qty: int, ioc: bool, owner: int, tag: int,
            attributed: bool) -> tuple[int | None, int, list[dict[str, Any]]]:
        events: list[dict[str, Any]] = []
        ref = self.next_ref
        self.next_ref += 1
        other = "S" if side == "B" else "B"
        while qty:
            best = self._best(locate, other)
            if best is None or (best > price if side == "B" else best < price):
                break
            front = self.orders[next(iter(self.books[locate][other][best]))].qty
            n = min(qty, front)
            self._fill_front(locate, other, best, n, owner, tag, 0, events)
            qty -= n
        if not qty:
            return None, ref, events
        o = _Order(ref, tag, qty, price, owner, locate, side)
        if ioc:
            o.qty = 0
            events.append(_event(CANCEL, o, None, qty=qty))
            return None, ref, events
        h = self.next_handle
        self.next_handle += 1
        self.orders[h] = o
        self.books[locate][side].setdefault(price, {})[h] = None
        events.append(_event(ADD, o, h, qty=qty, attributed=int(attributed)))
        return h, ref, events

    def reduce(self, h: int, open_: int) -> tuple[int, list[dict[str, Any]]]:
        o = self.orders.get(h)
        if o is None or open_ >= o.qty:
            return 0, []
        n = o.qty - open_
        o.qty = open_
        ev = _event(CANCEL, o, h, qty=n, rested=1)
        if not open_:
            self._remove(h)
        return n, [ev]

    def replace(self, h: int, price: int, qty: int, new_tag: int) -> tuple[int | None, int, list[dict[str, Any]]]:
        o = self.orders.get(h)
        if o is None or not qty:
            return None, 0, []
        other = "S" if o.side == "B" else "B"
        best = self._best(o.locate, other)
        if best is not None and (best <= price if o.side == "B" else best >= price):
            _, events = self.reduce(h, 0)
            nh, ref, more = self.add(o.locate, o.side, price, qty, False, o.owner, new_tag, False)
            return nh, ref, events + more
        old_ref = o.ref
        self._remove(h)
        o.ref, o.price, o.qty, o.tag = self.next_ref, price, qty, new_tag
        self.next_ref += 1
        self.orders[h] = o
        self.books[o.locate][o.side].setdefault(price, {})[h] = None
        return h, o.ref, [_event(REPLACE, o, h, ref=old_ref, new_ref=o.ref, qty=qty)]

    def execute_front(self, locate: int, side: str, qty: int, with_price: bool) -> tuple[int, list[dict[str, Any]]]:
        if not self.books[locate][side]:
            side = "S" if side == "B" else "B"
        best = self._best(locate, side)
        if best is None or not qty:
            return 0, []
        events: list[dict[str, Any]] = []
        n = min(qty, self.orders[next(iter(self.books[locate][side][best]))].qty)
        self._fill_front(locate, side, best, n, 0, 0, int(with_price), events)
        return n, events


def order_mix(n: int, symbols: int = 8, seed: int = 1, mid: int = 1_000_000, cross: float = 0.5,
              recent: int = 200) -> np.ndarray:
    """n operations on `symbols` books around one mid (Price(4) $100.00):
    50 % enters (`cross` of them priced through the other side, so they
    trade, 30 % of those IOC; the rest rest 1-20 cents away), 35 %
    reductions and cancels, 15 % replaces, each naming one of the `recent`
    enters before it (gone by then or not: both engines then do nothing)."""
    rng = np.random.default_rng(seed)
    ops = np.zeros(n, dtype=OP_DTYPE)
    r = rng.random(n)
    ops["op"] = np.where(r < 0.50, OP_ADD, np.where(r < 0.85, OP_REDUCE, OP_REPLACE))
    ops["side"] = np.where(rng.random(n) < 0.5, ord("B"), ord("S"))
    ops["locate"] = rng.integers(1, symbols + 1, n)
    ops["qty"] = 100 * rng.integers(1, 11, n)
    away = 100 * rng.integers(1, 21, n)
    crossing = rng.random(n) < cross
    buy = ops["side"] == ord("B")
    # a crossing buy is priced above the mid (the sells rest there), a resting buy below it
    ops["price"] = np.where(buy == crossing, mid + away, mid - away)
    adds = np.flatnonzero(ops["op"] == OP_ADD)
    # a reduce or replace names one of the last `recent` adds before it, as real flow cancels and
    # replaces mostly young orders (the first ops, before any add, name op 0)
    pos = np.searchsorted(adds, np.arange(n))
    back = rng.integers(1, recent + 1, n)
    ops["target"] = np.where(pos > 0, adds[np.maximum(pos - back, 0)], 0)
    ops["qty"] = np.where(ops["op"] == OP_REDUCE, np.where(rng.random(n) < 0.5, 0, 100), ops["qty"])
    ops["ioc"] = (ops["op"] == OP_ADD) & crossing & (rng.random(n) < 0.3)
    return ops


def run(m: ReferenceMatcher, ops: np.ndarray) -> dict[str, int]:
    """Apply ops in order (what MatchEngine.run does in C); event counts."""
    handles: dict[int, int | None] = {}
    counts = {"events": 0, "trades": 0}
    for i, o in enumerate(ops.tolist()):
        op, side, ioc, _, locate, _, qty, price, target = o
        if op == OP_ADD:
            h, _, ev = m.add(locate, chr(side), price, qty, bool(ioc), 1, i, False)
            if h is not None:
                handles[i] = h
        elif op == OP_REDUCE:
            h = handles.get(target)
            _, ev = m.reduce(h, qty) if h is not None else (0, [])
        else:
            h = handles.get(target)
            nh, _, ev = m.replace(h, price, qty, i) if h is not None else (None, 0, [])
            if h is not None:
                handles[target] = nh  # None once it no longer rests: later ops naming it do nothing
        counts["events"] += len(ev)
        counts["trades"] += sum(1 for e in ev if e["kind"] == EXEC)
    return counts
