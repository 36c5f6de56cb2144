"""The matching engine (native/exchange/match.c): price-time priority shown
on small books, then held to the plain-Python reference (exchange/matching.py)
event for event on random flow."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirespeed import _native
from wirespeed.exchange import matching as M
from wirespeed.exchange.matching import ADD, CANCEL, EXEC, REPLACE, ReferenceMatcher

PX = 1_000_000  # $100.0000


def _kinds(events) -> list[int]:
    return [e["kind"] for e in events]


def test_price_then_time_priority_and_the_resting_price() -> None:
    e = _native.MatchEngine(2)
    first, _ = e.add(1, "S", PX + 100, 100, owner=0, tag=1)
    second, _ = e.add(1, "S", PX + 100, 100, owner=0, tag=2)
    better, _ = e.add(1, "S", PX + 50, 100, owner=0, tag=3)
    e.events()
    h, _ = e.add(1, "B", PX + 200, 250, owner=7, tag=70)  # sweeps: the better price, then the older order
    ev = e.events()
    assert h is None and _kinds(ev) == [EXEC, EXEC, EXEC]
    assert [(x["tag"], x["qty"], x["price"]) for x in ev] == [(3, 100, PX + 50), (1, 100, PX + 100), (2, 50, PX + 100)]
    assert [x["match"] for x in ev] == [1, 2, 3] and all(x["taker_owner"] == 7 and x["taker_tag"] == 70 for x in ev)
    assert e.order(second)["qty"] == 50 and e.order(first) is None
    assert e.bbo(1) == (0, 0, PX + 100, 50)


def test_the_rest_rests_or_is_canceled_when_ioc() -> None:
    e = _native.MatchEngine(1)
    e.add(1, "S", PX, 100)
    e.events()
    h, ref = e.add(1, "B", PX, 300, ioc=True, owner=2, tag=5)
    ev = e.events()
    assert h is None and _kinds(ev) == [EXEC, CANCEL]
    assert ev[1]["qty"] == 200 and ev[1]["rested"] == 0 and ev[1]["ref"] == ref and ev[1]["owner"] == 2
    h, ref = e.add(1, "B", PX, 300, owner=2, tag=6, attributed=True)
    ev = e.events()
    assert h is not None and _kinds(ev) == [ADD] and ev[0]["qty"] == 300 and ev[0]["attributed"] == 1
    assert e.bbo(1) == (PX, 300, 0, 0)


def test_reduce_keeps_priority_replace_loses_it() -> None:
    e = _native.MatchEngine(1)
    a, _ = e.add(1, "B", PX, 500, tag=1)
    b, _ = e.add(1, "B", PX, 500, tag=2)
    assert e.reduce(a, 200) == 300
    ev = e.events()[-1]
    assert ev["kind"] == CANCEL and ev["qty"] == 300 and ev["remaining"] == 200 and ev["rested"] == 1
    e.add(1, "S", PX, 100, tag=3)
    assert e.events()[0]["tag"] == 1  # a is still first in line
    nb, new_ref = e.replace(b, PX, 500, 4)
    ev = e.events()
    assert nb == b and _kinds(ev) == [REPLACE] and ev[0]["new_ref"] == new_ref and ev[0]["ref"] < new_ref
    e.reduce(a, 0)
    e.add(1, "S", PX, 100, tag=5)
    assert e.events()[-1]["tag"] == 4  # the replaced order is the only one left


def test_a_replace_that_crosses_trades_like_an_add() -> None:
    e = _native.MatchEngine(1)
    e.add(1, "S", PX + 100, 100, tag=1)
    b, _ = e.add(1, "B", PX, 300, owner=3, tag=2)
    e.events()
    nb, ref = e.replace(b, PX + 100, 300, 9)
    ev = e.events()
    assert _kinds(ev) == [CANCEL, EXEC, ADD]
    assert ev[0]["tag"] == 2 and ev[0]["remaining"] == 0 and ev[1]["taker_tag"] == 9 and ev[2]["qty"] == 200
    assert e.order(nb)["ref"] == ref


def test_the_hidden_flow_hits_the_front_and_match_numbers_are_shared() -> None:
    e = _native.MatchEngine(1)
    e.add(1, "B", PX, 100, owner=0, tag=1)
    e.add(1, "B", PX + 100, 100, owner=5, tag=2)  # a client's order, now the best bid
    e.events()
    assert e.execute_front(1, "B", 30, True) == 30
    ev = e.events()[0]
    assert ev["owner"] == 5 and ev["with_price"] == 1 and ev["taker_owner"] == 0 and ev["match"] == 1
    assert e.next_match() == 2
    assert e.execute_front(1, "S", 100) == 70  # no asks: the bids; at most the front order's shares
    assert sorted(e.sim_orders(1)) == sorted(h for h in e.sim_orders(1))


def test_a_full_pool_refuses_before_anything_trades() -> None:
    e = _native.MatchEngine(1, max_orders=2)
    e.add(1, "S", PX, 100)
    e.add(1, "S", PX, 100)
    e.events()
    h, ref = e.add(1, "B", PX - 100, 100)
    assert (h, ref) == (None, 0) and e.events() == [] and e.stats()["pool_full"] == 1
    h, ref = e.add(1, "B", PX, 50, ioc=True)  # an IOC never rests: it may trade
    assert ref and _kinds(e.events()) == [EXEC]


# -- the reference, event for event ----------------------------------------------------------

def _same(c: list[dict], py: list[dict]) -> None:
    strip = [{k: v for k, v in x.items() if k != "handle"} for x in c]
    assert strip == [{k: v for k, v in x.items() if k != "handle"} for x in py]


OPS = st.lists(st.tuples(
    st.sampled_from(["add", "add", "add", "reduce", "replace", "front"]),
    st.integers(1, 3),                       # locate
    st.sampled_from("BS"),
    st.integers(-6, 6),                      # price in 50-cent steps from the mid
    st.integers(1, 12),                      # round lots
    st.booleans(),                           # ioc / with_price
    st.integers(0, 3),                       # owner
    st.integers(0, 1000),                    # which earlier order
), max_size=150)


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(OPS)
def test_the_engine_equals_the_reference(ops) -> None:
    c, py = _native.MatchEngine(3, max_orders=1 << 12), ReferenceMatcher(3)
    # every order that rested: (C handle, Python handle, its tag). C reuses a
    # gone order's slot, so an order still rests in C only if its tag matches.
    orders: list[tuple[int, int, int]] = []
    for i, (op, loc, side, step, lots, flag, owner, pick) in enumerate(ops):
        price, qty = PX + 5000 * step, 100 * lots
        if op == "add":
            ch, cref = c.add(loc, side, price, qty, ioc=flag, owner=owner, tag=i)
            ph, pref, pev = py.add(loc, side, price, qty, flag, owner, i, False)
            assert cref == pref and (ch is None) == (ph is None)
            if ch is not None:
                orders.append((ch, ph, i))
        elif op == "front":
            n, pev = py.execute_front(loc, side, qty, flag)
            assert c.execute_front(loc, side, qty, flag) == n
        elif not orders:
            continue
        else:
            k = pick % len(orders)
            ch, ph, tag = orders[k]
            c_live = (o := c.order(ch)) is not None and o["tag"] == tag
            assert c_live == (ph in py.orders)
            if not c_live:
                continue
            if op == "reduce":
                n, pev = py.reduce(ph, qty // 2 if flag else 0)
                assert c.reduce(ch, qty // 2 if flag else 0) == n
            else:
                nch, cref = c.replace(ch, price, qty, i)
                nph, pref, pev = py.replace(ph, price, qty, i)
                assert cref == pref and (nch is None) == (nph is None)
                if nch is not None:
                    orders[k] = (nch, nph, i)
        _same(c.events(), pev)
    for loc in (1, 2, 3):
        assert c.bbo(loc) == py.bbo(loc)
        assert len(c.sim_orders(loc)) == len(py.sim_orders(loc))


def test_a_run_in_c_equals_a_run_in_python() -> None:
    ops = M.order_mix(20_000, symbols=4, seed=7)
    c = _native.MatchEngine(4, max_orders=1 << 16)
    events, trades, _ns = c.run(ops)
    counts = M.run(ReferenceMatcher(4), ops)
    assert (events, trades) == (counts["events"], counts["trades"]) and trades > 1000
    for loc in range(1, 5):
        assert c.bbo(loc)[0] < c.bbo(loc)[2] or 0 in (c.bbo(loc)[0], c.bbo(loc)[2])  # never crossed


def test_bad_arguments_are_refused() -> None:
    e = _native.MatchEngine(2)
    for call in (lambda: e.add(0, "B", PX, 1), lambda: e.add(3, "B", PX, 1), lambda: e.add(1, "X", PX, 1),
                 lambda: e.add(1, "B", PX, 0), lambda: e.run(b"\x00" * 5)):
        with pytest.raises(ValueError):
            call()
    assert e.reduce(12345, 0) == 0 and e.replace(12345, PX, 1) == (None, 0) and e.order(99) is None
