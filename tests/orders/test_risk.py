"""Pre-trade risk (native/orders/risk.c) through the order session: each check
refuses with its name before a byte is sent, the kill switch, Replace held
to the same checks, the collar against live books, and a property: however
orders and fills interleave, no limit is ever exceeded."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.orders.scripted_exchange import ScriptedExchange
from wirespeed.book.books import Books
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import read_packets
from wirespeed.orders import OrderRefused, RiskLimits, Session, SymbolLimits

SYMS = ["AAPL", "MSFT"]


def _session(ex: ScriptedExchange, journal: Path, **kw) -> Session:
    s = Session("127.0.0.1", ex.port, "WSTEST", "WSTEST", kw.pop("symbols", SYMS), journal=journal, reconnect_ms=50,
                **kw)
    return s.wait_up()


def _synced(s: Session, ex: ScriptedExchange) -> None:
    """The exchange has every message the session sent, and the session every answer."""
    end = time.monotonic() + 5
    while len(ex.received) != sum(s.stats()["sent"].values()) or s.stats()["next_seq"] != len(ex.log) + 1:
        assert time.monotonic() < end, "the session never caught up with the exchange's log"
        time.sleep(0.002)


def _refused(s: Session, check: str, *args, **kw) -> None:
    with pytest.raises(OrderRefused) as e:
        s.enter(*args, **kw)
    assert e.value.check == check, e.value


@pytest.mark.parametrize("limits,order,check", [
    (RiskLimits(max_order_qty=100), ("AAPL", "B", 101, 10.0), "max_order_qty"),
    (RiskLimits(max_order_notional=1000.0), ("AAPL", "S", 101, 10.0), "max_order_notional"),
    (RiskLimits(restricted=["MSFT"]), ("MSFT", "B", 1, 10.0), "restricted_symbol"),
    (RiskLimits(max_position=100), ("AAPL", "S", 101, 10.0), "position"),
    (RiskLimits(max_gross_notional=500.0), ("AAPL", "B", 51, 10.0), "gross_notional"),
    (RiskLimits(symbols={"AAPL": SymbolLimits(max_position=10)}), ("AAPL", "B", 11, 10.0), "position"),
    (RiskLimits(collar_bp=100), ("AAPL", "B", 1, 10.0), "no_reference"),
])
def test_each_check_refuses_before_a_byte_is_sent(tmp_path: Path, limits, order, check) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j", limits=limits) as s:
        _refused(s, check, *order)
        time.sleep(0.05)
        assert ex.entered() == [] and s.stats()["refused_by_check"][check] == 1
        assert s.stats()["next_urn"] == 1  # a refused order takes no UserRefNum


def test_open_orders_rate_and_duplicates(tmp_path: Path) -> None:
    lim = RiskLimits(max_open_orders=3, max_orders_per_s=5, dup_window_ms=200)
    with ScriptedExchange(accept=False) as ex, _session(ex, tmp_path / "j", limits=lim) as s:
        for i in range(3):
            s.enter("AAPL", "B", 10 + i, 10.0)
        _refused(s, "open_orders", "AAPL", "B", 20, 10.0)
        s.set_limits(RiskLimits(max_open_orders=100, max_orders_per_s=5, dup_window_ms=200))
        _refused(s, "duplicate_order", "AAPL", "B", 10, 10.0)
        s.enter("AAPL", "B", 10, 10.01)
        s.enter("AAPL", "S", 10, 10.0)
        _refused(s, "order_rate", "MSFT", "B", 1, 1.0)  # 5 in the last second
        time.sleep(1.05)
        s.enter("MSFT", "B", 1, 1.0)
        s.enter("AAPL", "B", 10, 10.0)  # the duplicate window has passed
        ex.wait(lambda: len(ex.entered()) == 7, what="the 7 orders that passed")


def test_the_kill_switch_refuses_cancels_everything_and_can_disable_entry(tmp_path: Path) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j", firm="WSPD") as s:
        urns = [s.enter(sym, "B", 100, 10.0 + i) for i, sym in enumerate(SYMS * 2)]
        _synced(s, ex)
        assert s.kill(disable=True) == 4
        _refused(s, "kill_switch", "AAPL", "B", 1, 10.0)
        with pytest.raises(OrderRefused) as e:
            s.replace(urns[0], 50, 10.0)
        assert e.value.check in ("kill_switch", "unknown_order")
        ex.wait(lambda: [type(m).__name__ for m in ex.received[-5:]] == ["CancelOrder"] * 4 + ["DisableOrderEntry"],
                what="four cancels and Disable Order Entry")
        assert ex.received[-1].firm == "WSPD"
        _synced(s, ex)
        assert all(s.order(u)["state"] == "canceled" for u in urns) and s.stats()["open_orders"] == 0
        s.unkill()
        assert s.enter("AAPL", "B", 1, 10.0) > ex.received[-1].user_ref_num  # D used up its UserRefNum


def test_replace_meets_the_same_checks(tmp_path: Path) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j", limits=RiskLimits(max_order_qty=500,
                                                                                   max_position=800)) as s:
        u = s.enter("AAPL", "B", 400, 10.0)
        _synced(s, ex)
        with pytest.raises(OrderRefused) as e:
            s.replace(u, 600, 10.0)
        assert e.value.check == "max_order_qty"
        ex.execute(u, 100, 100_000)
        _synced(s, ex)
        # 100 held + a replace to 500 total (400 open): within 800; the old order's
        # reservation is not counted twice
        u2 = s.replace(u, 500, 10.05)
        ex.wait(lambda: type(ex.received[-1]).__name__ == "ReplaceOrder", what="the replace")
        assert (ex.received[-1].orig_user_ref_num, ex.received[-1].user_ref_num) == (u, u2)


def test_open_orders_count_against_the_position_as_if_filled(tmp_path: Path) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j", limits=RiskLimits(max_position=1000)) as s:
        u = s.enter("AAPL", "B", 700, 10.0)
        _refused(s, "position", "AAPL", "B", 301, 10.0)  # 700 open + 301 could make 1001
        s.enter("AAPL", "S", 1000, 10.0)                 # a sell may take it to -1000 (worst case: no buy fills)
        _refused(s, "position", "AAPL", "S", 1, 10.0)
        _synced(s, ex)
        ex.execute(u, 700, 100_000)
        _synced(s, ex)
        s.enter("AAPL", "B", 300, 10.0)                  # 700 held + 300 open


def _books_with_quotes(tmp_path: Path, drop: tuple[int, int] | None = None) -> Books:
    faults = S.Faults(drop_seqs=(drop,)) if drop else S.Faults()
    cfg = S.SimConfig(lines=[S.Line("239.1.1.1", 30001, faults)], count=3000, symbols=2, seed=2, rate=0,
                      duration_s=0)
    path = tmp_path / "day.pcapng"
    S.to_pcapng(cfg, path)
    books = Books(max_orders=1 << 16, max_levels=1 << 12)
    for _, ts, frame in read_packets(str(path)):
        books.frame(frame, ts)
    return books


def test_the_collar_reads_the_live_book_and_refuses_a_stale_one(tmp_path: Path) -> None:
    books = _books_with_quotes(tmp_path)
    bbo = books.bbo("S0001")
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j", symbols=["S0001"], books=books,
                                            limits=RiskLimits(collar_bp=100)) as s:
        ref = s.native.ref(0)
        assert (ref["bid"], ref["ask"]) == (round(bbo["bid_px"] * 10_000), round(bbo["ask_px"] * 10_000))
        ceiling = bbo["ask_px"] * 1.01
        s.enter("S0001", "B", 1, round(ceiling - 0.01, 2))
        _refused(s, "price_collar", "S0001", "B", 1, round(ceiling + 0.01, 2))
        _refused(s, "price_collar", "S0001", "S", 1, round(bbo["bid_px"] * 0.99 - 0.01, 2))
    stale = _books_with_quotes(tmp_path, drop=(2900, 2950))
    assert stale.stale
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j2", symbols=["S0001"], books=stale,
                                            limits=RiskLimits(collar_bp=100)) as s:
        _refused(s, "stale_book", "S0001", "B", 1, 1.0)


LIM = RiskLimits(max_position=1000, max_gross_notional=50_000.0, max_open_orders=8)
_action = st.one_of(
    st.tuples(st.just("enter"), st.sampled_from("BS"), st.integers(1, 700), st.integers(1, 60)),
    st.tuples(st.just("enter"), st.sampled_from("BS"), st.integers(300, 700), st.integers(1, 20)),
    st.tuples(st.just("fill"), st.integers(0, 50), st.integers(1, 700), st.integers(0, 3)),
    st.tuples(st.just("fill"), st.integers(0, 50), st.just(999_999), st.integers(0, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 50), st.integers(0, 0), st.integers(0, 0)),
)


@pytest.mark.property
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(_action, min_size=5, max_size=40))
@example(actions=[("enter", "B", 700, 10), ("enter", "B", 700, 10), ("fill", 0, 999_999, 0), ("fill", 0, 999_999, 0)])
@example(actions=[("enter", "S", 600, 40), ("enter", "S", 600, 40), ("fill", 0, 999_999, 0), ("fill", 0, 999_999, 0)])
@example(actions=[("enter", "B", 700, 40), ("enter", "S", 700, 40), ("fill", 0, 999_999, 0), ("fill", 0, 999_999, 0)])
def test_no_interleaving_of_orders_and_fills_exceeds_a_limit(tmp_path_factory, actions) -> None:
    """Random orders (many in flight) and fills of any part of any open order, at any
    price a limit allows (a buy at or below it, a sell at it): position, gross
    notional and open orders never pass their limits."""
    j = tmp_path_factory.mktemp("risk") / "j"
    with ScriptedExchange() as ex, _session(ex, j, symbols=["AAPL"], limits=LIM) as s:
        for kind, a, b, c in actions:
            if kind == "enter":
                try:
                    s.enter("AAPL", a, b, float(c))
                except OrderRefused:
                    pass
            else:
                _synced(s, ex)
                live = [(u, o) for u, o in sorted(ex.orders.items()) if o["open"] > 0]
                if not live:
                    continue
                urn, o = live[a % len(live)]
                if kind == "fill":
                    q = min(b, o["open"])
                    px = o["price"] - (c * 100 if o["side"] == "B" else 0)  # buys may improve
                    ex.execute(urn, q, max(px, 100))
                    o["open"] -= q
                else:
                    ex.cancel(urn, o["open"])
                    o["open"] = 0
            _synced(s, ex)
            pos = s.positions()["AAPL"]
            assert abs(pos["position"]) <= LIM.max_position
            assert pos["bought_notional"] + pos["sold_notional"] <= LIM.max_gross_notional + 1e-6
            assert s.stats()["open_orders"] <= LIM.max_open_orders
