"""The shared-memory broadcast ring, from Python: `wirespeed.Ring`.

One writer, any number of independent readers in their own processes; the
writer never waits for a reader, and a reader that falls behind is told
exactly how many records it lost. The protocol is written down in
native/ring/ring.h; this module is the Python face:

    Ring.create("/dev/shm/feed", size="64M")
    with Ring.writer("/dev/shm/feed") as w:
        w.append(b"payload", stream=1)
    with Ring.reader("/dev/shm/feed", start="oldest") as r:
        batch = r.poll(max=4096)            # never one Python object per record
        batch.headers["seq"], batch.headers["ts_ns"], batch.payload_of(0)
        r.lost                              # exact count of records skipped

Memory ownership (see also native/python/ring.c):
  * `poll()` (copy=True, the default) returns numpy arrays the caller owns;
    they stay valid forever.
  * `poll(copy=False)` returns headers plus a read-only memoryview of the
    ring's own mapping: no copy, but the bytes are only meaningful until the
    writer laps them. Call `batch.verify()` after using them: it says which
    records were still intact. The view keeps the mapping alive; the reader
    cannot be closed while such a view exists.
"""
from __future__ import annotations

import builtins
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from wirespeed import _native
from wirespeed.errors import UsageError, WirespeedError

#: One record header; the layout of ws_ring_rec_t in native/ring/ring.h.
REC_DTYPE = np.dtype([
    ("seq", "<u8"),      # 64-bit sequence number, from 1
    ("ts_ns", "<u8"),    # rx timestamp, CLOCK_REALTIME ns
    ("off", "<u8"),      # payload offset in Batch.payload
    ("len", "<u4"),      # payload bytes
    ("stream", "<u2"),   # stream (feed) id
    ("flags", "<u2"),
])
assert REC_DTYPE.itemsize == 32

MAX_PAYLOAD = 9216
META_MAX = 3072  # bytes of description in the control page (WS_RING_META_MAX)
DROP_CAUSES = ("too_big", "sock_overflow", "xsk_rx_dropped", "xsk_rx_ring_full", "xsk_fill_ring_empty", "malformed",
               "filtered", "dpdk_imissed", "dpdk_rx_nombuf", "dpdk_ierrors")
DEFAULT_DIR = Path("/dev/shm")
_START = {"latest": 0, "oldest": 1}
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B)?\s*$", re.IGNORECASE)


class RingError(WirespeedError):
    """A ring file refused (not a ring, wrong version, corrupt, truncated) or busy."""


def parse_size(text: str | int) -> int:
    """'64M' -> 67108864; '8G', '512K', '1GiB' and plain byte counts."""
    if isinstance(text, int):
        return text
    m = _SIZE_RE.match(text)
    if not m:
        raise UsageError(f"invalid size {text!r}", "give bytes or a number with K, M, G or T, e.g. 64M or 8G")
    return int(m.group(1)) << (10 * " KMGT".index(m.group(2).upper() or " "))


def resolve(name: str | os.PathLike[str]) -> Path:
    """A bare name lives in /dev/shm; anything with a slash is a path."""
    s = os.fspath(name)
    return Path(s) if "/" in s else DEFAULT_DIR / s


def _wrap(exc: Exception, path: Path) -> WirespeedError:
    """Native errors become messages a user can act on."""
    if isinstance(exc, _native.RingError):
        message, code, _ = exc.args
        hints = {
            -2: "is this the right file? make one with: wirespeed ring create",
            -3: "recreate the ring with this version of wirespeed",
            -4: "the file is damaged; remove it and create the ring again",
            -5: "the file was cut short (disk full? copied partially?); recreate it",
            -6: "stop the other writer (see: wirespeed ring info) or use another ring",
            -8: "the ring's contents are damaged; stop reading it and recreate it",
        }
        return RingError(f"{path}: {message}", hints.get(code))
    if isinstance(exc, FileNotFoundError):
        return UsageError(f"{path}: no such ring", "create it with: wirespeed ring create " + str(path))
    if isinstance(exc, PermissionError):
        return RingError(f"{path}: {exc.strerror}", "readers need read permission on the ring file (its group, mode 0640)")
    if isinstance(exc, OSError) and exc.errno in (28, 12):  # ENOSPC, ENOMEM
        return RingError(f"{path}: not enough memory for the ring ({exc})",
                         "choose a smaller --size, free /dev/shm, or reserve more hugepages")
    if isinstance(exc, OSError):
        return RingError(f"{path}: {exc}")
    return RingError(f"{path}: {exc}")


