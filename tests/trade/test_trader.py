"""The trader (native/trade/trader.c): a recorded feed through the books, a
strategy at each BBO change, its intents through the session's checks to a
scripted exchange - and the orders tie back to the packets that caused them.
The fast path allocates nothing and makes one syscall per order (send)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.book.test_route import _batch
from tests.conftest import REPO
from tests.orders.scripted_exchange import ScriptedExchange
from wirespeed.book.books import Books
from wirespeed.errors import WirespeedError
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import read_packets
from wirespeed.orders import RiskLimits, Session
from wirespeed.trade import Intent, Trader, include_dir

SYMS = ["S0001", "S0002"]


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> list[tuple[int, bytes]]:
    cfg = S.SimConfig(lines=[S.Line("239.1.1.1", 30001)], count=20_000, symbols=2, seed=2, rate=0, duration_s=0)
    path = tmp_path_factory.mktemp("day") / "day.pcapng"
    S.to_pcapng(cfg, path)
    return [(ts, bytes(f)) for _, ts, f in read_packets(str(path))]


def _session(ex: ScriptedExchange, tmp: Path, **kw) -> Session:
    return Session("127.0.0.1", ex.port, "WSTEST", "WSTEST", SYMS, journal=tmp / "j", reconnect_ms=50,
                   **kw).wait_up()


def _expected_pings(day) -> list[tuple[int, int, int]]:
    """(packet seq, locate, bid) for every BBO change with a bid, from the books alone."""
    books = Books(max_orders=1 << 16, max_levels=1 << 12)
    out = []
    for ts, f in day:
        books.frame(f, ts)
        seq = int.from_bytes(f[42 + 10:42 + 18], "big")
        out += [(seq, int(c["locate"]), int(c["bid_px"])) for c in books.bbo_changes() if c["bid_px"]]
    return out


def _feed(trader: Trader, day) -> None:
    b = _batch([f for _, f in day], [ts for ts, _ in day])
    trader._t.records(b.headers, b.payload, len(b))


def test_ping_orders_each_bbo_change_and_names_its_packet(tmp_path: Path, day) -> None:
    with ScriptedExchange(accept=False) as ex, _session(ex, tmp_path) as s:
        books = Books(max_orders=1 << 16, max_levels=1 << 12)
        t = Trader(s, books, "ping", "qty=7")
        _feed(t, day)
        want = _expected_pings(day)
        st = t.stats()
        assert st["entered"] == len(want) == st["intents"] and st["refused"] == 0 and len(want) > 1000
        ex.wait(lambda: len(ex.entered()) == len(want), what="every order at the exchange")
        sym_of = {loc: name for name, loc in books.symbols().items()}
        got = [(int(m.clordid), m.symbol, m.price) for m in ex.entered()]
        assert got == [(seq, sym_of[loc], bid) for seq, loc, bid in want]
        assert {(m.side, m.quantity, m.time_in_force) for m in ex.entered()} == {("B", 7, "3")}
        assert [m.user_ref_num for m in ex.entered()] == list(range(1, len(want) + 1))


def test_intents_meet_the_risk_checks(tmp_path: Path, day) -> None:
    """No path around the checks: a strategy asking for more than the limits allows
    sends nothing, and every refusal is counted by its check."""
    with ScriptedExchange() as ex, _session(ex, tmp_path, limits=RiskLimits(max_order_qty=50)) as s:
        t = Trader(s, Books(max_orders=1 << 16, max_levels=1 << 12), "take_ask", "limit=199999,qty=51")
        _feed(t, day)
        st = t.stats()
        assert st["intents"] > 1000 and st["entered"] == 0 and st["refused"] == st["intents"]
        assert st["last_refusal"] == -3  # max_order_qty
        assert s.stats()["refused_by_check"]["max_order_qty"] == st["intents"]
        s.kill()
        with pytest.raises(WirespeedError, match="already has a trader"):
            Trader(s, Books(), "ping")
        t.close()
        t2 = Trader(s, Books(max_orders=1 << 16, max_levels=1 << 12), "ping")
        _feed(t2, day[:500])
        assert t2.stats()["entered"] == 0 and s.stats()["refused_by_check"]["kill_switch"] > 0
        time.sleep(0.1)
        assert ex.entered() == []


def test_join_bid_keeps_one_order_at_the_bid_with_replaces(tmp_path: Path, day) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path) as s:
        books = Books(max_orders=1 << 16, max_levels=1 << 12)
        t = Trader(s, books, "join_bid", "qty=10")
        _feed(t, day[:3000])
        st = t.stats()
        assert st["entered"] == 2 and st["replaced"] > 50  # one per symbol, then moved
        ex.wait(lambda: len(ex.entered()) == 2 + st["replaced"], what="the replaces")
        kinds = [type(m).__name__ for m in ex.entered()]
        assert kinds.count("ReplaceOrder") == st["replaced"]


def test_a_python_strategy_makes_the_same_decisions(tmp_path: Path, day, ring_path: str) -> None:
    from wirespeed.ring import Ring, RingReader, RingWriter

    def ping(ticks: np.ndarray, symbols: list[str]) -> list[Intent]:
        return [Intent(symbols[t["sym"]], "B", 7, t["bid_px"] / 10_000) for t in ticks if t["bid_px"]]

    Ring.create(ring_path, size="64M")
    with RingWriter(ring_path) as w:
        for ts, f in day:
            w.append(f, ts_ns=ts)
    with ScriptedExchange(accept=False) as ex, _session(ex, tmp_path) as s:
        books = Books(max_orders=1 << 16, max_levels=1 << 12)
        t = Trader(s, books, ping)
        with RingReader(ring_path, "oldest") as r:
            t.follow(r, 1.0)
        assert t.stats()["entered"] == len(_expected_pings(day))


def test_a_strategy_from_a_shared_object(tmp_path: Path, day) -> None:
    so = tmp_path / "hit_bid.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-I", str(include_dir()), "-o", str(so),
                    str(REPO / "examples" / "hit_bid.c"), "-lm"], check=True)
    with ScriptedExchange(accept=False) as ex, _session(ex, tmp_path) as s:
        t = Trader(s, Books(max_orders=1 << 16, max_levels=1 << 12), str(so), "limit=0.01,qty=5")
        _feed(t, day[:2000])
        assert t.stats()["entered"] > 100
        ex.wait(lambda: ex.entered(), what="orders")
        assert {(m.side, m.quantity) for m in ex.entered()} == {("S", 5)}
        t.close()
        with pytest.raises(WirespeedError, match="limit=PRICE"):
            Trader(s, Books(), str(so), "qty=5")
        with pytest.raises(WirespeedError, match="no built-in strategy"):
            Trader(s, Books(), "nonesuch")
        with pytest.raises(WirespeedError, match="has no symbol"):
            Trader(s, Books(), f"{so}:other")


FAST_PATH = r"""
import ctypes, sys, time
from tests.book.test_route import _batch
from wirespeed.book.books import Books
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import read_packets
from wirespeed.orders import Session
from wirespeed.trade import Trader
S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001)], count=N, symbols=2, seed=2, rate=0, duration_s=0), DAY)
pk = [(ts, bytes(f)) for _, ts, f in read_packets(DAY)]
half = len(pk) // 2
warm, steady = (_batch([f for _, f in p], [t for t, _ in p]) for p in (pk[:half], pk[half:]))
s = Session("127.0.0.1", PORT, "WSTEST", "WSTEST", ["S0001", "S0002"], journal=JOURNAL, start=False)
while s.link != "up":
    s.native.service()
    time.sleep(0.001)
