"""Order-by-order (MBO) rows from recordings or a ring, modelled on Databento's MBO schema.

    src = MboSource(recordings("day.pcapng"), MboOptions())   # or MboRingSource("feed", MboOptions())
    for batch in src.batches():           # pyarrow Tables of MBO_SCHEMA, in the order applied
        batch.table, batch.dates
    src.stats()                           # what was exported, skipped and lost

Every frame goes through the same C path as a live capture (a recording:
native/products/export.h -> book/route.h; a ring: Books.records -> book/route.h:
frame checks, MoldUDP64 sessions,
A/B arbitration, gaps held and filled or given up) into the C books, which
log what each message did (book.h, "the MBO log"): no Python runs per packet
or per message; Python only turns each batch of ~500 k rows into columns.

The columns (one row per book event; an execution is three rows, a replace
two, as Databento normalises them: see book.h):

  ts_recv      capture stamp (ns since the epoch, UTC) of the packet that made
               the message applicable: for a message that waited for a gap to
               close, the stamp of the packet that closed it. Non-decreasing
               within a session, so sorting by it keeps each session's order.
  ts_event     the ITCH timestamp as ns since the epoch: the trading day's
               midnight in the exchange's time zone (MboOptions.timezone) plus
               the message's ns since midnight
  ts_in_delta  ts_recv - ts_event (ns, clamped to int32): ITCH carries one stamp
  sequence     the MoldUDP64 sequence number of the message
  session      the MoldUDP64 session (10 characters, trailing spaces removed)
  instrument_id, symbol   the stock locate and its symbol from the directory (R)
  action       A add, C cancel, T trade, F fill (Trade and Fill never change a
               book: each execution's Cancel does)
  side         B bid, A ask, N none
  price        int64 in units of 1e-9 (ITCH's 4 decimals x 100000)
  size, order_id
  flags        Databento's bits: 128 F_LAST (the last row a packet left: look at the
               book after it), 4 F_MAYBE_BAD_BOOK (the first row after messages of
               the session were given up)
  line         0 line A, 1 line B, 2 a retransmission (re-request)
  itch_type    the ITCH message type the row came from

Times are int64 nanoseconds, not Parquet timestamps: Spark rejects nanosecond
timestamps; the unit is declared in each field's metadata.
"""
from __future__ import annotations

import datetime as dt
import socket
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from wirespeed import _native
from wirespeed.book.books import Books
from wirespeed.errors import UsageError, WirespeedError
from wirespeed.formats.pcapng import open_source
from wirespeed.products.arrow import booleans, from_numpy, one_array, strings, to_numpy

DAY_NS = 86_400_000_000_000

# the columns _native.mbo_take fills, in products/export.h's order (ws_export_cols_t)
_COLUMNS = (("ts_recv", np.int64), ("ts_itch", np.int64), ("sequence", np.int64), ("order_id", np.int64),
            ("price", np.int64), ("size", np.int64), ("locate", np.int32), ("session", np.int16),
            ("flags", np.int16), ("action", np.int8), ("side", np.int8), ("type", np.int8), ("line", np.int8),
            ("symbol", np.int32))

# ws_book_level_t (book.h): a level of a depth snapshot
BOOK_LEVEL_DTYPE = np.dtype([("price", "<u4"), ("orders", "<u4"), ("shares", "<u8")])

BYTE_CODES = 127  # products/export.h, WS_EXPORT_BYTE_CODES: a byte column's codes at most (int8), then "?"
F_LAST = 0x80
F_MAYBE_BAD_BOOK = 0x04
LOG_ROWS = 1 << 20  # the C log: must hold what one packet can release (export.h) with room to spare


def _ns(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, type_, nullable=False, metadata={"unit": "ns", "doc": doc})


