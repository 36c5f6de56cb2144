"""Bad input to the export: a truncated or corrupt recording is exported up to where it
breaks and says so; frames that are not the feed, unknown message types and a foreign
file are counted or refused with a message, never a crash or a wrong row."""
from __future__ import annotations

import struct
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from tests.products.test_mbo import FIELDS, _recording
from wirespeed.errors import WirespeedError
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import PcapngWriter, read_packets
from wirespeed.net.frames import multicast_mac, udp_frame
from wirespeed.products.export import ExportConfig, export
from wirespeed.products.mbo import MboOptions, MboSource


def _rows_of(paths: list[Path]) -> list[tuple]:
    src = MboSource(paths, MboOptions())
    rows: list[tuple] = []
    for b in src.batches():
        rows += list(zip(*[b.table.column(f).to_pylist() for f in FIELDS]))
    src.close()
    return rows


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _recording(tmp_path_factory.mktemp("bad") / "day.pcapng", S.Faults(), S.Faults())


@pytest.fixture(scope="module")
def full_rows(day: Path) -> list[tuple]:
    return _rows_of([day])


@settings(max_examples=25, deadline=None)
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_a_recording_cut_anywhere_exports_a_prefix(day: Path, full_rows: list[tuple], cut: float,
                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    data = day.read_bytes()
    at = max(4, int(len(data) * cut))
    path = tmp_path_factory.mktemp("cut") / "cut.pcapng"
    path.write_bytes(data[:at])
    src = MboSource([path], MboOptions())
    rows: list[tuple] = []
    for b in src.batches():
        rows += list(zip(*[b.table.column(f).to_pylist() for f in FIELDS]))
    stats = src.stats()
    src.close()
    # what a cut leaves is a prefix of the day in sequence order (a message of the last,
    # whole packets may be missing at the end, never wrong or out of place)
    assert rows == full_rows[:len(rows)]
    if at < len(data):
        assert stats.errors == [] or "byte" in stats.errors[0]


def test_truncated_recording_exits_1_and_says_where(day: Path, tmp_path: Path) -> None:
    data = day.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[:len(data) // 2 + 7])
    doc = export(ExportConfig(source=cut, out=tmp_path / "out"))
    assert doc["errors"] and "truncated" in doc["errors"][0] and doc["rows"] > 0
    (path,) = doc["written"]["parquet/mbo"]["files"].values()
    meta = pq.ParquetFile(path).metadata.metadata[b"wirespeed"].decode()
    assert "truncated" in meta


def test_corrupt_block_length_is_an_error_not_a_crash(day: Path, tmp_path: Path) -> None:
    data = bytearray(day.read_bytes())
    # the 20th block's length, made absurd
    off = 0
    for _ in range(20):
        off += struct.unpack_from("<I", data, off + 4)[0]
    struct.pack_into("<I", data, off + 4, 0x7FFFFFF0)
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(bytes(data))
    src = MboSource([bad], MboOptions())
    list(src.batches())
    assert "truncated block" in src.stats().errors[0] or "corrupt" in src.stats().errors[0]


def test_foreign_frames_and_unknown_types_are_counted(day: Path, tmp_path: Path, full_rows: list[tuple]) -> None:
    mixed = tmp_path / "mixed.pcapng"
    with open(mixed, "wb") as f:
        w = PcapngWriter(f)
        w.add_interface("eth0")
        w.packet(0, 1, b"\xff" * 60)  # not IPv4
        # a UDP datagram too short for MoldUDP64
        w.packet(0, 2, udp_frame(b"\x02" * 6, multicast_mac("239.1.1.1"), "10.0.0.1", "239.1.1.1", 1, 30001, b"x"))
        for _i, ts, frame in read_packets(str(day)):
            w.packet(0, ts, frame)
    src = MboSource([mixed], MboOptions())
    rows = []
    for b in src.batches():
        rows += list(zip(*[b.table.column(f).to_pylist() for f in FIELDS]))
    st_ = src.stats()
    assert rows == full_rows
    assert st_.skipped["not_udp4"] == 1 and st_.skipped["not_moldudp64"] == 1


def test_the_capture_host_and_drops_from_the_recording(day: Path, tmp_path: Path) -> None:
    rec = tmp_path / "cap.pcapng"
    with open(rec, "wb") as f:
        w = PcapngWriter(f, host="cap-01.example")
        w.add_interface("eth0")
        for _i, ts, frame in read_packets(str(day)):
            w.packet(0, ts, frame)
        w.statistics(0, 1, received=123, dropped=4, os_dropped=5)
    doc = export(ExportConfig(source=rec, out=tmp_path / "o"))
    assert doc["capture_hosts"] == ["cap-01.example"]
    assert doc["capture"] == {"received": 123, "dropped": 4, "os_dropped": 5}
    (path,) = doc["written"]["parquet/mbo"]["files"].values()
    assert b'"capture_hosts": ["cap-01.example"]' in pq.ParquetFile(path).metadata.metadata[b"wirespeed"]


def test_classic_pcap_exports_the_same_rows(day: Path, tmp_path: Path, full_rows: list[tuple]) -> None:
    pcap = tmp_path / "day.pcap"
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))  # nanosecond pcap
        for _i, ts, frame in read_packets(str(day)):
            f.write(struct.pack("<IIII", ts // 10**9, ts % 10**9, len(frame), len(frame)) + frame)
    assert _rows_of([pcap]) == full_rows


def test_not_a_recording_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcapng"
    junk.write_bytes(b"hello world, not a capture")
    with pytest.raises(WirespeedError, match="not a pcap"):
        list(MboSource([junk], MboOptions()).batches())
    with pytest.raises(WirespeedError, match="no such recording"):
        export(ExportConfig(source=tmp_path / "missing.pcapng", out=tmp_path / "o"))
    with pytest.raises(WirespeedError, match="time zone"):
        MboSource([junk], MboOptions(timezone="Mars/Olympus"))


def test_rolling_files_continue_one_day(day: Path, tmp_path: Path, full_rows: list[tuple]) -> None:
    """A directory of rolling files of one capture: one set of books across them."""
    d = tmp_path / "rolling"
    d.mkdir()
    frames = list(read_packets(str(day)))
    half = len(frames) // 2
    for name, part in (("day-000.pcapng", frames[:half]), ("day-001.pcapng", frames[half:])):
        with open(d / name, "wb") as f:
            w = PcapngWriter(f)
            w.add_interface("eth0")
            for _i, ts, frame in part:
                w.packet(0, ts, frame)
    doc = export(ExportConfig(source=d, out=tmp_path / "out"))
    (path,) = doc["written"]["parquet/mbo"]["files"].values()
    t = pq.read_table(path)
    assert list(zip(*[t.column(f).to_pylist() for f in FIELDS])) == full_rows and len(doc["files"]) == 2
