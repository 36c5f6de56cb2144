"""MBO rows to DBN (Databento Binary Encoding, version 3), zstd-compressed.

    OUT/<feed>.<date>.mbo.dbn.zst        one file per trading day

The records are DBN's MboMsg, 56 bytes each, packed from the rows' columns with
numpy (no Python per record); the metadata header (dataset, schema, time range,
the symbol -> instrument_id mappings) is encoded by databento-dbn itself, whose
DBNDecoder (and `databento`'s DBNStore) then read the file. What DBN has no field
for stays in the Parquet export: the MoldUDP64 session and line, the ITCH
message type. Mapped so:

  instrument_id = the stock locate; publisher_id = 0 (not a Databento venue);
  channel_id = the MoldUDP64 session's index in the export; sequence = the
  MoldUDP64 sequence number, truncated to DBN's 32 bits; dataset = "WS." + feed.

The records are spooled to a temporary file next to the output and compressed
behind the header at close, because the header needs the day's symbols and
time range, which are known only at the end.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from wirespeed.errors import WirespeedError
from wirespeed.products.arrow import to_numpy
from wirespeed.products.mbo import by_date, dict_codes

# DBN's RecordHeader + MboMsg, little-endian, 56 bytes
DBN_MBO_DTYPE = np.dtype([("length", "u1"), ("rtype", "u1"), ("publisher_id", "<u2"), ("instrument_id", "<u4"),
                          ("ts_event", "<u8"), ("order_id", "<u8"), ("price", "<i8"), ("size", "<u4"),
                          ("flags", "u1"), ("channel_id", "u1"), ("action", "S1"), ("side", "S1"),
                          ("ts_recv", "<u8"), ("ts_in_delta", "<i4"), ("sequence", "<u4")])
assert DBN_MBO_DTYPE.itemsize == 56
RTYPE_MBO = 0xA0
_COPY_CHUNK = 1 << 24


def _dbn():  # imported when used: the Parquet export does not need it
    try:
        import databento_dbn
        import zstandard
    except ImportError as exc:
        raise WirespeedError(f"DBN export needs {exc.name}", "pip install databento-dbn zstandard "
                             "(./setup.sh installs them)") from None
    return databento_dbn, zstandard


@dataclass
class _MI:  # databento_dbn's MappingInterval protocol
    start_date: dt.date
    end_date: dt.date
    symbol: str


@dataclass
class _SM:  # databento_dbn's SymbolMapping protocol
    raw_symbol: str
    intervals: list[_MI]


def records(table: pa.Table) -> np.ndarray:
    """MBO rows (products.mbo.MBO_SCHEMA) as DBN MboMsg records."""
    n = table.num_rows
    out = np.zeros(n, dtype=DBN_MBO_DTYPE)
    col = {name: table.column(name) for name in table.column_names}

    def ints(name: str) -> np.ndarray:
        return to_numpy(col[name])

    out["length"] = DBN_MBO_DTYPE.itemsize // 4
    out["rtype"] = RTYPE_MBO
    out["instrument_id"] = ints("instrument_id")
    out["ts_event"] = ints("ts_event")
    out["order_id"] = ints("order_id")
    out["price"] = ints("price")
    out["size"] = np.minimum(ints("size"), 0xFFFFFFFF)
    out["flags"] = ints("flags")
    out["channel_id"] = np.minimum(dict_codes(col["session"])[0], 255)
    out["action"] = _chars(col["action"])
    out["side"] = _chars(col["side"])
    out["ts_recv"] = ints("ts_recv")
    out["ts_in_delta"] = ints("ts_in_delta")
    out["sequence"] = ints("sequence") & 0xFFFFFFFF
    return out


def _chars(column: pa.ChunkedArray) -> np.ndarray:
    """A dictionary column of one-character strings as bytes, by its codes (vectorised)."""
    idx, names = dict_codes(column)
    return np.array([x.encode() for x in names], dtype="S1")[idx]


class _Day:
    def __init__(self, final: Path) -> None:
        self.final = final
        fd, tmp = tempfile.mkstemp(prefix=".records-", dir=final.parent)
        self.spool = os.fdopen(fd, "wb")
        self.tmp = Path(tmp)
        self.rows = 0
        self.start = self.end = None
        self.symbols: dict[str, int] = {}

    def add(self, table: pa.Table) -> None:
        recs = records(table)
        self.spool.write(recs.tobytes())
        self.rows += len(recs)
        lo, hi = int(recs["ts_event"].min()), int(recs["ts_event"].max())
        self.start = lo if self.start is None else min(self.start, lo)
        self.end = hi if self.end is None else max(self.end, hi)
        sym_i, names = dict_codes(table.column("symbol"))
        codes, first = np.unique(sym_i, return_index=True)
        ids = to_numpy(table.column("instrument_id"))
        for c, i in zip(codes.tolist(), first.tolist()):
            if names[c]:
                self.symbols.setdefault(names[c], int(ids[i]))

    def close(self, dataset: str, day: dt.date) -> None:
        dbn, zstd = _dbn()
        self.spool.close()
        try:
            meta = dbn.Metadata(dataset=dataset, start=self.start or 0, end=(self.end or 0) + 1,
                                stype_in=dbn.SType.RAW_SYMBOL, stype_out=dbn.SType.INSTRUMENT_ID,
                                schema=dbn.Schema.MBO, symbols=sorted(self.symbols),
                                mappings=[_SM(name, [_MI(day, day + dt.timedelta(days=1), str(loc))])
                                          for name, loc in sorted(self.symbols.items())])
            part = self.final.with_suffix(".part")
            with open(part, "wb") as f, zstd.ZstdCompressor(level=3).stream_writer(f, closefd=False) as z, \
                    open(self.tmp, "rb") as spool:
                z.write(meta.encode())
                while chunk := spool.read(_COPY_CHUNK):
                    z.write(chunk)
            part.replace(self.final)
        finally:
            self.tmp.unlink(missing_ok=True)


class DbnFiles:
    """Writes MBO tables into OUT/<feed>.<date>.mbo.dbn.zst, one file per trading day."""

    def __init__(self, out: str | Path, feed: str, overwrite: bool = False) -> None:
        if not feed or "/" in feed:
            raise WirespeedError(f"feed name {feed!r}", "give a plain name (it names the files)")
        _dbn()
        self.out = Path(out)
        self.feed = feed
        self.overwrite = overwrite
        self.days: dict[str, _Day] = {}

    def write(self, table: pa.Table, dates: Any) -> None:
        for key, rows in by_date(table, dates):
            if key not in self.days:
                path = self.out / f"{self.feed}.{key}.mbo.dbn.zst"
                if path.exists() and not self.overwrite:
                    raise WirespeedError(f"{path} exists", "export to another directory, or give --overwrite")
                self.out.mkdir(parents=True, exist_ok=True)
                self.days[key] = _Day(path)
            self.days[key].add(rows)

    def close(self) -> dict[str, Any]:
        dataset = f"WS.{self.feed.upper()}"[:16]
        for key, d in self.days.items():
            d.close(dataset, dt.date.fromisoformat(key))
        return {"files": {k: str(d.final) for k, d in sorted(self.days.items())},
                "rows": {k: d.rows for k, d in sorted(self.days.items())}}

    def abort(self) -> None:
        for d in self.days.values():
            d.spool.close()
            d.tmp.unlink(missing_ok=True)
