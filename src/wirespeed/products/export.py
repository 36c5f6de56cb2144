"""`wirespeed export`: recordings to data products in one pass.

One pass of the recordings through the C feed handlers and books (products.mbo)
feeds every asked-for writer batch by batch: Parquet (products.parquet), DBN
(products.dbn), LOBSTER (products.lobster: the books' depth is logged beside the
rows then). Memory stays at a batch (~0.5 M rows) plus a row group per
partition being filled.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wirespeed.errors import UsageError
from wirespeed.products.mbo import MboOptions, MboSource, recordings

FORMATS = ("parquet", "dbn", "lobster")


@dataclass(frozen=True)
class ExportConfig:
    source: Path                        # a recording, or a directory of them (taken in name order)
    out: Path
    formats: tuple[str, ...] = ("parquet",)
    mbo: MboOptions = MboOptions()
    overwrite: bool = False
    lobster_levels: int = 10            # LOBSTER's order book files: levels a side


def export(cfg: ExportConfig, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Runs the export; returns what was written, read, skipped and lost (the --json document).
    progress(rows so far, packets so far) after each batch."""
    bad = [f for f in cfg.formats if f not in FORMATS]
    if bad or not cfg.formats:
        raise UsageError(f"unknown format {', '.join(bad) or '(none)'}", f"give one or more of {', '.join(FORMATS)}")
    paths = recordings(cfg.source)
    writers: dict[str, Any] = {}

    def where(fmt: str) -> Path:
        return cfg.out / fmt if len(cfg.formats) > 1 else cfg.out

    if "parquet" in cfg.formats:
        from wirespeed.products.parquet import ParquetDataset

        writers["parquet"] = ParquetDataset(where("parquet"), cfg.mbo.feed, cfg.mbo.timezone, cfg.overwrite)
    if "dbn" in cfg.formats:
        from wirespeed.products.dbn import DbnFiles

        writers["dbn"] = DbnFiles(where("dbn"), cfg.mbo.feed, cfg.overwrite)
    mbo = cfg.mbo
    if "lobster" in cfg.formats:
        from dataclasses import replace

        from wirespeed.products.lobster import LobsterFiles

        writers["lobster"] = LobsterFiles(where("lobster"), cfg.lobster_levels, cfg.overwrite)
        mbo = replace(mbo, depth_levels=cfg.lobster_levels)
    src = MboSource(paths, mbo)
    t0 = time.perf_counter()
    rows = 0
    try:
        for batch in src.batches():
            for name, w in writers.items():
                if name == "lobster":
                    w.write(batch)
                else:
                    w.write(batch.table, batch.dates)
            rows += batch.table.num_rows
            if progress:
                progress(rows, src.packets)
        stats = src.stats()
        stats.rows = rows
        written: dict[str, Any] = {}
        if "parquet" in writers:
            written["parquet"] = writers["parquet"].close(stats)
        if "dbn" in writers:
            written["dbn"] = writers["dbn"].close()
        if "lobster" in writers:
            written["lobster"] = writers["lobster"].close()
    except BaseException:
        for name in ("dbn", "lobster"):
            if name in writers:
                writers[name].abort()
        raise
    finally:
        src.close()
    elapsed = time.perf_counter() - t0
    return {"written": written, **stats.as_dict(), "seconds": elapsed,
            "messages_per_s": stats.messages / elapsed if elapsed > 0 else None,
            "feed": cfg.mbo.feed, "timezone": cfg.mbo.timezone}
