"""The C router (native/route.h) behind Books.records: a ring batch in one
call gives exactly what the frames one by one give, and every frame that
cannot reach a feed is counted by its reason - never a crash."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wirespeed
from wirespeed import _native
from wirespeed.net.frames import udp_frame
from wirespeed.formats.pcapng import read_packets
from wirespeed.ring import REC_DTYPE, Batch
from wirespeed.exchange import sim as S
from tests.book.test_books import _recording


def _batch(frames: list[bytes], ts: list[int]) -> Batch:
    """A batch as RingReader.poll makes it: headers pointing into one payload buffer."""
    hdr = np.zeros(len(frames), dtype=REC_DTYPE)
    off = 0
    for i, f in enumerate(frames):
        hdr[i]["seq"], hdr[i]["ts_ns"], hdr[i]["off"], hdr[i]["len"] = i + 1, ts[i], off, len(f)
        off += len(f)
    return Batch(hdr, np.frombuffer(b"".join(frames), dtype=np.uint8).copy())


def _frame(payload: bytes, group: str = "239.1.1.1", port: int = 30001) -> bytes:
    return udp_frame(b"\x02" * 6, b"\x01\x00\x5e\x01\x01\x01", "10.0.0.1", group, 40000, port, payload)


def _books() -> wirespeed.Books:
    return wirespeed.Books(max_orders=1 << 16, max_levels=1 << 14)


def test_a_batch_equals_the_frames_one_by_one(tmp_path: Path) -> None:
    path = _recording(tmp_path, S.Faults(drop_seqs=((100, 300),), reorder=0.03), S.Faults(dup=0.05), count=8000)
    pkts = list(read_packets(str(path)))
    one, batched = _books(), _books()
    for _iface, ts, frame in pkts:
        one.frame(frame, ts)
    for k in range(0, len(pkts), 700):                     # batches of 700, as a poll would return them
        part = pkts[k:k + 700]
        assert batched.records(_batch([f for _, _, f in part], [t for _, t, _ in part])) == len(part)
    assert one.stats() == batched.stats()
    (sess,) = batched.stats()["sessions"].values()
    assert sess["messages"] > 7000 and sess["lost"] == 0 and sess["duplicates"] > 0
    for loc in range(1, 7):
        assert one.depth(loc, 20)[0].tolist() == batched.depth(loc, 20)[0].tolist()


def test_what_cannot_reach_a_feed_is_counted_by_reason() -> None:
    payload = b"SESSION001" + (1).to_bytes(8, "big") + (0).to_bytes(2, "big")  # a heartbeat
    other = b"SESSION002" + payload[10:]
    frames = [
        _frame(payload),                                               # its record will point past the buffer
        b"\x00" * 60,                                                  # not IPv4
        _frame(b"short"),                                              # too short for MoldUDP64
        _frame(payload, "239.1.1.1"), _frame(payload, "239.1.2.1"),    # A, B
        _frame(payload, "239.1.3.1"),                                  # a third line
        _frame(other),                                                 # past max_sessions
    ]
    books = wirespeed.Books(max_orders=1 << 10, max_levels=1 << 8)
    books._router = _native.FeedRouter(books._engine, max_sessions=1)  # noqa: SLF001 - one session only
    b = _batch(frames, [time.time_ns()] * len(frames))
    b.headers[0]["off"] = 1 << 40
    books.records(b)
    books._router.reply(other, time.time_ns())                         # noqa: SLF001 - a session never seen
    assert books.skipped == {"not_udp4": 1, "not_moldudp64": 1, "third_line": 1, "too_many_sessions": 1,
                             "bad_record": 1, "unknown_reply": 1, "request_failed": 0}
    (sess,) = books.stats()["sessions"].values()
    assert sess["packets_a"] == 1 and sess["packets_b"] == 1 and sess["heartbeats"] == 2


def test_tick_to_book_is_measured_per_record() -> None:
    payload = b"SESSION001" + (1).to_bytes(8, "big") + (0).to_bytes(2, "big")
    frames = [_frame(payload)] * 50
    now = time.time_ns()
    lat = np.full(50, -1, dtype=np.int64)
    books = wirespeed.Books(max_orders=1 << 10, max_levels=1 << 8)
    books.records(_batch(frames, [now - 1_000_000] * 50), lat)
    assert np.all(lat >= 1_000_000) and np.all(lat < 10_000_000_000)


@settings(max_examples=200, deadline=None)
@given(frames=st.lists(st.one_of(st.binary(max_size=200),
                                 st.binary(min_size=20, max_size=120).map(_frame)), max_size=30),
       cut=st.integers(0, 64))
def test_random_frames_and_records_never_crash(frames: list[bytes], cut: int) -> None:
    books = wirespeed.Books(max_locate=64, max_orders=1 << 10, max_levels=1 << 8)
    b = _batch(frames, [1] * len(frames))
    if frames:                                                         # the last record runs past the buffer
        b.headers[-1]["len"] += cut
    assert books.records(b) == len(frames)
    st_ = books._router.stats()                                        # noqa: SLF001
    assert st_["frames"] == len(frames)
    assert sum(s["packets"] + s["bad_packets"] for s in books.stats()["sessions"].values()) <= len(frames)


def test_follow_reads_a_ring_in_c_like_records(tmp_path: Path) -> None:
    """Books.follow (the live loop in C) on a ring gives the books and counters that
    records() gives on the same frames, and a tick to book for each record."""
    from wirespeed.ring import Ring, RingReader, RingWriter

    path = _recording(tmp_path, S.Faults(drop_seqs=((40, 90),)), S.Faults(dup=0.05), count=4000)
    pkts = list(read_packets(str(path)))
    ring = f"/dev/shm/wsp-follow-{id(tmp_path)}"
    try:
        Ring.create(ring, size="16M")
        with RingWriter(ring) as w:
            now = time.time_ns()
            for _iface, _ts, frame in pkts:
                assert w.append(frame, ts_ns=now)
        live, batched = _books(), _books()
        lat = np.zeros(len(pkts) + 10, dtype=np.int64)
        with RingReader(ring, "oldest") as r:
            records, measured = live.follow(r, 0.2, lat)
        assert records == measured == len(pkts)
        assert np.all(lat[:measured] > 0) and not np.any(lat[measured:])
        batched.records(_batch([f for _, _, f in pkts], [now] * len(pkts)))
        assert live.stats() == batched.stats()
        (sess,) = live.stats()["sessions"].values()
        assert sess["lost"] == 0 and sess["messages"] > 3000
    finally:
        Path(ring).unlink(missing_ok=True)


def test_follow_lets_other_threads_read_the_books(tmp_path: Path) -> None:
    """follow spins in C without the GIL and locks the books per batch only: while
    it runs one 1.5 s slice in a thread and a writer feeds the ring, this thread
    reads depth and stats thousands of times (with the GIL held for the slice,
    as before, it could not read once); the reader and the engine cannot be
    closed or remade under it; and the books end as records() makes them."""
    from tests.conftest import wait_until
    from wirespeed.ring import Ring, RingReader, RingWriter

    path = _recording(tmp_path, S.Faults(drop_seqs=((40, 90),)), S.Faults(dup=0.05), count=20_000)
    frames = [f for _, _, f in read_packets(str(path))]
    ring = f"/dev/shm/wsp-follow-mt-{id(tmp_path)}"
    live, batched = _books(), _books()
    done: list[tuple[int, int]] = []
    try:
        Ring.create(ring, size="64M")
        with RingWriter(ring) as w, RingReader(ring, "oldest") as r:
            now = time.time_ns()

            def feed() -> None:
                for k in range(0, len(frames), 50):
                    for f in frames[k:k + 50]:
                        w.append(f, ts_ns=now)
                    time.sleep(0.002)

            follower = threading.Thread(target=lambda: done.append(live.follow(r, 1.5, slice_s=1.5)))
            writer = threading.Thread(target=feed)
            follower.start()
            writer.start()
            wait_until(lambda: live.stats()["books"]["messages"] > 0, "follow applied nothing")
            with pytest.raises(RuntimeError, match="in use"):
                r.close()
            with pytest.raises(RuntimeError, match="in use"):
                r.poll()
            with pytest.raises(RuntimeError, match="in use"):
                live._engine.__init__()
            reads = 0
            while follower.is_alive():
                live.depth(1, 5)
                live.stats()
                reads += 1
            writer.join()
            follower.join()
        assert done == [(len(frames), 0)]
        assert reads > 1000, f"only {reads} reads while follow ran"
        batched.records(_batch(frames, [now] * len(frames)))
        assert live.stats() == batched.stats()
        for loc in range(1, 7):
            assert live.depth(loc, 20)[0].tolist() == batched.depth(loc, 20)[0].tolist()
    finally:
        Path(ring).unlink(missing_ok=True)


def test_follow_makes_no_syscalls_per_record(tmp_path: Path) -> None:
    """strace counts a reader's syscalls over the same 0.5 s of Books.follow on a ring
    of 2 thousand and of 100 thousand frames: the records cost none."""
    from tests.test_ring_processes import _syscalls
    from wirespeed.ring import Ring, RingWriter

    counts = []
    for count in (10_000, 500_000):
        rec = _recording(tmp_path, S.Faults(), S.Faults(), count=count)
        frames = [f for _, _, f in read_packets(str(rec))]
        ring = f"/dev/shm/wsp-follow-sys-{id(tmp_path)}"
        try:
            Ring.create(ring, size="256M")
            with RingWriter(ring) as w:
                for f in frames:
                    w.append(f, ts_ns=1)
            code = ("import wirespeed\nfrom wirespeed.ring import RingReader\n"
                    "b = wirespeed.Books(max_orders=1 << 18, max_levels=1 << 16)\n"
                    f"r = RingReader({ring!r}, 'oldest')\nn, _ = b.follow(r, 0.5)\n"
                    f"assert n == {len(frames)}, n\n")
            counts.append(_syscalls(code))
        finally:
            Path(ring).unlink(missing_ok=True)
    assert counts[1] - counts[0] < 200, f"{counts} syscalls: the second ring has ~98,000 more frames"
