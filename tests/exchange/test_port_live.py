"""The order port on the test host, end to end, as the issue's "done" reads:
the simulator runs in the test host with its order port, a capture in the
host namespace writes its ITCH feed to a ring, Books reads the ring, and a
client logs in over veth. What the client does shows on both sides: the
OUCH answers on its session, and the feed's A/F, E, U, X, D on the same
order references and match numbers - and so in the L3 books."""
from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import wirespeed
from tests.conftest import wait_until
from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.feed import itch
from wirespeed.orders.client import OuchClient
from wirespeed.ring import RingError, RingReader

GROUP, PORT, OUCH_PORT = "239.5.0.21", 31021, 15021


def _feed_messages(ring: str) -> dict[str, list[Any]]:
    """Every ITCH message the capture wrote, decoded, by type."""
    out: dict[str, list[Any]] = defaultdict(list)
    for msg in itch.from_ring(ring):
        out[msg.type].append(msg)
    return out


def _level_of(books: wirespeed.Books, symbol: str, side: str, price: int) -> int | None:
    bids, asks = books.depth(symbol, 200)
    levels = bids if side == "B" else asks
    for i, p in enumerate(levels["price"]):
        if round(p * 10_000) == price:
            return i
    return None


def _orders_at(books: wirespeed.Books, lock: threading.Lock, symbol: str, side: str, price: int) -> list:
    with lock:
        lv = _level_of(books, symbol, side, price)
        return [] if lv is None else books.orders(symbol, side, lv)


@pytest.mark.privileged
def test_orders_show_on_the_port_and_in_the_captured_feed(testbed_cfg, tmp_path: Path) -> None:
    tb = testbed_cfg
    ring = f"/dev/shm/wsp-orders-{id(tmp_path)}"
    sim_cfg = S.SimConfig(lines=[S.Line(GROUP, PORT)], rate=2000, duration_s=60, symbols=4, netns=tb.netns,
                          iface=tb.peer_if, source=tb.peer_addr, ouch_port=OUCH_PORT)
    books = wirespeed.Books(max_orders=1 << 18, max_levels=1 << 16)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with RingReader(ring, "oldest") as r:
                while not stop.is_set():
                    try:
                        batch = r.poll(4096) or r.wait(timeout=0.05)
                    except RingError:  # the capture closed the ring: nothing more to read
                        return
                    with lock:
                        books.records(batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)

    try:
        with cap.Background(cap.CaptureConfig(iface=tb.host_if, feeds=[cap.FeedSpec("itch", GROUP, PORT, "A")],
                                               ring=ring, ring_size="64M", transport="kernel")) as capture:
            reader = threading.Thread(target=consume, daemon=True)
            reader.start()
            with S.start(sim_cfg) as sim:
                mid = sim.symbols()["S0001"]

                def asks() -> int:
                    with lock:
                        return int(books.depth("S0001", 50)[1]["shares"].sum()) if "S0001" in books.symbols() else 0
                wait_until(lambda: asks() >= 3000, "the captured feed's book of S0001 has 3,000 shares offered")

                with OuchClient(tb.peer_addr, OUCH_PORT) as c:  # from the host namespace, over the veth
                    assert c.login("WSTEST", "WSTEST") == ("WIRESPEED", 1)
                    # resting orders, priced where the simulator's own never are (1-20 cents off the mid)
                    c.enter(1, "B", 777, "S0001", mid - 3000, display="A")        # attributed: F, MPID WSTE
                    bid = c.wait_for("OrderAccepted", user_ref_num=1)
                    c.enter(2, "S", 555, "S0001", mid + 3000)                       # anonymous: A
                    ask = c.wait_for("OrderAccepted", user_ref_num=2)
                    wait_until(lambda: _orders_at(books, lock, "S0001", "B", mid - 3000) == [(bid.order_ref, 777)],
                               "the client's bid is in the L3 book built from the captured feed")
                    wait_until(lambda: _orders_at(books, lock, "S0001", "S", mid + 3000) == [(ask.order_ref, 555)],
                               "the client's offer is in the L3 book")

                    # a buy that crosses every simulator offer; IOC, so nothing of it rests
                    c.enter(3, "B", 600, "S0001", mid + 2100, time_in_force="3")
                    take = c.wait_for("OrderAccepted", user_ref_num=3)
                    assert take.order_state == "L"
                    fills = []
                    while sum(f.quantity for f in fills) < 600:
                        fills.append(c.wait_for("OrderExecuted", user_ref_num=3))
                    assert all(mid < f.price <= mid + 2000 and f.liquidity_flag == "R" for f in fills)

                    c.replace(1, 4, 800, mid - 3100)          # the bid moves: U, new reference
                    moved = c.wait_for("OrderReplaced", user_ref_num=4)
                    c.cancel(2, 500)                          # 55 shares off the offer: X
                    assert c.wait_for("OrderCanceled", user_ref_num=2).quantity == 55
                    wait_until(lambda: _orders_at(books, lock, "S0001", "B", mid - 3100) == [(moved.order_ref, 800)]
                               and not _orders_at(books, lock, "S0001", "B", mid - 3000)
                               and _orders_at(books, lock, "S0001", "S", mid + 3000) == [(ask.order_ref, 500)],
                               "the L3 book follows the replace and the partial cancel")
                    c.cancel(4)                               # all of it: D
                    c.wait_for("OrderCanceled", user_ref_num=4)
                    wait_until(lambda: not _orders_at(books, lock, "S0001", "B", mid - 3100),
                               "the canceled bid leaves the L3 book")
                port_stats = sim.order_stats()
                sim.stop()
            sent = sim.result
            wait_until(lambda: books.stats()["books"]["messages"] >= sent["next_seq"] - 1,
                       "the books read every message the simulator sent")
            stop.set()
            reader.join(5)
    finally:
        feed = _feed_messages(ring) if Path(ring).exists() else {}
        Path(ring).unlink(missing_ok=True)
        books.close()
    assert not errors, errors
    assert not any(capture.result["drops"].values()), capture.result["drops"]

    # the feed, as captured: each OUCH event on the same reference and match number
    adds_f = [m for m in feed["F"] if m.order_ref == bid.order_ref]
    assert [(m.side, m.shares, m.stock, m.price, m.attribution) for m in adds_f] == \
        [("B", 777, "S0001", mid - 3000, "WSTE")]
    adds_a = [m for m in feed["A"] if m.order_ref == ask.order_ref]
    assert [(m.side, m.shares, m.price) for m in adds_a] == [("S", 555, mid + 3000)]
    executed = {m.match: m for m in feed["E"] + feed["C"]}
    for f in fills:
        e = executed.get(f.match)
        assert e is not None, f"OUCH Executed match {f.match} is not in the captured feed"
        assert e.shares == f.quantity
    assert {(m.order_ref, m.new_order_ref, m.shares, m.price) for m in feed["U"]} >= \
        {(bid.order_ref, moved.order_ref, 800, mid - 3100)}
    assert (ask.order_ref, 55) in {(m.order_ref, m.shares) for m in feed["X"]}
    assert moved.order_ref in {m.order_ref for m in feed["D"]}
    assert take.order_ref not in {m.order_ref for m in feed["A"] + feed["F"]}  # IOC: never rested

    # nothing unexplained: the books took every message, and the port counted what happened
    st = books.stats()
    assert st["books"]["unknown_ref"] == 0 and not books.stale
    assert port_stats["fills"] == len(fills) and port_stats["in_by_type"] == {"O": 3, "U": 1, "X": 2}
    assert port_stats["out_by_type"]["E"] == len(fills) and not port_stats["rejects"]
