"""`wirespeed bench export`: a recorded day to Parquet and to DBN against the peers a
user would otherwise reach for, in the same run, on one core:

  * wirespeed export: the simulator's day (5 M messages, one line, as pcapng)
    through the C feed handler and books into Parquet, and into DBN: messages/s
    of the whole run (reading, books, columns, encoding, compression, files;
    not the books' allocation before it, 0.1 s whatever the day's size),
    median of `repeats` in one process; the first of them is also given
    alone (`..._first_msgs_per_s`): it pays the process's one-time costs
    (first touches of fresh memory), which is what a single `wirespeed
    export` of a day this small shows;
  * the pandas path, what one writes today: the recording read with
    formats.pcapng.read_packets, each packet and message decoded with the
    project's Python codec (feed.moldudp64, feed.itch) into a list of dicts,
    pandas.DataFrame, to_parquet; on the day's first `pandas_msgs` messages
    (it is slow: a full day would take minutes);
  * databento-dbn's own encoder fed the same rows from Python (an MBOMsg per row,
    bytes(), zstd), on the first `peer_rows` rows of the export: rows/s, against
    the export's DBN rows/s;
  * reading back: DuckDB counts the exported day by symbol and action, rows/s,
    best of 3 after a warm-up.

Goals (issue #19): >= 5 M msg/s to Parquet; >= 20x the pandas path; DuckDB's
scan >= 50 M rows/s.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from wirespeed.bench.common import Goal, goals_report

GOALS = [
    Goal("export to Parquet, messages/s (one core)", "export_parquet_msgs_per_s", ">=", 5e6),
    Goal("export to Parquet / the pandas path", "export_over_pandas", ">=", 20.0),
    Goal("DuckDB scan of the export (count by symbol, action), rows/s", "duckdb_rows_per_s", ">=", 50e6),
]


@dataclass(frozen=True)
class ExportBenchOptions:
    msgs: int = 5_000_000
    symbols: int = 500
    repeats: int = 5
    pandas_msgs: int = 200_000
    peer_rows: int = 300_000
    directory: Path | None = None   # where the day and the exports go (a temporary directory)


QUICK = ExportBenchOptions(msgs=500_000, repeats=1, pandas_msgs=50_000, peer_rows=50_000)


def _day(path: Path, opts: ExportBenchOptions) -> None:
    from wirespeed.exchange import sim as S

    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001)], count=opts.msgs, symbols=opts.symbols, seed=11,
                            rate=0, duration_s=0), path)


def _export(day: Path, out: Path, fmt: str) -> dict[str, Any]:
    from wirespeed.products.export import ExportConfig, export

    return export(ExportConfig(source=day, out=out, formats=(fmt,), overwrite=True))


def _pandas_path(day: Path, out: Path, n: int) -> dict[str, Any]:
    """The day's first n messages the way a user writes it today, timed end to end."""
    import pandas as pd

    from wirespeed.feed import itch, moldudp64
    from wirespeed.formats.pcapng import read_packets

    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for _iface, ts, frame in read_packets(str(day)):
        pkt = moldudp64.from_frame(frame)
        if pkt is None:
            continue
        for i, raw in enumerate(pkt.messages):
            m = itch.decode(raw)
            if m is None:
                continue
            row = m._asdict() if hasattr(m, "_asdict") else dict(vars(m))
            row.update(ts_recv=ts, sequence=pkt.seq + i)
            rows.append(row)
        if len(rows) >= n:
            break
    df = pd.DataFrame(rows)
    for col in df.columns:  # bytes fields (stock, side...) as strings, as one would to write them
        if df[col].dtype == object:
            df[col] = df[col].map(lambda v: v.decode("ascii", "replace") if isinstance(v, bytes) else v)
    df.to_parquet(out, compression="zstd")
    el = time.perf_counter() - t0
    return {"msgs": len(rows), "seconds": el, "msgs_per_s": len(rows) / el}


