"""The reference order book: plain Python, written for obviousness, not
speed. The C engine (native/book/book.c) must agree with it after every message,
counters included; tests/book checks that on long random streams.

Rules (the same as book.h): a message that cannot be applied as a whole
changes nothing and bumps one counter; E/C/X larger than what is left of
the order, E/C/X/D/U of an unknown reference or of another stock's order,
an add or replace to a live reference, a bad side, a locate of 0 or beyond
max_locate, a wrong length, an unknown type.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from wirespeed.feed.itch import LENGTHS

BOOK_TYPES = b"AFECXDU"


@dataclass
class _Order:
    locate: int
    side: int  # 0 bid, 1 ask
    price: int
    shares: int


@dataclass
class ReferenceBooks:
    max_locate: int = 65535
    orders: dict[int, _Order] = field(default_factory=dict)
    # (locate, side) -> price -> refs in time priority
    levels: dict[tuple[int, int], dict[int, list[int]]] = field(default_factory=dict)
    symbols: dict[int, bytes] = field(default_factory=dict)
    best: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    stats: Counter = field(default_factory=Counter)

    # -- reads ------------------------------------------------------------------

    def depth(self, locate: int, side: int, n: int) -> list[tuple[int, int, int]]:
        lv = self.levels.get((locate, side), {})
        prices = sorted(lv, reverse=(side == 0))[:n]
        return [(p, sum(self.orders[r].shares for r in lv[p]), len(lv[p])) for p in prices]

    def orders_at(self, locate: int, side: int, level: int) -> list[tuple[int, int]]:
        lv = self.levels.get((locate, side), {})
        prices = sorted(lv, reverse=(side == 0))
        if level >= len(prices):
            return []
        return [(r, self.orders[r].shares) for r in lv[prices[level]]]

    # -- changes ------------------------------------------------------------------

    def _note_bbo(self, locate: int, side: int) -> None:
        d = self.depth(locate, side, 1)
        now = (d[0][0], d[0][1]) if d else (0, 0)
        if self.best.get((locate, side), (0, 0)) != now:
            self.best[(locate, side)] = now
            self.stats["bbo_changes"] += 1

    def _add(self, locate: int, side: int, ref: int, shares: int, price: int) -> None:
        self.orders[ref] = _Order(locate, side, price, shares)
        self.levels.setdefault((locate, side), {}).setdefault(price, []).append(ref)

    def _remove(self, ref: int) -> None:
        o = self.orders.pop(ref)
        lv = self.levels[(o.locate, o.side)]
        lv[o.price].remove(ref)
        if not lv[o.price]:
            del lv[o.price]

    def _named(self, locate: int, ref: int) -> _Order | None:
        o = self.orders.get(ref)
        if o is None:
            self.stats["unknown_ref"] += 1
        elif o.locate != locate:
            self.stats["locate_mismatch"] += 1
            return None
        return o

    def apply(self, m: bytes) -> bool:
        st = self.stats
        st["messages"] += 1
        if not m:
            st["bad_length"] += 1
            return False
        t = m[:1]
        want = LENGTHS.get(t)
        if want is None:
            st["unknown_type"] += 1
            return False
        if len(m) != want:
            st["bad_length"] += 1
            return False
        locate = int.from_bytes(m[1:3], "big")
        ref = int.from_bytes(m[11:19], "big")
        changed = False
        if t in b"AF":
            side_b, shares, price = m[19:20], int.from_bytes(m[20:24], "big"), int.from_bytes(m[32:36], "big")
            if not 1 <= locate <= self.max_locate:
                st["bad_locate"] += 1
            elif side_b not in (b"B", b"S"):
                st["bad_side"] += 1
            elif ref in self.orders:
                st["duplicate_ref"] += 1
            else:
                side = side_b == b"S"
                self._add(locate, side, ref, shares, price)
                st["adds"] += 1
                self._note_bbo(locate, side)
                changed = True
        elif t in b"ECX":
            shares = int.from_bytes(m[19:23], "big")
            o = self._named(locate, ref)
            if o is not None:
                if shares > o.shares:
                    st["too_many_shares"] += 1
                else:
                    if shares == o.shares:
                        self._remove(ref)
                    else:
                        o.shares -= shares
                    st["cancels" if t == b"X" else "executes"] += 1
                    self._note_bbo(locate, o.side)
                    changed = True
        elif t == b"D":
            o = self._named(locate, ref)
            if o is not None:
                self._remove(ref)
                st["deletes"] += 1
                self._note_bbo(locate, o.side)
                changed = True
        elif t == b"U":
            nref, shares, price = (int.from_bytes(m[19:27], "big"), int.from_bytes(m[27:31], "big"),
                                   int.from_bytes(m[31:35], "big"))
            o = self._named(locate, ref)
            if o is not None:
                if nref in self.orders:
                    st["duplicate_ref"] += 1
                else:
                    self._remove(ref)
                    self._add(locate, o.side, nref, shares, price)
                    st["replaces"] += 1
                    self._note_bbo(locate, o.side)
                    changed = True
        elif t in b"PQ":
            st["trades"] += 1
        elif t == b"S":
            st["system_events"] += 1
        elif t == b"R":
            st["directory"] += 1
            if 1 <= locate <= self.max_locate:
                self.symbols[locate] = m[11:19]
            else:
                st["bad_locate"] += 1
        else:
            st["other"] += 1
        st["applied"] += changed
        return changed