MBO_SCHEMA = pa.schema([
    _ns("ts_recv", pa.int64(), "capture stamp, ns since the epoch (UTC)"),
    _ns("ts_event", pa.int64(), "ITCH timestamp, ns since the epoch (UTC)"),
    _ns("ts_in_delta", pa.int32(), "ts_recv - ts_event"),
    pa.field("sequence", pa.int64(), nullable=False),
    pa.field("session", pa.dictionary(pa.int16(), pa.string()), nullable=False),
    pa.field("instrument_id", pa.int32(), nullable=False),
    pa.field("symbol", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    pa.field("action", pa.dictionary(pa.int8(), pa.string()), nullable=False),
    pa.field("side", pa.dictionary(pa.int8(), pa.string()), nullable=False),
    pa.field("price", pa.int64(), nullable=False, metadata={"scale": "1e-9"}),
    pa.field("size", pa.int64(), nullable=False),
    pa.field("order_id", pa.int64(), nullable=False),
    pa.field("flags", pa.int16(), nullable=False),
    pa.field("line", pa.int8(), nullable=False),
    pa.field("itch_type", pa.dictionary(pa.int8(), pa.string()), nullable=False),
])

_CHARS = np.array([chr(i) if 32 <= i < 127 else "?" for i in range(256)], dtype=object)


@dataclass(frozen=True)
class MboOptions:
    """How a recording becomes MBO rows."""
    feed: str = "itch"                 # the dataset's feed= partition
    timezone: str = "UTC"              # where the exchange's midnight is (NASDAQ: America/New_York)
    hold_timeout_ms: float = 50.0      # a gap open this long (capture time) is given up, as live
    max_orders: int = 1 << 22
    max_levels: int = 1 << 20
    depth_levels: int = 0              # >0: each book-changing row also carries its stock's top levels after it
    bbo: bool = False                  # log the books' BBO changes beside the rows (the bbo table)
    grid_ns: int = 0                   # >0: every stock's depth every grid_ns of capture time (the depth table)
    grid_levels: int = 10              # levels a side in those snapshots


@dataclass
class ExportStats:
    """What was read, exported and skipped: goes into --json and the files' metadata."""
    files: list[str] = field(default_factory=list)
    packets: int = 0
    rows: int = 0
    messages: int = 0
    rows_dropped: int = 0               # lost to a full log: never expected, always said
    errors: list[str] = field(default_factory=list)   # a corrupt or truncated file: where it stopped
    skipped: dict[str, int] = field(default_factory=dict)  # frames/packets/messages not exported, by cause
    sessions: dict[str, dict[str, int]] = field(default_factory=dict)
    capture: dict[str, int] = field(default_factory=dict)  # the recorder's own counts (pcapng statistics blocks)
    capture_hosts: list[str] = field(default_factory=list)  # where it was captured, as the recordings say

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "packets": self.packets, "rows": self.rows, "messages": self.messages,
                "rows_dropped": self.rows_dropped, "errors": self.errors, "skipped": self.skipped,
                "sessions": self.sessions, "capture": self.capture, "capture_hosts": self.capture_hosts}


