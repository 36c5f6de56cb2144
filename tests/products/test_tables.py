"""The derived Parquet tables: trades are the MBO rows' Trade actions; bbo has one row for
every change of a stock's best bid or offer, equal to the reference book's after that
message."""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.book.test_engine import _messages
from tests.products.test_mbo import COUNT, SEED, SYMBOLS, _recording
from wirespeed.book.reference import ReferenceBooks
from wirespeed.errors import UsageError
from wirespeed.exchange import sim as S
from wirespeed.feed import itch
from wirespeed.products.export import ExportConfig, export
from wirespeed.products.mbo import MboOptions


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("tables")
    rec = _recording(d / "day.pcapng", S.Faults(drop_seqs=((100, 300),), reorder=0.03), S.Faults(dup=0.05))
    doc = export(ExportConfig(source=rec, out=d / "out", tables=("mbo", "trades", "bbo"), mbo=MboOptions(feed="t")))
    return d / "out", doc


def _table(doc: dict, name: str):
    (path,) = doc["written"][f"parquet/{name}"]["files"].values()
    return pq.read_table(path)


def test_trades_are_the_trade_rows(out: tuple[Path, dict]) -> None:
    _d, doc = out
    mbo, trades = _table(doc, "mbo"), _table(doc, "trades")
    want = [r for r in mbo.to_pylist() if r["action"] == "T"]
    got = trades.to_pylist()
    assert len(got) == len(want) > 0
    for g, w in zip(got, want):
        assert g == {k: w[k] for k in g}
    assert {"E", "P"} <= set(trades.column("itch_type").to_pylist()) <= {"E", "C", "P", "Q"}


def test_bbo_changes_equal_the_reference(out: tuple[Path, dict]) -> None:
    _d, doc = out
    bbo = _table(doc, "bbo")
    ref = ReferenceBooks()
    last: dict[int, tuple] = {}
    want = []
    for seq, raw in enumerate(_messages(S.itch_day(COUNT, symbols=SYMBOLS, seed=SEED)), 1):
        ref.apply(raw)
        m = itch.decode(raw)
        loc = getattr(m, "locate", 0)
        if m.type not in "AFECXDU" or not loc:
            continue
        bid, ask = ref.depth(loc, 0, 1), ref.depth(loc, 1, 1)
        b = bid[0] if bid else (0, 0, 0)
        a = ask[0] if ask else (0, 0, 0)
        now = (b[0] * 100_000 if b[1] else None, b[1], b[2], a[0] * 100_000 if a[1] else None, a[1], a[2])
        prev = last.get(loc, (None, 0, 0, None, 0, 0))
        if (now[0], now[1], now[3], now[4]) != (prev[0], prev[1], prev[3], prev[4]):
            want.append((seq, loc) + now)
        last[loc] = now
    got = list(zip(*[bbo.column(c).to_pylist() for c in ("sequence", "instrument_id", "bid_px", "bid_sz", "bid_ct",
                                                         "ask_px", "ask_sz", "ask_ct")]))
    assert got == want
    assert bbo.column("symbol").to_pylist()[0].startswith("S000")


def test_unknown_table_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown table"):
        export(ExportConfig(source=tmp_path, out=tmp_path / "o", tables=("quotes",)))
