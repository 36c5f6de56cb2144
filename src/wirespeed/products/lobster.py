"""MBO rows to LOBSTER files: a message file and an order book file per symbol and day.

    OUT/<SYMBOL>_<date>_<first ms>_<last ms>_message_<levels>.csv
    OUT/<SYMBOL>_<date>_<first ms>_<last ms>_orderbook_<levels>.csv

LOBSTER's format is built from ITCH, and its users have tools for it. Line k of the
order book file is the book right after the event on line k of the message file.

Message file columns: time (seconds after the trading day's midnight, 9 decimals),
event type, order id, size, price (dollars x 10000: ITCH's own integer), direction
(1 a buy order, -1 a sell order; for executions the resting order's side, so -1 is a
buyer-initiated trade). Event types, from the MBO rows (products.mbo):

  1  a new limit order (A, F; the Add of a replace)
  2  a partial cancel (X)
  3  a deletion (D; the Cancel of a replace)
  4  an execution of a visible order (E, C; at the execution's price)
  5  an execution of a hidden order (P; direction: the side the message gives)
  6  a cross trade (Q; direction 0: it has no side)

Order book file columns, for each level 1..L: ask price, ask size, bid price, bid
size; an empty level is 9999999999, 0 on the ask side and -9999999999, 0 on the bid
side, as LOBSTER writes them. Trading halts (LOBSTER's type 7) are not in the MBO
rows and are not written.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from wirespeed.errors import WirespeedError
from wirespeed.products.mbo import dict_codes, is_in

EMPTY_ASK, EMPTY_BID = 9_999_999_999, -9_999_999_999
_PRICE_DIV = 100_000  # 1e-9 units -> ITCH's 4 decimals


def events(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(row index, LOBSTER event type) of the rows that are LOBSTER events, in order."""
    act, typ = table.column("action"), table.column("itch_type")
    c, t = is_in(act, "C"), is_in(act, "T")
    kind = np.zeros(table.num_rows, dtype=np.int8)
    kind[is_in(act, "A")] = 1
    kind[c & is_in(typ, "X")] = 2
    kind[c & is_in(typ, "D", "U")] = 3
    kind[c & is_in(typ, "E", "C")] = 4
    kind[t & is_in(typ, "P")] = 5
    kind[t & is_in(typ, "Q")] = 6
    rows = np.flatnonzero(kind)
    return rows, kind[rows]


class _Symbol:
    def __init__(self, out: Path, symbol: str, date: str, levels: int) -> None:
        self.out, self.symbol, self.date, self.levels = out, symbol, date, levels
        self.msg_tmp = out / f".{symbol}_{date}_message.part"
        self.book_tmp = out / f".{symbol}_{date}_orderbook.part"
        self.msg = open(self.msg_tmp, "wb")
        self.book = open(self.book_tmp, "wb")
        self.first = self.last = None
        self.rows = 0

    def write(self, msgs: pa.Table, books: pa.Table, first_ns: int, last_ns: int) -> None:
        opts = pcsv.WriteOptions(include_header=False, quoting_style="none")
        pcsv.write_csv(msgs, self.msg, opts)
        pcsv.write_csv(books, self.book, opts)
        self.first = first_ns if self.first is None else self.first
        self.last = last_ns
        self.rows += msgs.num_rows

    def close(self) -> tuple[Path, Path]:
        self.msg.close()
        self.book.close()
        first_ms, last_ms = (self.first or 0) // 1_000_000, (self.last or 0) // 1_000_000
        stem = f"{self.symbol}_{self.date}_{first_ms}_{last_ms}"
        msg = self.out / f"{stem}_message_{self.levels}.csv"
        book = self.out / f"{stem}_orderbook_{self.levels}.csv"
        os.replace(self.msg_tmp, msg)
        os.replace(self.book_tmp, book)
        return msg, book

    def abort(self) -> None:
        for f, p in ((self.msg, self.msg_tmp), (self.book, self.book_tmp)):
            f.close()
            p.unlink(missing_ok=True)


