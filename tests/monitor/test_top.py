"""`wirespeed top`, driven headless with Textual's pilot and its screen read back."""
from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import DataTable

from wirespeed.monitor.rings import Monitor
from wirespeed.monitor.top import COLUMNS, RingScreen, TopApp, ring_rows, sparkline
from wirespeed.ring import Ring, RingWriter
from wirespeed.status import StatusPublisher


def rows(table: DataTable) -> list[dict[str, str]]:
    return [dict(zip(COLUMNS, (str(c) for c in table.get_row_at(i)))) for i in range(table.row_count)]


def table_rows(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([0, 5, 10]) == "▁▅█"
    assert len(sparkline(range(100), width=20)) == 20


def test_top_shows_rings_drops_sorting_and_one_ring_in_detail(tmp_path: Path) -> None:
    quiet, busy = tmp_path / "a-quiet", tmp_path / "b-busy"
    Ring.create(quiet, size="128K")
    Ring.create(busy, size="1M")

    async def drive() -> None:
        with RingWriter(busy) as w:
            w.describe({"capture": {"iface": "ws-host0", "transport": "af_xdp", "queues": [0]}})
            app = TopApp(Monitor(dirs=[tmp_path]), interval=0.1)
            async with app.run_test(size=(200, 50)) as pilot:
                table = app.query_one("#rings", DataTable)
                await pilot.pause()
                shown = rows(table)
                assert [r["ring"] for r in shown] == [str(quiet), str(busy)]
                assert shown[0]["writer"] == "never" and shown[1]["writer"] == "alive"
                assert shown[1]["transport"] == "af_xdp ws-host0" and shown[1]["drops"] == "0"

                # traffic and drops appear, with their rate and cause
                pub = StatusPublisher(busy, "book")
                for _ in range(5):
                    for _ in range(200):
                        w.append(b"m" * 100)
                    w.count_drop("xsk_rx_ring_full", 50)
                    pub.publish({"reader": {"next_seq": 10, "head_seq": 1001, "lost": 0, "overruns": 0},
                                 "sessions": {"S1": {"messages": 7, "gaps": 3, "gaps_filled": 2, "recovered": 9,
                                                     "lost": 1, "stale": True, "held_now": 2}}}, force=True)
                    await pilot.pause(0.15)
                b = next(r for r in rows(table) if r["ring"] == str(busy))
                assert b["drops"] == "250" and b["top cause"] == "xsk_rx_ring_full"
                assert set(b["last minute"]) - {"▁"}  # records/s over the refreshes: traffic came
                assert b["readers"] == "book"

                await pilot.press("s")  # by rate: the busy ring first
                await pilot.pause()
                assert app.sort == "rate" and rows(table)[0]["ring"] == str(busy)
                await pilot.press("s")  # by drops
                await pilot.pause()
                assert app.sort == "drops" and rows(table)[0]["ring"] == str(busy)

                table.move_cursor(row=0)
                await pilot.press("enter")
                await pilot.pause(0.3)
                screen = app.screen
                assert isinstance(screen, RingScreen) and screen.path == str(busy)
                drops = {r[0]: r[1] for r in table_rows(screen.query_one("#drops", DataTable))}
                assert drops["xsk_rx_ring_full"] == "250" and drops["sock_overflow"] == "0"
                readers = table_rows(screen.query_one("#readers", DataTable))
                assert readers[0][0] == "book" and readers[0][4] == "991"  # lag in records
                feeds = table_rows(screen.query_one("#feed-sessions", DataTable))
                assert feeds[0][1:] == ["S1", "stale", "7", "3", "2", "9", "1", "2"]
                transport = dict(table_rows(screen.query_one("#transport", DataTable)))
                assert transport["queues"] == "0"
                await pilot.press("escape")
                await pilot.pause()
                assert not isinstance(app.screen, RingScreen)
                pub.close()
                await pilot.press("q")

    asyncio.run(drive())


def test_no_rings_says_how_to_get_one(tmp_path: Path) -> None:
    async def drive() -> None:
        app = TopApp(Monitor(dirs=[tmp_path]), interval=0.1)
        async with app.run_test() as pilot:
            await pilot.pause()
            assert "no rings found" in str(app.query_one("#status").render())
            await pilot.press("enter")  # nothing to open: nothing happens
            await pilot.press("q")

    asyncio.run(drive())


def test_ring_rows_order() -> None:
    assert ring_rows([]) == []
