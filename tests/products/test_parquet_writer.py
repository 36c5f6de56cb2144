"""The C Parquet writer (products/parquet.h) against independent readers: pyarrow and
DuckDB read back every value, null, statistic and encoding it claims; bad input is
refused with a message, never a corrupt file."""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wirespeed import _native
from wirespeed.products import parquet as P

INT32, INT64, STRING = 1, 2, 6
PLAIN, DELTA, DICT = 0, 5, 8
PAGE_ROWS = 65536  # WS_PQ_PAGE_ROWS
DICT_MAX = 65536   # WS_PQ_DICT_MAX

_DTYPES = {8: (np.int8, INT32, 8), 16: (np.int16, INT32, 16), 32: (np.int32, INT32, 0), 64: (np.int64, INT64, 0)}


def _write(path: Path, cols: list[tuple], groups: list[list[tuple]], sorted_by: int = -1,
           meta: dict[str, str] | None = None) -> None:
    w = _native.ParquetWriter(str(path), cols, 1, "wirespeed version test")
    for arrays in groups:
        rows = len(arrays[0][0])
        w.write(arrays, rows, sorted_by)
    w.close(meta or {})


def _expected(values: np.ndarray, valid: np.ndarray | None, labels: list[bytes] | None) -> list:
    out = [labels[v].decode() if labels is not None else int(v) for v in values.tolist()]
    if valid is not None:
        out = [x if ok else None for x, ok in zip(out, valid.tolist())]
    return out


@st.composite
def _column(draw: st.DrawFn, rows: int, k: int) -> tuple[tuple, np.ndarray, np.ndarray | None, list[bytes] | None]:
    kind = draw(st.sampled_from(["int8", "int16", "int32", "int64", "string"]))
    nullable = draw(st.booleans())
    stats = draw(st.booleans())
    zstd = draw(st.booleans())
    valid = None
    if nullable and draw(st.booleans()):
        valid = np.array(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype=bool)
    if kind == "string":
        labels = draw(st.lists(st.text(max_size=6).map(str.encode), min_size=1, max_size=40))
        values = np.array(draw(st.lists(st.integers(0, len(labels) - 1), min_size=rows, max_size=rows)),
                          dtype=draw(st.sampled_from([np.int8, np.int16, np.int32])))
        return (f"c{k}", STRING, 0, DICT, zstd, nullable, stats), values, valid, labels
    dtype, typ, bits = _DTYPES[int(kind[3:])]
    info = np.iinfo(dtype)
    shape = draw(st.sampled_from(["any", "few", "runs", "growing"]))
    if shape == "any":
        vals = draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=rows, max_size=rows))
    elif shape == "few":
        pool = draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=5))
        vals = [pool[i] for i in draw(st.lists(st.integers(0, len(pool) - 1), min_size=rows, max_size=rows))]
    elif shape == "runs":
        vals = []
        while len(vals) < rows:
            vals += [draw(st.integers(int(info.min), int(info.max)))] * draw(st.integers(1, 40))
        vals = vals[:rows]
    else:
        start = draw(st.integers(int(info.min) // 2, 0))
        steps = draw(st.lists(st.integers(0, 1000), min_size=rows, max_size=rows))
        vals = np.clip(start + np.cumsum(steps, dtype=np.int64), info.min, info.max).tolist() if rows else []
    encs = [PLAIN, DICT] + ([DELTA] if typ == INT64 else [])
    enc = draw(st.sampled_from(encs))
    return (f"c{k}", typ, bits, enc, zstd, nullable, stats), np.array(vals, dtype=dtype), valid, None


@st.composite
def _table(draw: st.DrawFn) -> tuple[list[tuple], list[list[tuple]]]:
    ncols = draw(st.integers(1, 4))
    group_rows = draw(st.lists(st.integers(1, 400), min_size=1, max_size=3))
    specs: list[tuple] = []
    groups: list[list[tuple]] = [[] for _ in group_rows]
    for k in range(ncols):
        spec = None
        for g, rows in enumerate(group_rows):
            col, values, valid, labels = draw(_column(rows, k))
            if spec is None:
                spec = col
            elif (col[1], col[2]) != (spec[1], spec[2]):  # the later groups keep the first group's type
                col, values, valid, labels = draw(_column(rows, k).filter(lambda c: (c[0][1], c[0][2]) == (spec[1], spec[2])))
            if not spec[5]:
                valid = None
            groups[g].append((values, valid, labels))
        specs.append(spec)
    return specs, groups


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                                  HealthCheck.function_scoped_fixture])
@given(_table())
def test_pyarrow_and_duckdb_read_back_what_was_written(tmp_path: Path, table: tuple) -> None:
    specs, groups = table
    path = tmp_path / "t.parquet"
    _write(path, specs, groups, meta={"k": "v"})
    f = pq.ParquetFile(path)
    got = f.read()
    assert f.metadata.metadata[b"k"] == b"v"
    assert got.num_rows == sum(len(g[0][0]) for g in groups)
    for k, spec in enumerate(specs):
        want = [x for g in groups for x in _expected(*g[k])]
        assert got.column(k).to_pylist() == want, spec
        for gi, g in enumerate(groups):
            st_ = f.metadata.row_group(gi).column(k).statistics
            vals = [x for x in _expected(*g[k]) if x is not None]
            assert st_.null_count == len(g[k][0]) - len(vals)
            if spec[6] and vals:
                assert (st_.min, st_.max) == (min(vals), max(vals))
            else:
                assert not st_.has_min_max
    duck = duckdb.connect().execute(f"SELECT * FROM read_parquet('{path}')").fetchall()
    assert [list(r) for r in zip(*duck)] == [got.column(k).to_pylist() for k in range(len(specs))]


