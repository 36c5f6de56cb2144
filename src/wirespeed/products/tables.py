"""Tables derived from a batch of MBO rows, for the Parquet export (`--tables`).

  trades  every Trade row (executions of displayed orders, hidden ones from P,
          crosses from Q): the aggressor's side, price, size, the resting order
          (0 for hidden and cross), with the row's times and sequence;
  bbo     every change of a stock's best bid or offer (MBP-1), from the C books'
          BBO log: both sides after the change (price, shares, orders; an empty
          side has a null price and zeros), stamped with the row that made it;
  depth   every stock's top levels on a time grid of the capture clock (MBP-10
          style), from the C books as they stand at each grid time
          (products/export.h: a grid time with no packet since the last adds
          no rows).

Both come from the same pass as the MBO rows (products.mbo: the books log BBO
changes beside the rows), so they need no second read of the recording.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from wirespeed.products.arrow import from_numpy
from wirespeed.products.mbo import MBO_SCHEMA, is_in

TABLES = ("mbo", "trades", "bbo", "depth")
_PRICE_NANOS = 100_000  # ITCH's 4 decimals -> 1e-9

TRADES_SCHEMA = pa.schema([MBO_SCHEMA.field(n) for n in (
    "ts_recv", "ts_event", "ts_in_delta", "sequence", "session", "instrument_id", "symbol", "side", "price", "size",
    "order_id", "flags", "itch_type")])

BBO_SCHEMA = pa.schema([MBO_SCHEMA.field(n) for n in (
    "ts_recv", "ts_event", "sequence", "session", "instrument_id", "symbol")] + [
    pa.field("bid_px", pa.int64(), metadata={"scale": "1e-9"}), pa.field("bid_sz", pa.int64(), nullable=False),
    pa.field("bid_ct", pa.int32(), nullable=False),
    pa.field("ask_px", pa.int64(), metadata={"scale": "1e-9"}), pa.field("ask_sz", pa.int64(), nullable=False),
    pa.field("ask_ct", pa.int32(), nullable=False)])

def depth_schema(levels: int) -> pa.Schema:
    """Snapshots of every stock's book on a time grid, MBP-10 style: level ii's bid and ask
    price (null past the side's depth), shares and orders."""
    fields = [MBO_SCHEMA.field("ts_recv").with_metadata({"unit": "ns", "doc": "the grid time, capture clock"}),
              MBO_SCHEMA.field("instrument_id"), MBO_SCHEMA.field("symbol")]
    for i in range(levels):
        for name, typ in (("bid_px", pa.int64()), ("ask_px", pa.int64()), ("bid_sz", pa.int64()),
                          ("ask_sz", pa.int64()), ("bid_ct", pa.int32()), ("ask_ct", pa.int32())):
            fields.append(pa.field(f"{name}_{i:02d}", typ, nullable=name.endswith("_px")))
    return pa.schema(fields)


def schema(table: str, levels: int) -> pa.Schema:
    return depth_schema(levels) if table == "depth" else {"mbo": MBO_SCHEMA, "trades": TRADES_SCHEMA,
                                                          "bbo": BBO_SCHEMA}[table]


def _at(dates: Any, idx: np.ndarray) -> Any:
    return dates if not np.ndim(dates) else dates[idx]


def trades(batch: Any) -> tuple[pa.Table, Any]:
    """The batch's Trade rows, and their dates."""
    t = batch.table
    idx = np.flatnonzero(is_in(t.column("action"), "T"))
    return t.select(TRADES_SCHEMA.names).take(from_numpy(idx)), _at(batch.dates, idx)


def bbo(batch: Any) -> tuple[pa.Table, Any]:
    """The batch's BBO changes (MBP-1) with the times of the rows that made them, and their dates."""
    ch = batch.bbo
    rows = ch["row"].astype(np.int64)
    if len(rows) and (rows >= batch.table.num_rows).any():
        raise RuntimeError("a BBO change names a row outside its batch")  # the logs were taken together
    t = batch.table.select(BBO_SCHEMA.names[:6]).take(from_numpy(rows))

    def px(p: np.ndarray, shares: np.ndarray) -> pa.Array:
        return from_numpy(p.astype(np.int64) * _PRICE_NANOS, valid=shares != 0)

    cols = {"bid_px": px(ch["bid_px"], ch["bid_sz"]), "bid_sz": from_numpy(ch["bid_sz"].astype(np.int64)),
            "bid_ct": from_numpy(ch["bid_ct"].astype(np.int32)),
            "ask_px": px(ch["ask_px"], ch["ask_sz"]), "ask_sz": from_numpy(ch["ask_sz"].astype(np.int64)),
            "ask_ct": from_numpy(ch["ask_ct"].astype(np.int32))}
    for name, col in cols.items():
        t = t.append_column(BBO_SCHEMA.field(name), col)
    return t, _at(batch.dates, rows)


def depth(batch: Any) -> tuple[pa.Table, Any]:
    """The batch's grid snapshots as MBP-10-style rows, and their dates."""
    g = batch.grid
    levels = g["bid"].shape[1] if len(g["ts"]) else 0
    if not len(g["ts"]):
        return pa.table({}), None
    cols: dict[str, Any] = {"ts_recv": from_numpy(g["ts"]), "instrument_id": from_numpy(g["locate"].astype(np.int32)),
                            "symbol": g["symbol"]}
    for i in range(levels):
        b, a = g["bid"][:, i], g["ask"][:, i]
        cols[f"bid_px_{i:02d}"] = from_numpy(b["price"].astype(np.int64) * _PRICE_NANOS, valid=b["orders"] != 0)
        cols[f"ask_px_{i:02d}"] = from_numpy(a["price"].astype(np.int64) * _PRICE_NANOS, valid=a["orders"] != 0)
        cols[f"bid_sz_{i:02d}"] = from_numpy(b["shares"].astype(np.int64))
        cols[f"ask_sz_{i:02d}"] = from_numpy(a["shares"].astype(np.int64))
        cols[f"bid_ct_{i:02d}"] = from_numpy(b["orders"].astype(np.int32))
        cols[f"ask_ct_{i:02d}"] = from_numpy(a["orders"].astype(np.int32))
    return pa.table(cols, schema=depth_schema(levels)), g["date"]
