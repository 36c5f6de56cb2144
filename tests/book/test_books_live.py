"""Books live on the test host: the simulator sends A and B, both lines lose
the same packets, a capture writes the ring, Books reads it and re-requests
the hole from the simulator's retransmission server - nothing lost."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import wirespeed
from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.ring import RingError, RingReader


def _why_behind(sent: dict[str, Any], capture: cap.Background, ring: str, books: wirespeed.Books,
                consumer: threading.Thread, errors: list[BaseException]) -> str:
    """Which link of sim -> capture -> ring -> reader -> feed fell short, in words."""
    with RingReader(ring, "latest") as r:
        info = r.info()
    published, drops = int(info["records_published"]), {k: v for k, v in info["drops"].items() if v}
    sess = next(iter(books.stats()["sessions"].values()), {})
    taken = sess.get("packets_a", 0) + sess.get("packets_b", 0)
    wire = sum(sent["sent_pkts"])
    why = []
    if not capture.thread.is_alive():
        why.append(f"the capture ended early ({capture.error!r})")
    if errors or not consumer.is_alive():
        why.append(f"the reader thread ended ({errors[0]!r})" if errors else "the reader thread ended")
    if published < wire:
        why.append(f"the capture has {published:,} of the {wire:,} datagrams sent (ring drops: {drops or 'none'})")
    if taken < published:
        why.append(f"the reader took {taken:,} of the {published:,} records in the ring")
    if sess.get("lost"):
        why.append(f"a gap was given up: {sess['lost']} messages lost after {sess['requests']} re-requests "
                   f"({sent['rtx_requests']} reached the sim, which answered {sent['rtx_answered']} with "
                   f"{sent['rtx_msgs']} messages before it ended)")
    if sess.get("stale"):
        why.append(f"a gap is still open ({sess['held_now']} packets held)")
    return "; ".join(why) or "every count adds up, but the books still lack messages"


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
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with RingReader(ring, "oldest") as r:
                while not stop.is_set():
                    try:
                        batch = r.poll(4096) or r.wait(timeout=0.05)
                    except RingError as exc:  # the capture closed the ring before the test stopped reading
                        errors.append(exc)
                        return
                    books.records(batch)
                    books.service()
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(exc)

    def caught_up(sent: dict[str, Any]) -> bool:
        return not books.stale and sum(f["messages"] for f in books.stats()["sessions"].values()) >= sent["next_seq"] - 1

    try:
        with cap.Background(cap.CaptureConfig(iface=tb.host_if, feeds=feeds, ring=ring, ring_size="64M",
                                               transport="kernel")) as capture:
            th = threading.Thread(target=consume, daemon=True)
            th.start()
            sent = S.run(sim_cfg)
            deadline = time.monotonic() + 15
            while not caught_up(sent) and time.monotonic() < deadline and th.is_alive():
                time.sleep(0.01)
            assert caught_up(sent), f"the books never caught up with what was sent: " \
                                    f"{_why_behind(sent, capture, ring, books, th, errors)}"
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
