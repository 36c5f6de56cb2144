"""The ring in one process: layout, exact round trips, loss accounting
against a model, corrupt files refused, zero-copy and blocking reads."""
from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli
from tests.ringutil import check_batch, payload
from wirespeed.errors import UsageError
from wirespeed.ring import MAX_PAYLOAD, Ring, RingError, RingReader, RingWriter, parse_size

MIN = 128 << 10  # smallest payload region


@pytest.fixture
def ring_path(tmp_path_factory) -> Path:
    d = Path("/dev/shm") / f"ws-test-{os.getpid()}"
    d.mkdir(exist_ok=True)
    path = d / f"r{len(list(d.iterdir()))}"
    yield path
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


# -- creation -------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("64M", 64 << 20), ("8G", 8 << 30), ("512K", 512 << 10), ("1GiB", 1 << 30),
                                         ("4096", 4096), (123, 123)])
def test_parse_size(text, value) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "lots", "1.5G", "-1M", "12Q"])
def test_parse_size_refuses(text) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_geometry_is_rounded_and_reported(ring_path) -> None:
    g = Ring.create(ring_path, size=1_000_000)
    assert g.payload_sz == 1 << 20 and g.entry_cnt == (1 << 20) // 256
    assert g.page_sz == 4096 and g.file_sz % 4096 == 0 and g.file_sz == ring_path.stat().st_size
    tiny = Ring.create(str(ring_path) + "b", size=1000, entries=8)
    assert tiny.payload_sz == MIN and tiny.entry_cnt == 8


