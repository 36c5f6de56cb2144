"""`wirespeed bench book`: building books from ITCH 5.0 in memory, one core,
against the peers on PyPI, all on the same simulator messages.

  * the day: the simulator's session (`msgs` messages, `symbols` stocks,
    seeded) as a NASDAQ day file (2-byte length + message), in memory.
  * wirespeed: `_native.BookEngine.apply_day` over the whole buffer (parse +
    L3 books + L2 levels + BBO tracking), a fresh engine each round.
  * itch-book: `itch_book.Session(tables=[]).feed(buffer)` - its parse +
    full L3 book through its Python API, no tables (its fastest path).
  * meatpy: its reader over the day file and one `ITCH50MarketProcessor` per
    stock, each message handed to its stock's processor only (meatpy's way
    to book every stock, without the cost of every processor seeing every
    message). Pure Python, so it gets the first `meatpy_msgs` messages.
    meatpy refuses an execution of an order that is not first in its level
    (the simulator executes the first; anything it refuses is counted).

The rounds alternate wirespeed and itch-book (the machine's speed drifts);
the figure is the median of the per-round ratios.

Tick to book (root: it needs the test host): the simulator sends A and B
lines into the test host's veth; a capture stamps each frame as it takes it
from the socket and publishes it into a ring; a reader process on a core of
its own runs `Books.follow` (the C loop: ring -> frame check -> session ->
A/B arbitration -> books, spinning) and notes, per record, the time from
the capture's stamp to the book being updated. Its peer, in the same run
on the same bed: the Python loop over `RingReader.poll` and `Books.records`
(`tick_to_book_py_*`). The capture blocks in recv on the sender's core:
with two cores, a busy-polling capture would take the reader's. The first
half second is left out (warm-up). Without root the figure is None and
says why.
"""
from __future__ import annotations

import datetime
import os
import tempfile
import time
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.exchange import sim
from wirespeed.bench import hist
from wirespeed.bench.common import Goal, goals_report
from wirespeed.feed.latency import possible

GOALS = [
    Goal("book build rate / itch-book (parse + L3)", "book_over_itchbook", ">=", 1.5),
    Goal("book build rate / meatpy", "book_over_meatpy", ">=", 50.0),
]


@dataclass(frozen=True)
class BookBenchOptions:
    msgs: int = 5_000_000
    symbols: int = 100
    seed: int = 1
    rounds: int = 5
    meatpy_msgs: int = 200_000
    live: bool = True             # tick to book on the test host (root)
    live_rate: float = 20_000.0   # messages/s the simulator sends
    live_s: float = 4.0


def _wirespeed(day: bytes) -> tuple[float, dict[str, int]]:
    eng = _native.BookEngine()
    t = time.perf_counter()
    n = eng.apply_day(day)
    return n / (time.perf_counter() - t), eng.stats()


def _itchbook(day: bytes) -> float | None:
    try:
        import itch_book
    except ImportError:
        return None
    s = itch_book.Session(tables=[], depth=0, symbols=[])
    t = time.perf_counter()
    s.feed(day)
    dt = time.perf_counter() - t
    return s.stats()["messages"] / dt


def _prefix(day: bytes, n: int) -> bytes:
    off = 0
    for _ in range(n):
        if off + 2 > len(day):
            break
        off += 2 + int.from_bytes(day[off:off + 2], "big")
    return day[:off]


def _meatpy(day: bytes) -> tuple[float, int, int] | None:
    """(messages/s, messages, refused) or None when meatpy is not installed."""
    try:
        from meatpy.itch50 import ITCH50MarketProcessor, ITCH50MessageReader
    except ImportError:
        return None
    date = datetime.datetime(2026, 1, 2)
    with tempfile.NamedTemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None, suffix=".itch") as f:
        f.write(day)
        f.flush()
        procs: dict[int, Any] = {}
        n = refused = 0
        t = time.perf_counter()
        with ITCH50MessageReader(f.name) as reader:
            for m in reader:
                n += 1
                loc = m.stock_locate
                if m.type == b"R":
                    procs[loc] = ITCH50MarketProcessor(m.stock.decode().strip(), date)
                p = procs.get(loc)
                if p is None:
                    continue
                try:
                    p.process_message(m)
                except Exception:  # noqa: BLE001 - meatpy's priority check; counted
                    refused += 1
        return n / (time.perf_counter() - t), n, refused


def _read_books(ring: str, seconds: float, how: str) -> dict[str, Any]:
    """The reader, spinning on the ring for `seconds`: `follow` is Books.follow (the C
    loop), `poll` the Python loop over RingReader.poll and Books.records (a C call per
    batch). Returns each record's tick to book, the feed's state and what was lost."""
    import wirespeed
    from wirespeed.ring import RingReader

    books = wirespeed.Books(max_orders=1 << 20, max_levels=1 << 18)
    lat = np.empty(4_000_000, dtype=np.int64)
    torn = 0
    with RingReader(ring, "oldest") as r:
        if how == "follow":
            _records, measured = books.follow(r, seconds, lat)
        else:
            measured, end = 0, time.monotonic() + seconds
            while time.monotonic() < end:
                batch = r.poll(65536, copy=False)
                n = books.records(batch, lat[measured:])
                torn += n - int(batch.verify().sum())
                measured += n
                batch.release()
        lost = r.native.lost
    sessions = list(books.stats()["sessions"].values())
    return {"lat": lat[:measured].copy(), "ring_lost": lost + torn, "feed": sessions[0] if sessions else {}}


READERS = {"follow": "", "poll": "_py"}  # how -> key infix: Books.follow is the figure, the Python loop its peer


