"""LOBSTER files from a recording: each symbol's message file lists its events in order
with LOBSTER's codes, and line k of its order book file equals the reference book's
depth right after event k (a replace: after its deletion, then after its submission)."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.products.test_mbo import SYMBOLS, _recording
from wirespeed.book.reference import ReferenceBooks
from wirespeed.errors import WirespeedError
from wirespeed.exchange import sim as S
from wirespeed.feed import itch, moldudp64
from wirespeed.formats.pcapng import read_packets
from wirespeed.products.export import ExportConfig, export
from wirespeed.products.lobster import EMPTY_ASK, EMPTY_BID
from wirespeed.products.mbo import MboOptions

LEVELS = 5


def _depth_row(ref: ReferenceBooks, loc: int) -> list[int]:
    asks, bids = ref.depth(loc, 1, LEVELS), ref.depth(loc, 0, LEVELS)
    row = []
    for i in range(LEVELS):
        row += [asks[i][0], asks[i][1]] if i < len(asks) else [EMPTY_ASK, 0]
        row += [bids[i][0], bids[i][1]] if i < len(bids) else [EMPTY_BID, 0]
    return row


def _recorded_messages(rec: Path) -> list[bytes]:
    """The recording's messages in sequence order, from both lines, by the Python decoders."""
    by_seq: dict[int, bytes] = {}
    for _i, _ts, frame in read_packets(str(rec)):
        pkt = moldudp64.from_frame(frame)
        if pkt is not None:
            for i, m in enumerate(pkt.messages):
                by_seq.setdefault(pkt.seq + i, bytes(m))
    assert sorted(by_seq) == list(range(1, len(by_seq) + 1))
    return [by_seq[k] for k in sorted(by_seq)]


def _expected(rec: Path) -> dict[int, list[tuple[list, list[int]]]]:
    """Per locate: (message line, order book line) after each event, from the reference."""
    ref = ReferenceBooks()
    out: dict[int, list[tuple[list, list[int]]]] = {}
    for raw in _recorded_messages(rec):
        m = itch.decode(raw)
        t, loc = m.type, m.locate
        o = ref.orders.get(getattr(m, "order_ref", -1))
        tod = f"{m.timestamp // 10**9}.{m.timestamp % 10**9:09d}"
        ev = out.setdefault(loc, [])
        sgn = None if o is None else (1 if o.side == 0 else -1)
        if t in ("A", "F"):
            ref.apply(raw)
            ev.append(([tod, 1, m.order_ref, m.shares, m.price, 1 if m.side == "B" else -1], _depth_row(ref, loc)))
        elif t in ("X", "D", "E", "C") and o is not None:
            size = o.shares if t == "D" else m.shares
            px = m.price if t == "C" else o.price
            ref.apply(raw)
            kind = {"X": 2, "D": 3, "E": 4, "C": 4}[t]
            ev.append(([tod, kind, m.order_ref, size, px, sgn], _depth_row(ref, loc)))
        elif t == "U" and o is not None:
            old_shares, old_price = o.shares, o.price
            side = "B" if o.side == 0 else "S"
            ref.apply(itch.encode(itch.make("D", timestamp=m.timestamp, locate=loc, order_ref=m.order_ref)))
            ev.append(([tod, 3, m.order_ref, old_shares, old_price, sgn], _depth_row(ref, loc)))
            ref.apply(itch.encode(itch.make("A", timestamp=m.timestamp, locate=loc, order_ref=m.new_order_ref,
                                            side=side, shares=m.shares, stock=b"        ", price=m.price)))
            ev.append(([tod, 1, m.new_order_ref, m.shares, m.price, sgn], _depth_row(ref, loc)))
        elif t == "P":
            ev.append(([tod, 5, 0, m.shares, m.price, 1 if m.side == "B" else -1], _depth_row(ref, loc)))
        elif t == "Q":
            ev.append(([tod, 6, 0, m.shares, m.price, 0], _depth_row(ref, loc)))
        else:
            ref.apply(raw)
    return {k: v for k, v in out.items() if v}


def test_lobster_files_equal_the_reference_book_after_each_event(tmp_path: Path) -> None:
    rec = _recording(tmp_path / "day.pcapng", S.Faults(drop_seqs=((100, 300),), reorder=0.03), S.Faults(dup=0.05))
    doc = export(ExportConfig(source=rec, out=tmp_path / "lob", formats=("lobster",), lobster_levels=LEVELS,
                              mbo=MboOptions(feed="test")))
    assert doc["written"]["lobster"]["symbols"] == SYMBOLS and not doc["errors"]
    want = _expected(rec)
    for loc, events in want.items():
        sym = f"S{loc:04d}"
        (msg_file,) = (tmp_path / "lob" / "lobster").glob(f"{sym}_*_message_{LEVELS}.csv")
        (book_file,) = (tmp_path / "lob" / "lobster").glob(f"{sym}_*_orderbook_{LEVELS}.csv")
        with open(msg_file) as f:
            msgs = [[r[0]] + [int(x) for x in r[1:]] for r in csv.reader(f)]
        with open(book_file) as f:
            books = [[int(x) for x in r] for r in csv.reader(f)]
        assert len(msgs) == len(books) == len(events), sym
        for k, ((m_want, b_want), m_got, b_got) in enumerate(zip(events, msgs, books)):
            assert m_got == m_want, (sym, k)
            assert b_got == b_want, (sym, k)
        first_ms, last_ms = (int(x) for x in msg_file.name.split("_")[2:4])
        assert first_ms == int(float(msgs[0][0]) * 1000) // 1 and last_ms <= int(float(msgs[-1][0]) * 1000) + 1


def test_lobster_refuses_to_overwrite_and_checks_levels(tmp_path: Path) -> None:
    rec = _recording(tmp_path / "day.pcapng", S.Faults(), S.Faults())
    cfg = ExportConfig(source=rec, out=tmp_path / "lob", formats=("lobster",), lobster_levels=1)
    export(cfg)
    with pytest.raises(WirespeedError, match="exist"):
        export(cfg)
    assert not list((tmp_path / "lob" / "lobster").glob(".*part"))  # nothing half-written left behind
    export(ExportConfig(source=rec, out=tmp_path / "lob", formats=("lobster",), lobster_levels=1, overwrite=True))
    with pytest.raises(WirespeedError, match="levels"):
        export(ExportConfig(source=rec, out=tmp_path / "x", formats=("lobster",), lobster_levels=0))
