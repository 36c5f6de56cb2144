"""`wirespeed sim`: the exchange simulator (ITCH 5.0 over MoldUDP64)."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import UsageError, WirespeedError


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
    send: Annotated[str, typer.Option("--send", help="udp: kernel UDP sockets (any destination); raw: whole frames through AF_PACKET, faster; af_xdp: pre-armed frames through an AF_XDP socket (no socket path; lengths and checksums patched per send). raw and af_xdp: multicast only, need --iface and --source.")] = "udp",
    to_pcapng: Annotated[Optional[str], typer.Option("--to-pcapng", help="Write the frames to this pcapng file instead of sending (no network).")] = None,
    ouch_port: Annotated[int, typer.Option("--ouch-port", help="Also take orders: OUCH 5.0 over SoupBinTCP 4.1 on this TCP port (0: off). Clients' orders trade in feed 1's books and the feed publishes them.")] = 0,
    ouch_account: Annotated[list[str], typer.Option("--ouch-account", metavar="USER:PASSWORD[:FIRM]", help="An account of the order port (repeatable; default WSTEST:WSTEST). FIRM is the MPID its attributed orders show in the feed.")] = [],  # noqa: B006
    ouch_listen: Annotated[Optional[str], typer.Option("--ouch-listen", help="Address the order port listens on (default: the address the feed is sent from, the test host's).")] = None,
    ouch_risk: Annotated[list[str], typer.Option("--ouch-risk", metavar="KEY=VALUE", help="Exchange-side limit for every account: max-qty (shares, default 100000), max-notional (dollars, 10000000), collar-pct (10; 0 off), max-open (10000), max-rate (messages/s, 10000). Repeatable.")] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Be the exchange: NASDAQ TotalView-ITCH 5.0 over MoldUDP64 to one or two multicast lines.

    A session start (S, then R per symbol), order flow with a real venue's mix (adds ~44 %,
    deletes ~43 %, replaces ~8 %, executions and cancels ~3 %) that always makes a valid,
    uncrossed book, then the end of session. Each ITCH timestamp is the send time, so a
    receiver measures one-way latency from the message itself.

    Where it sends from: --netns/--iface if given; otherwise the test host (wirespeed testbed up),
    and if there is none it refuses rather than send out of this machine's own interface.

    With --ouch-port it is also the venue's order entry: accounts log in over SoupBinTCP 4.1,
    send OUCH 5.0 orders that match with price-time priority against the same books the feed
    describes (fills at the resting price, IOC, cancel, replace, modify), each account's outbound
    messages are sequenced and replayable, exchange-side limits reject with NASDAQ's codes, and
    the feed publishes what clients do (A/F adds with the Accepted order reference, E executions
    with the OUCH match number, X/D/U).

    Examples:
      wirespeed testbed up && wirespeed sim --rate 100000 --duration 10
      wirespeed sim --ouch-port 15000 --duration 60 --ouch-account TRADER:SECRET:TRDR --ouch-risk max-qty=5000
    """
    from dataclasses import replace
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
        if ouch_port:
            accounts = [simjob.parse_account(a) for a in ouch_account] or list(simjob.SimConfig.ouch_accounts)
            cfg = replace(cfg, ouch_port=ouch_port, ouch_listen=ouch_listen,
                          ouch_accounts=tuple(simjob.parse_risk(ouch_risk, accounts)))
        elif ouch_account or ouch_listen or ouch_risk:
            raise UsageError("--ouch-account, --ouch-listen and --ouch-risk configure the order port",
                             "give --ouch-port PORT too")
        if to_pcapng:
            res = simjob.to_pcapng(cfg, Path(to_pcapng))
        else:
            running = simjob.start(cfg)
            if ouch_port:
                _announce(running.cfg)
            if as_json:
                res = running.wait()
            else:
                with err.status("sending") as status:
                    res = running.wait(lambda s: status.update(
                        f"sim: {s['msgs']:,} messages, {s['packets']:,} packets, {s['msgs_per_s']:,.0f} msg/s"
                        + (f"; orders: {s['ouch']['sessions_now']} sessions, {sum(s['ouch']['in_by_type'].values()):,}"
                           f" in, {s['ouch']['fills']:,} fills" if "ouch" in s else "")))
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
    if "ouch" in res:
        _order_rows(t, res["ouch"])
    out.print(t)


def _announce(cfg: Any) -> None:
    """Where the order port is and who may log in (stderr, so --json stays one document)."""
    users = ", ".join(f"{a.user}/{a.password}" for a in cfg.ouch_accounts)
    err.print(f"order port: SoupBinTCP 4.1 / OUCH 5.0 on {cfg.listen_addr()}:{cfg.ouch_port}"
              f"{f' (in {cfg.netns})' if cfg.netns else ''}, session {cfg.session_of(0)!r}, accounts {users}")


def _by_type(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


def _order_rows(t: Table, o: dict[str, Any]) -> None:
    from wirespeed.orders.ouch import REJECT_REASONS

    t.add_row("order port", f"{o['connections']:,} connections, {o['logins']:,} logins "
              f"({o['rejected_auth']} bad credentials, {o['rejected_session']} bad session, "
              f"{o['rejected_busy']} account busy)")
    t.add_row("orders in", _by_type(o["in_by_type"]))
    t.add_row("orders out", _by_type(o["out_by_type"]))
    t.add_row("fills", f"{o['fills']:,} ({o['filled_shares']:,} shares); "
              f"all matches, the simulator's flow too: {o['books']['matches']:,}")
    rejects = {k: v for k, v in o["rejects"].items() if v}
    t.add_row("rejects", ", ".join(f"{k} {REJECT_REASONS.get(int(k, 16), '?')}: {v:,}"
                                   for k, v in sorted(rejects.items())) or "none")
    drops = {k: v for k, v in o["drops"].items() if v}
    t.add_row("disconnects", ", ".join(f"{k} {v:,}" for k, v in sorted(drops.items())) or "none")
    lost = o["log_lost"] + o["books"]["events_lost"] + o["books"]["pool_full"]
    if lost:
        t.add_row("[red]order port lost[/]", f"log {o['log_lost']}, feed events {o['books']['events_lost']}, "
                  f"order pool full {o['books']['pool_full']}")
