"""`wirespeed sim`: the exchange simulator (ITCH 5.0 over MoldUDP64)."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import WirespeedError


def sim(
    feed: Annotated[list[str], typer.Option("--feed", help="A feed's A line, GROUP:PORT; repeat for more feeds (each its own session, symbols and share of --rate). Default 239.1.1.1:30001.")] = [],  # noqa: B006
    feed_b: Annotated[list[str], typer.Option("--feed-b", help="B line of the feed at the same position (identical packets): GROUP:PORT.")] = [],  # noqa: B006
    rate: Annotated[float, typer.Option("--rate", "-r", help="Messages per second; 0 = as fast as possible.")] = 10_000,
    burst: Annotated[int, typer.Option("--burst", help="Send in bursts of N messages at the average --rate (0: evenly).")] = 0,
    duration: Annotated[float, typer.Option("--duration", "-d", help="Seconds of trading before the end of session (0: use --count).")] = 10.0,
    count: Annotated[int, typer.Option("--count", "-n", help="Order-flow messages before the end of session.")] = 0,
    symbols: Annotated[int, typer.Option("--symbols", help="Number of stocks (one R message and one book each).")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same stream.")] = 1,
    session: Annotated[str, typer.Option("--session", help="MoldUDP64 session name (10 characters at most).")] = "WIRESPEED",
    max_payload: Annotated[int, typer.Option("--max-payload", help="UDP payload cap per packet, bytes.")] = 1400,
    netns_name: Annotated[Optional[str], typer.Option("--netns", help="Send from inside this namespace (the test host: ws-exchange).")] = None,
    iface: Annotated[Optional[str], typer.Option("--iface", help="Outgoing interface for multicast.")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="Source address to send from.")] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="Multicast TTL.")] = 1,
    rtx_port: Annotated[int, typer.Option("--rtx-port", help="Answer MoldUDP64 re-requests on this UDP port (0: off).")] = 0,
    rtx_allow: Annotated[Optional[str], typer.Option("--rtx-allow", help="Network allowed to re-request (default: the source's /24).")] = None,
    fault: Annotated[list[str], typer.Option("--fault", metavar="LINE:KIND:VALUE",
                                             help="Probabilities: a:drop:0.01, b:dup:0.001, a:reorder:0.01, a:delay:0.01:500 (µs). At sequence numbers: a:drop-seq:100-120, a:dup-seq:7, a:reorder-seq:50, a:delay-seq:80-90:2000. a2:... is feed 2 only; repeatable.")] = [],  # noqa: B006
    send: Annotated[str, typer.Option("--send", help="udp: kernel UDP sockets (any destination); raw: whole frames through AF_PACKET, faster, multicast only, needs --iface and --source.")] = "udp",
    to_pcapng: Annotated[Optional[str], typer.Option("--to-pcapng", help="Write the frames to this pcapng file instead of sending (no network).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Be the exchange: NASDAQ TotalView-ITCH 5.0 over MoldUDP64 to one or two multicast lines.

    A session start (S, then R per symbol), order flow with a real venue's mix (adds ~44 %,
    deletes ~43 %, replaces ~8 %, executions and cancels ~3 %) that always makes a valid,
    uncrossed book, then the end of session. Each ITCH timestamp is the send time, so a
    receiver measures one-way latency from the message itself.

    Where it sends from: --netns/--iface if given; otherwise the test host (wirespeed testbed up),
    and if there is none it refuses rather than send out of this machine's own interface.

    Example:  wirespeed testbed up && wirespeed sim --rate 100000 --duration 10
    """
    from pathlib import Path

    from wirespeed.exchange import sim as simjob

    try:
        faults: dict[Any, dict[str, Any]] = {}
        for f in fault:
            simjob.parse_fault(f, faults)
        lines = simjob.build_lines(feed or ["239.1.1.1:30001"], feed_b, faults)
        cfg = simjob.SimConfig(lines=lines, rate=rate, burst=burst, duration_s=duration, count=count,
                               symbols=symbols, seed=seed, session=session, max_payload=max_payload, ttl=ttl,
                               netns=netns_name, iface=iface, source=source, rtx_port=rtx_port, rtx_allow=rtx_allow,
                               send=send)
        if to_pcapng:
            res = simjob.to_pcapng(cfg, Path(to_pcapng))
        elif as_json:
            res = simjob.run(cfg)
        else:
            with err.status("sending") as status:
                res = simjob.run(cfg, lambda s: status.update(
                    f"sim: {s['msgs']:,} messages, {s['packets']:,} packets, {s['msgs_per_s']:,.0f} msg/s"))
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(res)
        return
    if to_pcapng:
        out.print(f"wrote {res['packets']:,} packets ({res['msgs']:,} messages) on {res['lines']} line(s) to {res['path']}")
        return
    t = Table(title="wirespeed sim", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("messages", f"{res['msgs']:,} in {res['packets']:,} packets ({res['msgs_per_packet']:.1f} per packet)")
    t.add_row("rate", f"{res['msgs_per_s']:,.0f} msg/s, {res['pkts_per_s']:,.0f} packets/s (asked {rate:,.0f} msg/s)")
    for i, ln in enumerate(lines):
        name = f"feed {ln.feed + 1} line {'abcd'[simjob.lines_index(lines, ln)]}"
        t.add_row(name, f"{ln.group}:{ln.port}: {res['sent_pkts'][i]:,} datagrams; dropped {res['dropped'][i]}, "
                  f"duplicated {res['duplicated'][i]}, reordered {res['reordered'][i]}, delayed {res['delayed'][i]}")
    if len(res["feeds"]) > 1:
        t.add_row("feeds", ", ".join(f"{f['session'].strip()} {f['msgs']:,} msgs" for f in res["feeds"]))
    t.add_row("mix", ", ".join(f"{k} {v / max(res['msgs'], 1) * 100:.1f} %" for k, v in sorted(res["by_type"].items())))
    if rtx_port:
        t.add_row("re-requests", f"{res['rtx_requests']} received, {res['rtx_answered']} answered, "
                  f"{res['rtx_refused_addr']} refused (address), {res['rtx_rate_limited']} rate-limited, {res['rtx_bad']} invalid")
    if res["send_errors"]:
        t.add_row("[red]send errors[/]", str(res["send_errors"]))
    t.add_row("next sequence", str(res["next_seq"]))
    out.print(t)
