"""Spark (local mode, as a cluster job would read it), Polars and DuckDB read an export
the same: row counts by partition and the VWAP of every symbol."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.products.test_mbo import _recording
from wirespeed.exchange import sim as S
from wirespeed.products.export import ExportConfig, export
from wirespeed.products.mbo import MboOptions


TABLES = ("mbo", "bbo", "depth")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("spark")
    rec = _recording(d / "day.pcapng", S.Faults(drop_seqs=((100, 300),)), S.Faults(dup=0.05))
    export(ExportConfig(source=rec, out=d / "out", tables=TABLES, grid_ns=1_000_000, grid_levels=3,
                        mbo=MboOptions(feed="test")))
    return d / "out" / "mbo"


def _every_column_sql(columns: list[str]) -> str:
    """count, distinct count, min and max of every column: what a reader decoding any
    value, null or page wrong would disagree on."""
    aggs = ", ".join(f"count({c}), count(DISTINCT {c}), min({c}), max({c})" for c in columns)
    return f"SELECT count(*), {aggs} FROM t"


def test_spark_and_duckdb_agree(dataset: Path) -> None:
    import duckdb

    assert shutil.which("java") or os.environ.get("JAVA_HOME"), "no Java: ./setup.sh installs default-jre-headless"
    from pyspark.sql import SparkSession

    vwap_sql = ("SELECT symbol, count(*) AS n, sum(CAST(price AS DOUBLE) * size) / sum(size) / 1e9 AS vwap "
                "FROM t WHERE action = 'T' GROUP BY symbol ORDER BY symbol")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{dataset}/**/*.parquet', hive_partitioning=true)")
    duck_parts = con.execute("SELECT CAST(date AS VARCHAR), feed, count(*) FROM t GROUP BY ALL ORDER BY ALL").fetchall()
    duck_vwap = con.execute(vwap_sql).fetchall()

    spark = (SparkSession.builder.master("local[2]").appName("wirespeed-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    try:
        df = spark.read.parquet(str(dataset))  # date= and feed= become columns, as in any Hive layout
        df.createOrReplaceTempView("t")
        spark_parts = [(str(r[0]), r[1], r[2]) for r in
                       spark.sql("SELECT date, feed, count(*) FROM t GROUP BY date, feed ORDER BY date, feed").collect()]
        spark_vwap = [tuple(r) for r in spark.sql(vwap_sql).collect()]
        schema = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    finally:
        spark.stop()
    assert spark_parts == duck_parts and duck_parts[0][1] == "test"
    assert len(spark_vwap) == len(duck_vwap) == 8
    for (s1, n1, v1), (s2, n2, v2) in zip(spark_vwap, duck_vwap):
        assert (s1, n1) == (s2, n2) and v1 == pytest.approx(v2, rel=1e-12)
    assert schema["ts_recv"] == "bigint" and schema["price"] == "bigint" and schema["symbol"] == "string"


def test_spark_reads_every_value_of_every_table(dataset: Path) -> None:
    """Each table's every column (deltas, dictionaries, int8/int16, nulls) as Spark's
    vectorised reader decodes it equals what DuckDB decodes."""
    import duckdb
    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("wirespeed-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    try:
        for table in TABLES:
            files = sorted((dataset.parent / table).rglob("*.parquet"))
            assert files, table
            columns = pq.read_schema(files[0]).names
            sql = _every_column_sql(columns)
            con = duckdb.connect()
            con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{dataset.parent / table}/**/*.parquet')")
            duck = con.execute(sql).fetchall()[0]
            spark.read.parquet(str(dataset.parent / table)).createOrReplaceTempView("t")
            got = tuple(spark.sql(sql).collect()[0])
            assert duck[0] > 0, table
            assert got == duck, table
    finally:
        spark.stop()


def test_polars_and_duckdb_agree(dataset: Path) -> None:
    import duckdb
    import polars as pl

    duck = duckdb.sql(f"SELECT symbol, count(*), sum(CAST(price AS DOUBLE) * size) / sum(size) / 1e9 FROM "
                      f"read_parquet('{dataset}/**/*.parquet', hive_partitioning=true) WHERE action = 'T' "
                      "GROUP BY symbol ORDER BY symbol").fetchall()
    df = (pl.scan_parquet(f"{dataset}/**/*.parquet", hive_partitioning=True).filter(pl.col("action") == "T")
          .group_by("symbol").agg(pl.len(), (pl.col("price").cast(pl.Float64) * pl.col("size")).sum()
                                  / pl.col("size").sum() / 1e9).sort("symbol").collect())
    got = [(str(s), n, v) for s, n, v in df.iter_rows()]
    assert [(s, n) for s, n, _ in got] == [(s, n) for s, n, _ in duck] and len(got) == 8
    for (_, _, v1), (_, _, v2) in zip(got, duck):
        assert v1 == pytest.approx(v2, rel=1e-12)
