"""Export from a ring: the same rows as from the recording it holds; the ring's own
losses and the capture's drops are said; rolled Parquet files are each complete and
readable, and together hold every row once."""
from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from tests.products.test_mbo import FIELDS, _recording, expected_rows
from wirespeed.errors import UsageError
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import read_packets
from wirespeed.products.export import ExportConfig, export
from wirespeed.products.mbo import MboOptions
from wirespeed.ring import Ring, RingWriter


@pytest.fixture(scope="module")
def ring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ringx")
    rec = _recording(d / "day.pcapng", S.Faults(drop_seqs=((100, 300), (5000, 5400)), reorder=0.03),
                     S.Faults(drop_seqs=((2000, 2600),), dup=0.03))
    path = d / "feed.ring"
    Ring.create(path, size="64M")
    with RingWriter(str(path)) as w:
        for _i, ts, frame in read_packets(str(rec)):
            w.append(frame, stream=1, ts_ns=ts)
        w.count_drop("sock_overflow", 7)
    return path


def _rows(paths: list[str]) -> list[tuple]:
    t = pa.concat_tables([pq.read_table(p) for p in paths])
    return list(zip(*[t.column(f).to_pylist() for f in FIELDS]))


def test_ring_export_equals_the_recordings(ring: Path, tmp_path: Path) -> None:
    doc = export(ExportConfig(source=None, ring=str(ring), out=tmp_path / "o", mbo=MboOptions(feed="t")))
    (path,) = doc["written"]["parquet/mbo"]["files"].values()
    assert _rows([path]) == expected_rows()
    assert doc["capture"] == {"sock_overflow": 7} and "every record has been read" in doc["ended"]
    assert not doc["skipped"] and doc["packets"] > 0


def test_rolled_files_hold_every_row_once(ring: Path, tmp_path: Path) -> None:
    doc = export(ExportConfig(source=None, ring=str(ring), out=tmp_path / "o", roll_rows=5_000,
                              mbo=MboOptions(feed="t")))
    (paths,) = doc["written"]["parquet/mbo"]["files"].values()
    assert isinstance(paths, list) and len(paths) >= 3
    assert [Path(p).name for p in paths] == [f"part-{k}.parquet" for k in range(len(paths))]
    assert _rows(paths) == expected_rows()
    for p in paths:
        ts = pq.read_table(p).column("ts_recv").to_pylist()
        assert ts == sorted(ts) and b"wirespeed" in pq.ParquetFile(p).metadata.metadata


def test_ring_export_refuses_what_it_cannot_do(ring: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not both"):
        export(ExportConfig(source=tmp_path, ring=str(ring), out=tmp_path / "o"))
    with pytest.raises(UsageError, match="depth table"):
        export(ExportConfig(source=None, ring=str(ring), out=tmp_path / "o", tables=("depth",)))
    r = run_cli("export", "--ring", str(tmp_path / "none.ring"), "-o", str(tmp_path / "x"))
    assert r.returncode in (1, 2) and "ring" in r.stderr


def test_ring_export_cli_json(ring: Path, tmp_path: Path) -> None:
    import json

    doc = json.loads(run_cli("export", "--ring", str(ring), "-o", str(tmp_path / "o"), "-t", "mbo,trades,bbo",
                             "--json", check_rc=0).stdout)
    assert set(doc["written"]) == {"parquet/mbo", "parquet/trades", "parquet/bbo"} and doc["ended"]


@pytest.mark.privileged
def test_live_ring_export_recovers_a_hole_by_re_request(testbed_cfg, tmp_path: Path) -> None:
    """The simulator loses the same packets on both lines; the export follows the ring a
    capture writes, re-requests the hole, and the rows it fills say line 2."""
    import threading

    from wirespeed.capture import runner as cap

    tb = testbed_cfg
    ring = f"/dev/shm/wsp-export-{id(tmp_path)}"
    drop = S.Faults(drop_seqs=((3000, 3040),))
    sim_cfg = S.SimConfig(lines=[S.Line("239.5.0.9", 31009, drop), S.Line("239.5.0.10", 31010, drop)],
                          rate=20_000, duration_s=2.0, rtx_port=31109, netns=tb.netns, iface=tb.peer_if,
                          source=tb.peer_addr)
    feeds = [cap.FeedSpec("itch", "239.5.0.9", 31009, "A"), cap.FeedSpec("itch", "239.5.0.10", 31010, "B")]
    docs: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            docs.append(export(ExportConfig(source=None, ring=ring, out=tmp_path / "o", rtx=(tb.peer_addr, 31109),
                                            mbo=MboOptions(feed="live", hold_timeout_ms=1000))))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        with cap.Background(cap.CaptureConfig(iface=tb.host_if, feeds=feeds, ring=ring, ring_size="64M",
                                               transport="kernel")):
            th = threading.Thread(target=run, daemon=True)
            th.start()
            sent = S.run(sim_cfg)
            time.sleep(1.0)  # the last packets into the ring before the capture closes it
        th.join(20)
    finally:
        Path(ring).unlink(missing_ok=True)
    assert not errors, errors
    (doc,) = docs
    (sess,) = doc["sessions"].values()
    assert sess["lost"] == 0 and sess["recovered"] >= 41 and sess["messages"] == sent["next_seq"] - 1
    (path,) = doc["written"]["parquet/mbo"]["files"].values()
    t = pq.read_table(path)
    seqs = t.column("sequence").to_pylist()
    lines = t.column("line").to_pylist()
    assert any(line == 2 for line in lines) and not doc["skipped"].get("lost (WIRESPEED)")
    # nearly every message changes a book (the rest: the directory, system events)
    assert max(seqs) <= sent["next_seq"] - 1 and len(set(seqs)) >= 0.9 * (sent["next_seq"] - 1)
