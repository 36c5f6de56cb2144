"""`wirespeed export`: recordings to data products in one pass.

One pass of the recordings, or of a ring followed live, through the C feed
handlers and books (products.mbo) feeds every asked-for writer batch by batch. Where each goes, under OUT:

    mbo/, trades/, bbo/,  Parquet tables (products.parquet, products.tables):
    depth/
                          <table>/date=YYYY-MM-DD/feed=NAME/part-0.parquet
    dbn/                  NAME.YYYY-MM-DD.mbo.dbn.zst (products.dbn)
    lobster/              LOBSTER files per symbol and day (products.lobster; the
                          books log their depth beside the rows then)

Memory stays at a batch (~0.5 M rows) and what the writers hold of it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from wirespeed.errors import UsageError
from wirespeed.products.mbo import MboOptions, MboRingSource, MboSource, recordings

FORMATS = ("parquet", "dbn", "lobster")


@dataclass(frozen=True)
class ExportConfig:
    source: Path | None                 # a recording, or a directory of them (taken in name order)
    out: Path
    formats: tuple[str, ...] = ("parquet",)
    tables: tuple[str, ...] = ("mbo",)  # the Parquet tables: mbo, trades, bbo (products.tables)
    mbo: MboOptions = MboOptions()
    overwrite: bool = False
    lobster_levels: int = 10            # LOBSTER's order book files: levels a side
    grid_ns: int = 1_000_000_000        # the depth table: a snapshot of every stock this often (capture time)
    grid_levels: int = 10               # the depth table: levels a side
    ring: str | None = None             # instead of source: a ring, followed live (products.mbo.MboRingSource)
    ring_start: str = "oldest"          # oldest | latest
    duration_s: float = 0.0             # a ring: stop after this long (0: when the writer closes, or Ctrl-C)
    rtx: tuple[str, int] | None = None  # a ring: re-request gaps from this MoldUDP64 retransmission server
    roll_rows: int = 0                  # Parquet: a new file per partition every this many rows (0: one file)


def export(cfg: ExportConfig, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Runs the export; returns what was written, read, skipped and lost (the --json document).
    progress(rows so far, packets so far) after each batch."""
    from wirespeed.products import tables as T

    bad = [f for f in cfg.formats if f not in FORMATS]
    if bad or not cfg.formats:
        raise UsageError(f"unknown format {', '.join(bad) or '(none)'}", f"give one or more of {', '.join(FORMATS)}")
    bad = [t for t in cfg.tables if t not in T.TABLES]
    if bad or ("parquet" in cfg.formats and not cfg.tables):
        raise UsageError(f"unknown table {', '.join(bad) or '(none)'}", f"give one or more of {', '.join(T.TABLES)}")
    if (cfg.source is None) == (cfg.ring is None):
        raise UsageError("give a recording or a ring, not both or neither",
                         "e.g. wirespeed export day.pcapng -o data, or wirespeed export --ring feed -o data")
    paths = recordings(cfg.source) if cfg.source is not None else []
    mbo = cfg.mbo
    parquet: dict[str, Any] = {}
    others: dict[str, Any] = {}
    if "parquet" in cfg.formats:
        from wirespeed.products.parquet import ParquetDataset

        for name in cfg.tables:
            parquet[name] = ParquetDataset(cfg.out / name, mbo.feed, mbo.timezone, cfg.overwrite, name,
                                           T.schema(name, cfg.grid_levels), cfg.roll_rows, lambda: src.stats())
        mbo = replace(mbo, bbo="bbo" in cfg.tables)
        if "depth" in cfg.tables:
            if cfg.grid_ns <= 0 or not 1 <= cfg.grid_levels <= 1000:
                raise UsageError("the depth table needs a grid > 0 and 1..1000 levels", "e.g. --grid 1s --grid-levels 10")
            mbo = replace(mbo, grid_ns=cfg.grid_ns, grid_levels=cfg.grid_levels)
    if "dbn" in cfg.formats:
        from wirespeed.products.dbn import DbnFiles

        others["dbn"] = DbnFiles(cfg.out / "dbn", mbo.feed, cfg.overwrite)
    if "lobster" in cfg.formats:
        from wirespeed.products.lobster import LobsterFiles

        others["lobster"] = LobsterFiles(cfg.out / "lobster", cfg.lobster_levels, cfg.overwrite)
        mbo = replace(mbo, depth_levels=cfg.lobster_levels)
    derive = {"mbo": lambda b: (b.table, b.dates), "trades": T.trades, "bbo": T.bbo, "depth": T.depth}
    src: Any = (MboSource(paths, mbo) if cfg.ring is None else
                MboRingSource(cfg.ring, mbo, cfg.ring_start, cfg.duration_s, cfg.rtx))
    t0 = time.perf_counter()
    rows = 0
    try:
        for batch in src.batches():
            for name, w in parquet.items():
                w.write(*derive[name](batch))
            if "dbn" in others:
                others["dbn"].write(batch.table, batch.dates)
            if "lobster" in others:
                others["lobster"].write(batch)
            rows += batch.table.num_rows
            if progress:
                progress(rows, src.packets)
        stats = src.stats()
        stats.rows = rows
        written: dict[str, Any] = {f"parquet/{name}": w.close(stats) for name, w in parquet.items()}
        written.update({name: w.close() for name, w in others.items()})
    except BaseException:
        for w in [*parquet.values(), *others.values()]:
            w.abort()
        raise
    finally:
        src.close()
    elapsed = time.perf_counter() - t0
    ended = {"ended": src.ended} if cfg.ring is not None else {}
    return {"written": written, **stats.as_dict(), **ended, "seconds": elapsed,
            "messages_per_s": stats.messages / elapsed if elapsed > 0 else None,
            "feed": cfg.mbo.feed, "timezone": cfg.mbo.timezone}
