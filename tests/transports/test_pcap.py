"""The pcap transport: files replayed into the ring, fast or at their own
pace; other flows and bad frames counted; broken files never crash."""
from __future__ import annotations

import io
import os
import struct
import time
from pathlib import Path

import dpkt
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli
from tests.net.test_frames import _frame
from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import PcapFileError, PcapngWriter, read_packets
from wirespeed.ring import RingReader

PCAP_FLAG, MALFORMED_FLAG = 0x300, 0x8


def _sim_file(tmp_path: Path, count: int = 3000, rate: float = 20_000) -> Path:
    path = tmp_path / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001), S.Line("239.1.2.1", 30001)], rate=rate, count=count,
                            duration_s=0), path)
    return path


def _replay(path: Path, ring: str, **kw) -> dict:
    cfg = cap.CaptureConfig(iface="", feeds=[cap.FeedSpec("itch", "239.1.1.1", 30001)], ring=ring, ring_size="16M",
                            pcap=str(path), **kw)
    return cap.run(cfg)


def test_replay_as_fast_as_possible(tmp_path, ring_path) -> None:
    path = _sim_file(tmp_path)
    frames = list(read_packets(str(path)))
    a_line = [(ts, f) for _, ts, f in frames if f[30:34] == bytes([239, 1, 1, 1])]
    res = _replay(path, ring_path)
    assert res["transport"] == "pcap" and res["rx"]["ended"] == "end of file"
    assert res["records"] == len(a_line) and res["rx"]["other_flows"] == len(frames) - len(a_line)
    with RingReader(ring_path, "oldest") as r:
        b = r.poll(100_000)
    assert [int(t) for t in b.headers["ts_ns"]] == [ts for ts, _ in a_line]  # the file's own times
    assert bytes(b.payload_of(0)) == a_line[0][1] and set(b.headers["flags"]) == {PCAP_FLAG}


def test_replay_at_recorded_pace(tmp_path, ring_path) -> None:
    path = _sim_file(tmp_path, count=2000, rate=2000)  # about one second of feed
    tss = [ts for _, ts, _ in read_packets(str(path))]
    span = (max(tss) - min(tss)) / 1e9
    t0 = time.monotonic()
    res = _replay(path, ring_path, pace="recorded", speed=2.0)
    took = time.monotonic() - t0
    assert res["records"] > 0
    assert took >= 0.8 * span / 2.0, (took, span)


def test_classic_pcap_and_malformed_frames(tmp_path, ring_path) -> None:
    """tcpdump's format (microseconds); a bad checksum and a fragment of the
    feed are counted, a frame of another flow skipped."""
    good = bytes(_frame(b"itch", "239.1.1.1", 30001))
    bad = bytearray(good)
    bad[24] ^= 0xFF
    other = bytes(_frame(b"x", "239.9.9.9", 30001))
    path = tmp_path / "t.pcap"
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f)
        for i, fr in enumerate([good, bytes(bad), other, good]):
            w.writepkt(fr, ts=1_700_000_000 + i / 1000)
    res = _replay(path, ring_path, xdp=cap.AfXdpOptions(malformed="keep"))
    assert res["records"] == 3 and res["rx"]["malformed"] == 1 and res["rx"]["bad_ip_checksum"] == 1
    assert res["rx"]["other_flows"] == 1
    with RingReader(ring_path, "oldest") as r:
        b = r.poll(10)
    assert [bool(f & MALFORMED_FLAG) for f in b.headers["flags"]] == [False, True, False]
    assert int(b.headers["ts_ns"][3 - 1]) == 1_700_000_000_003_000_000


def test_truncated_file_keeps_what_came_before(tmp_path, ring_path) -> None:
    path = _sim_file(tmp_path, count=500)
    data = path.read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[: len(data) - 50])
    res = _replay(cut, ring_path)
    assert res["records"] > 0 and "truncated" in res["rx"]["ended"]


def test_not_a_capture_file_is_a_usage_error(tmp_path) -> None:
    junk = tmp_path / "junk.pcapng"
    junk.write_bytes(b"hello, world, not a capture")
    proc = run_cli("capture", "--pcap", str(junk), "--feed", "a=239.1.1.1:1", "--ring", f"wsjunk{os.getpid()}")
    assert proc.returncode == 1 and "not a pcap or pcapng file" in proc.stderr and "Traceback" not in proc.stderr
    assert not Path(f"/dev/shm/wsjunk{os.getpid()}").exists(), "a failed capture leaves no ring it made"
    proc = run_cli("capture", "--pcap", str(tmp_path / "missing.pcap"), "--feed", "a=239.1.1.1:1")
    assert proc.returncode == 2 and "no capture file" in proc.stderr
    assert not Path("/dev/shm/wirespeed").exists(), "refused before any ring was made"


def _valid_file() -> bytes:
    out = io.BytesIO()
    w = PcapngWriter(out)
    w.add_interface("a")
    for i in range(3):
        w.packet(0, 1_700_000_000_000_000_000 + i, bytes(_frame(b"abc")))
    return out.getvalue()


@settings(max_examples=400)
@given(st.data())
def test_corrupt_files_raise_only_pcap_file_error(tmp_path_factory, data) -> None:
    raw = bytearray(_valid_file())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("fz") / "f.pcapng"
    path.write_bytes(bytes(raw))
    try:
        for _iface, ts, frame in read_packets(str(path)):
            assert isinstance(frame, bytes) and ts >= 0
    except PcapFileError:
        pass


def test_nanosecond_resolution_and_big_endian_sections(tmp_path) -> None:
    """A pcapng written big-endian with microsecond resolution (what some
    tools write) reads with correct times."""
    frame = bytes(_frame(b"x"))

    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * ((-len(body)) % 4)
        return struct.pack(">II", btype, 12 + len(body)) + body + struct.pack(">I", 12 + len(body))

    shb = block(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack(">HHI", 1, 0, 0) + struct.pack(">HH", 9, 1) + b"\x06\0\0\0" + struct.pack(">HH", 0, 0))
    ts = 1_700_000_000_123_456  # µs
    epb = block(6, struct.pack(">IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    path = tmp_path / "be.pcapng"
    path.write_bytes(shb + idb + epb)
    assert list(read_packets(str(path))) == [(0, ts * 1000, frame)]
