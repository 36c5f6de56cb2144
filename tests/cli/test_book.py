"""`wirespeed book`: from a recording and from a ring, --json snapshots and
usage errors (the books themselves are tests/book's subject)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import read_packets
from wirespeed.ring import Ring, RingWriter


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("book") / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001, faults=S.Faults(drop=0.1)),
                                   S.Line("239.1.2.1", 30001)], count=20_000, symbols=4, rate=0, duration_s=0), path)
    return path


def test_book_from_pcapng(day: Path) -> None:
    doc = json.loads(run_cli("book", "--pcapng", str(day), "--json", check_rc=0).stdout)
    assert [r["symbol"] for r in doc["bbo"]] == ["S0001", "S0002", "S0003", "S0004"]
    (sess,) = doc["sessions"].values()
    assert sess["messages"] == doc["books"]["messages"] > 20_000 and sess["lost"] == 0 and not doc["stale"]
    table = run_cli("book", "--pcapng", str(day), "--symbols", "s0002", check_rc=0).stdout
    assert "S0002" in table and "S0001" not in table and "book errors: none" in table


def test_book_from_ring(day: Path, tmp_path: Path) -> None:
    ring = tmp_path / "feed.ring"
    Ring.create(ring, size="64M")
    with RingWriter(str(ring)) as w:
        for _iface, ts, frame in read_packets(str(day)):
            w.append(frame, stream=1, ts_ns=ts)
    doc = json.loads(run_cli("book", "--ring", str(ring), "--json", check_rc=0).stdout)
    assert len(doc["bbo"]) == 4 and doc["books"]["unknown_ref"] == 0


def test_book_usage_and_bad_input(tmp_path: Path) -> None:
    assert run_cli("book").returncode == 2
    proc = run_cli("book", "--pcapng", str(tmp_path / "nope.pcapng"))
    assert proc.returncode == 1 and "cannot read" in proc.stderr
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(b"garbage!" * 10)
    proc = run_cli("book", "--pcapng", str(bad))
    assert proc.returncode == 1 and "not a pcap" in proc.stderr
    proc = run_cli("book", "--ring", str(tmp_path / "none.ring"), "--json")
    assert proc.returncode == 2 and "wirespeed ring create" in proc.stderr  # the ring's own error and hint


def test_a_following_book_publishes_its_feed_state(day: Path, tmp_path: Path) -> None:
    """While `book --ring` follows, top and metrics see its sessions; when it stops, its status goes."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO, wait_until
    from wirespeed.monitor.metrics import RingCollector
    from wirespeed.status import read_statuses

    ring = tmp_path / "feed.ring"
    Ring.create(ring, size="64M")
    with RingWriter(str(ring)) as w:
        for _iface, ts, frame in read_packets(str(day)):
            w.append(frame, stream=1, ts_ns=ts)
        expected = json.loads(run_cli("book", "--ring", str(ring), "--json", check_rc=0).stdout)["sessions"]
        env = dict(os.environ, COLUMNS="120", PYTHONPATH=str(REPO / "src"))
        proc = subprocess.Popen([sys.executable, "-m", "wirespeed", "book", "--ring", str(ring), "--duration", "30"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        try:
            def caught_up() -> bool:
                st = read_statuses(ring)
                return bool(st) and st[0].doc["sessions"] == expected
            wait_until(caught_up, "the follower's status to show every message")
            (st,) = read_statuses(ring)
            assert st.role == "book" and st.pid == proc.pid and st.state == "alive"
            assert st.doc["reader"]["next_seq"] == st.doc["reader"]["head_seq"]  # read it all
            fams = {f.name: f for f in RingCollector([str(ring)]).collect()}
            (name, sess), = expected.items()
            got = {s.labels["session"]: s.value for s in fams["wirespeed_feed_messages"].samples}
            assert got == {name: sess["messages"]}
        finally:
            proc.terminate()
            proc.wait(30)
    assert read_statuses(ring) == []
