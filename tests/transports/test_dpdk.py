"""The dpdk transport: on the test host through DPDK's net_af_xdp and
net_af_packet drivers, from a file through net_pcap. Feeds arrive whole and
counted, everything else on the port is counted as filtered by reason, bad
frames are counted, IGMP is spoken (by the kernel or by DPDK itself), EAL
failures are one clear error, and nothing is left behind, even by kill -9.

Each capture runs in a process of its own (`wirespeed capture`): DPDK's
EAL starts once per process and stays, so it is kept out of pytest's.
(The loop's syscalls and allocations: test_af_xdp.py and test_rx_alloc.py.)"""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_cli, wait_until
from tests.net.test_frames import _frame
from tests.transports.test_af_xdp import _kernel_receives_again, _send_raw, _xdp_attached, needs_dpdk
from wirespeed.exchange import sim as S
from wirespeed.net.frames import inet_checksum, multicast_mac
from wirespeed.ring import RingReader
from wirespeed.system.netns import entered
from wirespeed.transports.dpdk import DpdkOptions, eal_args, parse_device, runtime_dir

DPDK_FLAG, TS_USER, MALFORMED_FLAG = 0x400, 0x4, 0x8


# -- without a port: parsing and EAL arguments ----------------------------------

def test_device_strings() -> None:
    d = parse_device("net_af_xdp0,iface=ws-host0")
    assert (d.name, d.driver, d.iface) == ("net_af_xdp0", "net_af_xdp", "ws-host0")
    assert d.devargs() == "net_af_xdp0,iface=ws-host0,busy_budget=0"  # no recvfrom() per burst
    assert parse_device("net_af_xdp1,iface=x,busy_budget=64").devargs().endswith("busy_budget=64")
    assert parse_device("3b:00.0").name == "0000:3b:00.0" and parse_device("0000:3B:00.1").driver == "pci"
    assert parse_device("net_af_packet0,iface=eth1").devargs() == "net_af_packet0,iface=eth1"
    from wirespeed.errors import UsageError

    for bad, why in [("eth0", "neither"), ("net_af_xdp0", "needs iface="), ("net_pcap0,rx_pcap=/nope.pcap", "no file"),
                     ("", "neither")]:
        with pytest.raises(UsageError, match=why):
            parse_device(bad)
    with pytest.raises(UsageError, match="needs the port"):
        DpdkOptions().validate()


def test_eal_arguments() -> None:
    vdev = parse_device("net_af_xdp0,iface=ws-host0")
    args = eal_args(1, "ws9-1", vdev, 512, huge=False)
    assert args[:3] == ["wirespeed", "-l", "1"] and "--no-pci" in args and "--no-telemetry" in args
    assert args[args.index("--no-huge"):][:4] == ["--no-huge", "-m", "512", "--no-shconf"]
    assert args[args.index("--file-prefix") + 1] == "ws9-1"
    pci = eal_args(3, "ws9-2", parse_device("0000:3b:00.0"), 512, huge=True)
    assert "--in-memory" in pci and "--no-huge" not in pci and pci[pci.index("-a") + 1] == "0000:3b:00.0"


@needs_dpdk
def test_pool_size_formula() -> None:
    from wirespeed import _dpdk

    # queues * (rxd + burst) + 512 + 2 * 256 * queues + 512, up to 2^k - 1
    assert _dpdk.pool_size(1, 1024, 32) == 4095
    assert _dpdk.pool_size(4, 4096, 64) == 32767
    for q, rxd, burst in [(1, 64, 1), (16, 32768, 256), (3, 1000, 32)]:
        n = _dpdk.pool_size(q, rxd, burst)
        assert n >= q * (rxd + burst) + 1024 + 512 * q and (n + 1) & n == 0


# -- on the test host ------------------------------------------------------------

