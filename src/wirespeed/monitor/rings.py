"""Every wirespeed ring on the host, read the way any reader reads it.

`find_rings` looks in /dev/shm and in every hugetlbfs mount for files that
start with the ring magic. `RingWatch` keeps one read-only mapping of a ring
and takes `RingSample`s of its control page (the writer's counters) plus the
statuses its readers publish (wirespeed.status). Nothing here writes to a
ring or slows its writer: the control page is read with the same atomic
loads every reader uses, and only its first page is ever touched.

`Monitor` samples many rings and keeps, for each, a short history of rates
(records/s, bytes/s, drops/s by cause) for `top`'s sparklines. `metrics`
takes a fresh sample at each scrape and keeps nothing, so the exporter can
be stopped and restarted at will without losing a count.
"""
from __future__ import annotations

import os
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirespeed.errors import WirespeedError
from wirespeed.ring import RingReader, resolve
from wirespeed.status import ReaderStatus, read_statuses
from wirespeed.system.hostfs import HostFS

RING_MAGIC = 0x31474E4952535721  # WS_RING_MAGIC, "!WSRING1" (native/ring/ring.h)
HISTORY = 120                    # samples of rate history kept per ring (a minute at 2 Hz)


def _is_ring(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return len(head) == 8 and struct.unpack("<Q", head)[0] == RING_MAGIC


def ring_dirs(fs: HostFS | None = None) -> list[Path]:
    """Where rings live: /dev/shm and every hugetlbfs mount."""
    fs = fs or HostFS()
    dirs = [fs.path("/dev/shm")]
    dirs += [fs.path(m) for m, t, _ in fs.mounts() if t == "hugetlbfs"]
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def find_rings(dirs: list[Path] | None = None) -> list[Path]:
    """Ring files in `dirs` (default: ring_dirs()), one level deep, sorted."""
    found: list[Path] = []
    for d in dirs if dirs is not None else ring_dirs():
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_file(follow_symlinks=False) and e.stat().st_size >= 4096 and _is_ring(Path(e.path)):
                    found.append(Path(e.path))
            except OSError:
                continue
    return found


@dataclass
class RingSample:
    """One look at a ring: its control page, what it holds, its readers."""

    path: Path
    t: float                        # time.monotonic() of the look
    writer: str = "unknown"         # alive | closed | dead | never | gone (file removed) | error
    error: str | None = None
    control: dict[str, Any] = field(default_factory=dict)
    description: dict[str, Any] = field(default_factory=dict)
    readers: list[ReaderStatus] = field(default_factory=list)

    @property
    def records(self) -> int:
        return int(self.control.get("records_published", 0))

    @property
    def bytes(self) -> int:
        return int(self.control.get("bytes_total", 0))

    @property
    def drops(self) -> dict[str, int]:
        return {k: int(v) for k, v in (self.control.get("drops") or {}).items()}

    @property
    def heartbeat_age_s(self) -> float | None:
        hb = int(self.control.get("heartbeat_ns", 0))
        return max(0.0, (time.time_ns() - hb) / 1e9) if hb else None

    @property
    def transport(self) -> dict[str, Any]:
        """What the capture said of its transport (transport, iface, queues, modes)."""
        cap = self.description.get("capture")
        return cap if isinstance(cap, dict) else {}


class RingWatch:
    """A read-only mapping of one ring, reopened when the file is replaced."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = resolve(path)
        self._reader: RingReader | None = None
        self._ino: int | None = None

    def _open(self) -> RingReader:
        ino = os.stat(self.path).st_ino
        if self._reader is not None and ino != self._ino:
            self.close()  # removed and created again: a new ring under the old name
        if self._reader is None:
            self._reader = RingReader(self.path, "latest")
            self._ino = ino
        return self._reader

    def sample(self, with_readers: bool = True) -> RingSample:
        s = RingSample(self.path, time.monotonic())
        try:
            r = self._open()
            s.control = r.info()
            s.writer = r.writer_state()[0]
            s.description = r.description()
        except FileNotFoundError:
            self.close()
            s.writer, s.error = "gone", "the ring file was removed"
        except (WirespeedError, OSError) as exc:
            self.close()
            s.writer, s.error = "error", getattr(exc, "message", None) or str(exc)
        if with_readers:
            s.readers = read_statuses(self.path)
        return s

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._ino = None, None


@dataclass
class Rates:
    """Per-second rates between two samples of one ring."""

    records: float = 0.0
    bytes: float = 0.0
    drops: dict[str, float] = field(default_factory=dict)

    @property
    def drops_total(self) -> float:
        return sum(self.drops.values())


def rates(prev: RingSample | None, cur: RingSample) -> Rates:
    """Counters are monotonic for one writer epoch; a restart or a new file gives 0, never a negative."""
    if prev is None or not prev.control or not cur.control or cur.t <= prev.t:
        return Rates()
    if prev.control.get("created_ns") != cur.control.get("created_ns"):
        return Rates()
    dt = cur.t - prev.t
    pd = prev.drops
    return Rates(max(0, cur.records - prev.records) / dt, max(0, cur.bytes - prev.bytes) / dt,
                 {k: max(0, v - pd.get(k, 0)) / dt for k, v in cur.drops.items()})


@dataclass
class RingView:
    """What top shows of one ring: the last sample, its rates, their history."""

    sample: RingSample
    rate: Rates
    history: deque[float]        # records/s, oldest first
    drop_history: deque[float]   # drops/s (all causes)


class RingSet:
    """The named rings, or every ring found at each look: one RingWatch each, closed
    when its ring is found no more. One thread at a time."""

    def __init__(self, rings: list[str] | None = None, dirs: list[Path] | None = None) -> None:
        self.named = [resolve(r) for r in rings] if rings else None
        self.dirs = dirs
        self._watch: dict[Path, RingWatch] = {}

    def sample(self) -> list[RingSample]:
        paths = list(self.named) if self.named is not None else find_rings(self.dirs)
        out = [self._watch.setdefault(p, RingWatch(p)).sample() for p in paths]
        for gone in set(self._watch) - set(paths):
            self._watch.pop(gone).close()
        return out

    def close(self) -> None:
        for w in self._watch.values():
            w.close()
        self._watch.clear()


class Monitor:
    """Samples a RingSet and keeps each ring's rate history."""

    def __init__(self, rings: list[str] | None = None, dirs: list[Path] | None = None) -> None:
        self.rings = RingSet(rings, dirs)
        self._last: dict[Path, RingSample] = {}
        self._hist: dict[Path, tuple[deque[float], deque[float]]] = {}

    def poll(self) -> list[RingView]:
        views = []
        for cur in self.rings.sample():
            p = cur.path
            r = rates(self._last.get(p), cur)
            hist, dhist = self._hist.setdefault(p, (deque(maxlen=HISTORY), deque(maxlen=HISTORY)))
            if p in self._last:
                hist.append(r.records)
                dhist.append(r.drops_total)
            self._last[p] = cur
            views.append(RingView(cur, r, hist, dhist))
        seen = {v.sample.path for v in views}
        for gone in set(self._last) - seen:  # found no more (removed): forget it
            self._last.pop(gone)
            self._hist.pop(gone, None)
        return views

    def close(self) -> None:
        self.rings.close()
