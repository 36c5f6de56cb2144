"""Books live on the test host: the simulator sends A and B, both lines lose
the same packets, a capture writes the ring, Books reads it and re-requests
the hole from the simulator's retransmission server - nothing lost."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

import wirespeed
from tests.conftest import wait_until
from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.ring import RingError, RingReader


@pytest.mark.privileged
def test_live_books_recover_a_hole_on_both_lines(testbed_cfg, tmp_path: Path) -> None:
    tb = testbed_cfg
    ring = f"/dev/shm/wsp-books-{id(tmp_path)}"
    drop = S.Faults(drop_seqs=((3000, 3040),))
    sim_cfg = S.SimConfig(lines=[S.Line("239.5.0.7", 31007, drop), S.Line("239.5.0.8", 31008, drop)],
                          rate=20_000, duration_s=2.0, rtx_port=31107, netns=tb.netns, iface=tb.peer_if,
                          source=tb.peer_addr)
    feeds = [cap.FeedSpec("itch", "239.5.0.7", 31007, "A"), cap.FeedSpec("itch", "239.5.0.8", 31008, "B")]
    books = wirespeed.Books(max_orders=1 << 18, max_levels=1 << 16, rtx=(tb.peer_addr, 31107),
                            request_after_ms=1, retry_ms=50, hold_timeout_ms=1000)
    stop = threading.Event()

    def consume() -> None:
        with RingReader(ring, "oldest") as r:
            while not stop.is_set():
                try:
                    batch = r.poll(4096) or r.wait(timeout=0.05)
                except RingError:
                    return
                books.records(batch)
                books.service()

    try:
        with cap.Background(cap.CaptureConfig(iface=tb.host_if, feeds=feeds, ring=ring, ring_size="64M",
                                               transport="kernel")):
            th = threading.Thread(target=consume, daemon=True)
            th.start()
            sent = S.run(sim_cfg)
            wait_until(lambda: not books.stale and sum(f["messages"] for f in books.stats()["sessions"].values())
                   >= sent["next_seq"] - 1, "the books never caught up with what was sent")
            stop.set()
            th.join(5)
    finally:
        Path(ring).unlink(missing_ok=True)
        books.close()
    (sess,) = books.stats()["sessions"].values()
    assert sent["rtx_answered"] >= 1 and sess["requests"] >= 1
    assert sess["recovered"] >= 41 and sess["lost"] == 0 and not books.stale
    assert sess["messages"] == sent["next_seq"] - 1
    assert books.stats()["books"]["unknown_ref"] == 0
