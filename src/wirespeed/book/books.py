"""`wirespeed.Books`: ITCH 5.0 order books from MoldUDP64 packets.

    books = Books.from_pcapng("day.pcapng")       # offline: a recording
    books.bbo("AAPL")                             # numpy record: bid/ask price, size, orders
    books.bbo_changes()                           # every BBO change since the last call, one array
    bids, asks = books.depth("AAPL", 5)           # numpy arrays: price, shares, orders per level
    books.orders("AAPL", "B", 0)                  # the best bid's orders: [(order ref, shares)], oldest first
    books.stats()                                 # book counters and each session's feed state

Packets are routed in C (native/book/route.h) by MoldUDP64 session: each session
gets a feed handler (native/book/feed.h: A/B arbitration, gaps held and filled or
given up, stale while open) and all sessions apply to one BookEngine
(native/book/book.h; stock locates are unique across a feed's sessions). Lines
are told apart by destination group and port: the first seen for a session
is A, the next B.

Live, `records(batch)` hands a whole ring batch to C in one call (frame
checks, routing, arbitration, books): no Python per packet. With
`rtx=(address, port)` open gaps are re-requested from the session's
retransmission server (MoldUDP64 requests; replies are read by service(),
which the caller runs between batches).
"""
from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.errors import WirespeedError
from wirespeed.feed import moldudp64 as mold
from wirespeed.feed.itch import PRICE_SCALE

BBO_DTYPE = np.dtype([("bid_px", "f8"), ("bid_sz", "u8"), ("bid_ct", "u4"),
                      ("ask_px", "f8"), ("ask_sz", "u8"), ("ask_ct", "u4")])
LEVEL_DTYPE = np.dtype([("price", "f8"), ("shares", "u8"), ("orders", "u4")])
# ws_bbo_change_t (book.h), byte for byte; prices in ITCH's 4 implied decimals
BBO_CHANGE_DTYPE = np.dtype([("msg", "<u8"), ("bid_sz", "<u8"), ("ask_sz", "<u8"), ("bid_px", "<u4"),
                             ("ask_px", "<u4"), ("bid_ct", "<u4"), ("ask_ct", "<u4"), ("locate", "<u2"),
                             ("_pad", "<u2"), ("row", "<u4")])


