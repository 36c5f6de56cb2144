"""The `wirespeed` command: one module per command or command group, sharing
cli/common.py (consoles, errors to exit codes, JSON, formats).

Exit codes: 0 ok; 1 failure or findings (a failed doctor check, an incomplete
test host); 2 usage (bad arguments, unknown names); 130 interrupted.
Every reporting command takes --json for machines; people get Rich tables.
Each command imports what it runs when it runs, so `--help` stays fast.
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

from wirespeed import __version__
from wirespeed.cli import (bench, book, capture, demo, doctor, export, metrics, query, record, ring, sim, testbed, top,
                           trade, tune)
from wirespeed.cli.common import err, out
from wirespeed.errors import EXIT_USAGE

app = typer.Typer(
    name="wirespeed",
    help=(
        "Kernel-bypass market-data capture: receive exchange multicast through AF_XDP "
        "or the kernel, stamp every packet in ns, fan it out through a shared-memory ring; "
        "and trade on it: books, a strategy in C, pre-trade risk, OUCH orders over SoupBinTCP.\n\n"
        "Start with `wirespeed doctor` to see what this host can do, and "
        "`sudo wirespeed testbed up` to make a second host for the exchange side."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"wirespeed {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    pass


# The order here is the order of `wirespeed --help`: commands, then groups.
app.command()(doctor.doctor)
app.command()(sim.sim)
app.command()(capture.capture)
app.command()(record.record)
app.command()(demo.demo)
app.command()(book.book)
app.command()(export.export)
app.command()(query.query)
app.command()(trade.trade)
app.command()(top.top)
app.command()(metrics.metrics)
app.add_typer(testbed.app, name="testbed")
app.add_typer(ring.app, name="ring")
app.add_typer(bench.app, name="bench")
app.add_typer(tune.app, name="tune")


_MAIN_PID = 0


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM in the command's process: unwind like Ctrl-C, so each clean-up runs. A child
    forked from it (pyroute2 forks to make a namespace) inherits the handler but not the
    right to run those clean-ups: it dies as SIGTERM's default would have it."""
    if os.getpid() != _MAIN_PID:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """From here on, SIGTERM stops this process like Ctrl-C (and only this process)."""
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _terminate)


def main() -> None:
    """Entry point: turns Ctrl-C, and SIGTERM (how services are stopped), into exit 130 after
    each command's own clean-up; keeps usage errors at 2. Commands with a stop of their own
    (capture, trade) install their handlers over this one."""
    stop_on_sigterm()
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


__all__ = ["app", "main", "EXIT_USAGE"]
