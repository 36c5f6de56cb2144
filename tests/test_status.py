"""Reader statuses beside a ring: whole documents, dead and stuck publishers told apart,
and a publisher that can never stop the reader it reports on."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wirespeed.status import StatusPublisher, read_statuses, ring_key


def test_publish_read_close(tmp_path: Path) -> None:
    ring = tmp_path / "feed"
    p = StatusPublisher(ring, "book", every_s=10.0, directory=tmp_path / "st")
    assert p.publish({"sessions": {"S": {"gaps": 1}}})
    assert not p.publish({"sessions": {}})  # not yet due
    assert p.publish({"sessions": {}}, force=True)
    (st,) = read_statuses(ring, tmp_path / "st")
    assert (st.role, st.pid, st.state) == ("book", os.getpid(), "alive")
    assert st.doc["sessions"] == {} and st.doc["ring"] == str(ring) and st.age_s < 5
    assert oct((tmp_path / "st").stat().st_mode & 0o7777) == "0o1777"  # any user's reader may publish
    p.close()
    assert read_statuses(ring, tmp_path / "st") == []


def test_dead_stuck_and_foreign_files(tmp_path: Path) -> None:
    d = tmp_path / "st"
    ring = tmp_path / "feed"
    code = ("import sys; from wirespeed.status import StatusPublisher;"
            f"StatusPublisher({str(ring)!r}, 'trade', directory=__import__('pathlib').Path({str(d)!r})).publish({{}})")
    subprocess.run([sys.executable, "-c", code], check=True)  # exits without closing: a crash, as far as we know
    p = StatusPublisher(ring, "book", directory=d)
    p.publish({})
    doc = json.loads(p.path.read_text())
    doc["published_ns"] -= 60 * 10**9
    p.path.write_text(json.dumps(doc))
    (d / f"{ring_key(ring)}.book.notapid.json").write_text("{}")     # not ours
    (d / f"{ring_key(ring)}.book.1.json").write_text("{garbage")     # half a file: never written by us
    (d / f"{ring_key(tmp_path / 'other')}.book.1.json").write_text("{}")
    states = {s.role: s.state for s in read_statuses(ring, d)}
    assert states == {"trade": "dead", "book": "stuck"}


def test_a_publisher_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = StatusPublisher(tmp_path / "feed", "book", directory=blocker / "st")  # under a file: cannot be made
    assert not p.publish({"x": 1})
    assert p.failed == 1 and "st" in (p.error or "")
    with pytest.raises(ValueError, match="role"):
        StatusPublisher(tmp_path / "feed", "Book/../x")