class Books:
    """Books for every stock of a feed, fed packet by packet."""

    def __init__(self, max_locate: int = 65535, max_orders: int = 1 << 22, max_levels: int = 1 << 20,
                 hold_timeout_ms: float = 50.0, rtx: tuple[str, int] | None = None,
                 request_after_ms: float = 1.0, retry_ms: float = 10.0, max_requests: int = 3,
                 bbo_log: int = 1 << 18) -> None:
        """`rtx`: the session's retransmission server (address, UDP port); with it an open
        gap is re-requested after `request_after_ms`, again every `retry_ms`, at most
        `max_requests` times, and replies are read by service(). Without it gaps wait for
        the other line until `hold_timeout_ms`. `bbo_log`: BBO changes kept between two
        bbo_changes() calls (more are counted, bbo_log_full; 0: none kept)."""
        try:
            self._engine = _native.BookEngine(max_locate=max_locate, max_orders=max_orders, max_levels=max_levels)
        except ValueError as exc:
            raise WirespeedError(f"cannot make the books: {exc}") from None
        self._engine.log_bbo(bbo_log)
        self._timeout_ns = int(hold_timeout_ms * 1e6)
        self._router = _native.FeedRouter(self._engine, hold_timeout_ns=self._timeout_ns,
                                          request_after_ns=int(request_after_ms * 1e6) if rtx else 0,
                                          retry_ns=int(retry_ms * 1e6), max_requests=max_requests)
        self._rtx = rtx
        self._sock: socket.socket | None = None
        if rtx is not None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
        self._request_failed = 0
        self.last_ns = 0
        self._max_locate = max_locate
        self._dir_seen = -1
        self._symbols: dict[str, int] = {}

    # -- input ---------------------------------------------------------------------

    def packet(self, payload: bytes | memoryview, flow: tuple[bytes, int], ts_ns: int) -> None:
        """One MoldUDP64 packet (the UDP payload) of flow (group address: 4 bytes, port)."""
        self._router.packet(payload, flow[0], flow[1], ts_ns)
        self.last_ns = max(self.last_ns, ts_ns)

    def service(self, now_ns: int | None = None) -> None:
        """Re-requests that are due, replies that came, gaps that timed out; call it
        between batches (and when nothing arrives). Clock: CLOCK_REALTIME ns, as the
        capture stamps packets."""
        now = time.time_ns() if now_ns is None else now_ns
        if self._sock is not None:
            while True:
                try:
                    reply = self._sock.recv(65535)
                except BlockingIOError:
                    break
                self._router.reply(reply, now)
            for session, seq, count in self._router.requests(now):
                try:
                    self._sock.sendto(mold.request(session, seq, count), self._rtx)
                except OSError:
                    self._request_failed += 1
        self._router.poll(now)
        self.last_ns = max(self.last_ns, now)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def frame(self, frame: bytes | memoryview, ts_ns: int) -> None:
        """One Ethernet frame as captured (checked like a live one)."""
        self._router.frame(frame, ts_ns)
        self.last_ns = max(self.last_ns, ts_ns)

    def records(self, batch: Any, latency_ns: np.ndarray | None = None) -> int:
        """A ring batch (RingReader.poll / wait) into the books in one C call; returns how
        many records. `latency_ns`: an int64 array of at least len(batch), filled with each
        record's tick to book (applied minus received, ns). A zero-copy batch is read in
        place: check batch.verify() afterwards as with any zero-copy read."""
        n = len(batch)
        if n:
            self._router.records(batch.headers, batch.payload, n, latency_ns)
            self.last_ns = max(self.last_ns, int(batch.headers["ts_ns"][n - 1]))
        return n

    def follow(self, reader: Any, seconds: float, latency_ns: np.ndarray | None = None,
               slice_s: float = 0.02) -> tuple[int, int]:
        """The live loop in C: read `reader` (a RingReader) and apply every record for
        `seconds`, spinning on the ring (no sleep, no syscall, no Python per batch), with
        service() (re-requests, replies, timeouts) between slices of `slice_s`. The C loop
        runs without the GIL and locks the books only while it applies a batch, so other
        Python threads run meanwhile and may read the books (bbo, depth, stats...: each
        waits at most one batch). The reader serves this call alone until it returns.
        `latency_ns`: an int64 array for each record's tick to book, filled from the
        start. Returns (records, how many were measured)."""
        end = time.monotonic() + seconds
        records = measured = 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return records, measured
            lat = latency_ns[measured:] if latency_ns is not None else None
            n, m = self._router.follow(reader.native, min(slice_s, left), lat)
            records, measured = records + n, measured + m
            self.service()

    def finish(self) -> None:
        """The end of the input: every gap still open is given up (and counted lost)."""
        for k in range(1, 4):  # a give-up may uncover another hole, with its own timeout
            self._router.poll(self.last_ns + k * (self._timeout_ns + 1))

    @classmethod
    def from_pcapng(cls, path: str | Path, **kw: Any) -> Books:
        """Books built from a recording (pcapng or pcap), to its end: read and applied in C
        (formats/pcapread.c, products/export.c), gaps serviced every millisecond of the
        recording's clock as a live follower would."""
        from wirespeed.formats.pcapng import open_source

        src = open_source(path)
        books = cls(**kw)
        try:
            state = 1
            while state == 1:  # 1 only when a log must be taken: none is on here
                state, last_ns = _native.mbo_pump(books._router, src)
                books.last_ns = max(books.last_ns, last_ns)
            if state < 0:
                raise WirespeedError(f"cannot read {path}: {src.stats()['error']}", "give a pcapng or pcap file")
        finally:
            src.close()
        books.finish()
        return books

    # -- reads ------------------------------------------------------------------------

    def symbols(self) -> dict[str, int]:
        """Symbol -> stock locate, from the stock directory (R) messages seen."""
        seen = self._engine.stats()["directory"]
        if seen != self._dir_seen:
            self._symbols = {}
            for loc in range(1, self._max_locate + 1):
                name = self._engine.symbol(loc)
                if name.strip():
                    self._symbols[name.decode("ascii", "replace").strip()] = loc
            self._dir_seen = seen
        return dict(self._symbols)

    def _locate(self, symbol: str | int) -> int:
        if isinstance(symbol, int):
            return symbol
        loc = self.symbols().get(symbol.upper())
        if loc is None:
            raise WirespeedError(f"no stock {symbol!r} in the directory", "see Books.symbols()")
        return loc

    def depth(self, symbol: str | int, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """(bids, asks): up to n levels each, best first, as LEVEL_DTYPE arrays."""
        loc = self._locate(symbol)
        sides = []
        for side in (0, 1):
            lv = self._engine.depth(loc, side, n)
            a = np.zeros(len(lv), dtype=LEVEL_DTYPE)
            if lv:
                raw = np.array(lv, dtype=np.float64)
                a["price"], a["shares"], a["orders"] = raw[:, 0] / PRICE_SCALE, raw[:, 1], raw[:, 2]
            sides.append(a)
        return sides[0], sides[1]

    def orders(self, symbol: str | int, side: str, level: int = 0) -> list[tuple[int, int]]:
        """The orders of one price level (side "B" or "S", level 0 the best),
        oldest first, as (order reference number, shares): the L3 view."""
        if side not in ("B", "S"):
            raise WirespeedError(f"side {side!r}", "give 'B' (bids) or 'S' (asks)")
        return self._engine.orders(self._locate(symbol), 0 if side == "B" else 1, level)

    def bbo(self, symbol: str | int) -> np.record:
        """Best bid and offer: prices NaN and sizes 0 for an empty side."""
        bids, asks = self.depth(symbol, 1)
        out = np.zeros(1, dtype=BBO_DTYPE)[0]
        out["bid_px"], out["ask_px"] = np.nan, np.nan
        if len(bids):
            out["bid_px"], out["bid_sz"], out["bid_ct"] = bids[0]["price"], bids[0]["shares"], bids[0]["orders"]
        if len(asks):
            out["ask_px"], out["ask_sz"], out["ask_ct"] = asks[0]["price"], asks[0]["shares"], asks[0]["orders"]
        return out

    def bbo_changes(self) -> np.ndarray:
        """Every BBO change since the last call, in order, as one BBO_CHANGE_DTYPE array (a
        batch: one call per batch, never one per message). `msg` is the message's ordinal
        over the books; prices are ITCH's integers (divide by 10,000); an empty side is 0."""
        return np.frombuffer(self._engine.take_bbo(), dtype=BBO_CHANGE_DTYPE)

    def top(self, symbols: list[str] | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Top of book per symbol (the given ones, else all by name), as plain dicts
        (None for an empty side's price): what tables and JSON show."""
        syms = self.symbols()
        names = [s.upper() for s in (symbols or sorted(syms)) if s.upper() in syms][:limit]
        rows = []
        for name in names:
            b = self.bbo(name)
            rows.append({"symbol": name, "locate": syms[name],
                         **{k: (None if v != v else v) for k, v in zip(b.dtype.names, b.tolist())}})
        return rows

    def book_errors(self) -> dict[str, int]:
        """The books' counters of messages they could not apply, those that are not zero."""
        bs = self._engine.stats()
        return {k: bs[k] for k in ("unknown_ref", "too_many_shares", "duplicate_ref", "bad_length", "unknown_type",
                                   "locate_mismatch", "bad_locate", "bad_side", "pool_full", "truncated") if bs[k]}

    @property
    def skipped(self) -> dict[str, int]:
        """What never reached a feed, and why (frames that are not IPv4/UDP, payloads too
        short for MoldUDP64, a third line of a session, ...), plus failed re-requests."""
        st = self._router.stats()
        return {**{k: v for k, v in st.items() if k not in ("frames", "stale")}, "request_failed": self._request_failed}

    def stats(self) -> dict[str, Any]:
        """The books' counters, each session's feed counters and state, what was skipped."""
        return {"books": self._engine.stats(),
                "sessions": {s.decode("ascii", "replace").strip(): f for s, f in self._router.sessions()},
                "skipped": self.skipped}

    def status(self) -> dict[str, Any]:
        """What a follower publishes for `wirespeed top` and `metrics` (wirespeed.status):
        each session's feed state, whether any is stale, the books' errors, what was skipped."""
        st = self.stats()
        return {"sessions": st["sessions"], "stale": self.stale, "book_errors": self.book_errors(),
                "skipped": {k: v for k, v in st["skipped"].items() if v}}

    @property
    def stale(self) -> bool:
        """A gap is open in some session: books may lack messages."""
        return bool(self._router.stats()["stale"])