class LobsterFiles:
    """Writes MBO batches (with depth: MboOptions.depth_levels = levels) as LOBSTER files."""

    def __init__(self, out: str | Path, levels: int, overwrite: bool = False) -> None:
        if not 1 <= levels <= 1000:
            raise WirespeedError(f"{levels} LOBSTER levels", "give 1..1000 (LOBSTER's own files have 1, 5, 10 or 50)")
        self.out = Path(out)
        self.levels = levels
        self.overwrite = overwrite
        self.symbols: dict[tuple[str, str], _Symbol] = {}

    def write(self, batch: Any) -> None:
        if batch.depth is None or batch.depth.shape[1] != self.levels * 4:
            raise WirespeedError("LOBSTER files need the books' depth beside the rows",
                                 f"export with MboOptions(depth_levels={self.levels})")
        t = batch.table
        rows, kind = events(t)
        if not len(rows):
            return
        price = t.column("price").to_numpy()
        # an execution's price is its Fill's (the row before the Cancel): what it traded at
        px = np.where(kind == 4, price[np.maximum(rows - 1, 0)], price[rows]) // _PRICE_DIV
        side_i, side_l = dict_codes(t.column("side"))
        sgn = np.array([{"B": 1, "A": -1}.get(x, 0) for x in side_l] + [0], dtype=np.int8)[side_i[rows]]
        tod = batch.ts_itch[rows]
        secs = pc.cast(pa.array(tod // 1_000_000_000), pa.string())
        frac = pc.utf8_lpad(pc.cast(pa.array(tod % 1_000_000_000), pa.string()), 9, "0")
        time_s = pc.binary_join_element_wise(secs, frac, ".")
        msgs = pa.table({"time": time_s, "type": pa.array(kind), "order_id": t.column("order_id").take(rows),
                         "size": t.column("size").take(rows), "price": pa.array(px), "direction": pa.array(sgn)})
        depth = batch.depth[rows].astype(np.int64).reshape(len(rows), self.levels, 4)
        empty_ask = (depth[:, :, 0] == 0) & (depth[:, :, 1] == 0)
        empty_bid = (depth[:, :, 2] == 0) & (depth[:, :, 3] == 0)
        depth[:, :, 0][empty_ask] = EMPTY_ASK
        depth[:, :, 2][empty_bid] = EMPTY_BID
        flat = depth.reshape(len(rows), self.levels * 4)
        names = [f"{k}{i + 1}" for i in range(self.levels) for k in ("ask_px", "ask_sz", "bid_px", "bid_sz")]
        book = pa.table({n: flat[:, j] for j, n in enumerate(names)})
        sym_i, sym_l = dict_codes(t.column("symbol"))
        sym = sym_i[rows]
        dates = batch.dates if np.ndim(batch.dates) else None
        order = np.argsort(sym, kind="stable")
        bounds = np.flatnonzero(np.diff(sym[order])) + 1
        for part in np.split(order, bounds):
            name = sym_l[sym[part[0]]] or f"LOCATE{t.column('instrument_id')[int(rows[part[0]])].as_py()}"
            for day in ([batch.dates] if dates is None else np.unique(dates[rows[part]])):
                sel = part if dates is None else part[dates[rows[part]] == day]
                key = (name, str(day))
                f = self.symbols.get(key)
                if f is None:
                    f = self.symbols[key] = self._open(name, str(day))
                idx = pa.array(sel)
                f.write(msgs.take(idx), book.take(idx), int(tod[sel[0]]), int(tod[sel[-1]]))

    def _open(self, symbol: str, date: str) -> _Symbol:
        self.out.mkdir(parents=True, exist_ok=True)
        if not self.overwrite and any(self.out.glob(f"{symbol}_{date}_*_message_{self.levels}.csv")):
            raise WirespeedError(f"LOBSTER files of {symbol} on {date} exist in {self.out}",
                                 "export to another directory, or give --overwrite")
        if self.overwrite:
            for old in self.out.glob(f"{symbol}_{date}_*_{self.levels}.csv"):
                old.unlink()
        return _Symbol(self.out, symbol, date, self.levels)

    def close(self) -> dict[str, Any]:
        files: dict[str, list[str]] = {}
        rows: dict[str, int] = {}
        for (name, day), f in sorted(self.symbols.items()):
            msg, book = f.close()
            files.setdefault(day, []).extend([str(msg), str(book)])
            rows[day] = rows.get(day, 0) + f.rows
        return {"files": files, "rows": rows, "symbols": len(self.symbols)}

    def abort(self) -> None:
        for f in self.symbols.values():
            f.abort()
