"""An independent, slow, obviously-correct L3 book for checking generated
streams: every message must be legal against the book as it stands."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BookCheck:
    orders: dict[int, tuple[int, str, int, int]] = field(default_factory=dict)  # ref -> locate, side, shares, price
    levels: dict[tuple[int, str], dict[int, int]] = field(default_factory=dict)  # (locate, side) -> price -> shares
    problems: list[str] = field(default_factory=list)

    def _level(self, loc: int, side: str) -> dict[int, int]:
        return self.levels.setdefault((loc, side), {})

    def _add(self, ref: int, loc: int, side: str, shares: int, price: int) -> None:
        if ref in self.orders:
            self.problems.append(f"add of existing order {ref}")
        if shares <= 0:
            self.problems.append(f"add of order {ref} with {shares} shares")
        self.orders[ref] = (loc, side, shares, price)
        lv = self._level(loc, side)
        lv[price] = lv.get(price, 0) + shares

    def _reduce(self, ref: int, n: int | None, what: str) -> None:
        if ref not in self.orders:
            self.problems.append(f"{what} of unknown order {ref}")
            return
        loc, side, shares, price = self.orders[ref]
        n = shares if n is None else n
        if n <= 0 or n > shares:
            self.problems.append(f"{what} of {n} shares on order {ref} holding {shares}")
            return
        lv = self._level(loc, side)
        lv[price] -= n
        if not lv[price]:
            del lv[price]
        if n == shares:
            del self.orders[ref]
        else:
            self.orders[ref] = (loc, side, shares - n, price)

    def apply(self, m) -> None:
        t = m.type
        if t in ("A", "F"):
            self._add(m.order_ref, m.locate, m.side, m.shares, m.price)
        elif t == "D":
            self._reduce(m.order_ref, None, "delete")
        elif t == "X":
            if m.order_ref in self.orders and m.shares >= self.orders[m.order_ref][2]:
                self.problems.append(f"cancel of all of order {m.order_ref} (should be a delete)")
            self._reduce(m.order_ref, m.shares, "cancel")
        elif t in ("E", "C"):
            self._reduce(m.order_ref, m.shares, "execution")
        elif t == "U":
            if m.order_ref in self.orders:
                loc, side, _, _ = self.orders[m.order_ref]
                self._reduce(m.order_ref, None, "replace")
                self._add(m.new_order_ref, loc, side, m.shares, m.price)
            else:
                self.problems.append(f"replace of unknown order {m.order_ref}")

    def crossed(self) -> list[int]:
        locs = {loc for loc, _ in self.levels}
        out = []
        for loc in locs:
            bids, asks = self.levels.get((loc, "B"), {}), self.levels.get((loc, "S"), {})
            if bids and asks and max(bids) >= min(asks):
                out.append(loc)
        return out
