"""What a ring's readers say about themselves, for `wirespeed top` and `wirespeed metrics`.

A ring's control page tells what its writer did (records, bytes, drops by
cause). What a reader made of the records (a book follower's feed sessions:
gaps, filled, lost, stale; a trader's order session: link, orders, fills,
rejects by check) lives in the reader's process. So each such reader
publishes a small status document beside the ring:

    /dev/shm/wirespeed-status/<ring key>.<role>.<pid>.json

written whole to a temporary name and renamed over the last one, so a viewer
never sees half a document; at most every `every_s` seconds, from the
reader's service loop, never from the per-packet path. A viewer tells a
publisher that stopped (its file removed), one that died (its pid gone, the
file left) and one that is alive but stuck (its file ages).

A publisher never raises: monitoring must not stop a capture or a trader. A
status it could not write is kept in `error`, and counted in `failed`.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUS_DIR = Path("/dev/shm/wirespeed-status")
_ROLE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
STALE_AFTER_S = 5.0  # a live publisher that has not written for this long is reported stuck


def ring_key(ring: str | os.PathLike[str]) -> str:
    """The file-name form of a ring's absolute path: /dev/shm/feed -> dev~shm~feed."""
    return os.path.abspath(os.fspath(ring)).strip("/").replace("/", "~")


class StatusPublisher:
    """One reader's status for one ring, rewritten at most every `every_s` seconds."""

    def __init__(self, ring: str | os.PathLike[str], role: str, every_s: float = 0.5,
                 directory: Path = STATUS_DIR) -> None:
        if not _ROLE_RE.match(role):
            raise ValueError(f"status role {role!r}: lower-case letters, digits, '-' or '_'")
        self.ring = os.path.abspath(os.fspath(ring))
        self.role = role
        self.every_s = every_s
        self.dir = directory
        self.path = directory / f"{ring_key(ring)}.{role}.{os.getpid()}.json"
        self.error: str | None = None
        self.failed = 0
        self.written = 0
        self._last = 0.0

    def due(self) -> bool:
        """Whether publish() would write now (so the caller can skip building the document)."""
        return time.monotonic() - self._last >= self.every_s

    def publish(self, doc: dict[str, Any], force: bool = False) -> bool:
        """Write `doc` if `every_s` passed since the last write (or force). True if written."""
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return False
        self._last = now
        body = {"ring": self.ring, "role": self.role, "pid": os.getpid(), "published_ns": time.time_ns(), **doc}
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            self._ensure_dir()
            tmp.write_text(json.dumps(body, separators=(",", ":"), default=str))
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except OSError as exc:
            self.failed += 1
            self.error = f"{self.path}: {exc.strerror or exc}"
            return False
        self.written += 1
        return True

    def _ensure_dir(self) -> None:
        if not self.dir.is_dir():
            self.dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.dir, 0o1777)  # any user's reader may publish; only the owner may remove its file

    def close(self) -> None:
        """The reader stopped cleanly: its status goes with it."""
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> StatusPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ReaderStatus:
    """One publisher's last document, and whether it is still behind it."""

    role: str
    pid: int
    state: str        # alive | stuck (alive, not written for STALE_AFTER_S) | dead (pid gone)
    age_s: float      # since it was written
    doc: dict[str, Any]
    path: Path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def read_statuses(ring: str | os.PathLike[str], directory: Path = STATUS_DIR) -> list[ReaderStatus]:
    """Every status published for `ring`; unreadable or foreign files are skipped."""
    key = ring_key(ring)
    out: list[ReaderStatus] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return out
    now = time.time_ns()
    for name in names:
        if not name.startswith(key + ".") or not name.endswith(".json"):
            continue
        parts = name[len(key) + 1:-5].split(".")
        if len(parts) != 2 or not parts[1].isdigit():
            continue
        path = directory / name
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # removed while listing, or not ours
        if not isinstance(doc, dict) or doc.get("ring") != os.path.abspath(os.fspath(ring)):
            continue
        pid = int(parts[1])
        age = max(0.0, (now - int(doc.get("published_ns") or 0)) / 1e9)
        state = "dead" if not _pid_alive(pid) else ("stuck" if age > STALE_AFTER_S else "alive")
        out.append(ReaderStatus(parts[0], pid, state, age, doc, path))
    return out


def reader_state(reader: Any) -> dict[str, int]:
    """A RingReader's position and losses, as a status document carries them."""
    return {"next_seq": int(reader.next_seq), "head_seq": int(reader.head_seq), "lost": int(reader.lost),
            "overruns": int(reader.overruns)}


def reader_lag(doc: dict[str, Any]) -> int:
    """Records published but not yet read when the reader last looked (0 if it did not say)."""
    rd = doc.get("reader") or {}
    return max(0, int(rd.get("head_seq", 0)) - int(rd.get("next_seq", 0)))


def order_rejects(orders: dict[str, Any]) -> dict[str, int]:
    """Orders refused before sending, by risk check or by reason (link down, unknown symbol...)."""
    return {k: int(v) for k, v in (dict(orders.get("refused_by_check") or {}) | dict(orders.get("refused") or {})).items()}