def test_mode_is_what_was_asked_not_the_umask(ring_path) -> None:
    old = os.umask(0o077)
    try:
        Ring.create(ring_path, size="128K")
        Ring.create(str(ring_path) + "b", size="128K", mode=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE(ring_path.stat().st_mode) == 0o640
    assert stat.S_IMODE(Path(str(ring_path) + "b").stat().st_mode) == 0o600


def test_create_never_overwrites(ring_path) -> None:
    Ring.create(ring_path, size="128K")
    with pytest.raises(UsageError, match="already exists"):
        Ring.create(ring_path, size="128K")


@pytest.mark.parametrize("entries", [3, 1, 1000])
def test_entries_must_be_a_power_of_two(ring_path, entries) -> None:
    with pytest.raises(UsageError, match="power of two"):
        Ring.create(ring_path, size="128K", entries=entries)
    assert not ring_path.exists()


def test_bare_name_lives_in_dev_shm(ring_path) -> None:
    name = f"ws-test-bare-{os.getpid()}"
    try:
        g = Ring.create(name, size="128K")
        assert g.path == Path("/dev/shm") / name
    finally:
        (Path("/dev/shm") / name).unlink(missing_ok=True)


# -- round trips ----------------------------------------------------------------------

def test_every_size_round_trips_through_the_wrap(ring_path) -> None:
    Ring.create(ring_path, size="128K", entries=64)
    sizes = {}
    with RingWriter(ring_path) as w, RingReader(ring_path, "oldest") as r:
        seq = w.next_seq
        for size in list(range(0, 200)) + [1000, 4095, 4096, 4097, 9000, MAX_PAYLOAD] * 6:
            assert w.append(payload(seq, size), stream=seq % 7, flags=seq % 3)
            sizes[seq] = size
            seq += 1
            b = r.poll()
            assert len(b) == 1 and b.lost == 0
            check_batch(b, sizes)
            assert int(b.headers["stream"][0]) == (seq - 1) % 7
        assert r.lost == 0


def test_too_big_is_counted_not_written(ring_path) -> None:
    Ring.create(ring_path, size="128K")
    with RingWriter(ring_path) as w, RingReader(ring_path) as r:
        assert not w.append(bytes(MAX_PAYLOAD + 1))
        assert w.append(b"ok")
        assert r.info()["drops"]["too_big"] == 1
        b = r.poll()
        assert [bytes(p) for _, p in b] == [b"ok"]


def test_batch_append_and_drop_counters(ring_path) -> None:
    Ring.create(ring_path, size="1M")
    with RingWriter(ring_path) as w, RingReader(ring_path) as r:
        lens = np.array([10, 0, 64, 9216, 9217, 3], dtype=np.uint32)
        data = bytes(range(256)) * ((int(lens.sum()) // 256) + 1)
        assert w.append_batch(data, lens, stream=9) == 5
        w.count_drop("sock_overflow", 7)
        with pytest.raises(UsageError, match="unknown drop cause"):
            w.count_drop("gremlins")
        b = r.poll()
        assert list(b.headers["len"]) == [10, 0, 64, 9216, 3]
        assert bytes(b.payload_of(4)) == data[int(lens[:5].sum()):int(lens[:5].sum()) + 3]
        info = r.info()
        assert info["drops"]["too_big"] == 1 and info["drops"]["sock_overflow"] == 7
        assert info["records_published"] == 5
        with pytest.raises(ValueError, match="lengths add up"):
            w.append_batch(b"short", np.array([100], dtype=np.uint32))


# -- loss accounting against a model ------------------------------------------------------

def _model_check(ring_path: Path, sizes_list: list[int], ops: list[tuple[str, int]], entries: int, start: str) -> None:
    written: dict[int, int] = {}
    with RingWriter(ring_path) as w:
        with RingReader(ring_path, start) as r:
            expect_next = r.next_seq
            it = iter(sizes_list)
            for op, k in ops:
                if op == "write":
                    for _ in range(k):
                        size = next(it, 64)
                        seq = w.next_seq
                        w.append(payload(seq, size))
                        written[seq] = size
                else:
                    b = r.poll(max=k)
                    check_batch(b, written)
                    seqs = [int(s) for s in b.headers["seq"]]
                    # in order, no duplicates, and what is skipped is exactly what was counted
                    if seqs:
                        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
                        assert seqs[0] - expect_next == b.lost
                        expect_next = seqs[-1] + 1
                    else:
                        expect_next += b.lost
                    # never behind the oldest record the writer can still have
                    assert r.next_seq >= w.next_seq - entries
            # drain: everything accounted for, exactly
            while True:
                b = r.poll()
                if not len(b) and not b.lost:
                    break
                check_batch(b, written)
                if len(b):
                    assert int(b.headers["seq"][0]) - expect_next == b.lost
                    expect_next = int(b.headers["seq"][-1]) + 1
                else:
                    expect_next += b.lost
            assert expect_next == w.next_seq == r.next_seq


@pytest.mark.property
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.one_of(st.integers(0, 128), st.integers(0, MAX_PAYLOAD), st.sampled_from([0, 1, 63, 64, 65, MAX_PAYLOAD])),
                   min_size=1, max_size=400),
    ops=st.lists(st.tuples(st.sampled_from(["write", "read"]), st.integers(1, 120)), min_size=1, max_size=30),
    entries=st.sampled_from([2, 8, 64]),
    start=st.sampled_from(["latest", "oldest"]),
)
def test_any_writes_and_reads_give_exact_records_or_exact_losses(ring_path, sizes, ops, entries, start) -> None:
    path = Path(f"{ring_path}-{abs(hash((tuple(sizes), tuple(ops), entries, start))) % 10**12}")
    Ring.create(path, size="128K", entries=entries)
    try:
        _model_check(path, sizes, ops, entries, start)
    finally:
        path.unlink()


def test_start_at_a_given_sequence(ring_path) -> None:
    Ring.create(ring_path, size="128K", entries=16)
    with RingWriter(ring_path) as w:
        for i in range(40):
            w.append(payload(i + 1, 10))
        with RingReader(ring_path, 30) as r:  # still in the ring
            b = r.poll()
            assert int(b.headers["seq"][0]) == 30 and b.lost == 0
        with RingReader(ring_path, 3) as r:  # long gone: clamped, and the gap is counted
            b = r.poll()
            assert int(b.headers["seq"][0]) == 41 - 15 and b.lost == 41 - 15 - 3
        with RingReader(ring_path, 100) as r:  # the future: waits for it
            assert len(r.poll()) == 0
    with pytest.raises(UsageError):
        RingReader(ring_path, 0)


# -- zero copy ------------------------------------------------------------------

def test_zero_copy_view_verify_and_lifetime(ring_path) -> None:
    Ring.create(ring_path, size="128K", entries=64)
    with RingWriter(ring_path) as w:
        r = RingReader(ring_path, "oldest")
        for i in range(10):
            w.append(payload(w.next_seq, 100))
        b = r.poll(copy=False)
        assert len(b) == 10 and b.verify().all()
        check_batch(b)
        with pytest.raises(BufferError, match="release them"):
            r.close()
        for _ in range(200):  # lap the ring: those records are gone now
            w.append(payload(w.next_seq, 1000))
        assert not b.verify().any()
        b.release()
        r.close()


# -- blocking reads and writer states ------------------------------------------------------

def test_wait_times_out_empty_and_ends_when_writer_closed(ring_path) -> None:
    import time

    Ring.create(ring_path, size="128K")
    w = RingWriter(ring_path)
    with RingReader(ring_path) as r:
        t0 = time.monotonic()
        assert len(r.wait(timeout=0.2)) == 0
        assert 0.15 < time.monotonic() - t0 < 2
        w.append(b"x")
        assert len(r.wait(timeout=5)) == 1
        assert r.writer_state() == ("alive", False)
        w.close()
        assert r.writer_state()[0] == "closed"
        with pytest.raises(RingError, match="writer is closed"):
            r.wait(timeout=5)


def test_second_writer_is_refused(ring_path) -> None:
    Ring.create(ring_path, size="128K")
    with RingWriter(ring_path):
        with pytest.raises(RingError, match="another writer"):
            RingWriter(ring_path)
    RingWriter(ring_path).close()  # free again once the first left


def test_restart_continues_the_sequence_and_is_reported(ring_path) -> None:
    Ring.create(ring_path, size="128K")
    with RingReader(ring_path, "oldest") as r:
        assert r.writer_state() == ("never", False)
        with RingWriter(ring_path) as w:
            w.append(b"a")
        with RingWriter(ring_path) as w:
            w.append(b"b")
            state, restarted = r.writer_state()
            assert state == "alive" and restarted
        b = r.poll()
        assert list(b.headers["seq"]) == [1, 2] and b.lost == 0
        assert r.info()["epoch"] == 2


# -- corrupt and foreign files -------------------------------------------------------------

def _corrupt(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


CTRL = {"magic": 0, "version": 8, "entry_cnt": 24, "layout_sum": 64}


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: _corrupt(p, CTRL["magic"], b"NOTARING"), "not a wirespeed ring"),
        (lambda p: _corrupt(p, CTRL["version"], struct.pack("<I", 99)), "incompatible wirespeed version"),
        (lambda p: _corrupt(p, CTRL["entry_cnt"], struct.pack("<Q", 1000)), "corrupt"),
        (lambda p: _corrupt(p, CTRL["layout_sum"], b"\0" * 8), "corrupt"),
        (lambda p: os.truncate(p, p.stat().st_size // 2), "truncated"),
        (lambda p: os.truncate(p, 100), "truncated"),
        (lambda p: os.truncate(p, 0), "truncated"),
        (lambda p: p.write_bytes(os.urandom(8192)), "not a wirespeed ring"),
        # a text file named by mistake, shorter than a control page: its first bytes say what it is
        (lambda p: p.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n"), "not a wirespeed ring"),
    ],
)
def test_damaged_file_refused_with_a_clear_message(ring_path, damage, message) -> None:
    Ring.create(ring_path, size="128K")
    damage(ring_path)
    for open_it in (RingReader, RingWriter):
        with pytest.raises(RingError, match=message):
            open_it(ring_path)
    proc = run_cli("ring", "info", str(ring_path))
    assert proc.returncode == 1 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


def test_impossible_layout_with_a_valid_checksum_is_refused(ring_path) -> None:
    """A header rewritten consistently (checksum recomputed) but impossible:
    entry_cnt not a power of two."""
    Ring.create(ring_path, size="128K")
    raw = bytearray(ring_path.read_bytes()[:64])
    struct.pack_into("<Q", raw, CTRL["entry_cnt"], 1000)
    h = 0xCBF29CE484222325
    for byte in raw[8:64]:
        h = ((h ^ byte) * 0x100000001B3) & (2**64 - 1)
    _corrupt(ring_path, 0, bytes(raw))
    _corrupt(ring_path, CTRL["layout_sum"], struct.pack("<Q", h))
    with pytest.raises(RingError, match="corrupt"):
        RingReader(ring_path)


def test_missing_ring_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="no such ring"):
        RingReader(tmp_path / "nothing")


def test_the_ring_describes_its_records(ring_path) -> None:
    Ring.create(ring_path, size="128K")
    with RingWriter(ring_path) as w, RingReader(ring_path) as r:
        assert r.description() == {}
        w.describe({"streams": [{"id": 1, "name": "itch-a", "group": "239.1.1.1", "port": 30001}]})
        assert r.description()["streams"][0]["name"] == "itch-a"
        assert Ring.info(ring_path)["description"]["streams"][0]["port"] == 30001
        with pytest.raises(UsageError, match="at most 3072"):
            w.describe({"x": "y" * 4000})


def test_short_waits_still_notice_a_closed_writer(ring_path) -> None:
    """A caller polling with short timeouts (a recorder) must learn that the
    writer has gone, not wait forever."""
    import time

    Ring.create(ring_path, size="128K")
    w = RingWriter(ring_path)
    w.append(b"last")
    w.close()
    with RingReader(ring_path, "oldest") as r:
        assert len(r.wait(timeout=0.05)) == 1
        t0 = time.monotonic()
        with pytest.raises(RingError, match="writer is closed"):
            while time.monotonic() - t0 < 5:
                r.wait(timeout=0.05)
