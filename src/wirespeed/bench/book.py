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
the figure is the median of the per-round ratios. Tick-to-book latency
(record in the ring -> book updated) needs the live feed handler, which is
not built yet: it is reported as None, not guessed.
"""
from __future__ import annotations

import datetime
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirespeed import _native, sim
from wirespeed.bench.common import Goal, goals_report

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
    res["tick_to_book_ns_p50"] = res["tick_to_book_ns_p99"] = None  # needs the live feed handler (#7, next)
    res["goals"] = goals_report(GOALS, res)
    return res
