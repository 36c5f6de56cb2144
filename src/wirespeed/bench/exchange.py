"""`wirespeed bench exchange`: the simulator's matching engine and its order
port, each against a peer measured in the same run.

  * matching, one core, in memory: order_mix (exchange/matching.py: 50 %
    enters, half of them crossing, 35 % reductions and cancels, 15 %
    replaces, on 8 books) through the C engine (MatchEngine.run, no Python
    per order), the Python reference matcher (the tests' oracle; a prefix of
    the same operations, checked to produce the same events), and
    lightmatchingengine from PyPI (pure Python; it has no reduce or replace,
    so reductions are cancels and replaces cancel + enter, and IOC is an
    enter whose rest is canceled). Medians over rounds.
  * order port, the test host's veth, kernel TCP: Enter -> Accepted round
    trips of one logged-in session (a C client, bench/orders.c: one order
    in flight, blocking reads, each order canceled after); the floor is
    sockperf's TCP ping-pong between the same two namespaces at the same
    rate with a 64-byte message (an Enter is 50 bytes on the wire, an
    Accepted about 70), its half round trip doubled. Both ends of both
    run on one core: across two cores this VM's wake-up of an idle core
    (~45 us on some hosts, a few on others) would be most of either figure.
    The goal is judged with the simulator's feed all but idle (10 msg/s),
    the port's own cost; the same round trip with the feed at 1 k and
    10 k msg/s on that core is reported beside it. Runs alternate with
    sockperf's, so both see the same machine; the first 10 % of each run
    is warm-up and left out.
"""
from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.bench.common import Goal, cpus, goals_report, sockperf_ping_pong
from wirespeed.errors import WirespeedError
from wirespeed.exchange import matching as M

GOALS = [
    Goal("C matching engine, orders/s on one core", "match_orders_per_s", ">=", 5e6),
    Goal("C matching / Python reference matcher", "match_over_py", ">=", 50),
    Goal("order port Enter->Accepted RTT p50 / sockperf TCP RTT p50", "ack_rtt_over_sockperf", "<=", 1.5),
]
GROUP, PORT, OUCH_PORT, SOCKPERF_TCP_PORT = "239.9.9.10", 30998, 15998, 11997
SYMBOL = "S0001"


@dataclass(frozen=True)
class ExchangeBenchOptions:
    match_ops: int = 2_000_000   # operations through the C engine, per round
    py_ops: int = 200_000        # ... through the Python reference (a prefix of the same)
    peer_ops: int = 50_000       # ... through lightmatchingengine
    rounds: int = 3
    symbols: int = 8
    rtt: bool = True             # the order port part (root: the test host)
    rtt_orders: int = 10_000     # round trips per run
    rtt_rate: float = 5_000.0    # orders/s (and sockperf's messages/s)
    repeats: int = 3             # runs of each, the port's and sockperf's alternating
    # the ITCH feed the simulator sends meanwhile, msg/s: the first is the goal's (the port
    # all but alone); the others show what the feed's work on the same core adds
    feed_rates: tuple[float, ...] = (10.0, 1_000.0, 10_000.0)


QUICK = ExchangeBenchOptions(match_ops=500_000, py_ops=50_000, peer_ops=10_000, rounds=1, rtt_orders=2_000,
                             repeats=1, feed_rates=(10.0, 10_000.0))


def _match_c(ops: np.ndarray, symbols: int) -> tuple[float, int, int]:
    """(orders/s, events, trades) of one run through a fresh C engine."""
    e = _native.MatchEngine(symbols, max_orders=1 << 20)
    events, trades, ns = e.run(ops)
    return len(ops) / (ns / 1e9), events, trades


def _match_py(ops: np.ndarray, symbols: int) -> tuple[float, dict[str, int]]:
    m = M.ReferenceMatcher(symbols)
    t0 = time.perf_counter()
    counts = M.run(m, ops)
    return len(ops) / (time.perf_counter() - t0), counts


def _match_lme(ops: np.ndarray) -> float:
    """lightmatchingengine's orders/s on the same operations (see the module's note)."""
    from lightmatchingengine.lightmatchingengine import LightMatchingEngine, Side

    e = LightMatchingEngine()
    resting: dict[int, Any] = {}
    rows = ops.tolist()
    t0 = time.perf_counter()
    for i, (op, side, ioc, _, loc, _, qty, price, target) in enumerate(rows):
        if op == M.OP_ADD:
            o, _trades = e.add_order(loc, price, qty, Side.BUY if side == ord("B") else Side.SELL)
            if o.leaves_qty:
                if ioc:
                    e.cancel_order(o.order_id, loc)
                else:
                    resting[i] = o
            continue
        o = resting.pop(target, None)
        if o is None or not o.leaves_qty:  # gone, or filled since (it keeps no record we can cancel)
            continue
        e.cancel_order(o.order_id, o.instmt)
        if op == M.OP_REPLACE:
            n, _trades = e.add_order(o.instmt, price, qty, o.side)
            if n.leaves_qty:
                resting[target] = n
    return len(rows) / (time.perf_counter() - t0)


