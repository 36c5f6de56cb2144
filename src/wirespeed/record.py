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

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirespeed.errors import UsageError
from wirespeed.pcapng import PcapngWriter
from wirespeed.ring import RingError, RingReader


@dataclass(frozen=True)
class RecordConfig:
    ring: str
    directory: Path
    rotate_bytes: int = 1 << 30
    rotate_s: float = 0.0
    keep: int = 0           # 0: keep every file
    start: str = "latest"
    prefix: str = "wirespeed"


class _File:
    def __init__(self, path: Path, streams: list[dict[str, Any]]) -> None:
        self.path = path
        self.f = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.w = PcapngWriter(self.f)
        self.iface: dict[int, int] = {}
        for st in streams:
            self.iface[int(st["id"])] = self.w.add_interface(
                f"{st.get('name', 'stream')}-{st.get('line', 'A')}", f"{st.get('group')}:{st.get('port')}")
        self.unknown_iface: int | None = None
        self.count: dict[int, int] = dict.fromkeys(self.iface.values(), 0)
        self.bytes = 0
        self.opened = time.monotonic()
        self.start_ns = time.time_ns()

    def iface_of(self, stream: int) -> int:
        if stream in self.iface:
            return self.iface[stream]
        if self.unknown_iface is None:
            self.unknown_iface = self.w.add_interface("unknown-stream", "records of streams the ring does not describe")
            self.count[self.unknown_iface] = 0
        return self.unknown_iface

    def close(self, lost: int, drops: dict[str, int]) -> None:
        now = time.time_ns()
        for idx, n in self.count.items():
            first = idx == 0
            self.w.statistics(idx, now, received=n, dropped=lost if first else 0, start_ns=self.start_ns,
                              end_ns=now, os_dropped=sum(drops.values()) if first else None, delivered=n)
        self.f.close()


def run(cfg: RecordConfig, stop: threading.Event | None = None,
        progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Record until the writer closes or dies (and all is written) or `stop`."""
    stop = stop or threading.Event()
    cfg.directory.mkdir(parents=True, exist_ok=True)
    if not os.access(cfg.directory, os.W_OK):
        raise UsageError(f"cannot write to {cfg.directory}")
    reader = RingReader(cfg.ring, cfg.start)  # type: ignore[arg-type]
    streams = reader.description().get("streams", [])
    files: list[Path] = []
    written = 0
    n_file = 0

    def new_file() -> _File:
        nonlocal n_file
        n_file += 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        f = _File(cfg.directory / f"{cfg.prefix}-{stamp}-{n_file:04d}.pcapng", streams)
        files.append(f.path)
        if cfg.keep and len(files) > cfg.keep:
            files.pop(0).unlink(missing_ok=True)
        return f

    cur = new_file()
    ended = ""
    try:
        while not stop.is_set():
            try:
                batch = reader.wait(timeout=0.2, max=4096)
            except RingError as exc:
                ended = exc.message
                break
            for h, frame in batch:
                idx = cur.iface_of(int(h["stream"]))
                cur.w.packet(idx, int(h["ts_ns"]), bytes(frame))
                cur.count[idx] += 1
                cur.bytes += int(h["len"])
            written += len(batch)
            rotate = (cfg.rotate_bytes and cur.bytes >= cfg.rotate_bytes) or \
                (cfg.rotate_s and time.monotonic() - cur.opened >= cfg.rotate_s)
            if rotate:
                cur.close(reader.lost, reader.info()["drops"])  # type: ignore[arg-type]
                cur = new_file()
            if progress:
                progress({"written": written, "lost": reader.lost, "files": len(files)})
    finally:
        info = reader.info()
        cur.close(reader.lost, info["drops"])  # type: ignore[arg-type]
        lost = reader.lost
        reader.close()
    return {"written": written, "lost": lost, "files": [str(p) for p in files], "ended": ended or "stopped",
            "ring_drops": info["drops"]}
