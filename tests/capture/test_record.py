"""The recorder: a ring to rotating pcapng files, what the capture got, and a
recorder killed and restarted."""
from __future__ import annotations

import json
import os
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import capture_while
from wirespeed.capture import record as rec
from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.feed import moldudp64 as mold


def _pcapng_blocks(path: Path):
    data = path.read_bytes()
    off = 0
    while off < len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        yield btype, data[off + 8:off + blen - 4]
        off += blen


@pytest.mark.privileged
def test_recorder_writes_what_the_capture_got(testbed_cfg, ring_path, tmp_path) -> None:
    import dpkt

    tb = testbed_cfg
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M",
                            feeds=[cap.FeedSpec("itch", "239.7.0.4", 33004)])
    rec_res: dict = {}

    def send():
        rt = threading.Thread(target=lambda: rec_res.update(
            rec.run(rec.RecordConfig(ring_path, tmp_path, rotate_bytes=200_000, keep=3, start="oldest"))))
        rt.start()
        out = S.run(S.SimConfig(lines=[S.Line("239.7.0.4", 33004)], rate=20_000, count=6000, duration_s=0,
                                netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr))
        out["recorder"] = rt
        return out

    res = capture_while(cfg, send)
    res["sent"]["recorder"].join(10)
    assert rec_res["written"] == res["records"] and rec_res["lost"] == 0
    files = sorted(tmp_path.glob("*.pcapng"))
    assert len(files) == 3 and len(rec_res["files"]) == 3  # rotated, only the last 3 kept
    last = files[-1]
    with open(last, "rb") as f:
        frames = [(ts, buf) for ts, buf in dpkt.pcapng.Reader(f)]
    assert frames and all(dpkt.ethernet.Ethernet(b).data.data.dport == 33004 for _, b in frames)
    blocks = list(_pcapng_blocks(last))
    idb = [b for t, b in blocks if t == 1]
    assert len(idb) == 1 and b"itch-A" in idb[0] and b"\x09\x00\x01\x00\x09" in idb[0]  # if_tsresol = 9
    isb = [b for t, b in blocks if t == 5]
    assert isb, "interface statistics written"
    recv = struct.unpack_from("<Q", isb[0], isb[0].index(struct.pack("<HH", 4, 8)) + 4)[0]
    assert recv == len(frames)


@pytest.mark.privileged
def test_recorder_killed_and_restarted(testbed_cfg, ring_path, tmp_path) -> None:
    """kill -9 of the recorder: the capture goes on untouched; a recorder
    restarted on the same folder carries on where the first left its files,
    and between the two every packet is on disk (or counted lost)."""
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO
    from wirespeed.formats.pcapng import PcapFileError, read_packets

    tb = testbed_cfg
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="64M",
                            feeds=[cap.FeedSpec("itch", "239.7.0.6", 33006)])
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    rec_cmd = [sys.executable, "-m", "wirespeed", "record", ring_path, "--dir", str(tmp_path), "--from", "oldest",
               "--json"]
    procs = []

    def send():
        procs.append(subprocess.Popen(rec_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        sim_cfg = S.SimConfig(lines=[S.Line("239.7.0.6", 33006)], rate=20_000, count=0, duration_s=3,
                              netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
        sim = S.start(sim_cfg)
        time.sleep(1.0)
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].communicate(10)
        time.sleep(0.5)
        procs.append(subprocess.Popen(rec_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        return sim.wait()

    res = capture_while(cfg, send)
    so, se = procs[1].communicate(30)
    second = json.loads(so)
    assert res["records"] == sum(res["sent"]["sent_pkts"]) > 40_000, "the capture never noticed"
    assert second["resumed_from"] is not None and second["lost"] == 0, se
    seqs = set()
    for f in sorted(tmp_path.glob("*.pcapng")):
        try:
            for _i, _ts, frame in read_packets(str(f)):
                p = mold.decode(frame[42:])
                seqs.update(range(p.seq, p.seq + len(p.messages)) if p.messages else ())
        except PcapFileError:
            pass  # the killed recorder's file may end mid-block: what came before it counts
    assert seqs >= set(range(1, res["sent"]["next_seq"])), "every message is in some file"
