"""Smoke test of `wirespeed bench book`: every key the issue names is in
--json, the engine saw a clean day (no speed asserted)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from wirespeed.bench import book as bb


def test_bench_book_reports_every_figure() -> None:
    res = bb.run(bb.BookBenchOptions(msgs=50_000, symbols=10, rounds=1, meatpy_msgs=5_000, live=False))
    for key in ("book_msgs_per_s", "itchbook_msgs_per_s", "meatpy_msgs_per_s", "tick_to_book_ns_p50",
                "tick_to_book_ns_p99"):
        assert key in res, key
    assert res["book_msgs_per_s"] > 0 and res["book_stats"]["messages"] >= 50_000
    for bad in ("unknown_ref", "duplicate_ref", "too_many_shares", "bad_length", "unknown_type", "truncated"):
        assert bad not in res["book_stats"], bad
    assert (res["itchbook_msgs_per_s"] or 0) > 0 or any("itch-book" in m for m in res["peers_missing"])
    assert (res["meatpy_msgs_per_s"] or 0) > 0 or any("meatpy" in m for m in res["peers_missing"])
    assert {g["key"] for g in res["goals"]} == {"book_over_itchbook", "book_over_meatpy"}


def test_bench_book_cli_json() -> None:
    proc = run_cli("bench", "book", "--quick", "--msgs", "20000", "--no-live", "--json", check_rc=0)
    res = json.loads(proc.stdout)
    assert res["msgs"] == 20_000 and res["tick_to_book_skipped"].startswith("not asked")


@pytest.mark.privileged
def test_tick_to_book_live_on_the_test_host() -> None:
    """Every message the simulator sent reached the books through the ring and
    Books.follow (and again through the Python loop, its peer), and each
    record's tick to book was measured."""
    res = bb.run(bb.BookBenchOptions(msgs=20_000, symbols=10, rounds=1, meatpy_msgs=1_000, live_s=1.0))
    assert res["tick_to_book_lost_msgs"] == 0 and res["tick_to_book_ring_lost"] == 0
    assert res["tick_to_book_applied_msgs"] == res["tick_to_book_sent_msgs"] > 10_000
    assert res["tick_to_book_records"] > 1_000
    assert 0 < res["tick_to_book_ns_p50"] <= res["tick_to_book_ns_p99"] <= res["tick_to_book_ns_max"]
    # the peer, the Python loop, in the same run
    assert res["tick_to_book_py_lost_msgs"] == 0 and res["tick_to_book_py_ns_p50"] > 0
    assert res["tick_to_book_py_over_follow_p50"] is not None


def test_without_root_tick_to_book_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bb.os, "geteuid", lambda: 1000)
    res = bb.run(bb.BookBenchOptions(msgs=10_000, symbols=5, rounds=1, meatpy_msgs=1_000))
    assert res["tick_to_book_ns_p50"] is None and "needs root" in res["tick_to_book_skipped"]
