"""Capture (kernel transport), the recorder and the demo, on the test host."""
from __future__ import annotations

import json
import os
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, wait_until
from wirespeed import capture as cap
from wirespeed import record as rec
from wirespeed import sim as S
from wirespeed.errors import UsageError
from wirespeed.feed import moldudp64 as mold
from wirespeed.ring import RingReader

REBUILT, TS_KERNEL, KERNEL = 0x1, 0x2, 0x100


def _capture_while(cfg: cap.CaptureConfig, send) -> dict:
    """Capture while send() runs: run()'s result, with send()'s as "sent". The
    capture receives before send() starts (Background waits until the
    transport is open) and stops once the ring has been still for 0.5 s, so
    a receive thread that a busy machine held back still takes everything."""
    with cap.Background(cfg) as c:
        sent = send()
        with RingReader(cfg.ring) as r:
            head, still_since = r.head_seq, time.monotonic()
            deadline = still_since + 15
            while time.monotonic() - still_since < 0.5 and time.monotonic() < deadline:
                time.sleep(0.05)
                if r.head_seq != head:
                    head, still_since = r.head_seq, time.monotonic()
    return dict(c.result, sent=sent)


@pytest.mark.privileged
@pytest.mark.parametrize("mode", ["block", "busy"])
def test_kernel_capture_of_a_b_lines(testbed_cfg, ring_path, mode) -> None:
    tb = testbed_cfg
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M", mode=mode, feeds=[
        cap.FeedSpec("itch", "239.7.0.1", 33001, "A"), cap.FeedSpec("itch", "239.7.0.2", 33001, "B")])
    sim_cfg = S.SimConfig(lines=[S.Line("239.7.0.1", 33001), S.Line("239.7.0.2", 33001)], rate=20_000, count=4000,
                          duration_s=0, netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
    res = _capture_while(cfg, lambda: S.run(sim_cfg))
    sent = res["sent"]
    assert res["records"] == sum(sent["sent_pkts"][:2]) and res["rx"]["sock_overflow"] == 0
    with RingReader(ring_path, "oldest") as r:
        assert r.writer_state()[0] == "closed"  # a clean end
        streams = {s["id"]: s for s in r.description()["streams"]}
        assert {(s["group"], s["line"]) for s in streams.values()} == {("239.7.0.1", "A"), ("239.7.0.2", "B")}
        seqs: dict[int, list[int]] = {1: [], 2: []}
        for h, frame in r.poll(max=100_000):
            f = bytes(frame)
            assert int(h["flags"]) & (REBUILT | TS_KERNEL | KERNEL) == REBUILT | TS_KERNEL | KERNEL
            group = streams[int(h["stream"])]["group"]
            assert f[0:6] == bytes.fromhex("01005e07000" + group[-1])  # the group's multicast MAC
            assert f[26:30] == bytes(map(int, tb.peer_addr.split("."))) and f[30:34] == bytes(map(int, group.split(".")))
            assert struct.unpack("!H", f[36:38])[0] == 33001
            p = mold.decode(f[42:])
            seqs[int(h["stream"])].extend(p.seq + i for i in range(len(p.messages)))
        assert seqs[1] == seqs[2] == list(range(1, sent["next_seq"]))


@pytest.mark.privileged
def test_socket_overflow_is_counted_exactly(testbed_cfg, ring_path, monkeypatch) -> None:
    """Datagrams the socket queue cannot hold are counted, so that what is in
    the ring plus what overflowed is exactly what arrived."""
    from wirespeed.transports import kernel

    tb = testbed_cfg
    monkeypatch.setattr(kernel, "RCVBUF", 4096)  # a tiny queue
    streams = [cap.FeedSpec("itch", "239.7.0.3", 33003)]
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M", feeds=streams)
    writer = cap.open_ring(cfg)
    t = kernel.KernelTransport(tb.host_if, cfg.streams(), "block")
    t.open()
    try:
        s = S.run(S.SimConfig(lines=[S.Line("239.7.0.3", 33003)], rate=50_000, count=2000, duration_s=0,
                              netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr))  # nobody reads meanwhile
        th = threading.Thread(target=lambda: t.run(writer._w))
        th.start()
        wait_until(lambda: t.stats()["packets"] > 0, "the receive thread took nothing from the queue")
        time.sleep(0.2)  # the few datagrams a 4 KiB queue holds come in the same batch
        # one more datagram carries the overflow count of the ones before it
        s2 = S.run(S.SimConfig(lines=[S.Line("239.7.0.3", 33003)], rate=1000, count=1, duration_s=0, seed=9,
                               netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr))
        total = s["sent_pkts"][0] + s2["sent_pkts"][0]
        wait_until(lambda: t.stats()["packets"] + t.stats()["sock_overflow"] >= total, "the last datagram never came")
        t.stop()
        th.join(5)
        st = t.stats()
    finally:
        t.close()
        writer.close()
    with RingReader(ring_path) as r:
        drops = r.info()["drops"]["sock_overflow"]
    assert st["sock_overflow"] == drops > 0
    # every datagram sent is either in the ring or counted: exactly
    assert st["packets"] + st["sock_overflow"] == s["sent_pkts"][0] + s2["sent_pkts"][0]


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

    res = _capture_while(cfg, send)
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
    from wirespeed.pcapng import PcapFileError, read_packets

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
        t = threading.Thread(target=lambda: out.update(S.run(sim_cfg)))
        out: dict = {}
        t.start()
        time.sleep(1.0)
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].communicate(10)
        time.sleep(0.5)
        procs.append(subprocess.Popen(rec_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        t.join()
        return out

    res = _capture_while(cfg, send)
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


@pytest.mark.parametrize("toml, message", [
    ('ring = "x"\n', "iface is missing"),
    ('iface = "lo"\nfoo = 1\n', "unknown setting"),
    ('iface = "lo"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\ntransport = "af_xdp"\n'
     '[[feed]]\nname = "b"\ngroup = "239.1.1.2"\nport = 1\n', "different transports"),
    ('iface = "lo"\ntransport = "dpdk"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n', "unknown transport"),
    ('iface = "lo"\ntransport = "af_xdp"\nxdp_mode = "fast"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n',
     "xdp_mode"),
    ('iface = "lo"\ntransport = "af_xdp"\nxsk_frames = 1000\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n',
     "power of two"),
    ('iface = "lo"\nmalformed = "eat"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n', "malformed"),
    ('iface = "lo"\n[[feed]]\nname = "a"\ngroup = "nope"\nport = 1\n', "invalid group"),
    ('iface = "lo"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\ncolor = "red"\n', "unexpected keyword"),
    ('iface = "lo"\n[[feed\n', "not valid TOML"),
    ('iface = "lo"\n', "no feeds"),
])
def test_bad_capture_config(tmp_path, toml, message) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(UsageError, match=message):
        cap.CaptureConfig.from_toml(path)
    proc = run_cli("capture", "--config", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_capture_flags() -> None:
    assert cap.parse_feed_flag("itch-b=239.1.2.1:30001/B") == cap.FeedSpec("itch-b", "239.1.2.1", 30001, "B")
    with pytest.raises(UsageError):
        cap.parse_feed_flag("239.1.1.1:30001")
    assert run_cli("capture", "--feed", "a=239.1.1.1:1").returncode == 2  # no --iface


@pytest.mark.privileged
def test_demo_end_to_end() -> None:
    proc = run_cli("demo", "--duration", "2", "--rate", "5000", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["captured"]["packets"] == sum(res["sent"]["datagrams"][:2])
    assert res["recorded"]["written"] == res["captured"]["packets"] and res["recorded"]["lost"] == 0
    assert res["transport"] == "af_xdp" and res["setup"]["xdp_mode"] in ("native", "generic")  # the best path here
    lat = res["transports"]["af_xdp_busy"]
    assert lat["samples"] == 2 * res["sent"]["messages"] and lat["seq_gaps"] == 0
    assert 0 < lat["lat_us_p50"] < lat["lat_us_p99"]
    assert all(Path(f).exists() for f in res["recorded"]["files"])
    books = res["books"]  # every message applied once from A and B, a book for every symbol
    (sess,) = books["sessions"].values()
    assert sess["messages"] == res["sent"]["messages"] and sess["lost"] == 0 and not books["stale"]
    assert len(books["bbo"]) == 8 and not books["errors"]
    assert not any(Path("/dev/shm").glob("wirespeed-demo-*"))


@pytest.mark.privileged
def test_demo_falls_back_to_kernel_when_af_xdp_fails(monkeypatch, tmp_path) -> None:
    from wirespeed import demo
    from wirespeed.errors import WirespeedError
    from wirespeed.transports import af_xdp

    def refuse(self) -> None:
        raise WirespeedError("af_xdp: refused for this test")

    monkeypatch.setattr(af_xdp.AfXdpTransport, "open", refuse)
    res = demo.run(demo.DemoOptions(duration_s=1.5, rate=2000, directory=tmp_path))
    assert res["transport"] == "kernel" and any("refused for this test" in n for n in res["notes"])
    assert res["captured"]["packets"] == sum(res["sent"]["datagrams"][:2]) > 0


@pytest.mark.privileged
def test_demo_without_root_falls_back_to_loopback(monkeypatch, tmp_path) -> None:
    from wirespeed import demo

    monkeypatch.setattr(demo, "_privileged", lambda: False)
    res = demo.run(demo.DemoOptions(duration_s=1.5, rate=2000, directory=tmp_path))
    assert "loopback" in res["where"] and any("not root" in n for n in res["notes"])
    assert res["captured"]["packets"] == res["sent"]["datagrams"][0] > 0
    assert res["transport"] == "kernel"
    assert res["transports"]["kernel_block"]["samples"] == res["sent"]["messages"]