def test_many_pages_each_encoding_and_the_dictionary_overflow(tmp_path: Path) -> None:
    """Row groups of several pages; an int dictionary past its limit falls back to plain
    values (and stays plain for the file's later groups); deltas that wrap int64."""
    rng = np.random.default_rng(7)
    n = 3 * PAGE_ROWS + 123
    ts = np.cumsum(rng.integers(0, 5000, n)).astype(np.int64) + (1 << 60)
    wrap = np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min, 0, -1] * (n // 4) + [5] * (n % 4), dtype=np.int64)
    many = rng.permutation(n).astype(np.int64) * 1000  # > DICT_MAX distinct
    few = rng.choice([100, 200, 300, 500], n).astype(np.int64)
    runs = np.repeat(np.arange(n // 50 + 1, dtype=np.int16), 50)[:n]
    labels = [f"S{i:04d}".encode() for i in range(700)]
    sym = rng.integers(0, 700, n).astype(np.int32)
    valid = rng.random(n) > 0.3
    specs = [("ts", INT64, 0, DELTA, True, False, True), ("wrap", INT64, 0, DELTA, False, False, True),
             ("many", INT64, 0, DICT, True, False, True), ("few", INT64, 0, DICT, True, True, False),
             ("runs", INT32, 16, DICT, True, False, False), ("sym", STRING, 0, DICT, True, False, True)]
    group = [(ts, None, None), (wrap, None, None), (many, None, None), (few, valid, None), (runs, None, None),
             (sym, None, labels)]
    path = tmp_path / "p.parquet"
    _write(path, specs, [group, group], sorted_by=0)
    f = pq.ParquetFile(path)
    t = f.read()
    for k, (values, v, lab) in enumerate(group):
        assert t.column(k).to_pylist() == _expected(values, v, lab) * 2
    md = f.metadata
    assert md.num_row_groups == 2 and md.row_group(0).sorting_columns[0].column_index == 0
    enc = {md.row_group(0).column(k).path_in_schema: md.row_group(0).column(k).encodings for k in range(len(specs))}
    assert "DELTA_BINARY_PACKED" in enc["ts"] and "RLE_DICTIONARY" in enc["few"] and "RLE_DICTIONARY" in enc["sym"]
    for g in range(2):
        assert "RLE_DICTIONARY" not in md.row_group(g).column(2).encodings  # fell back, and stayed back
    sym_stats = md.row_group(0).column(5).statistics
    assert (sym_stats.min, sym_stats.max) == (labels[sym.min()].decode(), labels[sym.max()].decode())
    assert t.schema.field("runs").type == pa.int16()  # the INT(16) logical type
    # deltas of 13 bits: a quarter of plain values' 8 bytes
    assert md.row_group(0).column(0).total_compressed_size < n * 8 / 4


def test_pyarrow_reads_the_tables_own_types_back(tmp_path: Path) -> None:
    """ARROW:schema in the footer: dictionaries, int8/int16 and field metadata come back."""
    from wirespeed.products.tables import BBO_SCHEMA

    rows = 1000
    rng = np.random.default_rng(1)
    cols = {}
    for f in BBO_SCHEMA:
        if pa.types.is_dictionary(f.type):
            cols[f.name] = pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 3, rows), f.type.index_type),
                                                          pa.array(["a", "b", "c"]))
        else:
            mask = rng.random(rows) < 0.2 if f.nullable else None
            cols[f.name] = pa.array(np.sort(rng.integers(0, 1 << 30, rows)), f.type, mask=mask)
    t = pa.table(cols, schema=BBO_SCHEMA)
    part = P._Partition(tmp_path / "bbo.parquet", BBO_SCHEMA)
    part.add(t)
    part.close({"x": 1})
    back = pq.read_table(tmp_path / "bbo.parquet")
    assert back.schema.equals(BBO_SCHEMA, check_metadata=True)
    assert back.equals(t)


