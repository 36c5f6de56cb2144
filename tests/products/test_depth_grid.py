"""The depth table: every stock's top levels at each grid time of the capture clock equal
the reference book replayed packet by packet to that time; a grid time with no packet
since the last adds nothing; the last interval is snapshotted at the end."""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tests.products.test_mbo import _recording
from wirespeed.book.reference import ReferenceBooks
from wirespeed.exchange import sim as S
from wirespeed.feed import moldudp64
from wirespeed.formats.pcapng import read_packets
from wirespeed.products.export import ExportConfig, export
from wirespeed.products.mbo import MboOptions

EVERY = 3_000_000  # 3 ms: the recording's 30 k messages at 1 M msg/s span ~10 grid times
LEVELS = 3


def _snapshot(ref: ReferenceBooks, t: int) -> list[tuple]:
    rows = []
    for loc in sorted({o.locate for o in ref.orders.values()}):
        bids, asks = ref.depth(loc, 0, LEVELS), ref.depth(loc, 1, LEVELS)
        row: list = [t, loc]
        for i in range(LEVELS):
            b = bids[i] if i < len(bids) else None
            a = asks[i] if i < len(asks) else None
            row += [b[0] * 100_000 if b else None, a[0] * 100_000 if a else None, b[1] if b else 0,
                    a[1] if a else 0, b[2] if b else 0, a[2] if a else 0]
        rows.append(tuple(row))
    return rows


def test_depth_snapshots_on_a_grid(tmp_path: Path) -> None:
    rec = _recording(tmp_path / "day.pcapng", S.Faults(), S.Faults())
    doc = export(ExportConfig(source=rec, out=tmp_path / "o", tables=("depth",), grid_ns=EVERY, grid_levels=LEVELS,
                              mbo=MboOptions(feed="t")))
    (path,) = doc["written"]["parquet/depth"]["files"].values()
    t = pq.read_table(path)
    names = ["ts_recv", "instrument_id"] + [f"{k}_{i:02d}" for i in range(LEVELS)
                                            for k in ("bid_px", "ask_px", "bid_sz", "ask_sz", "bid_ct", "ask_ct")]
    got = list(zip(*[t.column(n).to_pylist() for n in names]))

    ref, want, nxt, active, seq = ReferenceBooks(), [], 0, False, 1
    for _i, ts, frame in read_packets(str(rec)):
        if not nxt:
            nxt = (ts // EVERY + 1) * EVERY
        elif ts >= nxt:
            if active:
                want += _snapshot(ref, nxt)
            active, nxt = False, (ts // EVERY + 1) * EVERY
        pkt = moldudp64.from_frame(frame)
        for i, m in enumerate(pkt.messages if pkt else ()):
            if pkt.seq + i == seq:  # the first copy of each message, as the feed takes it
                ref.apply(bytes(m))
                seq += 1
        active = True
    if active:
        want += _snapshot(ref, nxt)
    assert len({r[0] for r in want}) >= 5
    assert got == want
    assert t.column("symbol").to_pylist()[0].startswith("S000")
