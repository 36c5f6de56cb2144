"""`wirespeed book`: order books from a recording or live from a ring; the
top-of-book and feed tables the demo shows too."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import EXIT_OK, UsageError, WirespeedError


def book(
    pcapng: Annotated[Optional[str], typer.Option("--pcapng", help="Build the books from this recording (pcapng or pcap) and show them at its end.")] = None,
    ring: Annotated[Optional[str], typer.Option("--ring", help="Build the books live from this ring (a capture writes it); a table until Ctrl-C or --duration.")] = None,
    symbols: Annotated[Optional[str], typer.Option("--symbols", help="Comma-separated symbols to show (default: all, up to --limit).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many symbols in the table.")] = 20,
    duration: Annotated[float, typer.Option("--duration", min=0.0, help="With --ring: stop after this many seconds (0: Ctrl-C).")] = 0.0,
    rtx: Annotated[Optional[str], typer.Option("--rtx", metavar="HOST:PORT", help="With --ring: re-request gaps from this MoldUDP64 retransmission server (the test host's sim: --rtx-port).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Order books from ITCH 5.0 over MoldUDP64: top of book per symbol, with the feed's state
    (A/B arbitration, gaps filled or lost, stale while a gap is open).

    With --ring and --json it takes what the ring holds now and prints one snapshot.
    """
    import time

    from wirespeed.book.books import Books

    if (pcapng is None) == (ring is None):
        raise fail(UsageError("give one of --pcapng FILE or --ring PATH", "e.g. wirespeed book --pcapng day.pcapng"))
    want = [x.strip().upper() for x in symbols.split(",") if x.strip()] if symbols else None
    try:
        if pcapng is not None:
            books = Books.from_pcapng(pcapng)
            _book_out(books, want, limit, as_json, rate=None)
            raise typer.Exit(EXIT_OK)
        from wirespeed.ring import RingError, RingReader
        from wirespeed.status import StatusPublisher, reader_state

        server = None
        if rtx:
            from wirespeed.net.addr import parse_host_port

            server = parse_host_port(rtx, "--rtx")
        books = Books(rtx=server)
        try:
            reader = RingReader(ring, "oldest")
        except (RingError, OSError) as exc:
            raise WirespeedError(f"cannot open the ring {ring}: {exc}", "is a capture writing it? wirespeed ring info PATH") from None
        with reader:
            if as_json:
                while books.records(reader.poll(65536)):
                    books.service()
                deadline = time.monotonic() + 2.0  # re-requests in flight: give them their time
                while server and books.stale and time.monotonic() < deadline:
                    books.service()
                    time.sleep(0.001)
                _book_out(books, want, limit, True, rate=None)
                raise typer.Exit(EXIT_OK)
            from rich.live import Live

            t0 = last = time.monotonic()
            n = n_last = 0
            rate = 0.0
            ended = None
            status = StatusPublisher(reader.path, "book")
            with status, Live(_book_table(books, want, limit, 0.0), console=out, refresh_per_second=4) as live:
                while not duration or time.monotonic() - t0 < duration:
                    batch = reader.poll(65536)
                    if not len(batch):
                        try:
                            batch = reader.wait(timeout=0.25)
                        except RingError as exc:  # the writer closed and everything is read
                            ended = str(exc)
                            break
                    n += books.records(batch)
                    books.service()
                    if status.due():
                        status.publish({"reader": reader_state(reader), **books.status()})
                    now = time.monotonic()
                    if now - last >= 0.25:
                        rate, n_last, last = (n - n_last) / (now - last), n, now
                        live.update(_book_table(books, want, limit, rate))
                live.update(_book_table(books, want, limit, rate))
            if ended:
                err.print(f"ring ended: {ended}")
    except WirespeedError as exc:
        raise fail(exc) from None


def _book_out(books: Any, want: list[str] | None, limit: int, as_json: bool, rate: float | None) -> None:
    if as_json:
        print_json({"bbo": books.top(want, limit), "stale": books.stale, **books.stats()})
    else:
        out.print(_book_table(books, want, limit, rate))


def _book_table(books: Any, want: list[str] | None, limit: int, rate: float | None) -> Any:
    from rich.console import Group

    stats = books.stats()
    return Group(bbo_table(books.top(want, limit), rate), feed_table(stats["sessions"]),
                 "book errors: " + (", ".join(f"{k} {v:,}" for k, v in books.book_errors().items()) or "none"))


def bbo_table(rows: list[dict[str, Any]], rate: float | None) -> Table:
    t = Table(title="top of book" + (f"  ({rate:,.0f} packets/s)" if rate is not None else ""))
    for col in ("symbol", "bid size", "bid", "ask", "ask size", "orders b/a"):
        t.add_column(col, justify="left" if col == "symbol" else "right")
    for r in rows:
        bid = "-" if r["bid_px"] is None else f"{r['bid_px']:,.4f}"
        ask = "-" if r["ask_px"] is None else f"{r['ask_px']:,.4f}"
        t.add_row(r["symbol"], f"{r['bid_sz']:,}", bid, ask, f"{r['ask_sz']:,}", f"{r['bid_ct']}/{r['ask_ct']}")
    return t


def feed_table(sessions: dict[str, dict[str, Any]]) -> Table:
    f = Table(title="feed  (dups: copies dropped; rtx: recovered by re-request; held: waiting behind a gap)",
              show_header=True)
    for col in ("session", "state", "msgs", "dups", "gaps", "filled", "rtx", "lost", "held"):
        f.add_column(col, justify="left" if col in ("session", "state") else "right")
    for name, s in sessions.items():
        f.add_row(name, "[red]stale[/]" if s["stale"] else "[green]ok[/]", f"{s['messages']:,}",
                  f"{s['duplicates']:,}", str(s["gaps"]), str(s["gaps_filled"]), f"{s['recovered']:,}",
                  f"{s['lost']:,}", str(s["held_now"]))
    return f