class _Clock:
    """ts_event from the ITCH time of day and the capture stamp: the exchange's
    midnight of the day the message was received, a day earlier when the message
    was stamped before midnight and received after it."""

    def __init__(self, timezone: str) -> None:
        try:
            self.tz = zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise WirespeedError(f"unknown time zone {timezone!r}", "give an IANA name, e.g. America/New_York") \
                from None
        self._offsets: dict[int, int] = {}

    def _offset(self, utc_day: int) -> int:
        off = self._offsets.get(utc_day)
        if off is None:  # the zone's offset at noon UTC of that day (DST moves at 2 am, outside trading)
            noon = dt.datetime.fromtimestamp(utc_day * 86_400 + 43_200, tz=dt.timezone.utc)
            delta = noon.astimezone(self.tz).utcoffset() or dt.timedelta(0)
            off = self._offsets[utc_day] = int(delta.total_seconds()) * 1_000_000_000
        return off

    def dates(self, ts: np.ndarray) -> Any:
        """The local date of each time (datetime64[D]): one when all are on one day."""
        lo, hi = int(ts.min()), int(ts.max())
        off_lo, off_hi = self._offset(lo // DAY_NS), self._offset(hi // DAY_NS)
        if (lo + off_lo) // DAY_NS == (hi + off_hi) // DAY_NS:
            return np.datetime64((lo + off_lo) // DAY_NS, "D")
        offs = np.array([self._offset(int(d)) for d in (ts // DAY_NS)], dtype=np.int64)
        return ((ts + offs) // DAY_NS).astype("datetime64[D]")

    def midnights(self, ts_recv: np.ndarray, ts_itch: np.ndarray) -> tuple[Any, Any]:
        """The UTC ns of each message's trading-day midnight and that day (datetime64[D]):
        one of each for the whole batch when it lies within one day (the usual case:
        checked, not assumed), else an array of each."""
        lo_t, hi_t = int(ts_recv.min()), int(ts_recv.max())
        off = self._offset(lo_t // DAY_NS)
        m0 = (lo_t + off) - (lo_t + off) % DAY_NS  # local midnight of the first stamp, in local ns
        if hi_t + off < m0 + DAY_NS and self._offset(hi_t // DAY_NS) == off:
            # every stamp on that local day; is every ITCH time within half a day of its stamp?
            d = ts_itch - (ts_recv + (off - m0))
            if int(d.min()) > -DAY_NS // 2 and int(d.max()) < DAY_NS // 2:
                return m0 - off, np.datetime64(m0 // DAY_NS, "D")
        days = ts_recv // DAY_NS
        offs = np.zeros(len(ts_recv), dtype=np.int64)
        for day in range(lo_t // DAY_NS, hi_t // DAY_NS + 1):
            offs[days == day] = self._offset(day)
        local = ts_recv + offs
        midnight = local - local % DAY_NS
        d = ts_itch - (local - midnight)
        midnight -= np.where(d > DAY_NS // 2, DAY_NS, 0)  # stamped before midnight, received after
        midnight += np.where(d < -DAY_NS // 2, DAY_NS, 0)
        return midnight - offs, (midnight // DAY_NS).astype("datetime64[D]")


def dict_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A dictionary column (session, symbol, action, side, itch_type) as its codes and
    labels: what the writers work with, without decoding a string per row."""
    if not len(column):  # (combining no chunks would make pyarrow import pandas)
        return np.empty(0, dtype=np.int64), []
    a = one_array(column)
    return to_numpy(a.indices), a.dictionary.to_pylist()


def by_date(table: pa.Table, dates: Any) -> Iterator[tuple[str, pa.Table]]:
    """A batch's rows by trading date ("YYYY-MM-DD", the rows of that day): dates is one
    datetime64[D] for the whole batch (the usual case: the table as it is) or one a row."""
    if not table.num_rows:
        return
    days = np.unique(dates) if np.ndim(dates) else [dates]
    for day in days:
        yield str(day), table if len(days) == 1 else table.filter(booleans(dates == day))


def is_in(column: pa.ChunkedArray, *labels: str) -> np.ndarray:
    """Which rows of a dictionary column hold one of `labels` (a boolean mask)."""
    idx, names = dict_codes(column)
    return np.array([x in labels for x in names] + [False])[idx]


def _dict_column(codes: np.ndarray, labels: list[str]) -> pa.DictionaryArray:
    """Codes (their dtype is the index type) and their labels as a dictionary column."""
    return pa.DictionaryArray.from_arrays(from_numpy(codes), strings(labels))


class _Codes:
    """A dictionary column's codes, given in the order values are first met and kept
    from batch to batch (products/export.h, ws_export_dict_t): the C take fills the
    table, this turns its new codes into labels. The dictionary only grows, so a
    column's batches share it."""

    def __init__(self, values: int, dtype: Any, full: int | None = None) -> None:
        """values: how many values there can be (the table's size); dtype: the codes'
        (it makes the index type); full: the code the C take gives every new value once
        this many codes are given (a byte table's WS_EXPORT_BYTE_CODES), labelled "?"."""
        self.table = np.full(values + 1, -1, dtype=dtype)
        self.table[values] = 0  # the count of codes given
        self.values = values
        self.full = full
        self.labels: list[str] = []
        self._dictionary: pa.Array | None = None

    def reset(self) -> None:
        self.table[:] = -1
        self.table[self.values] = 0
        self.labels.clear()
        self._dictionary = None

    def column(self, codes: np.ndarray, label: Any) -> pa.DictionaryArray:
        """codes as a dictionary column; label(value) names each value met since the last call."""
        n = int(self.table[self.values])
        if n > len(self.labels):
            met = np.flatnonzero(self.table[:self.values] >= len(self.labels))
            for v in met[np.argsort(self.table[met])].tolist():
                self.labels.append(label(v))
            self._dictionary = None
        if self.full is not None and n >= self.full and len(self.labels) == self.full:
            self.labels.append("?")  # the code of every value met after the table filled
            self._dictionary = None
        if self._dictionary is None:
            self._dictionary = strings(self.labels)
        # every code is below len(labels) by construction (the table gave them): not checked again
        return pa.DictionaryArray.from_arrays(from_numpy(codes), self._dictionary, safe=False)

    def give(self, values: np.ndarray) -> np.ndarray:
        """Codes for values given in Python (the depth grid's locates), from the same table."""
        new = np.unique(values[self.table[values] < 0])
        start = int(self.table[self.values])
        self.table[new] = np.arange(start, start + len(new), dtype=self.table.dtype)
        self.table[self.values] = start + len(new)
        return self.table[values]


def _char(v: int) -> str:
    return str(_CHARS[v])


@dataclass(frozen=True)
class MboBatch:
    """Rows as a pyarrow Table of MBO_SCHEMA, and each row's trading date."""
    table: pa.Table
    dates: Any  # datetime64[D]: one for the whole batch, or an array, a day per row
    ts_itch: np.ndarray  # the ITCH time of day (ns since the trading day's midnight) of each row
    depth: np.ndarray | None = None  # MboOptions.depth_levels > 0: (rows, levels * 4) uint32, book.h's layout
    bbo: np.ndarray | None = None    # MboOptions.bbo: the BBO changes (books.BBO_CHANGE_DTYPE), row = index here
    grid: dict[str, Any] | None = None  # MboOptions.grid_ns: snapshots: ts, locate, bid, ask (LEVEL_DTYPE rows),
    #                                     date (one, or one per snapshot)


class _MboRows:
    """The C feed handlers and books with their MBO log on, and the log's rows as Arrow
    batches: what a recording source and a ring source share."""

    def __init__(self, opts: MboOptions, rtx: tuple[str, int] | None = None) -> None:
        self.opts = opts
        self._clock = _Clock(opts.timezone)
        # a BBO change per row at most: the BBO log is as long as the MBO log
        self.books = Books(max_orders=opts.max_orders, max_levels=opts.max_levels,
                           hold_timeout_ms=opts.hold_timeout_ms, bbo_log=LOG_ROWS if opts.bbo else 0, rtx=rtx)
        self.books._engine.log_mbo(LOG_ROWS)
        if opts.depth_levels:
            self.books._engine.log_depth(opts.depth_levels)
        self._grid = _native.DepthGrid(opts.grid_ns, opts.grid_levels) if opts.grid_ns else None
        self._dir_seen = -1
        self._chars = {name: _Codes(256, np.int8, full=BYTE_CODES) for name in ("action", "side", "type")}
        self._symbols = _Codes(65536, np.int32)
        self.dropped = 0
        self.packets = 0
        self.errors: list[str] = []
        self.capture = {"received": 0, "dropped": 0, "os_dropped": 0}
        self.hosts: list[str] = []

    def _check_directory(self) -> None:
        """A new symbol directory (a new day's) starts the symbols' dictionary afresh."""
        seen = self.books._engine.stats()["directory"]
        if seen != self._dir_seen:
            self._symbols.reset()
            self._dir_seen = seen

    def _symbol(self, locate: int) -> str:
        return self.books._engine.symbol(locate).decode("ascii", "replace").strip()

    def _sessions(self) -> list[str]:
        return [s.decode("ascii", "replace").rstrip() for s, _ in self.books._router.sessions()]

    def _table(self, c: dict[str, np.ndarray], depth: np.ndarray | None, bbo: np.ndarray | None,
               grid: dict[str, Any] | None) -> MboBatch:
        if not len(c["ts_recv"]):  # snapshots only
            return MboBatch(pa.Table.from_batches([], schema=MBO_SCHEMA), np.datetime64(0, "D"), c["ts_itch"], depth,
                            bbo, grid)
        ts_recv = c["ts_recv"]
        midnight, dates = self._clock.midnights(ts_recv, c["ts_itch"])
        ts_event = midnight + c["ts_itch"]
        delta = np.clip(ts_recv - ts_event, -(2 ** 31), 2 ** 31 - 1).astype(np.int32)
        return MboBatch(pa.Table.from_arrays([
            from_numpy(ts_recv), from_numpy(ts_event), from_numpy(delta), from_numpy(c["sequence"]),
            _dict_column(c["session"], self._sessions()),
            from_numpy(c["locate"]), self._symbols.column(c["symbol"], self._symbol),
            self._chars["action"].column(c["action"], _char), self._chars["side"].column(c["side"], _char),
            from_numpy(c["price"]), from_numpy(c["size"]), from_numpy(c["order_id"]), from_numpy(c["flags"]),
            from_numpy(c["line"]), self._chars["type"].column(c["type"], _char),
        ], schema=MBO_SCHEMA), dates, c["ts_itch"], depth, bbo, grid)

    def _take_grid(self) -> dict[str, Any] | None:
        if self._grid is None:
            return None
        ts, loc, bid, ask = self._grid.take()
        g: dict[str, Any] = {"ts": np.frombuffer(ts, dtype=np.uint64).astype(np.int64),
                             "locate": np.frombuffer(loc, dtype=np.uint16),
                             "bid": np.frombuffer(bid, dtype=BOOK_LEVEL_DTYPE).reshape(-1, self.opts.grid_levels),
                             "ask": np.frombuffer(ask, dtype=BOOK_LEVEL_DTYPE).reshape(-1, self.opts.grid_levels)}
        if len(g["ts"]):
            g["date"] = self._clock.dates(g["ts"])
            self._check_directory()
            g["symbol"] = self._symbols.column(self._symbols.give(g["locate"]), self._symbol)
        return g

    def _take(self) -> MboBatch | None:
        """The C log's rows, taken as columns (one pass in C, no per-row Python), and the
        grid's snapshots; None when there is neither."""
        router = self.books._router
        n = _native.mbo_pending(router)
        grid = self._take_grid()
        if not n and (grid is None or not len(grid["ts"])):
            return None
        cols = {name: np.empty(n, dtype=dt) for name, dt in _COLUMNS}
        depth = np.empty((n, self.opts.depth_levels * 4), dtype=np.uint32) if self.opts.depth_levels else None
        self._check_directory()
        dicts = [self._chars["action"].table, self._chars["side"].table, self._chars["type"].table,
                 self._symbols.table]
        got, self.dropped = _native.mbo_take(router, list(cols.values()), dicts, depth)
        if got != n:
            raise RuntimeError(f"the MBO log changed while it was taken ({got} rows, {n} expected)")
        bbo = self.books.bbo_changes() if self.opts.bbo else None
        return self._table(cols, depth, bbo, grid)

    def _skipped(self) -> dict[str, int]:
        st = self.books.stats()
        skipped = {k: v for k, v in st["skipped"].items() if v}
        skipped.update(self.books.book_errors())
        for name, feed in st["sessions"].items():
            for k in ("lost", "bad_packets", "other_session", "hold_full"):
                if feed.get(k):
                    skipped[f"{k} ({name})"] = feed[k]
        for k in ("unknown_type", "bbo_log_full"):
            if st["books"].get(k):
                skipped[k] = st["books"][k]
        return skipped

    def close(self) -> None:
        self.books.close()


class MboSource(_MboRows):
    """Recordings (pcapng or pcap; rolling files of one capture in order) through one set
    of C feed handlers and books, as MBO rows."""

    def __init__(self, paths: list[Path], opts: MboOptions) -> None:
        super().__init__(opts)
        self.paths = paths

    def batches(self) -> Iterator[MboBatch]:
        """Batches of rows in the order the books applied them, file after file; at the
        end every gap still open is given up (counted lost), as at the end of a live day.
        A corrupt or truncated file is exported up to where it breaks, and said (errors)."""
        for path in self.paths:
            src = open_source(path)
            try:
                while True:
                    state, last_ns = _native.mbo_pump(self.books._router, src, self._grid)
                    self.books.last_ns = max(self.books.last_ns, last_ns)
                    t = self._take()
                    if t is not None:
                        yield t
                    if state != 1:
                        break
                st = src.stats()
                self.packets += st["packets"]
                for k in self.capture:
                    self.capture[k] += st[f"capture_{k}"]
                if st["capture_host"] and st["capture_host"] not in self.hosts:
                    self.hosts.append(st["capture_host"])
                if state < 0:
                    self.errors.append(f"{path}: {st['error']} (the packets before it are exported)")
            finally:
                src.close()
        self.books.finish()
        if self._grid is not None:
            self._grid.finish(self.books._router)
        t = self._take()
        if t is not None:
            yield t

    def stats(self) -> ExportStats:
        st = self.books.stats()
        return ExportStats(files=[str(p) for p in self.paths], packets=self.packets, messages=st["books"]["messages"],
                           rows_dropped=self.dropped, errors=list(self.errors), skipped=self._skipped(),
                           sessions=st["sessions"], capture=dict(self.capture), capture_hosts=list(self.hosts))


class MboRingSource(_MboRows):
    """A ring a capture writes (or wrote), followed live through the C feed handlers and
    books: each ring batch goes to C in one call (Books.records), gaps are given up on
    the live clock and, with `rtx`, re-requested (the rows they fill say line 2). Ends
    when the writer has closed and everything is read, after `duration_s`, or at Ctrl-C;
    then open gaps are given up as at the end of a day."""

    TAKE_EVERY_S = 1.0  # a live export hands rows on at least this often

    def __init__(self, ring: str, opts: MboOptions, start: str = "oldest", duration_s: float = 0.0,
                 rtx: tuple[str, int] | None = None) -> None:
        from wirespeed.ring import RingError, RingReader

        if opts.grid_ns:
            raise UsageError("the depth table is made from recordings, not from a ring",
                             "record the ring (wirespeed record) and export the recording")
        super().__init__(opts, rtx)
        try:
            self._reader = RingReader(ring, start)  # type: ignore[arg-type]
        except (RingError, OSError) as exc:
            raise WirespeedError(f"cannot open the ring {ring}: {exc}", "is a capture writing it? "
                                 "wirespeed ring info PATH") from None
        self.ring = ring
        self.duration_s = duration_s
        self.packets = 0
        self.ring_lost = 0
        self.ended = ""
        self._per_frame, self._per_packet = _native.mbo_limits()

    def batches(self) -> Iterator[MboBatch]:
        """Batches of rows as the ring delivers them; see the class."""
        from wirespeed.ring import RingError

        t0 = last_take = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if self.duration_s and now - t0 >= self.duration_s:
                    self.ended = f"after {self.duration_s:g} s"
                    break
                room = LOG_ROWS - _native.mbo_pending(self.books._router)
                if room < self._per_packet + self._per_frame or (now - last_take >= self.TAKE_EVERY_S and
                                                                 _native.mbo_pending(self.books._router)):
                    t = self._take()
                    last_take = now
                    if t is not None:
                        yield t
                    continue
                # at most as many packets as the log has room for, whatever they hold
                most = max(1, min(8192, (room - self._per_packet) // self._per_frame))
                try:
                    batch = self._reader.wait(timeout=0.1, max=most)
                except RingError as exc:  # the writer closed (or died) and everything is read
                    self.ended = str(exc)
                    break
                self.ring_lost += batch.lost
                self.packets += self.books.records(batch)
                self.books.service()
        except KeyboardInterrupt:
            self.ended = "interrupted"
        self.books.finish()
        t = self._take()
        if t is not None:
            yield t

    def stats(self) -> ExportStats:
        from wirespeed.ring import Ring

        st = self.books.stats()
        skipped = self._skipped()
        if self.ring_lost:
            skipped["ring_lost (the reader was lapped)"] = self.ring_lost
        try:
            drops = {k: int(v) for k, v in Ring.info(self.ring)["drops"].items() if v}  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - the ring may be gone by now; its drops are then unknown, and said
            drops = {"unknown (the ring is gone)": -1}
        return ExportStats(files=[self.ring], packets=self.packets, messages=st["books"]["messages"],
                           rows_dropped=self.dropped, errors=[], skipped=skipped, sessions=st["sessions"],
                           capture=drops, capture_hosts=[socket.gethostname()])  # a ring is local

    def close(self) -> None:
        self._reader.close()
        super().close()


def recordings(path: str | Path) -> list[Path]:
    """A recording, or every recording (*.pcapng, *.pcap) of a directory, in name order."""
    p = Path(path)
    if p.is_dir():
        found = sorted(x for x in p.iterdir() if x.suffix in (".pcapng", ".pcap") and x.is_file())
        if not found:
            raise WirespeedError(f"no recordings (*.pcapng, *.pcap) in {p}", "give a recording or a directory of them")
        return found
    if not p.exists():
        raise WirespeedError(f"no such recording: {p}", "give a pcapng or pcap file, or a directory of them")
    return [p]
