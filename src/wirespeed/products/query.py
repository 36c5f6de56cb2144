"""SQL over an export, in DuckDB (embedded: no server, nothing to set up).

    rows, columns = query("data", "SELECT symbol, count(*) FROM mbo GROUP BY symbol")

The dataset is the view `mbo`: every Parquet file under the export's directory,
with the Hive partitions (date, feed) as columns. DuckDB runs the query on all
cores and reads only the columns and row groups it needs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from wirespeed.errors import UsageError, WirespeedError


def connect(data: str | Path) -> Any:
    """A DuckDB connection with the view `mbo` over the export in `data`."""
    import duckdb

    root = Path(data)
    if not any(root.glob("**/*.parquet")):
        raise WirespeedError(f"no Parquet files under {root}", "export a recording first: wirespeed export REC -o DIR")
    con = duckdb.connect()
    glob = str(root / "**" / "*.parquet").replace("'", "''")
    con.execute(f"CREATE VIEW mbo AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
    return con


def query(data: str | Path, sql: str) -> tuple[list[tuple], list[str]]:
    """Rows and column names of sql run against the export."""
    import duckdb

    con = connect(data)
    try:
        cur = con.execute(sql)
        return cur.fetchall(), [d[0] for d in cur.description]
    except duckdb.Error as exc:
        raise UsageError(f"the query failed: {str(exc).splitlines()[0]}",
                         "the table is mbo; see its columns with: SELECT * FROM mbo LIMIT 5") from None
    finally:
        con.close()
