"""What every command module of the CLI shares: the consoles, errors turned
into exit codes, JSON output, the options that repeat, and number formats.

Exit codes (wirespeed.errors): 0 ok; 1 failure or findings; 2 usage; 130
interrupted. An error is one line `error: ...` and a `hint: ...`, never a
traceback.
"""
from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from wirespeed.errors import WirespeedError

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document for machines instead of a table.")]
RingArg = Annotated[str, typer.Argument(metavar="RING", help="Ring file path, or a NAME in /dev/shm.")]


def fail(exc: WirespeedError) -> typer.Exit:
    """Print the error and its hint; the Exit to raise carries its code."""
    err.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[yellow]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def print_json(doc: object) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def print_json_line(doc: object) -> None:
    """One JSON object per line, flushed (a stream for machines)."""
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:g} {unit}" if unit == "B" else f"{n:.4g} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def fmt_rate(v: Any) -> str:
    return "missing" if v is None else f"{v / 1e6:,.2f} M/s"


def goals_table(r: dict[str, Any], title: str) -> None:
    """A benchmark's goals: target, value, met."""
    g = Table(title=title)
    for col in ("goal", "target", "value", "met"):
        g.add_column(col)
    for row in r["goals"]:
        v = row["value"]
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "[dim]n/a[/]"}[row["met"]]
        g.add_row(row["goal"], row["target"], "n/a" if v is None else f"{v:,.3g}", met)
    out.print(g)