def matching(opts: ExchangeBenchOptions, step: Callable[[str], None]) -> dict[str, Any]:
    res: dict[str, Any] = {"match_ops": opts.match_ops, "symbols": opts.symbols, "peers_missing": []}
    ops = M.order_mix(opts.match_ops, symbols=opts.symbols)
    c_rates, py_rates = [], []
    for r in range(opts.rounds):
        step(f"C matching engine, {opts.match_ops:,} orders, round {r + 1}/{opts.rounds}")
        rate, events, trades = _match_c(ops, opts.symbols)
        c_rates.append(rate)
        step(f"Python reference matcher, {opts.py_ops:,} orders, round {r + 1}/{opts.rounds}")
        py_rate, counts = _match_py(ops[:opts.py_ops], opts.symbols)
        py_rates.append(py_rate)
    res.update({"match_orders_per_s": statistics.median(c_rates), "match_orders_per_s_range": [min(c_rates), max(c_rates)],
                "match_events": events, "match_trades": trades,
                "match_py_orders_per_s": statistics.median(py_rates), "match_py_ops": opts.py_ops})
    # the same work: the C engine on the Python run's operations gives the same events
    _, c_events, c_trades = _match_c(ops[:opts.py_ops], opts.symbols)
    if (c_events, c_trades) != (counts["events"], counts["trades"]):
        raise WirespeedError(f"the C engine and the Python reference disagree on {opts.py_ops:,} orders: "
                             f"{c_events} vs {counts['events']} events, {c_trades} vs {counts['trades']} trades")
    res["match_over_py"] = res["match_orders_per_s"] / res["match_py_orders_per_s"]
    try:
        import lightmatchingengine  # noqa: F401
    except ImportError:
        res["peers_missing"].append("lightmatchingengine (pip install lightmatchingengine)")
        res["match_lme_orders_per_s"] = res["match_over_lme"] = None
    else:
        lme = []
        for r in range(opts.rounds):
            step(f"lightmatchingengine, {opts.peer_ops:,} orders, round {r + 1}/{opts.rounds}")
            lme.append(_match_lme(ops[:opts.peer_ops]))
        res["match_lme_orders_per_s"] = statistics.median(lme)
        res["match_over_lme"] = res["match_orders_per_s"] / res["match_lme_orders_per_s"]
    return res


# -- the order port's round trip, and sockperf's TCP one ----------------------------------------

def _pcts(ns: np.ndarray, prefix: str) -> dict[str, float]:
    p = np.percentile(ns, [50, 90, 99, 99.9]) / 1000
    return {f"{prefix}_us_p50": float(p[0]), f"{prefix}_us_p90": float(p[1]), f"{prefix}_us_p99": float(p[2]),
            f"{prefix}_us_p999": float(p[3]), f"{prefix}_us_max": float(ns.max() / 1000), f"{prefix}_n": len(ns)}


