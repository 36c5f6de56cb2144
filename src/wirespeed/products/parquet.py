"""MBO rows to a Parquet dataset that DuckDB, Polars and Spark read as it is.

Layout: a directory per table (mbo, and what products.tables derives), Hive
partitions by trading date and feed inside, one file per partition:

    OUT/mbo/date=2026-11-30/feed=itch/part-0.parquet

(not a directory per symbol: a day of a few thousand symbols would be
thousands of tiny files, the known way to make every scan slow).

Inside a file (written by wirespeed's own C writer, products/parquet.h: pyarrow's
took 1.0 s of the 5 M-message day's export, this one 0.25 s, for a file 27 %
smaller):
  * rows sorted by ts_recv (a stable sort: each session keeps its sequence order);
  * times, sequence and order ids as deltas (DELTA_BINARY_PACKED: a few bits a row);
    strings (Arrow dictionaries) as Parquet dictionaries; every other int column as a
    dictionary too (prices, sizes, locates, flags have few distinct values a row
    group), plain where a row group has more than 65536 of them;
  * zstd level 1 on the pages where it pays (level 3: 0.7 % smaller, no faster);
    none on bit-packed codes and deltas of high entropy (UNCOMPRESSED_COLUMNS);
  * data pages of 64 Ki rows (v1 pages: every reader reads them);
  * row groups of one batch of the C log, about half a million rows (~4 MB),
    each naming ts_recv as its sort order: readers parallelise over row groups and skip them by their
    min/max statistics (kept for the columns one filters on: times, sequence,
    instrument, symbol, price, order), so a day gives enough of them for every
    core and each is big enough that per-group costs vanish (DuckDB's guidance
    is 100 k-1 M rows a group);
  * times are int64 ns (unit in the field metadata): Spark rejects nanosecond
    Parquet timestamps;
  * key-value metadata "ARROW:schema" (pyarrow reads its own types back:
    dictionaries, int8/int16, field metadata) and "wirespeed": JSON with the table's schema name and version, the
    wirespeed version, the feed, the time zone, the export host, the source files,
    and what was skipped or lost, and what the capture itself dropped.
"""
from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from wirespeed import __version__, _native
from wirespeed.errors import WirespeedError
from wirespeed.products.arrow import one_array, to_numpy, validity
from wirespeed.products.mbo import MBO_SCHEMA, ExportStats, by_date

ROW_GROUP_ROWS = 1 << 20     # at most; a batch of the C log (~0.5 M rows) is one row group
ZSTD_LEVEL = 1
STATISTICS_COLUMNS = ["ts_recv", "ts_event", "sequence", "instrument_id", "symbol", "price", "order_id"]
# columns that (nearly) only grow: stored as deltas of a few bits
DELTA_COLUMNS = ["ts_recv", "ts_event", "sequence", "order_id"]
# columns whose pages zstd barely shrinks (bit-packed codes and deltas of high entropy): measured on
# the 5 M-message day, zstd took 9-17 ms a column for 0-4 % less
UNCOMPRESSED_COLUMNS = ["order_id", "price", "instrument_id", "symbol"]
SCHEMA_VERSION = 1  # the metadata's "schema": wirespeed-<table>/<version>

# products/parquet.h's codes
_INT32, _INT64, _STRING = 1, 2, 6
_DELTA, _DICT = 5, 8  # (plain, 0, is the writer's own fallback)
_INTS = {pa.int64(): (_INT64, 0), pa.int32(): (_INT32, 0), pa.int16(): (_INT32, 16), pa.int8(): (_INT32, 8)}


def _columns(schema: pa.Schema) -> list[tuple[str, int, int, int, bool, bool, bool]]:
    """How the writer stores each column: strings (Arrow dictionaries) as Parquet
    dictionaries; growing ints as deltas; every other int as a dictionary, which the
    writer turns to plain values in a row group with too many distinct ones."""
    cols = []
    for f in schema:
        if pa.types.is_dictionary(f.type) and pa.types.is_string(f.type.value_type):
            typ, bits, enc = _STRING, 0, _DICT
        elif f.type in _INTS:
            typ, bits = _INTS[f.type]
            enc = _DELTA if f.name in DELTA_COLUMNS and typ == _INT64 else _DICT
        else:
            raise WirespeedError(f"column {f.name}: {f.type} is not a type wirespeed's tables hold",
                                 "int8..int64 and dictionary<string> columns only")
        cols.append((f.name, typ, bits, enc, f.name not in UNCOMPRESSED_COLUMNS, f.nullable,
                     f.name in STATISTICS_COLUMNS))
    return cols


def _arrays(t: pa.Table) -> list[tuple[np.ndarray, np.ndarray | None, list[bytes] | None]]:
    """A table's columns as the writer takes them: values, validity (None: no nulls),
    labels (a dictionary column's strings; its values are then the codes)."""
    out = []
    for col in t.columns:
        a = one_array(col)
        valid = validity(a)
        labels = None
        if pa.types.is_dictionary(a.type):
            labels = [s.encode() for s in a.dictionary.to_pylist()]
            a = a.indices
        out.append((to_numpy(a), valid, labels))
    return out


