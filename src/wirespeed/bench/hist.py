"""Latency distributions as HdrHistograms.

Every latency figure of `wirespeed bench` comes from one of these: values in
nanoseconds, 1 ns to 100 s, three significant digits. results.json carries
each one in HdrHistogram's standard compressed form ("HISTFAAA..."), so any
HdrHistogram implementation (Java, Go, C, the online plotter) can read the
full distribution back, not just the percentiles printed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from wirespeed.feed.latency import LATENCY_MAX_NS, possible

LOWEST_NS, HIGHEST_NS, DIGITS = 1, LATENCY_MAX_NS, 3
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9, "p9999": 99.99}


def new() -> HdrHistogram:
    return HdrHistogram(LOWEST_NS, HIGHEST_NS, DIGITS)


def _shift(v: np.ndarray) -> np.ndarray:
    """log2 of the bucket width at each value (>= 1): 3 significant decimal digits are
    2048 sub-buckets, so below 2^11 every value is its own bucket and above it the
    low (bit_length - 11) bits do not matter."""
    return np.maximum(np.floor(np.log2(np.maximum(v, 1))).astype(np.int64) + 1 - 11, 0)


def from_ns(values: np.ndarray) -> HdrHistogram:
    """A histogram of these latencies, recorded as (value, count) pairs after
    rounding to the histogram's own resolution, so a million samples cost a
    few thousand calls, not a million. 0 ns (a coarse clock) counts as 1 ns.
    Impossible values (feed.latency.possible) are refused with ValueError,
    never clipped into the figures: callers leave them out and count them."""
    h = new()
    add_ns(h, values)
    return h


def add_ns(h: HdrHistogram, values: np.ndarray) -> None:
    v = np.asarray(values, dtype=np.int64)
    bad = int((~possible(v)).sum())
    if bad:
        raise ValueError(f"{bad} of {len(v)} latency samples are impossible (below 0 or above 100 s): "
                         "leave them out with feed.latency.possible() and report how many")
    v = np.maximum(v, LOWEST_NS)
    if not len(v):
        return
    shift = _shift(v)
    q = (v >> shift) << shift
    vals, counts = np.unique(q, return_counts=True)
    for x, c in zip(vals.tolist(), counts.tolist()):
        h.record_value(x, c)


def merge(hists: list[HdrHistogram]) -> HdrHistogram:
    out = new()
    for h in hists:
        out.add(h)
    return out


def summary(h: HdrHistogram) -> dict[str, Any]:
    """p50 ... p99.99, max, mean and stddev (the jitter) in ns; count.
    Percentiles as HdrHistogram gives them (the highest value equivalent to
    the sample at rank round(p/100 * n)); mean and stddev over bucket
    midpoints in one numpy pass (hdrh's own walk the buckets in Python)."""
    n = h.get_total_count()
    if not n:
        return {"count": 0}
    out: dict[str, Any] = {k: float(h.get_value_at_percentile(p)) for k, p in PERCENTILES.items()}
    vals, counts = points(h)
    size = 2.0 ** _shift(vals)
    mid = vals - size / 2 + 0.5
    mean = float((mid * counts).sum() / n)
    out.update({"max": float(h.get_max_value()), "min": float(h.get_min_value()), "mean": mean,
                "stddev": float(np.sqrt(((mid - mean) ** 2 * counts).sum() / n)), "count": int(n)})
    return out


def band(h: HdrHistogram, pct: float, z: float = 1.96) -> tuple[float, float] | None:
    """A 95 % confidence band of the pct-th percentile from its order
    statistics: the values at ranks n*q -+ z*sqrt(n*q*(1-q)) (distribution
    free: it assumes independent samples, so it is narrower than the truth
    for correlated ones such as a stall's burst). None without samples."""
    n = h.get_total_count()
    if not n:
        return None
    q = pct / 100.0
    half = z * np.sqrt(n * q * (1 - q))
    lo = max(0.0, (n * q - half) / n * 100)
    hi = min(100.0, (n * q + half + 1) / n * 100)
    return float(h.get_value_at_percentile(lo)), float(h.get_value_at_percentile(hi))


def beyond(count: int, pct: float) -> float:
    """How many samples lie beyond the pct-th percentile of `count`: a tail
    percentile read from fewer than about ten of them is noise."""
    return count * (1 - pct / 100.0)


def encode(h: HdrHistogram) -> str:
    return h.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text.encode("ascii"))


def points(h: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """(value ns, count) of every recorded bucket, ascending: what the plots draw."""
    vals, counts = [], []
    for item in h.get_recorded_iterator():
        vals.append(item.value_iterated_to)
        counts.append(item.count_at_value_iterated_to)
    return np.array(vals, dtype=np.float64), np.array(counts, dtype=np.float64)
