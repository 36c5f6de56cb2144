"""`wirespeed bench trade`: tick-to-trade, measured by the exchange.

The client never grades itself. The simulator (in the test host) stamps
each ITCH packet as its send call starts (its sent log) and each OUCH order
as it arrives (the kernel's software receive stamp on the order port's
socket); the strategy names the packet that triggered an order in the
order's ClOrdID (the packet's MoldUDP64 sequence number), so
tick-to-trade = order received - packet sent, both CLOCK_REALTIME on one
host. The strategy is `ping`: at every BBO change of the one symbol, an IOC
buy at the bid (never marketable: it changes nothing the feed shows), so
every path makes the same decisions on the same feed.

Paths, interleaved run by run on the same machine:
  * af_xdp_c:  af_xdp capture (busy) -> ring -> C trader (books, strategy,
               risk, pre-encoded send) -> kernel TCP (TCP_NODELAY)
  * af_xdp_tcp: the same, the order session over wirespeed's own TCP over
               AF_XDP (transports/tcp_xsk.c), sharing the capture's queue
               and XDP program (the kernel allows one of each)
  * kernel_c:  kernel_block capture -> ring -> the same C trader
  * python:    af_xdp capture -> the idiomatic Python loop: RingReader.poll,
               Books.records, a Python decision, socket.send of an order
               encoded by wirespeed.orders.ouch

Floors the fast path cannot beat, in the same run: af_xdp one-way receive
(as `bench capture` measures it: receive stamp - ITCH timestamp) and a bare
TCP one-way send of a pre-encoded 50-byte write from the trader's namespace
to the simulator's (`bench send`'s kernel_tcp: stamped before the write and
by the receiver's kernel).
Their p50s' sum is the floor. Risk checks are timed alone (every check on;
check + commit + release per order).

Cores: the capture's receive thread has one (it spins); the simulator, the
trader and the session's I/O thread share the other, so an order's way
through the kernel's TCP and veth never waits for another core to wake.
"""
from __future__ import annotations

import os
import socket
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.bench.common import Goal, goals_report
from wirespeed.capture import runner as cap
from wirespeed.errors import WirespeedError

GOALS = [
    Goal("tick-to-trade af_xdp + C, p50 / floor (af_xdp one-way + TCP one-way)", "t2t_over_floor", "<=", 1.5),
    Goal("tick-to-trade Python loop p50 / af_xdp + C p50", "t2t_python_over_af_xdp_c", ">=", 3),
    Goal("tick-to-trade kernel_block + C p50 / af_xdp + C p50", "t2t_kernel_c_over_af_xdp_c", ">=", 3),
    Goal("pre-trade risk checks, ns per order, p50", "risk_ns_p50", "<=", 100),
]
GROUP, PORT, OUCH_PORT = "239.9.9.11", 30997, 15997
SYMBOL = "S0001"
PATHS = ("af_xdp_c", "af_xdp_tcp", "kernel_c", "python")


@dataclass(frozen=True)
class TradeBenchOptions:
    feed_rate: float = 1_000.0   # ITCH messages/s (one symbol: most change its BBO)
    seconds: float = 8.0         # per run and path
    repeats: int = 2             # runs of each path, interleaved
    floor_n: int = 4_000         # TCP one-way samples per run
    risk_batches: int = 50_000   # risk timing: batches of 64 orders


QUICK = TradeBenchOptions(seconds=3.0, repeats=1, floor_n=1_000, risk_batches=5_000)


def _pcts(ns: np.ndarray, prefix: str) -> dict[str, Any]:
    if not len(ns):
        return {f"{prefix}_us_{q}": None for q in ("p50", "p90", "p99", "p999")} | {f"{prefix}_n": 0}
    p = np.percentile(ns, [50, 90, 99, 99.9]) / 1000
    return {f"{prefix}_us_p50": float(p[0]), f"{prefix}_us_p90": float(p[1]), f"{prefix}_us_p99": float(p[2]),
            f"{prefix}_us_p999": float(p[3]), f"{prefix}_n": int(len(ns))}


