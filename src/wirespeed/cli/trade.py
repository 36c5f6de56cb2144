"""`wirespeed trade`: market data in, orders out - capture, books, a strategy,
pre-trade risk and the order session, with a live view."""
from __future__ import annotations

import signal
import threading
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, err, fail, out, print_json
from wirespeed.errors import UsageError, WirespeedError
from wirespeed.net.addr import parse_host_port

_RISK_KEYS = ("max_order_qty", "max_order_notional", "collar_bp", "max_open_orders", "max_orders_per_s",
              "dup_window_ms", "max_position", "max_gross_notional")


def trade(
    config: Annotated[Optional[str], typer.Option("--config", "-c", help="A trade config (TOML): symbols, strategy, params, ring (or a capture table), and the session and risk tables. Flags override it.")] = None,
    exchange: Annotated[Optional[str], typer.Option("--exchange", "-e", metavar="HOST:PORT", help="The exchange's order port (the simulator's --ouch-port).")] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Account (at most 6 characters).")] = None,
    password: Annotated[Optional[str], typer.Option("--password", help="Its password (at most 10 characters).")] = None,
    firm: Annotated[Optional[str], typer.Option("--firm", help="MPID for the kill switch's Disable Order Entry.")] = None,
    journal: Annotated[Optional[str], typer.Option("--journal", help="The session's journal (default ~/.local/state/wirespeed/USER@HOST_PORT-DATE.journal). A restart the same day resumes from it.")] = None,
    symbols: Annotated[Optional[str], typer.Option("--symbols", "-s", help="Symbols to trade, comma-separated: S0001,S0002.")] = None,
    strategy: Annotated[Optional[str], typer.Option("--strategy", help="A built-in C strategy (see --list-strategies) or path/to/lib.so[:symbol].")] = None,
    params: Annotated[Optional[str], typer.Option("--params", "-p", help="The strategy's parameters: key=value,key=value (prices in dollars).")] = None,
    risk: Annotated[list[str], typer.Option("--risk", metavar="KEY=VALUE", help="A pre-trade limit (repeatable): max_order_qty, max_order_notional ($), collar_bp, max_open_orders, max_orders_per_s, dup_window_ms, max_position, max_gross_notional ($). 0: none.")] = [],  # noqa: B006
    restrict: Annotated[list[str], typer.Option("--restrict", metavar="SYMBOL", help="A symbol that takes no orders (repeatable).")] = [],  # noqa: B006
    ring: Annotated[Optional[str], typer.Option("--ring", help="Read the ring a running `wirespeed capture` writes, from its oldest record (instead of capturing here).")] = None,
    rtx: Annotated[Optional[str], typer.Option("--rtx", metavar="HOST:PORT", help="The feed's retransmission server (sim --rtx-port): gaps are re-requested. It does not replace the start of day: a trade that joins a feed late has no stock directory, so start the capture before the feed (and use --ring).")] = None,
    iface: Annotated[Optional[str], typer.Option("--iface", "-i", help="Capture here, on this interface (the test host's: ws-host0).")] = None,
    feed: Annotated[list[str], typer.Option("--feed", metavar="NAME=GROUP:PORT[/LINE]", help="A feed line to capture (with --iface); repeatable.")] = [],  # noqa: B006
    transport: Annotated[str, typer.Option("--transport", "-t", help="With --iface: kernel or af_xdp.")] = "af_xdp",
    order_transport: Annotated[Optional[str], typer.Option("--order-transport", help="The order session's TCP: kernel (default) or af_xdp (wirespeed's own over AF_XDP, as root; on -i's interface it shares the capture's queue).")] = None,
    capture_cpu: Annotated[Optional[int], typer.Option("--capture-cpu", help="With --iface: pin the receive thread here.")] = None,
    cpu: Annotated[Optional[int], typer.Option("--cpu", help="Pin the trader (books, strategy, sends) to this core.")] = None,
    duration: Annotated[float, typer.Option("--duration", "-d", help="Stop after this many seconds (0: at Ctrl-C or SIGTERM).")] = 0.0,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the order port to take the login.")] = 30.0,
    leave_orders: Annotated[bool, typer.Option("--leave-orders", help="At the end leave open orders working (default: cancel them).")] = False,
    list_strategies: Annotated[bool, typer.Option("--list-strategies", help="List the built-in strategies and exit.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Trade: market data in, orders out, in one loop of C.

    Capture (or read a capture's ring) -> ITCH books -> at every BBO change of your symbols a
    strategy in C decides -> pre-trade risk checks (order size and notional, price collar against
    the live book and refusal when it is stale, position and gross notional per symbol, open
    orders, order rate, duplicates, restricted symbols, kill switch) -> OUCH 5.0 over
    SoupBinTCP 4.1. The session logs in, heartbeats, reconnects asking for the next sequence
    number it expects, and journals every order before sending it, so a restart the same day
    resumes without reusing an order number. Ctrl-C cancels open orders (unless
    --leave-orders) and logs out. --order-transport af_xdp carries the session over wirespeed's
    own TCP over AF_XDP instead of the kernel's (its retransmits, out-of-order segments and
    window waits are shown).

    The books need the feed's start of day (its stock directory): read the ring of a capture
    that started before the feed (--ring), or start this one (-i) before the exchange; it waits
    --wait seconds for the order port.

    Examples (as root, with `wirespeed testbed up`, then `wirespeed capture -i ws-host0 --feed
    itch=239.1.1.1:30001 &` and `wirespeed sim --ouch-port 15000 &`):

      wirespeed trade --ring /dev/shm/wirespeed -e 198.18.0.2:15000 --user WSTEST --password WSTEST \\
          -s S0001 --strategy take_ask --params limit=36.00,qty=100 --risk max_position=1000
      wirespeed trade -c trade.toml --duration 60 --json
      wirespeed trade --list-strategies
    """
    from wirespeed.trade import runner as tr
    from wirespeed.trade.trader import strategies

    if list_strategies:
        if as_json:
            print_json(strategies())
        else:
            t = Table(title="built-in strategies (C)")
            t.add_column("name", style="bold")
            t.add_column("what it does")
            for name, doc in strategies().items():
                t.add_row(name, doc)
            out.print(t)
        return
    try:
        cfg = _config(tr, config, exchange, user, password, firm, journal, symbols, strategy, params, risk, restrict,
                      ring, iface, feed, transport, capture_cpu, cpu, leave_orders)
        if order_transport:
            cfg.session.transport = order_transport
        cfg.validate()
        if rtx:
            cfg.rtx = parse_host_port(rtx, "--rtx")
        stop = threading.Event()
        old = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if as_json:
                res = tr.run(cfg, duration, stop=stop, wait_s=wait)
            else:
                from rich.live import Live

                with Live(console=err, refresh_per_second=4, transient=True) as live:  # the final table stays
                    res = tr.run(cfg, duration, lambda s: live.update(_view(s, cfg)), stop=stop, wait_s=wait)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(res)
        return
    out.print(_view(res, cfg, final=True))


def _config(tr: Any, config: str | None, exchange: str | None, user: str | None, password: str | None,
            firm: str | None, journal: str | None, symbols: str | None, strategy: str | None, params: str | None,
            risk: list[str], restrict: list[str], ring: str | None, iface: str | None, feed: list[str],
            transport: str, capture_cpu: int | None, cpu: int | None, leave_orders: bool) -> Any:
    from wirespeed.capture import runner as cap

    cfg = tr.TradeConfig.from_toml(config) if config else tr.TradeConfig(session=tr.SessionConfig(), symbols=[])
    s = cfg.session
    if exchange:
        s.host, s.port = parse_host_port(exchange, "--exchange")
    for attr, v in (("user", user), ("password", password), ("firm", firm), ("journal", journal)):
        if v is not None:
            setattr(s, attr, v)
    if symbols:
        cfg.symbols = [x.strip().upper() for x in symbols.split(",") if x.strip()]
    if strategy:
        cfg.strategy = strategy
    if params is not None:
        cfg.params = params
    for kv in risk:
        key, eq, val = kv.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in _RISK_KEYS:
            raise UsageError(f"--risk {kv!r}", f"KEY=VALUE with KEY one of {', '.join(_RISK_KEYS)}")
        try:
            setattr(cfg.risk, key, float(val) if "notional" in key else int(val))
        except ValueError:
            raise UsageError(f"--risk {kv!r}: {val!r} is not a number") from None
    cfg.risk.restricted += [r.upper() for r in restrict]
    try:
        cfg.risk.validate()
    except WirespeedError as exc:
        raise UsageError(exc.message, exc.hint) from None
    if ring:
        cfg.ring, cfg.capture = ring, None
    if iface:
        if not feed:
            raise UsageError("--iface needs the feeds to capture", "give --feed NAME=GROUP:PORT (repeatable)")
        cfg.capture = cap.CaptureConfig(iface=iface, feeds=[cap.parse_feed_flag(f) for f in feed],
                                        ring=f"/dev/shm/wirespeed-trade-{s.user or 'x'}", transport=transport,
                                        cpu=capture_cpu).validate()
        cfg.ring = None
    if cpu is not None:
        cfg.cpu = cpu
    cfg.leave_orders = cfg.leave_orders or leave_orders
    return cfg


def _view(s: dict[str, Any], cfg: Any, final: bool = False) -> Table:
    """Link, orders, fills, positions, refusals by check, the strategy, the feed."""
    title = (f"wirespeed trade: {cfg.strategy} on {', '.join(cfg.symbols)}"
             + ("" if final else "  (Ctrl-C to stop)"))
    t = Table(title=title, show_header=False)
    t.add_column(style="bold")
    t.add_column()
    link = s["link"]
    t.add_row("link", f"[green]{link}[/]" if link == "up" else f"[red]{link}[/]"
              + (f"  drops: {', '.join(f'{k} {v}' for k, v in s['drops'].items())}" if s["drops"] else ""))
    st = s["strategy"]
    t.add_row("strategy", f"{st.get('ticks', 0):,} BBO changes, {st.get('intents', 0):,} intents, "
                          f"{st.get('entered', 0):,} entered, {st.get('replaced', 0):,} replaced")
    t.add_row("orders", f"{s['orders']:,} sent, {s['open_orders']:,} open  ("
              + ", ".join(f"{k} {v:,}" for k, v in sorted(s["by_state"].items())) + ")")
    t.add_row("fills", f"{s['fills']:,} ({s['filled_shares']:,} shares)")
    for sym, p in s["positions"].items():
        t.add_row(f"position {sym}", f"{p['position']:+,} (bought {p['bought']:,} for ${p['bought_notional']:,.2f}, "
                                    f"sold {p['sold']:,} for ${p['sold_notional']:,.2f}; open buy {p['open_buy']:,}, "
                                    f"sell {p['open_sell']:,})")
    t.add_row("refused", ", ".join(f"[yellow]{k} {v:,}[/]" for k, v in s["refused"].items()) or "none")
    feed = "[red]stale (a gap is open)[/]" if s["stale"] else "ok"
    if s["book_errors"]:
        feed += "  " + ", ".join(f"{k} {v}" for k, v in s["book_errors"].items())
    t.add_row("feed", feed)
    if s["seq_lost"] or s["events_lost"]:
        t.add_row("lost", f"[red]{s['seq_lost']} exchange messages, {s['events_lost']} events[/]")
    if s["lost_in_transit"] or s["revived"]:
        t.add_row("in flight at a drop", f"[yellow]{s['lost_in_transit']} never reached the exchange[/]"
                  f" ({s['revived']} it had after all)")
    if s["killed"]:
        t.add_row("kill switch", "on" + (" (open orders canceled at exit)" if final and s.get("canceled_at_exit")
                                         else ""))
    if s.get("tcp"):
        c = s["tcp"]
        bad = c["retransmits"] or c["bad_csum"] or c["zero_window_waits"]
        t.add_row("order TCP (af_xdp)", ("[yellow]" if bad else "") + f"{c['state']}, srtt {c['srtt_us']:,} µs, "
                  f"{c['retransmits']:,} retransmits ({c['rto_expiries']:,} RTO, {c['fast_retransmits']:,} fast), "
                  f"{c['out_of_order']:,} out of order, {c['zero_window_waits']:,} zero-window waits, "
                  f"{c['bad_csum']:,} bad checksums" + ("[/]" if bad else ""))
    t.add_row("elapsed", f"{s['elapsed_s']:.1f} s")
    return t
