"""ts_event and the trading date from the ITCH time of day and the capture stamp, in the
exchange's time zone: the one-day fast path and the general one agree, and a message
stamped just before midnight and received after it belongs to the day before."""
from __future__ import annotations

import datetime as dt

import numpy as np

from wirespeed.products.mbo import DAY_NS, _Clock

S = 1_000_000_000


def _ns(y: int, mo: int, d: int, h: int, mi: int, tz: str) -> int:
    import zoneinfo

    return int(dt.datetime(y, mo, d, h, mi, tzinfo=zoneinfo.ZoneInfo(tz)).timestamp()) * S


def test_one_day_in_new_york() -> None:
    c = _Clock("America/New_York")
    t0 = _ns(2026, 11, 30, 9, 30, "America/New_York")
    recv = np.array([t0, t0 + 5 * S, t0 + 3600 * S], dtype=np.int64)
    itch = np.array([(9 * 3600 + 30 * 60) * S - 1000, (9 * 3600 + 30 * 60 + 5) * S, (10 * 3600 + 30 * 60) * S],
                    dtype=np.int64)
    m, day = c.midnights(recv, itch)
    assert np.ndim(m) == 0 and str(day) == "2026-11-30"
    assert list(m + itch - recv) == [-1000, 0, 0]  # ts_event - ts_recv
    # the general path gives the same, row by row
    recv2 = np.concatenate([recv, [_ns(2026, 12, 1, 9, 30, "America/New_York")]])
    itch2 = np.concatenate([itch, [(9 * 3600 + 30 * 60) * S]])
    m2, days = c.midnights(recv2, itch2)
    assert list((m2 + itch2 - recv2)[:3]) == [-1000, 0, 0] and m2[3] + itch2[3] == recv2[3]
    assert [str(d) for d in days] == ["2026-11-30"] * 3 + ["2026-12-01"]


def test_stamped_before_midnight_received_after() -> None:
    c = _Clock("UTC")
    midnight = 20_000 * DAY_NS
    recv = np.array([midnight + 2000, midnight + 5000], dtype=np.int64)
    itch = np.array([DAY_NS - 3000, 4000], dtype=np.int64)  # 23:59:59.999997, then 00:00:00.000004
    m, days = c.midnights(recv, itch)
    assert list(m + itch) == [midnight - 3000, midnight + 4000]
    assert [str(d) for d in days] == [str(np.datetime64(19_999, "D")), str(np.datetime64(20_000, "D"))]