def _proc(ring: str, dev: str, feeds: list[str], *extra: str, iface: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    cmd = [sys.executable, "-m", "wirespeed", "capture", "--dpdk-port", dev, "--ring", ring, "--ring-size", "64M",
           "--json", *[a for f in feeds for a in ("--feed", f)], *extra]
    if iface:
        cmd += ["-i", iface]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_described(proc: subprocess.Popen, ring: str) -> None:
    """The capture is receiving once its ring carries its description."""
    def ready() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            with RingReader(ring) as r:
                return "capture" in r.description()
        except Exception:  # noqa: BLE001 - not made yet
            return False
    wait_until(ready, "the dpdk capture never started", timeout=60)


def _wait_still(ring: str, quiet: float = 0.5) -> None:
    with RingReader(ring) as r:
        head, since = r.head_seq, time.monotonic()
        deadline = since + 20
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            time.sleep(0.05)
            if r.head_seq != head:
                head, since = r.head_seq, time.monotonic()


def _capture_while(ring: str, dev: str, feeds: list[str], send: Callable[[], Any], *extra: str) -> dict[str, Any]:
    proc = _proc(ring, dev, feeds, *extra)
    try:
        _wait_described(proc, ring)
        sent = send()
        _wait_still(ring)
    finally:
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(60)
    assert proc.returncode == 0, errs
    return dict(json.loads(out), sent=sent, stderr=errs)


def _leftovers() -> list[str]:
    """What a dpdk capture could leave: runtime dirs and hugepage files of ours."""
    found = [str(p) for p in runtime_dir("x").parent.glob("ws[0-9]*")] if runtime_dir("x").parent.exists() else []
    for mnt in Path("/proc/mounts").read_text().splitlines():
        parts = mnt.split()
        if len(parts) > 2 and parts[2] == "hugetlbfs":
            found += [str(p) for p in Path(parts[1]).glob("ws[0-9]*")]
    return found


@needs_dpdk
@pytest.mark.privileged
@pytest.mark.parametrize("driver", ["net_af_xdp", "net_af_packet"])
def test_capture_of_a_b_lines(testbed_cfg, ring_path, driver) -> None:
    tb = testbed_cfg
    sim_cfg = S.SimConfig(lines=[S.Line("239.7.3.1", 34101), S.Line("239.7.3.2", 34101)], rate=20_000, count=4000,
                          duration_s=0, netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)

    def send() -> dict:
        sent = S.run(sim_cfg)
        _send_raw(tb, [_frame(b"other port", "239.7.3.1", 34199)])  # a flow of no feed of ours
        return sent

    res = _capture_while(ring_path, f"{driver}0,iface={tb.host_if}", ["itch=239.7.3.1:34101",
                                                                    "itch-b=239.7.3.2:34101/B"], send)
    sent = res["sent"]
    assert res["records"] == sum(sent["sent_pkts"][:2])
    assert res["transport"] == "dpdk" and res["setup"]["driver"] == driver and res["setup"]["igmp"] == "kernel"
    assert res["rx"]["malformed"] == 0 and res["rx"]["filtered_other_flow"] >= 1
    assert res["drops"]["filtered"] == res["rx"]["filtered"]  # the ring says it too
    assert all(v == 0 for k, v in res["drops"].items() if k != "filtered")
    assert res["rx"]["port_imissed"] == 0 and res["rx"]["port_ipackets"] >= res["records"]
    assert not _xdp_attached(tb.host_if), "DPDK's XDP program is gone at the end"
    assert not _leftovers()
    with RingReader(ring_path, "oldest") as r:
        assert r.writer_state()[0] == "closed"
        desc = r.description()
        assert desc["capture"]["transport"] == "dpdk"
        b = r.poll(100_000)
        assert len(b) == res["records"]
        assert set(b.headers["flags"]) == {DPDK_FLAG | TS_USER}
        streams = {s["id"]: s for s in desc["streams"]}
        for i in range(0, len(b), 97):
            f = bytes(b.payload_of(i))
            assert socket.inet_ntoa(f[30:34]) == streams[int(b.headers["stream"][i])]["group"]
            assert f[6:12] != bytes(6), "frames as they arrived, with the sender's MAC"


@needs_dpdk
@pytest.mark.privileged
@pytest.mark.parametrize("policy", ["skip", "keep"])
def test_malformed_and_foreign_frames_are_counted(testbed_cfg, ring_path, policy) -> None:
    tb = testbed_cfg
    group, port = "239.7.3.5", 34105
    good = _frame(b"good datagram", group, port)
    bad_csum = bytearray(good)
    bad_csum[24] ^= 0xFF
    lying = bytearray(good)
    lying[38:40] = struct.pack("!H", 300)
    arp = bytes(6 * [0xFF]) + bytes(6) + b"\x08\x06" + bytes(28)
    ipv6 = multicast_mac(group) + bytes(6) + b"\x86\xdd" + bytes(40)
    tcp = bytearray(good)
    tcp[23] = 6  # protocol TCP, header checksum fixed below
    tcp[24:26] = b"\0\0"
    from tests.net.test_frames import _fix_ip_csum

    frames = [good, bytes(bad_csum), bytes(lying), arp, ipv6, bytes(_fix_ip_csum(tcp)), good]
    res = _capture_while(ring_path, f"net_af_xdp0,iface={tb.host_if}", [f"f={group}:{port}"],
                         lambda: _send_raw(tb, frames), "--malformed", policy)
    rx = res["rx"]
    assert rx["malformed"] == 2 and (rx["bad_ip_checksum"], rx["bad_udp_length"]) == (1, 1)
    assert rx["filtered_not_ipv4"] >= 2 and rx["filtered_not_udp"] >= 1
    with RingReader(ring_path, "oldest") as r:
        b = r.poll(100)
    flags = list(b.headers["flags"])
    if policy == "skip":
        assert res["drops"]["malformed"] == 2 and len(b) == 2
    else:
        assert res["drops"]["malformed"] == 0 and len(b) == 4
        assert sum(1 for f in flags if f & MALFORMED_FLAG) == 2


@needs_dpdk
@pytest.mark.privileged
def test_net_pcap_replay_gives_the_same_books_as_the_pcap_transport(tmp_path) -> None:
    day = tmp_path / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001, faults=S.Faults(drop=0.05)),
                                   S.Line("239.1.2.1", 30001)], count=20_000, symbols=4, rate=0, duration_s=0), day)
    feeds = ["itch=239.1.1.1:30001", "itch-b=239.1.2.1:30001/B"]
    via_dpdk, via_pcap = str(tmp_path / "dpdk.ring"), str(tmp_path / "pcap.ring")
    res = _capture_while(via_dpdk, f"net_pcap0,rx_pcap={day}", feeds, lambda: None)
    assert res["setup"]["driver"] == "net_pcap" and res["setup"]["igmp"] == "off"
    run_cli("capture", "--pcap", str(day), "--ring", via_pcap, "--ring-size", "64M", "--json",
            *[a for f in feeds for a in ("--feed", f)], check_rc=0)
    with RingReader(via_dpdk, "oldest") as a, RingReader(via_pcap, "oldest") as b:
        pa, pb = a.poll(1_000_000), b.poll(1_000_000)
        assert len(pa) == len(pb) == res["records"] > 1000
        assert [bytes(pa.payload_of(i)) for i in range(len(pa))] == [bytes(pb.payload_of(i)) for i in range(len(pb))]
        assert list(pa.headers["stream"]) == list(pb.headers["stream"])
    books = [json.loads(run_cli("book", "--ring", r, "--json", check_rc=0).stdout) for r in (via_dpdk, via_pcap)]
    assert books[0]["bbo"] == books[1]["bbo"] and len(books[0]["bbo"]) == 4
    assert books[0]["books"] == books[1]["books"]