t = Trader(s, Books(max_orders=1 << 16, max_levels=1 << 12), "ping")
t._t.records(warm.headers, warm.payload, len(warm))
e0 = t.stats()["entered"]
t._t.records(steady.headers, steady.payload, len(steady))
print("entered", t.stats()["entered"] - e0, t.stats()["refused"], t.stats()["entered"])
"""


def _child(code: str, env: dict[str, str] | None = None, strace: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}:{REPO}", **(env or {}))
    cmd = [sys.executable, "-c", code]
    if strace:
        cmd = ["strace", "-f", "-c", "-o", "/dev/stderr"] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _code(tmp: Path, port: int | str, n: int) -> str:
    return (f"N = {n}\nDAY = {str(tmp / f'day{n}.pcapng')!r}\nPORT = {port}\nJOURNAL = {str(tmp / f'j{n}')!r}\n"
            + FAST_PATH)


def test_the_fast_path_allocates_nothing(tmp_path: Path, alloc_shim: Path) -> None:
    """Ring records -> books -> strategy -> risk -> journal -> template -> send():
    a malloc counter across the steady half of a day, thousands of orders."""
    count = ("count = ctypes.CDLL(None).ws_malloc_count\ncount.restype = ctypes.c_ulong\nbefore = count()")
    code = _code(tmp_path, "{port}", 40_000)
    code = code.replace("e0 = t.stats()[\"entered\"]\n", "e0 = t.stats()[\"entered\"]\n" + count + "\n", 1)
    code = code.replace("t._t.records(steady.headers, steady.payload, len(steady))\n",
                        "t._t.records(steady.headers, steady.payload, len(steady))\nmallocs = count() - before\n")
    code = code.replace('print("entered"', 'print("mallocs", mallocs, "entered"')
    with ScriptedExchange(accept=False) as ex:
        out = _child(code.replace("{port}", str(ex.port)), env={"LD_PRELOAD": str(alloc_shim)})
    words = out.stdout.split()
    mallocs, entered, refused = int(words[1]), int(words[3]), int(words[4])
    assert entered > 2000 and refused == 0
    assert mallocs == 0, f"{mallocs} allocations for {entered} orders"


def test_the_fast_path_makes_one_syscall_per_order(tmp_path: Path) -> None:
    """strace counts the child's syscalls for a small and a large day: what the
    larger one adds is one sendto per order and nothing else beyond noise."""
    runs = []
    for n in (4_000, 40_000):
        with ScriptedExchange(accept=False) as ex:
            out = _child(_code(tmp_path, ex.port, n), strace=True)
        entered = int(out.stdout.split()[3])  # every order of the run: warm-up and steady halves
        total = int(re.search(r"^-+ -+ -+ -+ -+ -+\n100\.00\s+\S+\s+\S+\s+(\d+)", out.stderr, re.M).group(1))
        sendto = re.search(r"^\s*\S+\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?sendto$", out.stderr, re.M)
        runs.append((entered, total, int(sendto.group(1)) if sendto else 0))
    (e0, t0, s0), (e1, t1, s1) = runs
    assert e1 - e0 > 2000
    assert s1 - s0 == e1 - e0, runs
    assert (t1 - t0) - (e1 - e0) < 3000, f"{runs}: syscalls beyond one send per order"