@pytest.mark.parametrize("case, error", [
    ("code out of range", ValueError), ("nulls not allowed", ValueError), ("short values", ValueError),
    ("floats", TypeError), ("arrays count", ValueError), ("8 bytes for int32", ValueError),
    ("labels not bytes", TypeError)])
def test_bad_input_is_refused_with_a_message(tmp_path: Path, case: str, error: type) -> None:
    specs = [("a", INT32, 0, PLAIN, True, True, True), ("s", STRING, 0, DICT, True, False, False)]
    a = np.arange(10, dtype=np.int32)
    codes = np.zeros(10, dtype=np.int8)
    arrays: list = [(a, None, None), (codes, None, [b"x"])]
    rows = 10
    if case == "code out of range":
        arrays[1] = (np.full(10, 3, dtype=np.int8), None, [b"x"])
    elif case == "nulls not allowed":
        arrays[1] = (codes, np.ones(10, dtype=bool), [b"x"])
    elif case == "short values":
        rows = 11
    elif case == "floats":
        arrays[0] = (a.astype(np.float64), None, None)
    elif case == "arrays count":
        arrays = arrays[:1]
    elif case == "8 bytes for int32":
        arrays[0] = (a.astype(np.int64), None, None)
    elif case == "labels not bytes":
        arrays[1] = (codes, None, ["x"])
    w = _native.ParquetWriter(str(tmp_path / "bad.parquet"), specs)
    with pytest.raises(error) as exc:
        w.write(arrays, rows)
    assert str(exc.value)
    w.abort()


def test_a_writer_refuses_unknown_columns_closed_use_and_unwritable_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a column this writer makes"):
        _native.ParquetWriter(str(tmp_path / "x.parquet"), [("a", INT32, 0, DELTA, True, False, False)])
    with pytest.raises(ValueError, match="not a column this writer makes"):
        _native.ParquetWriter(str(tmp_path / "x.parquet"), [("a", STRING, 0, PLAIN, True, False, False)])
    with pytest.raises(OSError):
        _native.ParquetWriter(str(tmp_path / "no" / "such" / "x.parquet"), [("a", INT32, 0, PLAIN, True, False, False)])
    w = _native.ParquetWriter(str(tmp_path / "x.parquet"), [("a", INT64, 0, PLAIN, True, False, False)])
    w.write([(np.arange(3, dtype=np.int64), None, None)], 3)
    w.close({})
    assert pq.read_table(tmp_path / "x.parquet").column("a").to_pylist() == [0, 1, 2]
    with pytest.raises(ValueError, match="closed"):
        w.write([(np.arange(3, dtype=np.int64), None, None)], 3)


def test_the_export_schema_maps_to_writer_columns() -> None:
    """Every table the export writes is one the writer makes; anything else is refused."""
    from wirespeed.errors import WirespeedError
    from wirespeed.products.tables import TABLES, schema

    for name in TABLES:
        assert P._columns(schema(name, 3))
    with pytest.raises(WirespeedError, match="not a type"):
        P._columns(pa.schema([pa.field("f", pa.float64())]))