@needs_dpdk
@pytest.mark.privileged
def test_eal_and_port_failures_are_one_clear_error(testbed_cfg, ring_path) -> None:
    tb = testbed_cfg
    feed = ["--feed", "f=239.7.3.9:34109"]
    # a device string that is neither: a usage error before DPDK starts
    p = run_cli("capture", "--dpdk-port", "eth0:1", "--ring", ring_path, *feed)
    assert p.returncode == 2 and "neither a PCI address nor a vdev" in p.stderr
    # no such interface: DPDK starts, the port does not; one error, no traceback
    p = run_cli("capture", "--dpdk-port", "net_af_xdp0,iface=ws-nope0", "--ring", ring_path, *feed)
    assert p.returncode == 1 and "cannot open net_af_xdp0,iface=ws-nope0" in p.stderr, p.stderr
    assert "there is no interface ws-nope0" in p.stderr and "Traceback" not in p.stderr
    # hugepages asked for where none are reserved
    cfg = Path(ring_path + ".toml")
    cfg.write_text(f'transport = "dpdk"\ndpdk_port = "net_af_xdp0,iface={tb.host_if}"\ndpdk_hugepages = "on"\n'
                   f'ring = "{ring_path}"\n[[feed]]\nname = "f"\ngroup = "239.7.3.9"\nport = 34109\n')
    free = int(Path("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages").read_text())
    if free < 100:  # the usual case on this machine and CI; with hugepages free it would start
        p = run_cli("capture", "-c", str(cfg))
        assert p.returncode == 1 and "hugepages" in p.stderr and "nr_hugepages" in p.stderr, p.stderr
    cfg.unlink()
    # without privileges
    p = run_cli("capture", "--dpdk-port", f"net_af_xdp0,iface={tb.host_if}", "--ring", "/tmp/ws-nobody.ring", *feed,
                user="nobody")
    assert p.returncode in (1, 77) and "Traceback" not in p.stderr and "dpdk" in p.stderr.lower(), p.stderr
    Path("/tmp/ws-nobody.ring").unlink(missing_ok=True)
    assert not Path(ring_path).exists(), "a capture that never started leaves no ring"
    assert not _xdp_attached(tb.host_if) and not _leftovers()


