"""SQL over an export, in DuckDB (embedded: no server, nothing to set up).

    rows, columns = query("data", "SELECT symbol, count(*) FROM mbo GROUP BY symbol")

Each table of the export (mbo, and trades, bbo and depth where exported) is a
view of that name over its Parquet files, with the Hive partitions (date, feed)
as columns. DuckDB runs the query on all cores and reads only the columns and
row groups it needs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from wirespeed.errors import UsageError, WirespeedError


def connect(data: str | Path) -> Any:
    """A DuckDB connection with a view per table of the export in `data`."""
    import duckdb

    from wirespeed.products.tables import TABLES

    root = Path(data)
    found = [t for t in TABLES if any((root / t).glob("**/*.parquet"))]
    if not found:
        raise WirespeedError(f"no exported tables under {root} (looked for {', '.join(f'{t}/' for t in TABLES)})",
                             "export a recording first: wirespeed export REC -o DIR")
    con = duckdb.connect()
    for t in found:
        glob = str(root / t / "**" / "*.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
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
                         "the tables are mbo (and trades, bbo, depth if exported); see the columns with: "
                         "SELECT * FROM mbo LIMIT 5") from None
    finally:
        con.close()