def _sim_cfg(tb: Any, opts: TradeBenchOptions) -> Any:
    from wirespeed.exchange import sim as S

    account_c = S.Account("WSBNCH", "WSBNCH", collar_pct=0, max_open=100_000, max_msgs_per_s=1_000_000)
    account_py = S.Account("WSPY", "WSPY", collar_pct=0, max_open=100_000, max_msgs_per_s=1_000_000)
    return S.SimConfig(lines=[S.Line(GROUP, PORT)], rate=opts.feed_rate, duration_s=0, symbols=1,
                       netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr, send="raw", ouch_port=OUCH_PORT,
                       ouch_accounts=(account_c, account_py), stamp_log=1 << 20)


def _lookup(keys: np.ndarray, values: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """values of `want` in a (keys, values) table (first of duplicates): (found mask, values)."""
    k, first = np.unique(keys, return_index=True)
    at = np.searchsorted(k, want)
    ok = (at < len(k)) & (k[np.minimum(at, len(k) - 1)] == want)
    return ok, values[first[np.minimum(at, len(k) - 1)]]


def _ring_stamps(ring: str) -> tuple[np.ndarray, np.ndarray]:
    """(MoldUDP64 sequence number, capture stamp) of every packet the ring holds."""
    from wirespeed.ring import RingReader

    seqs, stamps = [], []
    with RingReader(ring, "oldest") as r:
        while len(b := r.poll(8192)):
            for i in range(len(b)):
                seqs.append(struct.unpack_from(">Q", b.payload_of(i), 42 + 10)[0])
            stamps.append(b.headers["ts_ns"].astype(np.int64).copy())
    return np.array(seqs, dtype=np.uint64), np.concatenate(stamps) if stamps else np.zeros(0, dtype=np.int64)


def _t2t(sim: Any, ring: str) -> dict[str, np.ndarray]:
    """For every order whose ClOrdID names a packet the simulator sent: order arrival -
    packet sent (t2t), and its two parts at the capture's stamp in the ring: packet sent
    -> captured, captured -> order arrival. Warm-up (the first 10 %) left out."""
    sent, orders = sim.stamps()
    empty = np.zeros(0, dtype=np.int64)
    if not len(orders) or not len(sent):
        return {"t2t": empty, "capture": empty, "after": empty}
    orders = orders[orders["rx_ns"] > 0]
    ok, sent_ns = _lookup(sent["seq"], sent["ns"].astype(np.int64), orders["tag"])
    orders, sent_ns = orders[ok], sent_ns[ok]
    rx = orders["rx_ns"].astype(np.int64)
    rseq, rts = _ring_stamps(ring)
    cok, cap_ns = _lookup(rseq, rts, orders["tag"]) if len(rseq) else (np.zeros(len(orders), bool), rx)
    w = len(orders) // 10
    return {"t2t": (rx - sent_ns)[w:], "capture": (cap_ns - sent_ns)[cok][w:], "after": (rx - cap_ns)[cok][w:]}


def _c_path(tb: Any, ring: str, opts: TradeBenchOptions, step: Callable[[str], None],
            share: Any = None) -> dict[str, Any]:
    """The C trader; with `share` (the af_xdp capture's transport) its session runs over the
    user-space TCP on the capture's queue."""
    from wirespeed.book.books import Books
    from wirespeed.orders.session import Session
    from wirespeed.ring import RingReader
    from wirespeed.trade.trader import Trader
    from wirespeed.transports.tcp_xsk import UserTcp

    books = Books(max_orders=1 << 18, max_levels=1 << 14)
    with tempfile.TemporaryDirectory() as tmp:
        tcp = UserTcp(tb.peer_addr, OUCH_PORT, share=share) if share is not None else None
        session = Session(tb.peer_addr, OUCH_PORT, "WSBNCH", "WSBNCH", [SYMBOL], journal=Path(tmp) / "j",
                          transport="af_xdp" if tcp else "kernel", tcp=tcp)
        try:
            session.wait_up()
            trader = Trader(session, books, "ping", "qty=1")
            with RingReader(ring, "oldest") as r:
                trader.follow(r, opts.seconds)
            st = trader.stats()
            trader.close()
            sst = session.stats()
            info = {"orders": st["entered"], "refused": st["refused"], "ticks": st["ticks"],
                    "session": {k: v for k, v in sst["refused"].items() if v}}
            if "tcp" in sst:
                info["tcp"] = {k: sst["tcp"][k] for k in ("retransmits", "out_of_order", "rto_expiries",
                                                           "zero_window_waits", "bad_csum", "srtt_us")}
            return info
        finally:
            session.close()
            books.close()


def _python_path(tb: Any, ring: str, opts: TradeBenchOptions, step: Callable[[str], None]) -> dict[str, Any]:
    """The idiomatic Python loop: poll the ring, apply to the books, decide in Python,
    send an order encoded in Python on a plain socket."""
    from wirespeed.book.books import Books
    from wirespeed.orders import ouch
    from wirespeed.orders import soupbintcp as soup
    from wirespeed.orders.client import OuchClient
    from wirespeed.ring import RingReader

    books = Books(max_orders=1 << 18, max_levels=1 << 14)
    orders = ticks = 0
    with OuchClient(tb.peer_addr, OUCH_PORT) as client, RingReader(ring, "oldest") as r:
        client.login("WSPY", "WSPY")
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        urn = 1
        end = time.monotonic() + opts.seconds
        next_drain = 0.0
        while (now := time.monotonic()) < end:
            batch = r.poll(64)
            if len(batch):
                books.records(batch)
                changes = books.bbo_changes()
                if len(changes):
                    loc = books.symbols().get(SYMBOL)
                    frame = batch.payload_of(len(batch) - 1)
                    seq = struct.unpack_from(">Q", frame, 42 + 10)[0]  # the packet: Ethernet 14 + IPv4 20 + UDP 8
                    for c in changes:
                        if c["locate"] == loc and c["bid_px"]:
                            ticks += 1
                            msg = ouch.make(ouch.IN, "O", user_ref_num=urn, side="B", quantity=1, symbol=SYMBOL,
                                            price=int(c["bid_px"]), time_in_force="3", display="Y", capacity="A",
                                            intermarket_sweep="N", cross_type="N", clordid=f"{seq:014d}", options=())
                            client.sock.send(soup.unsequenced(ouch.encode(msg)))
                            urn += 1
                            orders += 1
            if now >= next_drain:  # the port's answers, read now and then so its output never blocks
                client.read(0)
                next_drain = now + 0.05
    books.close()
    return {"orders": orders, "ticks": ticks, "refused": 0}


def _run_path(tb: Any, path: str, opts: TradeBenchOptions, rx_cpu: int | None,
              step: Callable[[str], None]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from wirespeed.exchange import sim as S
    from wirespeed.transports.af_xdp import AfXdpOptions

    ring = f"/dev/shm/wsbench-trade-{os.getpid()}"
    Path(ring).unlink(missing_ok=True)
    transport, mode = ("kernel", "block") if path == "kernel_c" else ("af_xdp", "busy")
    ccfg = cap.CaptureConfig(iface=tb.host_if, feeds=[cap.FeedSpec("bench", GROUP, PORT)], ring=ring,
                             ring_size="256M", transport=transport, mode=mode, stamp="user", cpu=rx_cpu,
                             xdp=AfXdpOptions(tcp_frames=256 if path == "af_xdp_tcp" else 0))
    try:
        with cap.Background(ccfg) as c:
            sim = S.start(_sim_cfg(tb, opts))
            try:
                if path == "python":
                    info = _python_path(tb, ring, opts, step)
                else:
                    info = _c_path(tb, ring, opts, step, c.transport if path == "af_xdp_tcp" else None)
                time.sleep(0.05)  # the last orders' way to the port
            finally:
                sim.stop()
                sim.wait()
            port = sim.order_stats()
            if port["rejects"]:
                raise WirespeedError(f"the order port rejected benchmark orders: {port['rejects']}")
            t2t = _t2t(sim, ring)
            info["port_orders"] = port["in_by_type"].get("O", 0)
            info["matched"] = int(len(t2t["t2t"]))
    finally:
        Path(ring).unlink(missing_ok=True)
    return t2t, info


def run(opts: TradeBenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from wirespeed.bench.capture import CaptureBenchOptions, _latency_once
    from wirespeed.bench.send import oneway
    from wirespeed.host import testbed

    def step(msg: str) -> None:
        if progress:
            progress(msg)

    res: dict[str, Any] = {"feed_rate": opts.feed_rate, "seconds": opts.seconds, "repeats": opts.repeats,
                           "strategy": "ping (IOC buy at the bid at every BBO change)"}
    risk = np.zeros(opts.risk_batches, dtype=np.float64)
    step("risk checks, timed alone")
    if _native.bench_risk(risk):
        raise WirespeedError("the risk benchmark's orders were refused: its limits are wrong")
    res["risk_ns_p50"], res["risk_ns_p99"] = (float(x) for x in np.percentile(risk, [50, 99]))
    if os.geteuid() != 0:
        res["t2t_skipped"] = "needs root: the test host (network namespace, veth, XDP)"
        for p in PATHS:
            res[f"t2t_us_p50_{p}"] = res[f"t2t_us_p99_{p}"] = None
        res["floor_us_p50"] = None
        res["goals"] = goals_report(GOALS, res)
        return res
    samples: dict[str, list[np.ndarray]] = {p: [] for p in (*PATHS, "floor_rx", "floor_tcp")}
    parts: dict[str, list[dict[str, np.ndarray]]] = {p: [] for p in PATHS}
    infos: dict[str, list[dict[str, Any]]] = {p: [] for p in PATHS}
    with testbed.provided(step) as tb, cap.receive_core() as rx_cpu:
        res["rx_cpu"], res["other_cpus"] = rx_cpu, sorted(os.sched_getaffinity(0))
        ring = f"/dev/shm/wsbench-trade-floor-{os.getpid()}"
        for i in range(opts.repeats):
            for path in PATHS:
                step(f"tick-to-trade {path}, {opts.feed_rate:,.0f} msg/s for {opts.seconds:g} s, "
                     f"run {i + 1}/{opts.repeats}")
                t2t, info = _run_path(tb, path, opts, rx_cpu, step)
                samples[path].append(t2t["t2t"])
                parts[path].append(t2t)
                infos[path].append(info)
            step(f"floor: af_xdp one-way receive, run {i + 1}/{opts.repeats}")
            try:
                lat = _latency_once(tb, ring, "af_xdp", CaptureBenchOptions(lat_rate=opts.feed_rate,
                                                                              lat_s=opts.seconds), rx_cpu)
            finally:
                Path(ring).unlink(missing_ok=True)
            samples["floor_rx"].append(np.array([lat["lat_us_p50"] * 1000]))
            step(f"floor: TCP one-way, 50-byte writes, run {i + 1}/{opts.repeats}")
            samples["floor_tcp"].append(oneway(tb, "kernel_tcp", opts.floor_n, opts.feed_rate))
    for p in PATHS:
        allp = np.concatenate(samples[p]) if samples[p] else np.zeros(0, dtype=np.int64)
        pc = _pcts(allp, f"t2t_{p}")
        res.update({f"t2t_us_{q}_{p}": pc[f"t2t_{p}_us_{q}"] for q in ("p50", "p90", "p99", "p999")})
        res[f"t2t_n_{p}"] = pc[f"t2t_{p}_n"]
        res[f"t2t_us_p50_runs_{p}"] = [float(np.percentile(x, 50) / 1000) if len(x) else None for x in samples[p]]
        res[f"t2t_info_{p}"] = infos[p]
        for part in ("capture", "after"):
            x = np.concatenate([d[part] for d in parts[p]]) if parts[p] else np.zeros(0)
            res[f"t2t_{part}_us_p50_{p}"] = float(np.percentile(x, 50) / 1000) if len(x) else None
    rx_p50 = float(np.median(np.concatenate(samples["floor_rx"]))) / 1000
    tcp = np.concatenate(samples["floor_tcp"])
    res["floor_rx_us_p50"] = rx_p50
    res.update({f"floor_tcp_us_{q}": v for q, v in zip(("p50", "p99"), (np.percentile(tcp, [50, 99]) / 1000).tolist())})
    res["floor_tcp_n"] = int(len(tcp))
    res["floor_us_p50"] = rx_p50 + res["floor_tcp_us_p50"]
    a = res["t2t_us_p50_af_xdp_c"]
    res["t2t_over_floor"] = a / res["floor_us_p50"] if a else None
    res["t2t_python_over_af_xdp_c"] = res["t2t_us_p50_python"] / a if a and res["t2t_us_p50_python"] else None
    res["t2t_kernel_c_over_af_xdp_c"] = res["t2t_us_p50_kernel_c"] / a if a and res["t2t_us_p50_kernel_c"] else None
    t = res["t2t_us_p50_af_xdp_tcp"]
    res["t2t_af_xdp_c_over_af_xdp_tcp"] = a / t if a and t else None
    res["goals"] = goals_report(GOALS, res)
    return res