@needs_dpdk
@pytest.mark.privileged
def test_kill_9_leaves_no_xdp_program_and_no_files(testbed_cfg, ring_path) -> None:
    tb = testbed_cfg
    group, port = "239.7.3.10", 34110
    proc = _proc(ring_path, f"net_af_xdp0,iface={tb.host_if}", [f"f={group}:{port}"])
    _wait_described(proc, ring_path)
    assert _xdp_attached(tb.host_if)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(10)
    wait_until(lambda: not _xdp_attached(tb.host_if), "the guard takes DPDK's XDP program off", timeout=10)
    assert not _leftovers()
    with RingReader(ring_path, "oldest") as r:
        assert r.writer_state()[0] == "dead"
    _kernel_receives_again(tb, group, port)


@needs_dpdk
@pytest.mark.privileged
def test_two_dpdk_captures_at_once_on_two_interfaces(testbed_cfg, tmp_path) -> None:
    """Two processes, two EALs (distinct file prefixes), two test hosts."""
    from wirespeed.host import testbed

    tb2 = testbed.TestbedConfig(netns="ws-pytest2", host_if="wsp2-host0", peer_if="wsp2-exch0",
                                subnet="198.18.201.0/24")
    testbed.up(tb2)
    try:
        rings = [str(tmp_path / "one.ring"), str(tmp_path / "two.ring")]
        procs = [_proc(rings[0], f"net_af_xdp0,iface={testbed_cfg.host_if}", ["f=239.7.3.11:34111"]),
                 _proc(rings[1], f"net_af_packet0,iface={tb2.host_if}", ["f=239.7.3.11:34111"])]
        for p, r in zip(procs, rings):
            _wait_described(p, r)
        sims = [S.SimConfig(lines=[S.Line("239.7.3.11", 34111)], rate=20_000, count=n, duration_s=0,
                            netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
                for n, tb in ((3000, testbed_cfg), (2000, tb2))]
        sent: dict[int, dict] = {}
        threads = [threading.Thread(target=lambda i=i, c=c: sent.update({i: S.run(c)})) for i, c in enumerate(sims)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in rings:
            _wait_still(r)
        outs = []
        for p in procs:
            p.send_signal(signal.SIGINT)
            out, errs = p.communicate(60)
            assert p.returncode == 0, errs
            outs.append(json.loads(out))
        assert [o["records"] for o in outs] == [sum(sent[i]["sent_pkts"]) for i in range(2)]
        assert [o["setup"]["driver"] for o in outs] == ["net_af_xdp", "net_af_packet"]
    finally:
        testbed.down(tb2)
    assert not _leftovers()


def _listen_igmp(tb, stop: threading.Event, got: list[bytes], query_after: threading.Event) -> None:
    """IGMP frames arriving on the exchange side until stop; once query_after
    is set, one IGMPv2 general query (to 224.0.0.1) is sent from there."""
    with entered(tb.netns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        s.bind((tb.peer_if, 0))
        s.settimeout(0.1)
        queried = False
        while not stop.is_set():
            if query_after.is_set() and not queried:
                igmp = bytearray([0x11, 100, 0, 0, 0, 0, 0, 0])
                igmp[2:4] = struct.pack("!H", inet_checksum(bytes(igmp)))
                ip = bytearray([0x45, 0xC0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0]) + socket.inet_aton(tb.peer_addr) \
                    + socket.inet_aton("224.0.0.1")
                ip[10:12] = struct.pack("!H", inet_checksum(bytes(ip)))
                s.send(multicast_mac("224.0.0.1") + bytes(6) + b"\x08\x00" + bytes(ip) + bytes(igmp))
                queried = True
                got.append(b"QUERY SENT")  # what arrives after this answers it
            try:
                f = s.recv(2048)
            except TimeoutError:
                continue
            if len(f) > 38 and f[12:14] == b"\x08\x00" and f[23] == 2:
                got.append(f)
        s.close()


@needs_dpdk
@pytest.mark.privileged
def test_igmpv3_reports_from_dpdk_itself(testbed_cfg, ring_path) -> None:
    """igmp = "dpdk" (what a NIC bound to DPDK needs: no kernel to speak for
    it): a report when the capture starts, and one in answer to a query."""
    tb = testbed_cfg
    groups = ["239.7.3.12", "239.7.3.13"]
    cfg = Path(ring_path + ".toml")
    cfg.write_text(f'transport = "dpdk"\ndpdk_port = "net_af_xdp0,iface={tb.host_if}"\ndpdk_igmp = "dpdk"\n'
                   f'dpdk_igmp_source = "{tb.host_addr}"\nring = "{ring_path}"\n'
                   + "".join(f'[[feed]]\nname = "f{i}"\ngroup = "{g}"\nport = 34112\n' for i, g in enumerate(groups)))
    stop, query, got = threading.Event(), threading.Event(), []
    listener = threading.Thread(target=_listen_igmp, args=(tb, stop, got, query))
    listener.start()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "wirespeed", "capture", "-c", str(cfg), "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_described(proc, ring_path)
        def ours(after_query: bool = False) -> list[bytes]:
            """Our v3 reports (the kernel may send its own for other groups)."""
            if after_query:
                frames = got[got.index(b"QUERY SENT") + 1:] if b"QUERY SENT" in got else []
            else:
                frames = got
            return [f for f in frames if len(f) > 46 and f[26:30] == socket.inet_aton(tb.host_addr)
                    and f[38] == 0x22 and socket.inet_aton(groups[0]) in f[46:]]

        wait_until(lambda: len(ours()) >= 1, "no IGMPv3 report when the capture started", timeout=10)
        query.set()
        wait_until(lambda: len(ours(after_query=True)) >= 1, "no IGMPv3 report in answer to the query", timeout=10)
    finally:
        stop.set()
        listener.join(5)
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(60)
        cfg.unlink()
    assert proc.returncode == 0, errs
    res = json.loads(out)
    assert res["setup"]["igmp"] == "dpdk" and res["rx"]["igmp_queries"] >= 1 and res["rx"]["igmp_reports"] >= 2
    f = ours()[-1]
    assert f[:6] == multicast_mac("224.0.0.22") and f[14] == 0x46 and f[22] == 1  # IHL 6 (Router Alert), TTL 1
    assert f[34:38] == b"\x94\x04\x00\x00" and inet_checksum(f[14:38]) == 0
    igmp = f[38:]
    n = struct.unpack("!H", igmp[6:8])[0]
    assert igmp[0] == 0x22 and n == 2 and inet_checksum(igmp[:8 + 8 * n]) == 0
    recs = [(igmp[8 + 8 * i], socket.inet_ntoa(igmp[12 + 8 * i:16 + 8 * i])) for i in range(n)]
    assert recs == [(2, g) for g in groups]  # MODE_IS_EXCLUDE {}: every sender to each group


@needs_dpdk
@pytest.mark.privileged
def test_eal_leaves_the_callers_cpu_affinity_and_no_runtime_files() -> None:
    """The EAL pins the thread that starts it to the lcore's core; wirespeed
    gives the thread its cores back, and leaves nothing in DPDK's runtime dir."""
    code = """
import os
from wirespeed.transports.dpdk import parse_device, runtime_dir, start_eal, _eal
before = sorted(os.sched_getaffinity(0))
warnings = start_eal(max(before), parse_device("net_null0"), 4095, "off")
print(before == sorted(os.sched_getaffinity(0)), runtime_dir(_eal["prefix"]).exists(), len(warnings), _eal["args"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    assert out.returncode == 0, out.stderr
    restored, left, warned, args = out.stdout.split(" ", 3)
    assert restored == "True" and left == "False" and warned == "1" and "--no-huge" in args