def file_size(size: str | int, page_sz: int = 2 << 20, entries: int = 0) -> int:
    """The bytes a ring of payload `size` takes on pages of `page_sz` (ws_ring_create's
    layout: control page, one 64-byte index slot per 256 payload bytes, payload)."""
    payload = max(parse_size(size), 128 << 10)
    payload = 1 << (payload - 1).bit_length()
    entries = entries or payload // 256
    payload_off = -(-(4096 + entries * 64) // 4096) * 4096
    return -(-(payload_off + payload) // page_sz) * page_sz


@dataclass(frozen=True)
class RingGeometry:
    path: Path
    file_sz: int
    payload_sz: int
    entry_cnt: int
    page_sz: int


@dataclass
class Batch:
    """Records from one poll: headers (REC_DTYPE) and their payload bytes.

    `headers["off"][i]` and `headers["len"][i]` locate record i's payload in
    `payload`. With copy=False, `payload` is the ring's mapping and
    `verify()` must be called after the bytes were used."""

    headers: np.ndarray
    payload: np.ndarray | memoryview
    lost: int = 0  # records lost since the previous poll (lapped or overwritten)
    _reader: _native.RingReader | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.headers)

    def payload_of(self, i: int) -> memoryview:
        h = self.headers[i]
        start = int(h["off"])
        return memoryview(self.payload)[start:start + int(h["len"])]

    def __iter__(self) -> Iterator[tuple[np.void, memoryview]]:
        for i in range(len(self.headers)):
            yield self.headers[i], self.payload_of(i)

    def verify(self) -> np.ndarray:
        """For a zero-copy batch: a bool array, True where the record was
        still intact (not overwritten by the writer) at this moment. A copied
        batch is always intact."""
        if self._reader is None:
            return np.ones(len(self.headers), dtype=bool)
        out = np.zeros(len(self.headers), dtype=np.uint8)
        self._reader.still_valid(self.headers, len(self.headers), out)
        return out.astype(bool)

    def release(self) -> None:
        """Drop a zero-copy batch's hold on the ring mapping."""
        if isinstance(self.payload, memoryview):
            self.payload.release()


class RingWriter:
    """The one writer of a ring. Holds the ring's writer lock until close()."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = resolve(path)
        try:
            self._w = _native.RingWriter(str(self.path))
        except Exception as exc:  # noqa: BLE001 - every native failure gets a hint
            raise _wrap(exc, self.path) from None

    def append(self, data: bytes | memoryview, stream: int = 0, flags: int = 0, ts_ns: int = 0) -> bool:
        """Publish one record (ts_ns=0: now). False if too big (counted as a drop)."""
        return self._w.publish(data, stream, flags, ts_ns)

    def append_batch(self, data: bytes | np.ndarray, lengths: np.ndarray, stream: int = 0, flags: int = 0,
                     ts_ns: int = 0) -> int:
        """Publish records packed back to back in `data` with `lengths`
        (uint32). Returns how many were published; the rest were counted."""
        return self._w.publish_batch(data, np.ascontiguousarray(lengths, dtype=np.uint32), stream, flags, ts_ns)

    def count_drop(self, cause: str, n: int = 1) -> None:
        """Count n records lost before the ring (e.g. 'sock_overflow')."""
        try:
            idx = DROP_CAUSES.index(cause)
        except ValueError:
            raise UsageError(f"unknown drop cause {cause!r}", f"one of: {', '.join(DROP_CAUSES)}") from None
        self._w.count_drop(idx, n)

    def heartbeat(self) -> None:
        self._w.heartbeat()

    def describe(self, meta: dict[str, object]) -> None:
        """Say what the records are (e.g. the capture's streams), as JSON in
        the control page; readers get it from RingReader.description()."""
        import json

        data = json.dumps(meta, separators=(",", ":")).encode()
        if len(data) > META_MAX:
            raise UsageError(f"ring description is {len(data)} bytes; at most {META_MAX} fit",
                             "fewer or shorter stream names")
        self._w.set_meta(data)

    @property
    def next_seq(self) -> int:
        return self._w.next_seq

    def close(self) -> None:
        self._w.close()

    def __enter__(self) -> RingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


WriterState = Literal["alive", "closed", "dead", "never"]


class RingReader:
    """An independent reader: maps the ring read-only, never slows the writer."""

    #: payload bytes a copying poll reserves; a batch stops early rather than overflow
    PAYLOAD_BUDGET = 4 << 20

    def __init__(self, path: str | os.PathLike[str], start: Literal["latest", "oldest"] | int = "latest") -> None:
        self.path = resolve(path)
        if isinstance(start, str):
            if start not in _START:
                raise UsageError(f"invalid start {start!r}", "use 'latest', 'oldest' or a sequence number >= 1")
            args = (_START[start], 0)
        else:
            if start < 1:
                raise UsageError(f"invalid start sequence {start}", "sequence numbers start at 1")
            args = (2, start)
        try:
            self._r = _native.RingReader(str(self.path), *args)
        except Exception as exc:  # noqa: BLE001
            raise _wrap(exc, self.path) from None
        self._hdr = np.empty(0, dtype=REC_DTYPE)
        self._pay = np.empty(self.PAYLOAD_BUDGET + MAX_PAYLOAD, dtype=np.uint8)
        self._lost_seen = 0
        self._epoch = self._r.epoch
        self._state_checked = 0.0

    # -- reading -----------------------------------------------------------
    def poll(self, max: int = 8192, copy: bool = True) -> Batch:  # noqa: A002 - the issue's own name
        """Whatever is there now, up to `max` records; never blocks."""
        if len(self._hdr) < max:
            self._hdr = np.empty(max, dtype=REC_DTYPE)
        try:
            if copy:
                n = self._r.read_batch(self._hdr, self._pay, max)
                hdr = self._hdr[:n].copy()
                used = int(hdr["off"][-1] + hdr["len"][-1]) if n else 0
                batch = Batch(hdr, self._pay[:used].copy())
            else:
                n = self._r.peek_batch(self._hdr, max)
                batch = Batch(self._hdr[:n].copy(), memoryview(self._r), _reader=self._r)
        except _native.RingError as exc:
            raise _wrap(exc, self.path) from None
        lost = self._r.lost
        batch.lost, self._lost_seen = lost - self._lost_seen, lost
        return batch

    def wait(self, timeout: float | None = None, max: int = 8192, copy: bool = True) -> Batch:  # noqa: A002
        """Block until records arrive or `timeout` seconds pass (an empty
        batch then). Sleeps between looks, backing off from 20 µs to 1 ms:
        the writer is never asked to wake anyone, so it stays syscall-free.
        Raises RingError if the writer died and nothing is left to read."""
        deadline = None if timeout is None else time.monotonic() + timeout
        nap = 20e-6
        while True:
            batch = self.poll(max, copy)
            if len(batch) or batch.lost:
                return batch
            now = time.monotonic()
            # The writer's health, a few times a second; the clock lives on the
            # reader, so callers with short timeouts are checked too.
            if now - self._state_checked > 0.25:
                self._state_checked = now
                state, _ = self.writer_state()
                if state in ("dead", "closed") and self._r.next_seq >= self._r.head_seq:
                    raise RingError(f"{self.path}: the writer is {state} and every record has been read",
                                    "restart the writer, or stop reading")
            if deadline is not None and now >= deadline:
                return batch
            time.sleep(nap if deadline is None else min(nap, builtins.max(deadline - now, 0.0)))
            nap = min(nap * 2, 1e-3)

    def __iter__(self) -> Iterator[Batch]:
        """Batches forever (wait without timeout)."""
        while True:
            yield self.wait()

    @property
    def native(self) -> _native.RingReader:
        """The native reader, for native consumers that read the ring in C (Books.follow)."""
        return self._r

    # -- state ---------------------------------------------------------------
    def writer_state(self) -> tuple[WriterState, bool]:
        """(alive | closed | dead | never, restarted since last asked)."""
        return self._r.writer_state()

    def info(self) -> dict[str, object]:
        """The control page: layout, writer identity, counters."""
        return self._r.control()

    def description(self) -> dict[str, object]:
        """What the writer said the records are ({} if it said nothing or it
        cannot be read)."""
        import json

        raw = self._r.meta()
        try:
            meta = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return meta if isinstance(meta, dict) else {}

    @property
    def lost(self) -> int:
        """Records this reader lost, in all (exact)."""
        return self._r.lost

    @property
    def overruns(self) -> int:
        return self._r.overruns

    @property
    def next_seq(self) -> int:
        return self._r.next_seq

    @property
    def head_seq(self) -> int:
        return self._r.head_seq

    def close(self) -> None:
        self._r.close()

    def __enter__(self) -> RingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Ring:
    """Entry points: `Ring.create`, `Ring.writer`, `Ring.reader`, `Ring.info`."""

    @staticmethod
    def create(path: str | os.PathLike[str], size: str | int = "64M", entries: int = 0,
               mode: int = 0o640) -> RingGeometry:
        """Lay out a new ring file. `size`: payload bytes (rounded up to a
        power of two, at least 128 KiB); `entries`: index slots (a power of
        two; default size/256). On hugetlbfs the file uses its huge pages; its
        memory is reserved now, so an exhausted pool fails here."""
        p = resolve(path)
        payload = parse_size(size)
        if entries and (entries & (entries - 1) or entries < 2):
            raise UsageError(f"entries must be a power of two >= 2, not {entries}")
        if not p.parent.is_dir():
            raise UsageError(f"{p.parent} is not a directory", "create it first, or give another path")
        try:
            _native.ring_create(str(p), payload, entries, mode)
        except FileExistsError:
            raise UsageError(f"{p} already exists", "remove it first, or give another path") from None
        except Exception as exc:  # noqa: BLE001
            raise _wrap(exc, p) from None
        with RingReader(p) as r:
            c = r.info()
        return RingGeometry(p, int(c["file_sz"]), int(c["payload_sz"]), int(c["entry_cnt"]), int(c["page_sz"]))

    @staticmethod
    def writer(path: str | os.PathLike[str]) -> RingWriter:
        return RingWriter(path)

    @staticmethod
    def reader(path: str | os.PathLike[str], start: Literal["latest", "oldest"] | int = "latest") -> RingReader:
        return RingReader(path, start)

    @staticmethod
    def info(path: str | os.PathLike[str]) -> dict[str, object]:
        """Layout, counters and writer state, as `wirespeed ring info --json` shows them."""
        with RingReader(path) as r:
            c = r.info()
            state, _ = r.writer_state()
            c["description"] = r.description()
        c["writer"] = state
        c["path"] = str(resolve(path))
        now = time.time_ns()
        hb = int(c["heartbeat_ns"])  # type: ignore[call-overload]
        c["heartbeat_age_s"] = (now - hb) / 1e9 if hb else None
        return c
