"""Capture (kernel transport) on the test host, and capture configs."""
from __future__ import annotations

import struct
import threading
import time

import pytest

from tests.conftest import capture_while, run_cli, wait_until
from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.errors import UsageError
from wirespeed.feed import moldudp64 as mold
from wirespeed.ring import RingReader

REBUILT, TS_KERNEL, TS_USER, TS_NIC, KERNEL = 0x1, 0x2, 0x4, 0x10, 0x100


@pytest.mark.privileged
@pytest.mark.parametrize("mode", ["block", "busy"])
def test_kernel_capture_of_a_b_lines(testbed_cfg, ring_path, mode) -> None:
    tb = testbed_cfg
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M", mode=mode, feeds=[
        cap.FeedSpec("itch", "239.7.0.1", 33001, "A"), cap.FeedSpec("itch", "239.7.0.2", 33001, "B")])
    sim_cfg = S.SimConfig(lines=[S.Line("239.7.0.1", 33001), S.Line("239.7.0.2", 33001)], rate=20_000, count=4000,
                          duration_s=0, netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
    res = capture_while(cfg, lambda: S.run(sim_cfg))
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
@pytest.mark.parametrize("stamp", ["auto", "hardware", "user"])
def test_which_clock_stamped_each_record(testbed_cfg, ring_path, stamp) -> None:
    """veth has no PHC: auto is the kernel's stamp; hardware asks SO_TIMESTAMPING for the NIC's
    and, getting none, takes the kernel's software stamp; every record's flag says which."""
    tb = testbed_cfg
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M", stamp=stamp,
                            feeds=[cap.FeedSpec("itch", "239.7.0.1", 33001, "A")])
    sim_cfg = S.SimConfig(lines=[S.Line("239.7.0.1", 33001)], rate=20_000, count=500, duration_s=0, netns=tb.netns,
                          iface=tb.peer_if, source=tb.peer_addr)
    t0 = time.time_ns()
    res = capture_while(cfg, lambda: S.run(sim_cfg))
    t1 = time.time_ns()
    assert res["setup"]["stamp"] == {"auto": "kernel", "hardware": "hardware", "user": "user"}[stamp]
    if stamp == "hardware":
        assert res["setup"]["clock"].startswith("none")
    with RingReader(ring_path, "oldest") as r:
        b = r.poll(max=10_000)
    assert len(b) == res["records"] > 0
    want = TS_USER if stamp == "user" else TS_KERNEL
    assert {int(f) & (TS_KERNEL | TS_USER | TS_NIC) for f in b.headers["flags"]} == {want}
    assert t0 <= int(b.headers["ts_ns"].min()) and int(b.headers["ts_ns"].max()) <= t1


def test_auto_stamp_takes_the_nic_clock_where_there_is_one() -> None:
    from wirespeed.system.ethtool import TimestampInfo
    from wirespeed.transports.kernel import KernelTransport

    nic = KernelTransport("eth1", [], stamp="auto")
    nic.resolve_stamp(TimestampInfo(0x5F, 2, 3, 0b11))  # RX hardware, filter ALL, /dev/ptp2
    assert nic.stamp == "hardware" and nic.describe()["clock"] == "/dev/ptp2"
    ptp_only = KernelTransport("eth1", [], stamp="auto")
    ptp_only.resolve_stamp(TimestampInfo(0x5F, 2, 3, 0b1))  # hardware stamps for PTP packets only
    assert ptp_only.stamp == "kernel"
    veth = KernelTransport("veth0", [], stamp="auto")
    veth.resolve_stamp(TimestampInfo(0x1A, -1, 0, 0))  # software only, no PHC
    assert veth.stamp == "kernel" and "clock" not in veth.describe()
    asked = KernelTransport("veth0", [], stamp="kernel")
    asked.resolve_stamp(TimestampInfo(0x5F, 2, 3, 0b11))  # what the user asked for stands
    assert asked.stamp == "kernel"


@pytest.mark.privileged
def test_socket_overflow_is_counted_exactly(testbed_cfg, ring_path) -> None:
    """Datagrams the socket queue cannot hold are counted, so that what is in
    the ring plus what overflowed is exactly what arrived."""
    from wirespeed.transports import kernel

    tb = testbed_cfg
    streams = [cap.FeedSpec("itch", "239.7.0.3", 33003)]
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="16M", feeds=streams)
    writer = cap.open_ring(cfg)
    t = kernel.KernelTransport(tb.host_if, cfg.streams(), "block", rcvbuf=4096)  # a tiny queue
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


@pytest.mark.parametrize("toml, message", [
    ('ring = "x"\n', "iface is missing"),
    ('iface = "lo"\nfoo = 1\n', "unknown setting"),
    ('iface = "lo"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\ntransport = "af_xdp"\n'
     '[[feed]]\nname = "b"\ngroup = "239.1.1.2"\nport = 1\n', "different transports"),
    ('iface = "lo"\ntransport = "dpdk2"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n', "unknown transport"),
    ('iface = "lo"\ntransport = "dpdk"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n', "needs the port"),
    ('transport = "dpdk"\ndpdk_port = "eth0"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n',
     "neither a PCI address nor a vdev"),
    ('transport = "dpdk"\ndpdk_port = "net_af_xdp0"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n',
     "needs iface="),
    ('transport = "dpdk"\ndpdk_port = "net_af_xdp0,iface=x"\ndpdk_burst = 0\n[[feed]]\nname = "a"\n'
     'group = "239.1.1.1"\nport = 1\n', "dpdk_burst"),
    ('iface = "lo"\ntransport = "af_xdp"\nxdp_mode = "fast"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n',
     "xdp_mode"),
    ('iface = "lo"\ntransport = "af_xdp"\nxsk_frames = 1000\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n',
     "power of two"),
    ('iface = "lo"\nmalformed = "eat"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n', "malformed"),
    ('iface = "lo"\n[[feed]]\nname = "a"\ngroup = "nope"\nport = 1\n', "invalid group"),
    ('iface = "lo"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\ncolor = "red"\n', "unexpected keyword"),
    ('iface = "lo"\n[[feed\n', "not valid TOML"),
    ('iface = "lo"\n', "no feeds"),
    ('iface = "lo"\nrcvbuf = "1K"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n', "rcvbuf"),
    ('iface = "lo"\nstamp = "atomic"\n[[feed]]\nname = "a"\ngroup = "239.1.1.1"\nport = 1\n', "auto, kernel"),
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
