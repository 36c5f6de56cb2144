"""`wirespeed bench export` on a tiny day: every key the issue names is there, the peers
ran on the same day, and the goals are judged from those figures."""
from __future__ import annotations

from pathlib import Path

from wirespeed.bench import export as eb


def test_export_bench_keys(tmp_path: Path) -> None:
    res = eb.run(eb.ExportBenchOptions(msgs=20_000, symbols=8, repeats=1, pandas_msgs=5_000, peer_rows=5_000,
                                       directory=tmp_path))
    for key in ("export_parquet_msgs_per_s", "export_dbn_msgs_per_s", "pandas_path_msgs_per_s", "duckdb_rows_per_s",
                "dbn_encoder_rows_per_s", "export_over_pandas", "export_parquet_first_msgs_per_s"):
        assert res[key] > 0, key
    assert res["messages"] >= 20_000 and res["pandas_path_msgs"] >= 5_000
    assert res["duckdb_rows"] == res["export_parquet_rows"] > res["messages"]
    assert [g["key"] for g in res["goals"]] == [g.key for g in eb.GOALS]
    assert all(g["met"] is not None for g in res["goals"])
    assert not list(tmp_path.iterdir())  # the day and the exports are gone