def _tick_to_book(opts: BookBenchOptions, step: Callable[[str], None]) -> dict[str, Any]:
    """Capture stamp -> book updated, per record, live on the test host, for each reader."""
    from wirespeed.capture import runner as cap
    from wirespeed.exchange import sim as S
    from wirespeed.host import testbed
    from wirespeed.bench.common import collect, run_child

    ring = f"/dev/shm/wsbench-book-{os.getpid()}"
    groups = [("239.9.7.1", 30971, "A"), ("239.9.7.2", 30972, "B")]
    out: dict[str, Any] = {}
    with testbed.provided(step) as tb, cap.receive_core() as reader_cpu:
        send_cpu = min(os.sched_getaffinity(0))
        feeds = [cap.FeedSpec("itch", g, p, line) for g, p, line in groups]
        # the reader spins on a core of its own; the capture blocks in recv on the sender's
        # (a busy-polling capture would need a third core this bed does not have)
        cfg = cap.CaptureConfig(iface=tb.host_if, feeds=feeds, ring=ring, ring_size="256M", transport="kernel",
                                mode="block", stamp="user", cpu=send_cpu)
        sim_cfg = S.SimConfig(lines=[S.Line(g, p) for g, p, _ in groups], rate=opts.live_rate,
                              duration_s=opts.live_s, symbols=opts.symbols, seed=opts.seed, netns=tb.netns,
                              iface=tb.peer_if, source=tb.peer_addr, send="raw")
        for how, infix in READERS.items():
            step(f"tick to book ({how}): {opts.live_rate:,.0f} msg/s on A and B for {opts.live_s:g} s")
            Path(ring).unlink(missing_ok=True)
            try:
                with cap.Background(cfg):
                    proc, conn = run_child(_read_books, ring, opts.live_s + 1.5, how, cpu=reader_cpu)
                    time.sleep(0.3)
                    sent = S.run(sim_cfg)
                    got = collect(proc, conn, timeout=opts.live_s + 30)
            finally:
                Path(ring).unlink(missing_ok=True)
            out.update(_tick_summary(f"tick_to_book{infix}", got, sent, opts))
    for q in ("p50", "p99"):
        c, py = out.get(f"tick_to_book_ns_{q}"), out.get(f"tick_to_book_py_ns_{q}")
        out[f"tick_to_book_py_over_follow_{q}"] = py / c if c and py else None
    return out


def _tick_summary(key: str, got: dict[str, Any], sent: dict[str, Any], opts: BookBenchOptions) -> dict[str, Any]:
    lat = got["lat"]
    keep = lat[int(len(lat) * 0.5 / opts.live_s):]  # the sim is paced: its first half second is warm-up
    ok = possible(keep)
    keep = keep[ok]
    feed = got["feed"]
    out: dict[str, Any] = {f"{key}_records": int(len(keep)), f"{key}_impossible": int((~ok).sum()),
                           f"{key}_ring_lost": got["ring_lost"],
                           f"{key}_sent_msgs": int(sent.get("next_seq", 1)) - 1,
                           f"{key}_applied_msgs": feed.get("messages", 0), f"{key}_lost_msgs": feed.get("lost", 0)}
    if len(keep):
        h = hist.from_ns(keep)
        summ = hist.summary(h)
        out.update({f"{key}_ns_{q}": summ[q] for q in ("p50", "p90", "p99", "p999", "max", "mean")})
        out[f"{key}_hist"] = hist.encode(h)
    return out


def run(opts: BookBenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    def step(msg: str) -> None:
        if progress:
            progress(msg)

    step(f"the simulator's day: {opts.msgs:,} messages, {opts.symbols} stocks")
    day = sim.itch_day(opts.msgs, symbols=opts.symbols, seed=opts.seed)
    res: dict[str, Any] = {"msgs": opts.msgs, "symbols": opts.symbols, "day_bytes": len(day), "peers_missing": []}
    ours: list[float] = []
    theirs: list[float] = []
    stats: dict[str, int] = {}
    for i in range(opts.rounds):
        step(f"round {i + 1}/{opts.rounds}: wirespeed, then itch-book")
        rate, stats = _wirespeed(day)
        ours.append(rate)
        peer = _itchbook(day)
        if peer is not None:
            theirs.append(peer)
    res["book_msgs_per_s"] = float(np.median(ours))
    res["book_msgs_per_s_rounds"] = ours
    res["book_stats"] = {k: v for k, v in stats.items() if v}
    if theirs:
        res["itchbook_msgs_per_s"] = float(np.median(theirs))
        res["itchbook_msgs_per_s_rounds"] = theirs
        ratios = [a / b for a, b in zip(ours, theirs)]
        res["book_over_itchbook"] = float(np.median(ratios))
        res["book_over_itchbook_spread"] = [min(ratios), max(ratios)]
    else:
        res["itchbook_msgs_per_s"] = res["book_over_itchbook"] = None
        res["peers_missing"].append("itch-book (pip install itch-book)")
    step(f"meatpy over the first {opts.meatpy_msgs:,} messages")
    m = _meatpy(_prefix(day, opts.meatpy_msgs))
    if m is None:
        res["meatpy_msgs_per_s"] = res["book_over_meatpy"] = None
        res["peers_missing"].append("meatpy (pip install meatpy)")
    else:
        res["meatpy_msgs_per_s"], res["meatpy_msgs"], res["meatpy_refused"] = m
        res["book_over_meatpy"] = res["book_msgs_per_s"] / m[0]
    res["tick_to_book_ns_p50"] = res["tick_to_book_ns_p99"] = None
    if not opts.live:
        res["tick_to_book_skipped"] = "not asked for (--no-live)"
    elif os.geteuid() != 0:
        res["tick_to_book_skipped"] = "needs root: the test host (network namespace, veth, capture)"
    else:
        res.update(_tick_to_book(opts, step))
    res["goals"] = goals_report(GOALS, res)
    return res
