"""Finding rings and sampling them read-only: rates, restarts, files replaced or removed."""
from __future__ import annotations

import time
from pathlib import Path

from wirespeed.monitor.rings import Monitor, RingWatch, find_rings, rates
from wirespeed.ring import Ring, RingWriter


def test_find_rings_only_finds_rings(tmp_path: Path) -> None:
    Ring.create(tmp_path / "a", size="128K")
    Ring.create(tmp_path / "b", size="128K")
    (tmp_path / "not-a-ring").write_bytes(b"\0" * 8192)
    (tmp_path / "tiny").write_bytes(b"!WSRING1")
    (tmp_path / "dir").mkdir()
    assert [p.name for p in find_rings([tmp_path, tmp_path / "missing"])] == ["a", "b"]


def test_rates_and_a_replaced_ring(tmp_path: Path) -> None:
    path = tmp_path / "r"
    Ring.create(path, size="128K")
    w = RingWatch(path)
    with RingWriter(path) as wr:
        s0 = w.sample()
        for _ in range(100):
            wr.append(b"x" * 50)
        wr.count_drop("sock_overflow", 10)
        time.sleep(0.05)
        s1 = w.sample()
    r = rates(s0, s1)
    assert s1.records == 100 and s1.bytes == 5000 and s1.writer == "alive"
    assert 0 < r.records <= 100 / 0.05 and r.drops["sock_overflow"] > 0 and r.drops["too_big"] == 0
    assert w.sample().writer == "closed"
    path.unlink()
    assert w.sample().writer == "gone"
    Ring.create(path, size="128K")  # a new ring under the old name: no negative rate
    s2 = w.sample()
    assert s2.writer == "never" and s2.records == 0 and rates(s1, s2).records == 0
    w.close()


def test_a_damaged_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "r"
    Ring.create(path, size="128K")
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(b"\xff" * 64)  # version and layout
    s = RingWatch(path).sample()
    assert s.writer == "error" and s.error


def test_monitor_keeps_history_and_forgets_removed_rings(tmp_path: Path) -> None:
    Ring.create(tmp_path / "a", size="128K")
    m = Monitor(dirs=[tmp_path])
    with RingWriter(tmp_path / "a") as wr:
        for _ in range(3):
            wr.append(b"y" * 10)
            views = m.poll()
    assert len(views) == 1 and len(views[0].history) == 2
    (tmp_path / "a").unlink()
    assert m.poll() == []
    m.close()
