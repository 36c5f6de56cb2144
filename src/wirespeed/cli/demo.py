"""`wirespeed demo`: the whole path in one command."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.book import bbo_table, feed_table
from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import WirespeedError


def demo(
    duration: Annotated[float, typer.Option("--duration", "-d", help="Seconds of feed.")] = 20.0,
    rate: Annotated[float, typer.Option("--rate", "-r", help="ITCH messages per second.")] = 20_000,
    directory: Annotated[Optional[str], typer.Option("--dir", help="Where the pcapng files go (default: a new /tmp folder).")] = None,
    trade: Annotated[bool, typer.Option("--trade", help="The loop the other way too: the exchange takes orders, a C strategy trades on the captured books through the risk checks and an OUCH session, and the fills are found in the captured feed.")] = False,
    transport: Annotated[str, typer.Option("--transport", "-t", help="auto (af_xdp, else dpdk where built with it, else kernel; the demo says why), af_xdp, dpdk or kernel.")] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """The whole path in one command: an exchange in a test host sends ITCH 5.0 over MoldUDP64,
    wirespeed captures it into the ring and records pcapng, then reports packets, drops and
    one-way latency (from the ITCH timestamps) and removes what it made.

    As root it makes the test host and captures with af_xdp (else dpdk where wirespeed was built
    with DPDK, else the kernel transport, saying why; --transport dpdk shows the dpdk transport,
    over DPDK's net_af_xdp on the test host's veth); without root it falls back to loopback and
    the kernel transport, and says so.

    With --trade: the simulator also takes OUCH orders; wirespeed trades S0001 on the captured
    books with the take_ask strategy (in C) through the pre-trade checks and its order session,
    and shows the fills the session got, what the exchange's port counted, and the same fills
    as executions in the captured ITCH feed.
    """
    from pathlib import Path

    from wirespeed import demo as dm

    opts = dm.DemoOptions(duration_s=duration, rate=rate, directory=Path(directory) if directory else None,
                          transport=transport)
    res = _run(dm.run_trade if trade else dm.run, opts, as_json, "demo --trade" if trade else "demo")
    if res is None:
        return
    if trade:
        _trade_table(res)
        return
    t = Table(title="wirespeed demo", show_header=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    t.add_row("path", res["where"])
    setup = ", ".join(f"{k} {v}" for k, v in res.get("setup", {}).items() if k != "transport")
    t.add_row("transport", f"{res['transport']}" + (f" ({setup})" if setup else ""))
    t.add_row("sent", f"{res['sent']['messages']:,} messages in {res['sent']['packets']:,} packets "
              f"({res['rate']:,.0f} msg/s for {res['duration_s']:g} s)")
    drops = ", ".join(f"{k} {v}" for k, v in res["captured"]["drops"].items() if v) or "none"
    t.add_row("captured", f"{res['captured']['packets']:,} packets; drops: {drops}")
    for name, lat in res["transports"].items():
        if lat.get("samples"):
            t.add_row(f"one-way latency, {name}",
                      f"p50 {lat['lat_us_p50']:.1f} µs, p90 {lat['lat_us_p90']:.1f}, p99 {lat['lat_us_p99']:.1f}, "
                      f"p99.9 {lat['lat_us_p999']:.1f}, max {lat['lat_us_max']:.0f} ({lat['samples']:,} messages)")
            t.add_row("  sequence gaps seen", str(lat["seq_gaps"]))
            if lat.get("impossible"):
                t.add_row("  [yellow]impossible samples left out[/]", f"{lat['impossible']:,} (below 0 or above "
                          "100 s: the clock stepped)")
    recd = res["recorded"]
    if "files" in recd:
        t.add_row("recorded", f"{recd['written']:,} packets, lost {recd['lost']}, in {res['pcapng_dir']}")
        for f in recd["files"]:
            t.add_row("", f)
    else:
        t.add_row("[red]recorder[/]", str(recd.get("error")))
    out.print(t)
    bk = res.get("books")
    if bk:
        out.print(bbo_table(bk["bbo"], None))
        out.print(feed_table(bk["sessions"]))
        out.print("book errors: " + (", ".join(f"{k} {v:,}" for k, v in bk["errors"].items()) or "none"))


def _run(job: Callable[..., dict[str, Any]], opts: Any, as_json: bool, label: str) -> dict[str, Any] | None:
    """The demo job: quietly with --json (printed here, None returned), else with its
    steps on a status line and its notes printed; errors become exit codes."""
    try:
        if as_json:
            print_json(job(opts))
            return None
        with err.status(label) as status:
            res = job(opts, lambda m: status.update(f"demo: {m}"))
    except WirespeedError as exc:
        raise fail(exc) from None
    for n in res["notes"]:
        err.print(f"[yellow]note:[/] {n}", highlight=False)
    return res


def _trade_table(res: dict[str, Any]) -> None:
    tr = res["trade"]
    t = Table(title="wirespeed demo --trade", show_header=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    t.add_row("path", res["where"])
    t.add_row("market data", f"{res['transport']} capture -> ring -> books")
    t.add_row("strategy", f"take_ask S0001 at or below ${res['limit']:.2f} (mid ${res['mid']:.2f}), 100 shares, "
                          f"IOC; {tr['strategy'].get('ticks', 0):,} BBO changes, {tr['strategy'].get('intents', 0):,} "
                          "intents")
    t.add_row("orders", f"{tr['orders']:,} sent ("
              + ", ".join(f"{k} {v:,}" for k, v in sorted(tr["by_state"].items())) + ")")
    t.add_row("refused by risk", ", ".join(f"{k} {v:,}" for k, v in tr["refused"].items()) or "none")
    pos = tr["positions"].get("S0001", {})
    t.add_row("fills (session)", f"{tr['fills']:,}, position {pos.get('position', 0):+,} S0001 for "
                                 f"${pos.get('bought_notional', 0):,.2f}")
    port = res["port"]
    t.add_row("fills (exchange's port)", f"{port.get('fills', 0):,} ({port.get('filled_shares', 0):,} shares)")
    ok = res["fills_in_feed"] == res["fills"]
    t.add_row("fills in the captured feed", ("[green]" if ok else "[red]") + f"{res['fills_in_feed']:,} of "
              f"{res['fills']:,}[/] (ITCH executions with the same match numbers)")
    t.add_row("link", f"{tr['link']}; exchange messages lost: {tr['seq_lost']}")
    out.print(t)
