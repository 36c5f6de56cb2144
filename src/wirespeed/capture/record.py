"""`wirespeed record`: a ring reader that writes pcapng.

Its own process, unprivileged (read permission on the ring is enough). One
interface block per stream (from the ring's description), nanosecond
timestamps, rotation by size and/or time with a file-count limit, and
interface statistics blocks that say what the capture missed: on rotation,
at the end, and when the writer goes. Drops are whole-capture figures (the
ring does not know which stream a lost packet belonged to), so they are
written on the first interface, with a comment saying so.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.capture.directio import DirectFile
from wirespeed.errors import UsageError
from wirespeed.formats.pcapng import PcapngWriter
from wirespeed.ring import Batch, RingError, RingReader, resolve


@dataclass(frozen=True)
class RecordConfig:
    ring: str
    directory: Path
    rotate_bytes: int = 1 << 30
    rotate_s: float = 0.0
    keep: int = 0           # 0: keep every file
    start: str = "latest"
    prefix: str = "wirespeed"
    resume: bool = True     # carry on from where a previous recorder into this folder stopped


class _File:
    def __init__(self, path: Path, streams: list[dict[str, Any]]) -> None:
        self.path = path
        self.f = DirectFile(path)
        self.w = PcapngWriter(self.f, host=socket.gethostname())
        self.iface: dict[int, int] = {}
        for st in streams:
            self.iface[int(st["id"])] = self.w.add_interface(
                f"{st.get('name', 'stream')}-{st.get('line', 'A')}", f"{st.get('group')}:{st.get('port')}")
        self.unknown_iface: int | None = None
        self.count: dict[int, int] = dict.fromkeys(self.iface.values(), 0)
        self.lut = np.full(65536, -1, dtype=np.int64)  # stream id -> interface id (-1: not yet)
        for stream, idx in self.iface.items():
            self.lut[stream & 0xFFFF] = idx
        self.bytes = 0
        self.opened = time.monotonic()
        self.start_ns = time.time_ns()
        self.marks: list[tuple[int, int]] = []  # (file offset after a batch, the ring seq after it)

    def durable_seq(self, default: int) -> int:
        """The ring seq up to which every record is on disk in this file."""
        seq = default
        while self.marks and self.marks[0][0] <= self.f.durable:
            seq = self.marks.pop(0)[1]
        return seq

    def write(self, batch: Batch) -> int:
        """Every intact record of a zero-copy batch, each on its stream's
        interface. The blocks are built straight from the ring's mapping,
        then the batch is verified: a record the writer overwrote meanwhile
        is left out (and returned as torn, to be counted lost), never
        written half old, half new."""
        ifaces = self.lut[batch.headers["stream"]]
        if (ifaces < 0).any():  # streams the ring does not describe: one interface for all of them
            if self.unknown_iface is None:
                self.unknown_iface = self.w.add_interface("unknown-stream",
                                                          "records of streams the ring does not describe")
                self.count[self.unknown_iface] = 0
            ifaces = np.where(ifaces < 0, self.unknown_iface, ifaces)
        ifaces = ifaces.astype(np.uint32)
        sizes = 32 + ((batch.headers["len"].astype(np.int64) + 3) & ~3)
        limit = self.f.chunk // 2
        if int(sizes.sum()) > limit:  # in parts that fit a buffer
            cut = max(1, int(np.searchsorted(np.cumsum(sizes), limit)))
            first = Batch(batch.headers[:cut], batch.payload, 0, batch._reader)
            rest = Batch(batch.headers[cut:], batch.payload, 0, batch._reader)
            return self.write(first) + self.write(rest)
        while True:
            buf, off = self.f.space(int(sizes.sum()))
            n = _native.pcapng_epbs(batch.headers, batch.payload, ifaces, buf, off)
            ok = batch.verify()
            if ok.all():
                break
            batch = Batch(batch.headers[ok], batch.payload, 0, batch._reader)  # again, the intact ones only
            ifaces, sizes = ifaces[ok], sizes[ok]
        self.f.commit(n)
        for idx, n in enumerate(np.bincount(ifaces, minlength=len(self.w.interfaces))):
            if n:
                self.count[idx] = self.count.get(idx, 0) + int(n)
        self.bytes += int(batch.headers["len"].sum())
        return len(batch)

    def close(self, lost: int, drops: dict[str, int]) -> None:
        now = time.time_ns()
        for idx, n in self.count.items():
            first = idx == 0
            self.w.statistics(idx, now, received=n, dropped=lost if first else 0, start_ns=self.start_ns,
                              end_ns=now, os_dropped=sum(drops.values()) if first else None, delivered=n)
        self.f.close()  # writes the tail and fsyncs: a closed capture file is on disk


def run(cfg: RecordConfig, stop: threading.Event | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Record until the writer closes or dies (and all is written) or `stop`."""
    stop = stop or threading.Event()
    cfg.directory.mkdir(parents=True, exist_ok=True)
    if not os.access(cfg.directory, os.W_OK):
        raise UsageError(f"cannot write to {cfg.directory}")
    state = _State(cfg.directory / f".{cfg.prefix}.state.json", str(resolve(cfg.ring)))
    resume_at = state.load() if cfg.resume else None
    # Resuming: the records the previous recorder had not written are read
    # now if the ring still has them; those it has lost are counted by the
    # reader (it starts at the oldest record and counts the gap exactly).
    reader = RingReader(cfg.ring, cfg.start)  # type: ignore[arg-type]
    if resume_at is not None and resume_at <= reader.head_seq:  # else: a newer ring under the same name
        reader.close()
        reader = RingReader(cfg.ring, resume_at)
    else:
        resume_at = None
    streams = reader.description().get("streams", [])
    files: list[Path] = []
    written = 0
    torn = 0  # records overwritten by the writer while being written out: lost, counted
    n_file = 0

    def new_file() -> _File:
        nonlocal n_file
        n_file += 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        while (cfg.directory / f"{cfg.prefix}-{stamp}-{n_file:04d}.pcapng").exists():
            n_file += 1  # a restarted recorder never overwrites a file
        f = _File(cfg.directory / f"{cfg.prefix}-{stamp}-{n_file:04d}.pcapng", streams)
        files.append(f.path)
        if cfg.keep and len(files) > cfg.keep:
            files.pop(0).unlink(missing_ok=True)
        return f

    cur = new_file()
    on_disk = reader.next_seq  # every record before this seq is on disk (or was counted lost)
    ended = ""
    try:
        while not stop.is_set():
            try:
                batch = reader.wait(timeout=0.2, max=16384, copy=False)
            except RingError as exc:
                ended = exc.message
                break
            if not len(batch):
                batch.release()
                continue
            kept = cur.write(batch)
            batch.release()
            torn += len(batch) - kept
            written += kept
            cur.marks.append((cur.f.offset, reader.next_seq))
            on_disk = cur.durable_seq(on_disk)
            rotate = (cfg.rotate_bytes and cur.bytes >= cfg.rotate_bytes) or \
                (cfg.rotate_s and time.monotonic() - cur.opened >= cfg.rotate_s)
            if rotate:
                cur.close(reader.lost + torn, reader.info()["drops"])  # type: ignore[arg-type]
                on_disk = reader.next_seq
                cur = new_file()
            state.save(on_disk)
            if progress:
                progress({"written": written, "lost": reader.lost + torn, "files": len(files)})
    finally:
        info = reader.info()
        cur.close(reader.lost + torn, info["drops"])  # type: ignore[arg-type]
        state.save(reader.next_seq, force=True)
        lost = reader.lost + torn
        reader.close()
    return {"written": written, "lost": lost, "files": [str(p) for p in files], "ended": ended or "stopped",
            "ring_drops": info["drops"], "resumed_from": resume_at}


class _State:
    """Where the recorder is in the ring: the first seq not yet on disk,
    kept in the output folder so a restarted recorder carries on from there.
    Saved at most every 0.1 s, atomically (rename). After a kill -9 the old
    file ends at its last whole write (its last block may be cut short) and
    the new one starts with the records after the saved seq: a record may
    be in both (up to 0.1 s of them), none is missing without being counted."""

    def __init__(self, path: Path, ring: str) -> None:
        self.path = path
        self.ring = ring
        self.saved = 0.0

    def load(self) -> int | None:
        try:
            doc = json.loads(self.path.read_text())
            return int(doc["next_seq"]) if doc.get("ring") == self.ring and int(doc["next_seq"]) >= 1 else None
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no state, or one from something else: start as asked

    def save(self, next_seq: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.saved < 0.1:
            return
        self.saved = now
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"ring": self.ring, "next_seq": next_seq}))
        os.replace(tmp, self.path)