def _port_run(client: Any, mid: int, urn: int, opts: ExchangeBenchOptions) -> np.ndarray:
    """One run of round trips on the logged-in client's socket; the samples after warm-up, ns."""
    rtt = np.zeros(opts.rtt_orders, dtype=np.uint64)
    # priced $5 under the mid, where nothing trades with it (the account has no collar)
    err, done, reject = _native.bench_ouch_rtt(client.sock.fileno(), SYMBOL, mid - 50_000, urn,
                                               int(1e9 / opts.rtt_rate), 2_000_000_000, rtt)
    if err:
        why = f"rejected 0x{reject:04X}" if reject else os.strerror(err)
        raise WirespeedError(f"the order port round trip stopped after {done:,} orders: {why}")
    return rtt[opts.rtt_orders // 10:].astype(np.int64)


def _sockperf_tcp(tb: Any, opts: ExchangeBenchOptions, exe: str, cpu: int) -> np.ndarray:
    """Round trips (ns) of sockperf ping-pong over TCP: the server where the
    order port is (the test host), the client where ours is."""
    pin = ["taskset", "-c", str(cpu)]
    secs = max(1, round(opts.rtt_orders / opts.rtt_rate))
    _tx, half_us = sockperf_ping_pong(
        ["ip", "netns", "exec", tb.netns, *pin, exe, "server", "--tcp", "-i", tb.peer_addr, "-p",
         str(SOCKPERF_TCP_PORT)],
        [*pin, exe, "ping-pong", "--tcp", "-i", tb.peer_addr, "-p", str(SOCKPERF_TCP_PORT), "-t", str(secs),
         "--mps", f"{opts.rtt_rate:.0f}", "--msg-size", "64"], secs)
    rtt = np.round(half_us * 2000).astype(np.int64)
    return rtt[len(rtt) // 10:]


@contextmanager
def _pinned(cpu: int) -> Iterator[None]:
    """This thread, and the threads it starts meanwhile (the simulator's), on one core."""
    home = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, home)


def _port_session(tb: Any, opts: ExchangeBenchOptions, feed_rate: float, between: Callable[[int], None],
                  step: Callable[[str], None]) -> tuple[list[np.ndarray], dict]:
    """opts.repeats runs of round trips against a simulator sending its feed
    at feed_rate; between(r) runs after each (the peer's turn). Also the
    port's counters at the end."""
    from wirespeed.exchange import sim as S
    from wirespeed.orders.client import OuchClient

    account = S.Account("WSBNCH", "WSBNCH", collar_pct=0, max_open=1000, max_msgs_per_s=1_000_000)
    cfg = S.SimConfig(lines=[S.Line(GROUP, PORT)], rate=feed_rate, duration_s=0, symbols=opts.symbols,
                      netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr, ouch_port=OUCH_PORT,
                      ouch_accounts=(account,))
    out = []
    with S.start(cfg) as sim:
        mid = sim.symbols()[SYMBOL]
        with OuchClient(tb.peer_addr, OUCH_PORT) as client:
            # a heartbeat timeout past the peer's runs; the start of day read here, so the C
            # client starts on a clean stream
            client.login("WSBNCH", "WSBNCH", heartbeat_timeout_ms=99_999)
            client.wait_for("SystemEvent", event_code="S")
            client.read(0.1)
            if client.pending or client.rx.buf:
                raise WirespeedError("the order port sent more than the start of day before the first order")
            client.sock.setblocking(True)
            for r in range(opts.repeats):
                step(f"order port Enter -> Accepted, feed at {feed_rate:,.0f} msg/s, run {r + 1}/{opts.repeats}")
                out.append(_port_run(client, mid, 1 + r * opts.rtt_orders, opts))
                between(r)
        st = sim.order_stats()
        sim.stop()
    return out, st


def order_port(opts: ExchangeBenchOptions, step: Callable[[str], None]) -> dict[str, Any]:
    """The round trips at each feed rate (the first is the goal's: the port
    with its feed all but idle), sockperf's between the first rate's runs,
    everything on one core."""
    from wirespeed.host import testbed

    res: dict[str, Any] = {"rtt_rate": opts.rtt_rate, "rtt_orders_per_run": opts.rtt_orders,
                           "rtt_repeats": opts.repeats, "rtt_feed_rates": list(opts.feed_rates)}
    exe = shutil.which("sockperf")
    peer: list[np.ndarray] = []
    cpu = cpus()[-1]
    res["rtt_cpu"] = cpu

    def sockperf_turn(r: int) -> None:
        if exe:
            step(f"sockperf ping-pong --tcp, run {r + 1}/{opts.repeats}")
            peer.append(_sockperf_tcp(tb, opts, exe, cpu))

    with testbed.provided(step) as tb, _pinned(cpu):
        for k, rate in enumerate(opts.feed_rates):
            ours, st = _port_session(tb, opts, rate, sockperf_turn if k == 0 else lambda r: None, step)
            key = "ack_rtt" if k == 0 else f"ack_rtt_feed_{rate:.0f}"
            res.update(_pcts(np.concatenate(ours), key))
            res[f"{key}_us_p50_runs"] = [float(np.percentile(x, 50) / 1000) for x in ours]
            if st["rejects"] or st["drops"].get("heartbeat_timeout"):
                raise WirespeedError(f"the order port refused benchmark orders: {st['rejects']} {st['drops']}")
    if peer:
        res.update(_pcts(np.concatenate(peer), "sockperf_tcp_rtt"))
        res["sockperf_tcp_rtt_us_p50_runs"] = [float(np.percentile(x, 50) / 1000) for x in peer]
        res["ack_rtt_over_sockperf"] = res["ack_rtt_us_p50"] / res["sockperf_tcp_rtt_us_p50"]
        for rate in opts.feed_rates[1:]:
            res[f"ack_rtt_feed_{rate:.0f}_over_sockperf"] = \
                res[f"ack_rtt_feed_{rate:.0f}_us_p50"] / res["sockperf_tcp_rtt_us_p50"]
    else:
        res["sockperf_tcp_rtt_us_p50"] = res["ack_rtt_over_sockperf"] = None
        res["peers_missing"] = ["sockperf (apt-get install sockperf)"]
    return res


def run(opts: ExchangeBenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    def step(msg: str) -> None:
        if progress:
            progress(msg)

    res = matching(opts, step)
    if not opts.rtt:
        res["rtt_skipped"] = "not asked for (--no-rtt)"
    elif os.geteuid() != 0:
        res["rtt_skipped"] = "needs root: the test host (network namespace, veth)"
    else:
        port = order_port(opts, step)
        res["peers_missing"] += port.pop("peers_missing", [])
        res.update(port)
    for key in ("ack_rtt_us_p50", "ack_rtt_us_p99", "sockperf_tcp_rtt_us_p50", "ack_rtt_over_sockperf"):
        res.setdefault(key, None)
    res["goals"] = goals_report(GOALS, res)
    return res