def _dbn_peer(parquet: Path, out: Path, n: int) -> dict[str, Any]:
    """databento-dbn's encoder, a record at a time from Python, on the export's first n rows."""
    import databento_dbn as dbn
    import pyarrow.parquet as pq
    import zstandard

    t = pq.read_table(parquet).slice(0, n)
    cols = {c: t.column(c).to_pylist() for c in ("instrument_id", "ts_event", "order_id", "price", "size",
                                                  "action", "side", "ts_recv", "flags", "ts_in_delta", "sequence")}
    actions = {a: dbn.Action(a) for a in set(cols["action"])}
    sides = {s: dbn.Side(s) for s in set(cols["side"])}
    t0 = time.perf_counter()
    with open(out, "wb") as f, zstandard.ZstdCompressor(level=3).stream_writer(f) as z:
        for i in range(t.num_rows):
            z.write(bytes(dbn.MBOMsg(publisher_id=0, instrument_id=cols["instrument_id"][i],
                                     ts_event=cols["ts_event"][i], order_id=cols["order_id"][i],
                                     price=cols["price"][i], size=cols["size"][i],
                                     action=actions[cols["action"][i]], side=sides[cols["side"][i]],
                                     ts_recv=cols["ts_recv"][i], flags=cols["flags"][i],
                                     ts_in_delta=cols["ts_in_delta"][i], sequence=cols["sequence"][i] & 0xFFFFFFFF)))
    el = time.perf_counter() - t0
    return {"rows": t.num_rows, "seconds": el, "rows_per_s": t.num_rows / el}


def _duckdb(export_dir: Path) -> dict[str, Any]:
    """DuckDB over the export as `wirespeed query` opens it (the view mbo)."""
    from wirespeed.products.query import connect

    con = connect(export_dir)
    q = "SELECT symbol, action, count(*) FROM mbo GROUP BY ALL"
    rows = con.execute("SELECT count(*) FROM mbo").fetchall()[0][0]
    con.execute(q).fetchall()  # warm: files and metadata in the page cache
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        groups = con.execute(q).fetchall()
        el = time.perf_counter() - t0
        best = el if best is None else min(best, el)
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.close()
    return {"rows": rows, "groups": len(groups), "seconds": best, "rows_per_s": rows / best, "threads": threads}


def run(opts: ExportBenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    def step(msg: str) -> None:
        if progress:
            progress(msg)

    with tempfile.TemporaryDirectory(prefix="wirespeed-bench-export-", dir=opts.directory) as tmp:
        d = Path(tmp)
        day = d / "day.pcapng"
        step(f"the simulator's day, {opts.msgs:,} messages, to pcapng")
        _day(day, opts)
        res: dict[str, Any] = {"msgs": opts.msgs, "day_bytes": day.stat().st_size, "repeats": opts.repeats}
        for fmt in ("parquet", "dbn"):
            runs = []
            for i in range(opts.repeats):
                step(f"wirespeed export to {fmt} {i + 1}/{opts.repeats}")
                doc = _export(day, d / fmt, fmt)
                runs.append(doc)
            rates = [r["messages_per_s"] for r in runs]
            res[f"export_{fmt}_msgs_per_s"] = statistics.median(rates)
            res[f"export_{fmt}_msgs_per_s_runs"] = rates
            res[f"export_{fmt}_first_msgs_per_s"] = rates[0]
            res[f"export_{fmt}_rows_per_s"] = statistics.median(r["rows"] / r["seconds"] for r in runs)
            res[f"export_{fmt}_rows"] = runs[0]["rows"]
            key = "parquet/mbo" if fmt == "parquet" else fmt
            res[f"export_{fmt}_bytes"] = sum(Path(p).stat().st_size for p in runs[-1]["written"][key]["files"].values())
        res["messages"] = runs[0]["messages"]
        step(f"the pandas path, {opts.pandas_msgs:,} messages")
        pd_ = _pandas_path(day, d / "pandas.parquet", opts.pandas_msgs)
        res.update({"pandas_path_msgs_per_s": pd_["msgs_per_s"], "pandas_path_msgs": pd_["msgs"]})
        res["export_over_pandas"] = res["export_parquet_msgs_per_s"] / pd_["msgs_per_s"]
        (parquet,) = _export(day, d / "parquet", "parquet")["written"]["parquet/mbo"]["files"].values()
        step(f"databento-dbn's encoder from Python, {opts.peer_rows:,} rows")
        peer = _dbn_peer(Path(parquet), d / "peer.dbn.zst", opts.peer_rows)
        res.update({"dbn_encoder_rows_per_s": peer["rows_per_s"],
                    "export_dbn_over_encoder": res["export_dbn_rows_per_s"] / peer["rows_per_s"]})
        step("DuckDB scans the export")
        duck = _duckdb(d / "parquet")
        res.update({"duckdb_rows_per_s": duck["rows_per_s"], "duckdb_rows": duck["rows"],
                    "duckdb_threads": duck["threads"]})
    res["goals"] = goals_report(GOALS, res)
    return res
