"""`wirespeed demo`: the whole path in one command."""
from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from wirespeed.cli.book import bbo_table, feed_table
from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import WirespeedError


def demo(
    duration: Annotated[float, typer.Option("--duration", "-d", help="Seconds of feed.")] = 20.0,
    rate: Annotated[float, typer.Option("--rate", "-r", help="ITCH messages per second.")] = 20_000,
    directory: Annotated[Optional[str], typer.Option("--dir", help="Where the pcapng files go (default: a new /tmp folder).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The whole path in one command: an exchange in a test host sends ITCH 5.0 over MoldUDP64,
    wirespeed captures it into the ring and records pcapng, then reports packets, drops and
    one-way latency (from the ITCH timestamps) and removes what it made.

    As root it makes the test host and captures with af_xdp (else the kernel transport, saying
    why); without root it falls back to loopback and the kernel transport, and says so.
    """
    from pathlib import Path

    from wirespeed import demo as dm

    opts = dm.DemoOptions(duration_s=duration, rate=rate, directory=Path(directory) if directory else None)
    try:
        if as_json:
            res = dm.run(opts)
        else:
            with err.status("demo") as status:
                res = dm.run(opts, lambda m: status.update(f"demo: {m}"))
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(res)
        return
    for n in res["notes"]:
        err.print(f"[yellow]note:[/] {n}", highlight=False)
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
