"""wirespeed.Books from a recording: the simulator's A/B session written to
pcapng with faults on the lines gives the books of the undamaged stream."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import wirespeed
from wirespeed.exchange import sim as S
from wirespeed.book.reference import ReferenceBooks
from wirespeed.errors import WirespeedError
from tests.book.test_engine import _messages
from tests.book.test_feed import session


def _recording(tmp_path: Path, a: S.Faults, b: S.Faults, count: int = 20_000) -> Path:
    cfg = S.SimConfig(lines=[S.Line("239.1.1.1", 30001, faults=a), S.Line("239.1.2.1", 30001, faults=b)],
                      count=count, symbols=6, seed=5, rate=0, duration_s=0)
    path = tmp_path / "day.pcapng"
    S.to_pcapng(cfg, path)
    return path


def _reference(count: int = 20_000) -> ReferenceBooks:
    ref = ReferenceBooks()
    for m in _messages(S.itch_day(count, symbols=6, seed=5)):
        ref.apply(m)
    return ref


def test_books_from_ab_recording_with_losses_on_each_line(tmp_path: Path) -> None:
    # losses on each line, never the same packets on both (that is the next test)
    path = _recording(tmp_path, S.Faults(drop_seqs=((100, 300), (5000, 5400)), reorder=0.03),
                      S.Faults(drop_seqs=((2000, 2600), (9000, 9100)), dup=0.03))
    books = wirespeed.Books.from_pcapng(path, max_orders=1 << 16, max_levels=1 << 14)
    ref = _reference()
    syms = books.symbols()
    assert len(syms) == 6
    for name, loc in syms.items():
        bids, asks = books.depth(name, 50)
        assert [(round(p * 10_000), q, c) for p, q, c in bids.tolist()] == ref.depth(loc, 0, 50)
        assert [(round(p * 10_000), q, c) for p, q, c in asks.tolist()] == ref.depth(loc, 1, 50)
        for side, levels in (("B", bids), ("S", asks)):  # L3: each level's orders, in time priority
            for lv in range(min(len(levels), 5)):
                assert books.orders(name, side, lv) == ref.orders_at(loc, 0 if side == "B" else 1, lv)
        bbo = books.bbo(name)
        assert (np.isnan(bbo["bid_px"]) and not len(bids)) or bbo["bid_px"] == bids[0]["price"]
        assert (np.isnan(bbo["ask_px"]) and not len(asks)) or bbo["ask_sz"] == asks[0]["shares"]
    st = books.stats()
    (sess,) = st["sessions"].values()
    # each line lost, reordered or repeated packets on its own; together they had every one (the
    # recording puts B's copy right after A's, so holes close at once: gaps are test_feed's subject)
    assert sess["lost"] == 0 and sess["gaps"] == sess["gaps_filled"] and sess["duplicates"] > 0
    assert sess["packets_a"] != sess["packets_b"] and not books.stale
    assert st["books"]["messages"] == sess["messages"] and st["books"]["unknown_ref"] == 0


def test_a_packet_lost_on_both_lines_is_counted(tmp_path: Path) -> None:
    path = _recording(tmp_path, S.Faults(drop_seqs=((500, 500),)), S.Faults(drop_seqs=((500, 500),)), count=3000)
    books = wirespeed.Books.from_pcapng(path, max_orders=1 << 16, max_levels=1 << 14)
    (sess,) = books.stats()["sessions"].values()
    assert sess["lost"] > 0 and sess["gaps_given_up"] == 1 and not books.stale


def test_bbo_of_an_empty_side_and_unknown_symbol(tmp_path: Path) -> None:
    books = wirespeed.Books(max_orders=1 << 10, max_levels=1 << 8)
    bbo = books.bbo(1)
    assert np.isnan(bbo["bid_px"]) and bbo["ask_sz"] == 0
    with pytest.raises(WirespeedError, match="no stock"):
        books.bbo("NOPE")
    assert books.orders(1, "S", 0) == []
    with pytest.raises(WirespeedError, match="side"):
        books.orders(1, "bid")
    with pytest.raises(WirespeedError, match="cannot read"):
        wirespeed.Books.from_pcapng(tmp_path / "missing.pcapng")


def test_gaps_recovered_from_a_retransmission_server_over_udp() -> None:
    """A server on loopback answering from the simulator's history; both lines lose packets."""
    import socket
    import threading
    import time


    sim, pkts = session(3000, 9, symbols=6)
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    answered = []

    def serve() -> None:
        while not stop.is_set():
            try:
                req, addr = server.recvfrom(100)
            except TimeoutError:
                continue
            seq, count = int.from_bytes(req[10:18], "big"), int.from_bytes(req[18:20], "big")
            reply = sim.retransmit(seq, count)
            if reply is not None:
                answered.append(seq)
                server.sendto(reply, addr)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    books = wirespeed.Books(max_orders=1 << 16, max_levels=1 << 14, rtx=server.getsockname(),
                            request_after_ms=0.5, retry_ms=20, hold_timeout_ms=2000)
    lost_both = {k for k in range(20, len(pkts) - 2, 37)}
    try:
        for k, p in enumerate(pkts):
            if k not in lost_both:
                books.packet(p, (b"\xef\x01\x01\x01", 30001), time.time_ns())
                books.packet(p, (b"\xef\x01\x02\x01", 30001), time.time_ns())
            books.service()
        deadline = time.monotonic() + 5
        while books.stale and time.monotonic() < deadline:
            books.service()
            time.sleep(0.001)
    finally:
        stop.set()
        th.join(2)
        books.close()
        server.close()
    (sess,) = books.stats()["sessions"].values()
    assert not books.stale and sess["lost"] == 0 and sess["requests"] >= 1 and answered
    assert sess["recovered"] >= sum(int.from_bytes(pkts[k][18:20], "big") for k in lost_both)
    ref = ReferenceBooks()
    for p in pkts:
        n, off = int.from_bytes(p[18:20], "big"), 20
        for _ in range(n if n != 0xFFFF else 0):
            ln = int.from_bytes(p[off:off + 2], "big")
            ref.apply(p[off + 2:off + 2 + ln])
            off += 2 + ln
    for loc in range(1, 7):
        bids, asks = books.depth(loc, 100)
        assert [(round(px * 10_000), q, c) for px, q, c in bids.tolist()] == ref.depth(loc, 0, 100)


def test_bbo_changes_come_in_batches_and_end_at_the_current_bbo(tmp_path: Path) -> None:
    path = _recording(tmp_path, S.Faults(), S.Faults(), count=5000)
    books = wirespeed.Books.from_pcapng(path, max_orders=1 << 16, max_levels=1 << 14)
    ch = books.bbo_changes()
    st = books.stats()["books"]
    assert len(ch) == st["bbo_changes"] > 100 and st["bbo_log_full"] == 0
    assert np.all(np.diff(ch["msg"].astype(np.int64)) >= 0)
    for name, loc in books.symbols().items():
        last = ch[ch["locate"] == loc][-1]
        now = books.bbo(name)
        assert last["bid_px"] / 10_000 == now["bid_px"] and last["ask_sz"] == now["ask_sz"]
    assert len(books.bbo_changes()) == 0  # taken: the log is empty until something changes


def test_a_full_bbo_log_counts_what_it_drops(tmp_path: Path) -> None:
    path = _recording(tmp_path, S.Faults(), S.Faults(), count=5000)
    books = wirespeed.Books.from_pcapng(path, max_orders=1 << 16, max_levels=1 << 14, bbo_log=50)
    st = books.stats()["books"]
    assert len(books.bbo_changes()) == 50 and st["bbo_log_full"] == st["bbo_changes"] - 50