def _mbo_rows(ts: np.ndarray) -> pa.Table:
    from wirespeed.products.mbo import MBO_SCHEMA

    n = len(ts)
    cols = []
    for f in MBO_SCHEMA:
        if pa.types.is_dictionary(f.type):
            cols.append(pa.DictionaryArray.from_arrays(pa.array(np.arange(n) % 2, f.type.index_type),
                                                       pa.array(["x", "y"])))
        elif f.name == "ts_recv":
            cols.append(pa.array(ts, f.type))
        else:
            cols.append(pa.array(np.arange(n) % 100, f.type))
    return pa.Table.from_arrays(cols, schema=MBO_SCHEMA)


def test_rows_of_a_session_that_come_late_are_sorted_at_close(tmp_path: Path) -> None:
    """A second batch stamped before the first one's end: the file is rewritten sorted."""
    from wirespeed.products.mbo import MBO_SCHEMA

    a, b = _mbo_rows(np.arange(100, 200, dtype=np.int64)), _mbo_rows(np.arange(50, 250, 2, dtype=np.int64))
    part = P._Partition(tmp_path / "p.parquet", MBO_SCHEMA)
    part.add(a)
    part.add(b)
    assert not part.sorted
    part.close({"rows": 200})
    back = pq.read_table(tmp_path / "p.parquet")
    ts = back.column("ts_recv").to_pylist()
    assert ts == sorted(ts) and back.num_rows == 200
    assert sorted(ts) == sorted(a.column("ts_recv").to_pylist() + b.column("ts_recv").to_pylist())
    assert b'"rows": 200' in pq.ParquetFile(tmp_path / "p.parquet").metadata.metadata[b"wirespeed"]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_failed_export_leaves_no_unfinished_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills while a file is written: the export raises, and the half-written
    file is gone rather than left for DuckDB to fail on."""
    import errno

    from wirespeed.exchange import sim as S
    from wirespeed.products.export import ExportConfig, export

    day = tmp_path / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001)], count=20_000, symbols=8, seed=5, rate=0, duration_s=0),
                day)
    calls = {"n": 0}
    real = P._Partition._write

    def full_disk(self: P._Partition, writer: object, t: pa.Table) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            assert self.path.exists()  # a file begun
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, writer, t)

    monkeypatch.setattr(P._Partition, "_write", full_disk)
    with pytest.raises(OSError, match="No space"):
        export(ExportConfig(source=day, out=tmp_path / "out"))
    assert calls["n"] == 1
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_a_batch_across_midnight_goes_to_a_partition_and_a_dbn_file_per_day(tmp_path: Path) -> None:
    from wirespeed.products.dbn import DbnFiles
    from wirespeed.products.mbo import ExportStats, by_date
    from wirespeed.products.parquet import ParquetDataset

    t = _mbo_rows(np.arange(1000, 1010, dtype=np.int64))
    dates = np.array(["2026-11-30"] * 4 + ["2026-12-01"] * 6, dtype="datetime64[D]")
    split = dict(by_date(t, dates))
    assert {k: v.num_rows for k, v in split.items()} == {"2026-11-30": 4, "2026-12-01": 6}
    assert split["2026-12-01"].column("ts_recv").to_pylist() == list(range(1004, 1010))
    assert [k for k, _ in by_date(t, np.datetime64("2026-12-01", "D"))] == ["2026-12-01"]
    assert not list(by_date(t.slice(0, 0), dates[:0]))

    ds = ParquetDataset(tmp_path / "mbo", "itch", "UTC")
    ds.write(t, dates)
    assert ds.close(ExportStats())["rows"] == {"2026-11-30": 4, "2026-12-01": 6}
    assert pq.read_table(tmp_path / "mbo" / "date=2026-12-01" / "feed=itch" / "part-0.parquet").num_rows == 6
    dbn = DbnFiles(tmp_path / "dbn", "itch", False)
    dbn.write(t, dates)
    dbn.close()
    assert sorted(p.name for p in (tmp_path / "dbn").iterdir()) == ["itch.2026-11-30.mbo.dbn.zst",
                                                                   "itch.2026-12-01.mbo.dbn.zst"]