class _Partition:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self._columns = _columns(schema)
        self._sorted_by = schema.get_field_index("ts_recv")
        self.writer = self._writer(path)
        self.rows = 0
        self.last_ts = -1
        self.sorted = True

    def _writer(self, path: Path) -> Any:
        return _native.ParquetWriter(str(path), self._columns, ZSTD_LEVEL, f"wirespeed version {__version__}")

    def _write(self, writer: Any, t: pa.Table) -> None:
        for off in range(0, t.num_rows, ROW_GROUP_ROWS):
            part = t.slice(off, ROW_GROUP_ROWS)
            writer.write(_arrays(part), part.num_rows, self._sorted_by)

    def add(self, t: pa.Table) -> None:
        """A batch, in the order applied: a row group of its own (sorted first if a
        session's stamps interleave with another's within it)."""
        if not t.num_rows:
            return
        ts = to_numpy(t.column("ts_recv"))
        if (np.diff(ts) < 0).any():
            t = t.take(pc.sort_indices(t, sort_keys=[("ts_recv", "ascending")]))
            ts = to_numpy(t.column("ts_recv"))
        if ts[0] < self.last_ts:
            self.sorted = False  # rows of another session came late: the file is sorted again at close
        self.last_ts = max(self.last_ts, int(ts[-1]))
        self._write(self.writer, t)
        self.rows += t.num_rows

    def _metadata(self, meta: dict[str, Any]) -> dict[str, str]:
        # ARROW:schema: pyarrow reads the table back with its own types (dictionaries, int16, field metadata)
        return {"ARROW:schema": base64.b64encode(self.schema.serialize().to_pybytes()).decode(),
                "wirespeed": json.dumps(meta)}

    def close(self, meta: dict[str, Any]) -> None:
        self.writer.close(self._metadata(meta))
        if not self.sorted:
            self._resort(meta)

    def abort(self) -> None:
        """The file is not finished: it goes (a reader would fail on it)."""
        self.writer.abort()
        self.path.unlink(missing_ok=True)

    def _resort(self, meta: dict[str, Any]) -> None:
        t = pq.read_table(self.path, schema=self.schema)
        t = t.take(pc.sort_indices(t, sort_keys=[("ts_recv", "ascending")]))
        tmp = self.path.with_suffix(".tmp")
        w = self._writer(tmp)
        self._write(w, t)
        w.close(self._metadata(meta))
        tmp.replace(self.path)


class ParquetDataset:
    """Writes one table (MBO rows, or one derived from them: products.tables) into
    OUT/date=.../feed=.../part-0.parquet."""

    def __init__(self, out: str | Path, feed: str, timezone: str, overwrite: bool = False, table: str = "mbo",
                 schema: pa.Schema = MBO_SCHEMA, roll_rows: int = 0,
                 stats: Callable[[], ExportStats] | None = None) -> None:
        """roll_rows: a partition's file is closed when it holds that many rows and its
        next rows go to part-<k+1>, with the metadata stats() gives then."""
        if not feed or "/" in feed or "=" in feed:
            raise WirespeedError(f"feed name {feed!r}", "give a plain name (it becomes a feed= directory)")
        self.out = Path(out)
        self.table = table
        self.schema = schema
        self.roll_rows = roll_rows
        self._stats = stats
        self.done: list[tuple[str, _Partition]] = []  # rolled files, closed
        self._part_no: dict[str, int] = {}
        self.feed = feed
        self.timezone = timezone
        self.overwrite = overwrite
        self.parts: dict[str, _Partition] = {}

    def _open(self, date: str) -> _Partition:
        d = self.out / f"date={date}" / f"feed={self.feed}"
        k = self._part_no.get(date, 0)
        self._part_no[date] = k + 1
        path = d / f"part-{k}.parquet"
        if path.exists() and not self.overwrite:
            raise WirespeedError(f"{path} exists", "export to another directory, or give --overwrite")
        if k == 0 and self.overwrite:  # an earlier export's files, rolled or not, all go
            for old in d.glob("part-*.parquet"):
                old.unlink()
        d.mkdir(parents=True, exist_ok=True)
        return _Partition(path, self.schema)

    def write(self, table: pa.Table, dates: Any) -> None:
        """table: rows of this dataset's schema; dates: their trading date (datetime64[D]),
        one or one per row."""
        for key, rows in by_date(table, dates):
            while rows.num_rows:
                if key not in self.parts:
                    self.parts[key] = self._open(key)
                part = self.parts[key]
                room = self.roll_rows - part.rows if self.roll_rows else rows.num_rows
                part.add(rows.slice(0, room))
                rows = rows.slice(room)
                if self.roll_rows and part.rows >= self.roll_rows:  # full: closed, so readers can open it
                    part.close(self._meta(self._stats() if self._stats else ExportStats()))
                    self.done.append((key, self.parts.pop(key)))

    def _meta(self, stats: ExportStats) -> dict[str, Any]:
        return {"schema": f"wirespeed-{self.table}/{SCHEMA_VERSION}", "table": self.table,
                "wirespeed_version": __version__, "feed": self.feed,
                "timezone": self.timezone, "export_host": socket.gethostname(), "time_unit": "ns",
                "price_scale": "1e-9", **stats.as_dict()}

    def abort(self) -> None:
        """An export that failed: its unfinished files go; the rolled ones, complete, stay."""
        for part in self.parts.values():
            part.abort()
        self.parts.clear()

    def close(self, stats: ExportStats) -> dict[str, Any]:
        """Closes the files; returns them by date (a list per date when rolled) and their rows."""
        meta = self._meta(stats)
        for key, part in self.parts.items():
            part.close(meta)
            self.done.append((key, part))
        files: dict[str, list[str]] = {}
        rows: dict[str, int] = {}
        for key, part in sorted(self.done, key=lambda kp: (kp[0], int(kp[1].path.stem.split("-")[1]))):
            files.setdefault(key, []).append(str(part.path))
            rows[key] = rows.get(key, 0) + part.rows
        return {"files": {k: v[0] if len(v) == 1 else v for k, v in files.items()}, "rows": rows}
