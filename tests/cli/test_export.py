"""`wirespeed export`: exit codes, --json, the table, refusing to overwrite."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from wirespeed.exchange import sim as S


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001, faults=S.Faults(drop=0.1)),
                                   S.Line("239.1.2.1", 30001)], count=20_000, symbols=4, rate=0, duration_s=0), path)
    return path


def test_export_both_formats_json(day: Path, tmp_path: Path) -> None:
    doc = json.loads(run_cli("export", str(day), "-o", str(tmp_path / "o"), "-f", "parquet,dbn", "--feed", "sim",
                             "--json", check_rc=0).stdout)
    assert set(doc["written"]) == {"parquet/mbo", "dbn"} and doc["rows"] > doc["messages"] > 20_000
    (p,) = doc["written"]["parquet/mbo"]["files"].values()
    assert "/o/mbo/date=" in p and p.endswith("/feed=sim/part-0.parquet")
    (d,) = doc["written"]["dbn"]["files"].values()
    assert "/o/dbn/" in d and d.endswith(".mbo.dbn.zst") and Path(d).stat().st_size > 0
    assert doc["skipped"] == {} and doc["errors"] == [] and doc["sessions"]["WIRESPEED"]["lost"] == 0
    # a second export into the same place is refused, with the way out
    r = run_cli("export", str(day), "-o", str(tmp_path / "o"), "-f", "parquet,dbn", "--feed", "sim", check_rc=1)
    assert "exists" in r.stderr and "--overwrite" in r.stderr
    run_cli("export", str(day), "-o", str(tmp_path / "o"), "-f", "parquet,dbn", "--feed", "sim", "--overwrite",
            "--json", check_rc=0)


def test_export_table_and_exit_codes(day: Path, tmp_path: Path) -> None:
    r = run_cli("export", str(day), "-o", str(tmp_path / "o"), check_rc=0)
    assert "rows" in r.stdout and "M msg/s" in r.stdout
    assert "format" in run_cli("export", str(day), "-f", "csv", check_rc=2).stderr
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(day.read_bytes()[:100_003])
    r = run_cli("export", str(cut), "-o", str(tmp_path / "c"), "--json", check_rc=1)
    assert "truncated" in json.loads(r.stdout)["errors"][0]


def test_query_over_an_export(day: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    run_cli("export", str(day), "-o", str(tmp_path / "d"), check_rc=0)
    rows = json.loads(run_cli("query", "SELECT symbol, count(*) AS n FROM mbo GROUP BY symbol ORDER BY symbol",
                              "--data", str(tmp_path / "d"), "--json", check_rc=0).stdout)
    (f,) = (tmp_path / "d").glob("**/*.parquet")
    t = pq.read_table(f)
    assert [r["symbol"] for r in rows] == ["S0001", "S0002", "S0003", "S0004"]
    assert sum(r["n"] for r in rows) == t.num_rows
    r = run_cli("query", "SELECT date, feed FROM mbo LIMIT 1", "--data", str(tmp_path / "d"), check_rc=0)
    assert "itch" in r.stdout
    assert "the tables are mbo" in run_cli("query", "SELEC 1", "--data", str(tmp_path / "d"), check_rc=2).stderr
    assert "no exported tables" in run_cli("query", "SELECT 1", "--data", str(tmp_path / "none"), check_rc=1).stderr
