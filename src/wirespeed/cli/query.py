"""`wirespeed query`: SQL over an export, in DuckDB."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, fail, out, print_json
from wirespeed.errors import EXIT_OK, WirespeedError


def query(
    sql: Annotated[str, typer.Argument(metavar="SQL", help="The query; the export's tables are mbo (and trades, bbo, depth if exported).")],
    data: Annotated[str, typer.Option("--data", "-d", help="The export's directory (wirespeed export -o).")] = "export",
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows in the table (--json gives all).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Run SQL over an export with DuckDB. Each exported table (mbo; trades, bbo and depth
    with wirespeed export --tables) is a view over its Parquet files under --data, with the
    partitions date and feed as columns.

    Example, the VWAP of each symbol:

      wirespeed query "SELECT symbol, sum(price * size) / sum(size) / 1e9 AS vwap FROM mbo
      WHERE action = 'T' GROUP BY symbol ORDER BY symbol" --data data
    """
    from wirespeed.products.query import query as run

    try:
        rows, cols = run(data, sql)
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json([dict(zip(cols, r)) for r in rows])
        raise typer.Exit(EXIT_OK)
    t = Table()
    for c in cols:
        t.add_column(c)
    for r in rows[:limit]:
        t.add_row(*("" if v is None else f"{v:,.4f}" if isinstance(v, float) else str(v) for v in r))
    out.print(t)
    if len(rows) > limit:
        out.print(f"({len(rows) - limit:,} more rows: --limit or --json)")
    raise typer.Exit(EXIT_OK)
