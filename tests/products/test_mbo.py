"""MBO rows from a recording: every message of a simulated day with A/B faults appears
exactly once with the fields an independent decoder and reference book give; a packet
lost on both lines is counted and marked; DBN and DuckDB read the same rows."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.book.test_engine import _messages
from wirespeed.book.reference import ReferenceBooks
from wirespeed.exchange import sim as S
from wirespeed.feed import itch
from wirespeed.products.export import ExportConfig, export
from wirespeed.products.mbo import F_LAST, F_MAYBE_BAD_BOOK, MboOptions

COUNT, SYMBOLS, SEED = 30_000, 8, 7
FIELDS = ("sequence", "action", "side", "price", "size", "order_id", "instrument_id", "itch_type")


def _recording(path: Path, a: S.Faults, b: S.Faults) -> Path:
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001, faults=a), S.Line("239.1.2.1", 30001, faults=b)],
                            count=COUNT, symbols=SYMBOLS, seed=SEED, rate=0, duration_s=0), path)
    return path


def expected_rows(skip: set[int] = frozenset()) -> list[tuple]:
    """What each message should leave, from the Python decoder and reference book
    (Databento's normalisation: book.h), skipping the sequence numbers in skip."""
    ref = ReferenceBooks()
    out: list[tuple] = []
    other = {"B": "A", "S": "B"}
    for seq, raw in enumerate(_messages(S.itch_day(COUNT, symbols=SYMBOLS, seed=SEED)), 1):
        if seq in skip:
            continue
        m = itch.decode(raw)
        t = m.type
        o = ref.orders.get(getattr(m, "order_ref", -1))
        side = None if o is None else ("B" if o.side == 0 else "A")
        rows: list[tuple] = []
        if t in ("A", "F"):
            rows = [("A", "B" if m.side == "B" else "A", m.price, m.shares, m.order_ref)]
        elif t in ("E", "C") and o is not None:
            px = o.price if t == "E" else m.price
            rows = [("T", other["B" if side == "B" else "S"], px, m.shares, m.order_ref),
                    ("F", side, px, m.shares, m.order_ref), ("C", side, o.price, m.shares, m.order_ref)]
        elif t == "X" and o is not None:
            rows = [("C", side, o.price, m.shares, m.order_ref)]
        elif t == "D" and o is not None:
            rows = [("C", side, o.price, o.shares, m.order_ref)]
        elif t == "U" and o is not None:
            rows = [("C", side, o.price, o.shares, m.order_ref), ("A", side, m.price, m.shares, m.new_order_ref)]
        elif t == "P":
            rows = [("T", {"B": "B", "S": "A"}.get(m.side, "N"), m.price, m.shares, 0)]
        elif t == "Q":
            rows = [("T", "N", m.price, m.shares, 0)]
        for action, sd, px, size, oid in rows:
            out.append((seq, action, sd, px * 100_000, size, oid, m.locate, t))
        ref.apply(raw)
    return out


def _export(rec: Path, out: Path, formats: tuple[str, ...] = ("parquet",), hold_ms: float = 50.0) -> dict:
    return export(ExportConfig(source=rec, out=out, formats=formats,
                               mbo=MboOptions(feed="test", hold_timeout_ms=hold_ms)))


def _rows(table) -> list[tuple]:
    cols = [table.column(f).to_pylist() for f in FIELDS]
    return list(zip(*cols))


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("mbo")
    rec = _recording(d / "day.pcapng", S.Faults(drop_seqs=((100, 300), (5000, 5400)), reorder=0.03),
                     S.Faults(drop_seqs=((2000, 2600), (9000, 9100)), dup=0.03))
    doc = _export(rec, d / "out", ("parquet", "dbn"))
    return d / "out", doc


def test_every_message_once_with_the_right_fields(faulty: tuple[Path, dict]) -> None:
    out, doc = faulty
    (path,) = doc["written"]["parquet/mbo"]["files"].values()
    t = pq.read_table(path)
    assert _rows(t) == expected_rows()
    assert doc["rows"] == t.num_rows and not doc["errors"] and doc["rows_dropped"] == 0
    assert not doc["skipped"], doc["skipped"]  # every loss was filled by the other line
    ts = t.column("ts_recv").to_numpy()
    assert (np.diff(ts) >= 0).all()
    lines = t.column("line").to_numpy()
    assert set(np.unique(lines)) == {0, 1}  # line B filled A's holes
    # F_LAST: the last row each packet left, so once per packet that left rows
    flags = t.column("flags").to_numpy()
    seqs = t.column("sequence").to_numpy()
    last = (flags & F_LAST) != 0
    assert last[-1] and 0 < last.sum() < len(last)
    assert (seqs[last][1:] > seqs[last][:-1]).all()
    # times: ts_event is the ITCH time of day on the capture's day, ts_in_delta the difference
    ev = t.column("ts_event").to_numpy()
    assert (np.abs(ts - ev) < 10**9).all()
    assert (t.column("ts_in_delta").to_numpy() == ts - ev).all()
    meta = json.loads(pq.ParquetFile(path).metadata.metadata[b"wirespeed"])
    assert meta["schema"] == "wirespeed-mbo/1" and meta["feed"] == "test" and meta["rows"] == t.num_rows
    assert meta["sessions"]["WIRESPEED"]["lost"] == 0 and meta["sessions"]["WIRESPEED"]["duplicates"] > 0


def test_dbn_read_back_by_databento_equals_parquet(faulty: tuple[Path, dict]) -> None:
    databento_dbn = pytest.importorskip("databento_dbn")
    import zstandard

    out, doc = faulty
    (ppath,) = doc["written"]["parquet/mbo"]["files"].values()
    (dpath,) = doc["written"]["dbn"]["files"].values()
    t = pq.read_table(ppath)
    with open(dpath, "rb") as f:
        raw = zstandard.ZstdDecompressor().stream_reader(f).read()
    dec = databento_dbn.DBNDecoder()
    dec.write(raw)
    meta, *recs = dec.decode()
    assert meta.schema == databento_dbn.Schema.MBO and len(recs) == t.num_rows
    syms = {name: int(iv[0]["symbol"]) for name, iv in meta.mappings.items()}
    assert syms == {f"S{i:04d}": i for i in range(1, SYMBOLS + 1)}
    got = [(r.sequence, r.action, r.side, r.price, r.size, r.order_id, r.instrument_id, r.ts_recv, r.ts_event,
            r.flags) for r in recs]
    want = list(zip(*[t.column(c).to_pylist() for c in ("sequence", "action", "side", "price", "size", "order_id",
                                                      "instrument_id", "ts_recv", "ts_event", "flags")]))
    assert got == want


def test_duckdb_reads_the_dataset_as_pyarrow_does(faulty: tuple[Path, dict]) -> None:
    duckdb = pytest.importorskip("duckdb")
    out, doc = faulty
    (ppath,) = doc["written"]["parquet/mbo"]["files"].values()
    t = pq.read_table(ppath)
    q = duckdb.sql(f"SELECT feed, count(*), sum(size) FILTER (WHERE action = 'T') FROM "
                   f"read_parquet('{out}/mbo/**/*.parquet', hive_partitioning=true) GROUP BY feed").fetchall()
    trades = sum(s for a, s in zip(t.column("action").to_pylist(), t.column("size").to_pylist()) if a == "T")
    assert q == [("test", t.num_rows, trades)]


def test_a_packet_lost_on_both_lines_is_counted_and_marked(tmp_path: Path) -> None:
    rec = _recording(tmp_path / "day.pcapng", S.Faults(drop_seqs=((500, 500),)), S.Faults(drop_seqs=((500, 500),)))
    # the recording runs at 1 M msg/s: a gap is given up after 200 us of it, before the
    # feed's hold (256 packets) would fill
    doc = _export(rec, tmp_path / "out", hold_ms=0.2)
    (path,) = doc["written"]["parquet/mbo"]["files"].values()
    t = pq.read_table(path)
    seqs = set(t.column("sequence").to_pylist())
    applied = {s for s, *_ in expected_rows()}
    missing = sorted(applied - seqs)
    lost = doc["sessions"]["WIRESPEED"]["lost"]
    assert 0 < lost < 50 and 500 in missing and doc["skipped"]["lost (WIRESPEED)"] == lost
    assert doc["sessions"]["WIRESPEED"]["hold_full"] == 0
    # the lost packet's messages, and those naming orders it added (counted unknown_ref)
    gone = set(range(missing[0], missing[0] + lost))
    assert _rows(t) == expected_rows(skip=gone)
    flags = t.column("flags").to_numpy()
    marked = t.column("sequence").to_numpy()[(flags & F_MAYBE_BAD_BOOK) != 0]
    assert list(marked) == [missing[0] + lost] or list(marked) == [min(s for s in seqs if s > missing[0])]
