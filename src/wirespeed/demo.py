"""`wirespeed demo`: the whole path on its embedded default, in one command.

As root: make the test host (unless it is up), run the exchange simulator
inside it (ITCH 5.0 over MoldUDP64, A and B lines), capture on the host side
into a ring with the best transport this machine has (choose_transports: af_xdp,
else dpdk where wirespeed was built with it, else kernel),
record to pcapng from a separate process, measure one-way latency from the
messages themselves (rx stamp - ITCH timestamp, same clock), then print a
summary and remove what was made (the pcapng files stay).

Without root there is no test host: the simulator sends unicast to
127.0.0.1 and the kernel transport receives it there; the demo says so.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as simjob
from wirespeed.host import testbed
from wirespeed.feed.latency import LatencyMeter
from wirespeed.errors import WirespeedError
from wirespeed.ring import RingReader
from wirespeed.system import caps
from wirespeed.system.hostfs import HostFS



@dataclass(frozen=True)
class DemoOptions:
    duration_s: float = 20.0
    rate: float = 20_000.0
    directory: Path | None = None  # where the pcapng files go (default: a new folder under /tmp)
    symbols: int = 8
    transport: str = "auto"  # auto | af_xdp | dpdk | kernel


TRANSPORT_RULE = ("af_xdp wins on the test host: it takes only the feeds off the veth and leaves the rest to the "
                  "kernel, while dpdk reaches the same veth through DPDK's net_af_xdp driver, i.e. the same kind "
                  "of AF_XDP socket with DPDK's layers on top, and takes the whole interface; dpdk is next (where "
                  "wirespeed was built with it), then the kernel transport, which works everywhere")


def choose_transports(wanted: str, privileged: bool) -> tuple[tuple[str, ...], str]:
    """The transports to try in order, and why: the rule the demo states."""
    from wirespeed.transports.dpdk import available

    if wanted not in ("auto", "af_xdp", "dpdk", "kernel"):
        from wirespeed.errors import UsageError

        raise UsageError(f"transport {wanted!r}", "auto, af_xdp, dpdk or kernel")
    if not privileged:
        return ("kernel",), "not root: only the kernel transport receives over loopback"
    if wanted != "auto":
        return (wanted,), f"{wanted}: asked for"
    dpdk, why = available()
    order = ("af_xdp", "dpdk", "kernel") if dpdk else ("af_xdp", "kernel")
    return order, TRANSPORT_RULE + ("" if dpdk else f" (dpdk: {why})")


def _capture_config(iface: str, feeds: list[cap.FeedSpec], ring: str, transport: str, rx_cpu: int | None
                    ) -> cap.CaptureConfig:
    from wirespeed.transports.dpdk import DpdkOptions

    return cap.CaptureConfig(iface=iface, feeds=feeds, ring=ring, ring_size="256M", transport=transport, cpu=rx_cpu,
                             dpdk=DpdkOptions(port=f"net_af_xdp0,iface={iface}"))


def _start_capture(iface: str, feeds: list[cap.FeedSpec], ring: str, transports: tuple[str, ...],
                   rx_cpu: int | None, notes: list[str], say: Callable[[str], None]) -> tuple[cap.Background, str]:
    """The first of `transports` that starts; each one that does not is a note."""
    for transport in transports:
        say(f"capturing on {iface} into {ring} ({transport})")
        try:
            return cap.Background(_capture_config(iface, feeds, ring, transport, rx_cpu)).start(), transport
        except WirespeedError as exc:
            if transport == transports[-1]:
                raise
            notes.append(f"{transport} unavailable here ({exc}): trying {transports[transports.index(transport) + 1]}")
    raise AssertionError("no transport to try")


def _privileged() -> bool:
    return {"CAP_NET_ADMIN", "CAP_SYS_ADMIN"} <= caps.effective(HostFS())


def run(opts: DemoOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    def say(msg: str) -> None:
        if progress:
            progress(msg)

    out_dir = opts.directory or Path(tempfile.mkdtemp(prefix="wirespeed-demo-"))
    ring = f"/dev/shm/wirespeed-demo-{os.getpid()}"
    notes: list[str] = []
    recorder: subprocess.Popen[str] | None = None
    latency: LatencyMeter | None = None
    capture: cap.Background | None = None
    transport = ""
    rec_res: dict[str, Any] = {}
    lat_res: dict[str, Any] = {}
    books_res: dict[str, Any] = {}
    with ExitStack() as stack:  # unwound in reverse: cores, ring, then the test host if the demo made it
        if _privileged():
            tb = stack.enter_context(testbed.provided(say))
            iface, lines_a = tb.host_if, ("239.1.1.1", "239.1.2.1")
            feeds = [cap.FeedSpec("itch", lines_a[0], 30001, "A"), cap.FeedSpec("itch", lines_a[1], 30001, "B")]
            sim_cfg = simjob.SimConfig(lines=[simjob.Line(lines_a[0], 30001), simjob.Line(lines_a[1], 30001)],
                                       rate=opts.rate, duration_s=opts.duration_s, symbols=opts.symbols,
                                       netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
            where = f"test host {tb.netns} -> {tb.host_if}, multicast A/B lines"
        else:
            notes.append("not root: no test host; the simulator sends unicast over loopback "
                         "(run as root for the test host and multicast)")
            iface = "lo"
            feeds = [cap.FeedSpec("itch", "127.0.0.1", 30001, "A")]
            sim_cfg = simjob.SimConfig(lines=[simjob.Line("127.0.0.1", 30001)], rate=opts.rate,
                                       duration_s=opts.duration_s, symbols=opts.symbols, iface="lo",
                                       source="127.0.0.1")
            where = "loopback, unicast"
        stack.callback(Path(ring).unlink, missing_ok=True)
        # The receive thread gets a core of its own (it may spin); the sender,
        # the recorder and the latency reader share the others.
        rx_cpu = stack.enter_context(cap.receive_core())
        try:
            order, rule = choose_transports(opts.transport, iface != "lo")
            notes.append(f"transport choice: {rule}")
            capture, transport = _start_capture(iface, feeds, ring, order, rx_cpu, notes, say)
            notes.append(f"transport: {transport}" + {
                "af_xdp": " (XDP redirects the feeds to AF_XDP sockets; busy-polled, stamped at dequeue)",
                "dpdk": " (DPDK's net_af_xdp on the veth; the feeds kept in software, the rest counted as filtered;"
                        " busy-polled, stamped at dequeue)",
                "kernel": " (UDP sockets, recvmmsg, kernel receive stamps)"}[transport])
            recorder = subprocess.Popen(
                [sys.executable, "-m", "wirespeed", "record", ring, "--dir", str(out_dir), "--from", "oldest",
                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # Attached now (from the oldest record), read after the run: decoding
            # every message in Python while the feed runs would take CPU from the
            # sender on a small machine and show up as latency.
            latency = LatencyMeter(ring)
            say(f"sending {opts.rate:,.0f} msg/s for {opts.duration_s:g} s from the {where}")
            sim_res = simjob.run(sim_cfg, lambda s: say(
                f"sim {s['msgs']:,} messages sent | capture {_published(ring):,} packets in the ring"))
            time.sleep(0.5)  # the last packets' way through the stack
        finally:
            cap_res = capture.finish() if capture is not None else {}
            if recorder is not None:
                try:
                    out, err = recorder.communicate(timeout=30)
                    rec_res = json.loads(out) if out.strip() else {"error": err.strip()[-300:]}
                except (subprocess.TimeoutExpired, ValueError) as exc:
                    recorder.kill()
                    rec_res = {"error": str(exc)}
            if latency is not None:
                latency.drain()
                lat_res = latency.finish()
            if capture is not None and Path(ring).exists():
                say("building the order books from the ring")
                books_res = _books(ring)
    if capture is not None and capture.error is not None:
        raise capture.error
    drops = cap_res.get("drops", {})
    return {"where": where, "notes": notes, "duration_s": opts.duration_s, "rate": opts.rate,
            "sent": {"messages": sim_res["msgs"], "packets": sim_res["packets"], "datagrams": sim_res["sent_pkts"]},
            "captured": {"packets": cap_res.get("records", 0), "drops": drops,
                         "sock_overflow": drops.get("sock_overflow", 0)},
            "transport": transport, "setup": cap_res.get("setup", {}),
            "transports": {f"{transport}_{cap_res.get('mode', '')}": lat_res},
            "recorded": rec_res, "pcapng_dir": str(out_dir), "books": books_res}


OUCH_PORT = 15000


def run_trade(opts: DemoOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The loop the other way too: the simulator also takes orders (OUCH over SoupBinTCP),
    wirespeed captures its feed, keeps the books, and a C strategy (take_ask) buys S0001
    whenever its ask falls to a limit a little above the mid, through the pre-trade checks
    and the order session. The result says what the session saw (fills), what the
    exchange's port counted, and which of the fills' match numbers the captured ITCH
    feed carries as executions."""
    from wirespeed.feed import itch
    from wirespeed.orders.session import RiskLimits
    from wirespeed.trade import runner as tr

    if opts.transport == "dpdk":
        from wirespeed.errors import UsageError

        raise UsageError("demo --trade does not capture with dpdk",
                         "DPDK takes the whole interface, so the order session's TCP would lose its packets: "
                         "use --transport af_xdp or kernel (or auto)")
    def say(msg: str) -> None:
        if progress:
            progress(msg)

    ring = f"/dev/shm/wirespeed-demo-trade-{os.getpid()}"
    notes: list[str] = []
    with ExitStack() as stack:
        if _privileged():
            tb = stack.enter_context(testbed.provided(say))
            iface, group = tb.host_if, "239.1.1.1"
            sim_cfg = simjob.SimConfig(lines=[simjob.Line(group, 30001)], rate=opts.rate,
                                       duration_s=opts.duration_s + 5, symbols=opts.symbols, netns=tb.netns,
                                       iface=tb.peer_if, source=tb.peer_addr, ouch_port=OUCH_PORT,
                                       ouch_accounts=(simjob.Account("WSTEST", "WSTEST", "WSPD"),))
            where = f"test host {tb.netns}: feed to {tb.host_if}, orders to {tb.peer_addr}:{OUCH_PORT}"
            transports = ("af_xdp", "kernel") if opts.transport == "auto" else (opts.transport,)
        else:
            notes.append("not root: no test host; feed and orders over loopback (run as root for the test host)")
            iface, group = "lo", "127.0.0.1"
            sim_cfg = simjob.SimConfig(lines=[simjob.Line(group, 30001)], rate=opts.rate,
                                       duration_s=opts.duration_s + 5, symbols=opts.symbols, iface="lo",
                                       source="127.0.0.1", ouch_port=OUCH_PORT,
                                       ouch_accounts=(simjob.Account("WSTEST", "WSTEST", "WSPD"),))
            where = f"loopback: feed unicast, orders to 127.0.0.1:{OUCH_PORT}"
            transports = ("kernel",)
        stack.callback(Path(ring).unlink, missing_ok=True)
        rx_cpu = stack.enter_context(cap.receive_core())
        capture, transport = _start_capture(iface, [cap.FeedSpec("itch", group, 30001)], ring, transports, rx_cpu,
                                            notes, say)
        stack.callback(capture.finish)
        say(f"exchange: {opts.rate:,.0f} msg/s and an order port; capturing on {iface} ({transport})")
        sim = stack.enter_context(simjob.start(sim_cfg))
        mid = sim.symbols()["S0001"]
        limit = (mid + 1200) / 10_000  # the simulator's asks rest 1 to 20 cents above its mid
        journal = Path(tempfile.mkdtemp(prefix="wirespeed-demo-")) / "orders.journal"
        tcfg = tr.TradeConfig(
            session=tr.SessionConfig(sim_cfg.listen_addr(), OUCH_PORT, "WSTEST", "WSTEST", "WSPD", str(journal)),
            symbols=["S0001"], strategy="take_ask", params=f"limit={limit:.2f},qty=100", ring=ring,
            risk=RiskLimits(max_order_qty=1000, collar_bp=300, max_position=2000, max_orders_per_s=20,
                            dup_window_ms=50))
        say(f"trading S0001 (mid {mid / 10_000:.2f}): take_ask at or below {limit:.2f}, at most 2,000 shares")
        res = tr.run(tcfg, opts.duration_s, lambda snap: say(
            f"trade: {snap['strategy'].get('ticks', 0):,} BBO changes, {snap['orders']} orders, "
            f"{snap['fills']} fills, position {snap['positions'].get('S0001', {}).get('position', 0):+,}"))
        time.sleep(0.3)  # the last executions' way through the feed to the ring
        port = sim.order_stats()
        sim.stop()
        executions = {msg.match: msg for msg in itch.from_ring(ring, "EC")}
    matches = [e["match"] for e in res["executions"]]
    res.pop("stats", None)
    return {"where": where, "notes": notes, "transport": transport, "mid": mid / 10_000, "limit": limit,
            "trade": res, "port": {k: port[k] for k in ("logins", "fills", "filled_shares", "in_by_type",
                                                        "out_by_type", "rejects") if k in port},
            "fills_in_feed": sum(1 for m in matches if m in executions), "fills": len(matches)}


def _books(ring: str) -> dict[str, Any]:
    """The feed's books from everything the ring holds (after the run, like the
    latency: on a small machine a live reader would take the sender's CPU)."""
    from wirespeed.book.books import Books

    books = Books(max_orders=1 << 20, max_levels=1 << 18)
    with RingReader(ring, "oldest") as r:
        while books.records(r.poll(65536)):
            pass
    books.finish()
    return {"bbo": books.top(), "sessions": books.stats()["sessions"], "errors": books.book_errors(),
            "stale": books.stale}


def _published(ring: str) -> int:
    try:
        with RingReader(ring) as r:
            return int(r.info()["records_published"])  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - the ring is gone: nothing to report
        return 0
