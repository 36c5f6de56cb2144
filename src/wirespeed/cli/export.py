"""`wirespeed export`: recordings to order-by-order tables (Parquet, DBN)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import EXIT_FAILURE, EXIT_OK, WirespeedError


def export(
    source: Annotated[Optional[Path], typer.Argument(metavar="[RECORDING]", help="A pcapng or pcap recording, or a directory of them (rolling files of one capture, taken in name order).")] = None,
    ring: Annotated[Optional[str], typer.Option("--ring", help="Instead of a recording: follow this ring live (from its oldest record) until the writer closes, --duration, or Ctrl-C.")] = None,
    duration: Annotated[float, typer.Option("--duration", min=0.0, help="With --ring: stop after this many seconds (0: when the writer closes, or Ctrl-C).")] = 0.0,
    rtx: Annotated[Optional[str], typer.Option("--rtx", metavar="HOST:PORT", help="With --ring: re-request gaps from this MoldUDP64 retransmission server (the rows they fill say line 2).")] = None,
    roll_rows: Annotated[int, typer.Option("--roll-rows", min=0, help="Parquet: close a partition's file every this many rows and go on in part-<k+1> (a live export's files become readable); 0: one file.")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where the dataset goes (created).")] = Path("export"),
    fmt: Annotated[str, typer.Option("--format", "-f", help="parquet, dbn, lobster, or several comma-separated.")] = "parquet",
    tables: Annotated[str, typer.Option("--tables", "-t", help="Parquet tables, comma-separated: mbo (every row), trades, bbo (every change of the best bid or offer), depth (every stock's top levels each --grid).")] = "mbo",
    grid_ms: Annotated[float, typer.Option("--grid-ms", min=0.001, help="depth: a snapshot of every stock this often, in ms of capture time.")] = 1000.0,
    grid_levels: Annotated[int, typer.Option("--grid-levels", min=1, max=1000, help="depth: levels a side.")] = 10,
    levels: Annotated[int, typer.Option("--levels", min=1, max=1000, help="LOBSTER: levels a side in the order book files.")] = 10,
    feed: Annotated[str, typer.Option("--feed", help="The feed's name: the feed= partition and the DBN file names.")] = "itch",
    timezone: Annotated[str, typer.Option("--timezone", help="Where the exchange's midnight is, for ts_event (NASDAQ: America/New_York; wirespeed's simulator: UTC).")] = "UTC",
    hold_timeout_ms: Annotated[float, typer.Option("--hold-timeout-ms", min=0.0, help="A gap open this long in capture time is given up (counted lost), as live.")] = 50.0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace files of an earlier export.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Turn recordings into order-by-order tables: every message, through the same C feed
    handler (A/B arbitration, gaps) and books as a live capture, as Databento-style MBO rows
    (add, cancel, trade, fill; side and price resolved by the book).

    Parquet: OUT/TABLE/date=YYYY-MM-DD/feed=NAME/part-0.parquet (zstd, rows by ts_recv), for
    DuckDB, Polars and Spark. DBN: OUT/dbn/NAME.YYYY-MM-DD.mbo.dbn.zst, for databento-dbn.
    LOBSTER: OUT/lobster/, a message and an order book file (--levels) per symbol and day.

    With --ring it follows a ring a capture writes, live, through the same path (with --rtx
    gaps are re-requested); --roll-rows makes its Parquet files readable as it goes.

    Exit 0: exported; 1: exported, but a recording was truncated or corrupt, or rows were lost
    (said, and in --json and the files' metadata); 2: bad usage.

    Example: wirespeed export day.pcapng -o data -t mbo,trades,bbo && wirespeed query
    "SELECT symbol, count(*) FROM trades GROUP BY symbol" --data data
    """
    from wirespeed.products.export import ExportConfig, export as run
    from wirespeed.products.mbo import MboOptions

    formats = tuple(x.strip().lower() for x in fmt.split(",") if x.strip())
    server = None
    if rtx:
        from wirespeed.net.addr import parse_host_port

        try:
            server = parse_host_port(rtx, "--rtx")
        except WirespeedError as exc:
            raise fail(exc) from None
    cfg = ExportConfig(source=source, out=out_dir, formats=formats, overwrite=overwrite, lobster_levels=levels,
                       ring=ring, duration_s=duration, rtx=server, roll_rows=roll_rows,
                       grid_ns=int(grid_ms * 1e6), grid_levels=grid_levels,
                       tables=tuple(x.strip().lower() for x in tables.split(",") if x.strip()),
                       mbo=MboOptions(feed=feed, timezone=timezone, hold_timeout_ms=hold_timeout_ms))
    try:
        if as_json:
            doc = run(cfg)
        else:
            with out.status("exporting...") as status:
                doc = run(cfg, lambda rows, pkts: status.update(f"exporting: {rows:,} rows"))
    except WirespeedError as exc:
        raise fail(exc) from None
    bad = bool(doc["errors"] or doc["rows_dropped"])
    if as_json:
        print_json(doc)
        raise typer.Exit(EXIT_FAILURE if bad else EXIT_OK)
    t = Table(title=f"export of {source or ring}")
    for col in ("format", "date", "rows", "file"):
        t.add_column(col, justify="right" if col == "rows" else "left")
    for name, w in doc["written"].items():
        for date, path in w["files"].items():
            if isinstance(path, str):
                where = path
            elif "symbols" in w:
                where = f"{w['symbols']} symbols, {len(path)} files in {Path(path[0]).parent}"
            else:
                where = f"{len(path)} files in {Path(path[0]).parent}"
            t.add_row(name, date, f"{w['rows'][date]:,}", where)
    out.print(t)
    rate = doc["messages_per_s"]
    out.print(f"{doc['messages']:,} messages from {doc['packets']:,} packets -> {doc['rows']:,} rows in "
              f"{doc['seconds']:.2f} s" + (f" ({rate / 1e6:.2f} M msg/s)" if rate else ""))
    for k, v in doc["skipped"].items():
        out.print(f"[yellow]not exported:[/] {k}: {v:,}")
    lost = {k: v for k, v in doc["capture"].items() if v and k != "received"}
    if lost:
        out.print("[yellow]the capture itself counted as lost:[/] " + ", ".join(f"{k} {v:,}" for k, v in lost.items()))
    if doc.get("ended"):
        out.print(f"the ring export ended: {doc['ended']}")
    for e in doc["errors"]:
        err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
    if doc["rows_dropped"]:
        err.print(f"[bold red]error:[/] {doc['rows_dropped']:,} rows lost to a full log (a bug: please report)")
    raise typer.Exit(EXIT_FAILURE if bad else EXIT_OK)
