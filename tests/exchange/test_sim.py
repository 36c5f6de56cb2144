"""The simulator: a valid book, the venue's mix, determinism, the C decoder
agreeing with the Python one, pcapng that other tools read, and the live
feed on the test host with faults and re-requests."""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from dataclasses import replace
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli
from tests.feed.book_check import BookCheck
from tests.feed.test_itch import messages
from wirespeed import _native
from wirespeed.exchange import sim as S
from wirespeed.feed import itch
from wirespeed.feed import moldudp64 as mold
from wirespeed.errors import UsageError


def stream(n: int, seed: int = 1, symbols: int = 8, max_msgs: int = 30):
    sim = _native.Sim(n_symbols=symbols, seed=seed, total_msgs=n)
    while True:
        pkt, count = sim.packet(max_msgs, 12345)
        yield pkt, count
        if count == 0xFFFF:
            return


def test_session_shape_book_validity_and_mix() -> None:
    book, mix, stats, mstats = BookCheck(), Counter(), itch.DecodeStats(), mold.MoldStats()
    first, last, expect = None, None, 1
    for i, (pkt, count) in enumerate(stream(150_000, symbols=20)):
        p = mold.decode(pkt, mstats)
        assert p.seq == expect, "sequence numbers must be contiguous"
        expect = p.next_seq
        for raw in p.messages:
            m = itch.decode(raw, stats)
            assert m is not None
            first = first or m
            last = m
            mix[m.type] += 1
            book.apply(m)
        if i % 50 == 0:
            assert not book.crossed(), f"crossed book for locates {book.crossed()}"
    assert not book.problems, book.problems[:5]
    assert not book.crossed()
    assert stats.bad_length == stats.unknown_type == 0
    assert (first.type, first.event_code) == ("S", "O") and (last.type, last.event_code) == ("S", "C")
    assert mix["R"] == 20
    flow = sum(mix.values()) - mix["R"] - mix["S"]
    share = {k: mix[k] / flow for k in mix}
    assert abs(share["A"] + share["F"] - 0.44) < 0.01
    assert abs(share["D"] - 0.43) < 0.01
    assert abs(share["U"] - 0.08) < 0.01
    assert 0.02 < share["E"] + share["C"] + share["X"] < 0.045


def test_same_seed_same_stream_other_seed_another() -> None:
    a = [p for p, _ in stream(5000, seed=3)]
    b = [p for p, _ in stream(5000, seed=3)]
    c = [p for p, _ in stream(5000, seed=4)]
    assert a == b and a != c


def test_timestamps_are_the_build_time() -> None:
    sim = _native.Sim(total_msgs=10)
    before = time.time_ns() % 86_400_000_000_000
    pkt, _ = sim.packet(0)
    after = time.time_ns() % 86_400_000_000_000
    for raw in mold.decode(pkt).messages:
        assert before <= itch.decode(raw).timestamp <= after


def test_retransmission_from_history() -> None:
    sim = _native.Sim(total_msgs=2000, seed=9)
    sent = {}
    while True:
        pkt, count = sim.packet(20, 1)
        p = mold.decode(pkt)
        if p.is_end_of_session:
            break
        for i, raw in enumerate(p.messages):
            sent[p.seq + i] = bytes(raw)
    reply = mold.decode(sim.retransmit(100, 30))
    assert reply.seq == 100 and [bytes(m) for m in reply.messages] == [sent[100 + i] for i in range(30)]
    big = mold.decode(sim.retransmit(1, 65534))  # capped by the payload size, as the reference server does
    assert 0 < len(big.messages) < 65534 and len(sim.retransmit(1, 65534)) <= 1400
    assert sim.retransmit(10**9, 5) is None  # none of them: no reply at all


# -- the C decoder agrees with the Python one ---------------------------------------

_FIELDS = {"order_ref": "order_ref", "new_order_ref": "new_ref", "match": "match", "shares": "shares", "price": "price"}


@pytest.mark.property
@settings(max_examples=400)
@given(messages())
def test_c_decoder_matches_python(msg) -> None:
    wire = itch.encode(msg)
    c = _native.itch_decode(wire)
    assert c["type"] == msg.type and c["locate"] == msg.locate and c["ts_ns"] == msg.timestamp
    for py, cn in _FIELDS.items():
        if hasattr(msg, py):
            assert c[cn] == getattr(msg, py), py
    if hasattr(msg, "stock"):
        assert c["stock"] == msg.stock.encode().ljust(8)


@pytest.mark.property
@given(st.binary(max_size=60))
def test_c_decoder_classifies_bad_input_like_python(data) -> None:
    stats = itch.DecodeStats()
    py = itch.decode(data, stats)
    c = _native.itch_decode(data)
    if py is not None:
        assert isinstance(c, dict)
    else:
        assert c == (-2 if stats.empty else 0 if stats.unknown_type else -1)


# -- pcapng ------------------------------------------------------------------------

def test_pcapng_read_back_by_dpkt_and_tshark(tmp_path: Path) -> None:
    import dpkt

    path = tmp_path / "feed.pcapng"
    cfg = S.SimConfig(lines=[S.Line("239.1.1.1", 30001), S.Line("239.1.2.1", 30002)], rate=50_000, count=3000, seed=5)
    res = S.to_pcapng(cfg, path, start_epoch_ns=1_700_000_000_000_000_000)
    frames = []
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcapng.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            frames.append((socket.inet_ntoa(ip.dst), ip.data.dport, bytes(ip.data.data), ip.ttl, eth.dst))
    a = [f for f in frames if f[0] == "239.1.1.1"]
    b = [f for f in frames if f[0] == "239.1.2.1"]
    assert len(a) == len(b) == res["packets"]
    assert [f[2] for f in a] == [f[2] for f in b], "A and B lines carry identical packets"
    assert a[0][1] == 30001 and b[0][1] == 30002 and a[0][4] == bytes.fromhex("01005e010101")
    # the same generator, asked directly, gives the same UDP payloads
    twin = S.make_sim(cfg, 3000)
    expect = []
    window = max(1, int(cfg.rate * cfg.flush_us / 1e6))
    midnight0 = 1_700_000_000_000_000_000 % 86_400_000_000_000
    sent = 0
    for _ in a:
        pkt, count = twin.packet(window, midnight0 + int(sent / cfg.rate * 1e9))
        sent += count if count != 0xFFFF else 0
        expect.append(pkt)
    assert [f[2] for f in a] == expect
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch", "-c", "1",
                          "-o", "udp.check_checksum:TRUE", "-Y", "udp.checksum.status == 1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith("1700000000.000000000")
    # Wireshark's own MoldUDP64 dissector reads the same session, sequences and counts
    out = subprocess.run(["tshark", "-r", str(path), "-d", "udp.port==30001,moldudp64", "-Y", "ip.dst==239.1.1.1",
                          "-T", "fields", "-e", "moldudp64.session", "-e", "moldudp64.sequence",
                          "-e", "moldudp64.count"], capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    ours = [mold.decode(f[2]) for f in a]
    assert [(r[0].strip(), int(r[1]), int(r[2])) for r in rows] == \
        [(p.session.decode().strip(), p.seq, p.count) for p in ours]


# -- bad input -------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (("--feed", "239.1.1.1"), "invalid feed"),
    (("--feed", "8.8.8.8:53", "--to-pcapng", "/dev/null"), "public unicast"),
    (("--fault", "c:drop:0.1"), "does not exist"),
    (("--fault", "b:drop:0.1"), "does not exist"),
    (("--fault", "a3:drop:0.1", "--feed", "239.1.1.1:1", "--feed", "239.1.1.2:1"), "does not exist"),
    (("--fault", "a0:drop:0.1"), "invalid fault"),
    (("--feed-b", "239.1.2.1:1", "--feed-b", "239.1.2.2:1"), "more --feed-b"),
    (("--fault", "a:drop:2"), "invalid fault value"),
    (("--fault", "a:explode:1"), "unknown fault kind"),
    (("--symbols", "0", "--to-pcapng", "/dev/null"), "--symbols 0 is too few: 1 feed needs at least 1 symbol (one"),
    (("--symbols", "1", "--feed", "239.1.1.1:1", "--feed", "239.1.1.2:1", "--to-pcapng", "/dev/null"),
     "2 feeds need at least 2 symbols"),
    (("--rate", "0", "--duration", "0", "--to-pcapng", "/dev/null"), "needs an end"),
    (("--session", "WAYTOOLONGNAME", "--to-pcapng", "/dev/null"), "longer than 10"),
])
def test_bad_arguments_exit_2(args, message) -> None:
    proc = run_cli("sim", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_fault_parsing() -> None:
    f: dict = {}
    for text in ("a:drop:0.01", "a:drop-seq:5-9", "a:drop-seq:20", "b:delay:0.5:250", "a2:dup:0.1"):
        S.parse_fault(text, f)
    assert f == {0: {"drop": 0.01, "drop_seqs": ((5, 9), (20, 20))}, 1: {"delay": 0.5, "delay_us": 250},
                 (0, 1): {"dup": 0.1}}
    with pytest.raises(UsageError):
        S.parse_fault("a:drop-seq:9-5", f)
    lines = S.build_lines(["239.1.1.1:1", "239.1.1.2:1"], ["239.1.2.1:1"], f)
    assert [(ln.group, ln.feed) for ln in lines] == [("239.1.1.1", 0), ("239.1.2.1", 0), ("239.1.1.2", 1)]
    assert lines[0].faults.drop == 0.01 and lines[0].faults.dup == 0  # a: every feed's A line
    assert lines[2].faults.drop == 0.01 and lines[2].faults.dup == 0.1  # a2: feed 2's A line only
    assert lines[1].faults.delay == 0.5


# -- live, on the test host -----------------------------------------------------------------

class Receiver:
    """A host-side socket joined to a group; collects packets until end of session."""

    def __init__(self, group: str, port: int, host_addr: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # forced past rmem_max (root): a loaded CI host must not overflow the queue
        self.sock.setsockopt(socket.SOL_SOCKET, 33 if os.geteuid() == 0 else socket.SO_RCVBUF, 16 << 20)
        self.sock.bind((group, port))
        self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton(host_addr))
        self.sock.settimeout(5)
        self.packets: list[mold.Packet] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                data = self.sock.recv(9000)
            except OSError:
                return
            p = mold.decode(data)
            self.packets.append(mold.Packet(p.session, p.seq, p.count, tuple(bytes(m) for m in p.messages)))
            if p.is_end_of_session:  # a reordered packet may still be behind it
                self.sock.settimeout(0.3)

    def wait_past(self, seq: int, timeout: float = 15.0) -> None:
        """Until the sim has sent message `seq` (so its re-request server, bound
        before the first packet, is up and has that message), instead of sleeping."""
        deadline = time.monotonic() + timeout
        while not any(p.seq + p.count > seq for p in self.packets[-8:]):
            assert time.monotonic() < deadline, f"message {seq} never arrived"
            time.sleep(0.01)

    def data(self) -> list[mold.Packet]:
        self.thread.join(10)
        self.sock.close()
        return [p for p in self.packets if not p.is_heartbeat and not p.is_end_of_session]


def live_cfg(tb, **kw) -> S.SimConfig:
    return S.SimConfig(netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr, **kw)


@pytest.mark.privileged
def test_live_a_b_lines_with_faults(testbed_cfg) -> None:
    tb = testbed_cfg
    ra = Receiver("239.5.0.1", 31001, tb.host_addr)
    rb = Receiver("239.5.0.2", 31002, tb.host_addr)
    cfg = live_cfg(tb, lines=[S.Line("239.5.0.1", 31001, S.Faults(drop_seqs=((500, 520),), dup=0.01, reorder=0.01)),
                              S.Line("239.5.0.2", 31002)], rate=20_000, count=5000, duration_s=0)
    res = S.run(cfg)
    a, b = ra.data(), rb.data()
    # line B is clean: every message once, in order
    seqs_b = [p.seq + i for p in b for i in range(len(p.messages))]
    assert seqs_b == list(range(1, res["next_seq"]))
    # line A: the named range dropped, duplicates and reorders counted as sent
    seqs_a = [p.seq + i for p in a for i in range(len(p.messages))]
    assert not set(range(500, 521)) & set(seqs_a)
    # faults act on packets: a late sender may pack 499 or 521 with the dropped range (B has the same packets)
    dropped = {p.seq + i for p in b for i in range(len(p.messages))
               if p.seq <= 520 and p.seq + len(p.messages) > 500}
    assert set(seqs_a) | dropped >= set(range(1, res["next_seq"]))
    assert len(seqs_a) - len(set(seqs_a)) > 0 and res["duplicated"][0] > 0 and res["reordered"][0] > 0
    assert sum(1 for x, y in zip(seqs_a, seqs_a[1:]) if y < x) > 0
    # identical packets on both lines where both have them
    by_seq_b = {p.seq: p.messages for p in b}
    assert all(by_seq_b[p.seq] == p.messages for p in a if p.seq in by_seq_b)


@pytest.mark.privileged
def test_live_retransmission_server(testbed_cfg) -> None:
    tb = testbed_cfg
    cfg = live_cfg(tb, lines=[S.Line("239.5.0.3", 31003)], rate=20_000, duration_s=3, rtx_port=31100, rtx_rate=10)
    rx = Receiver("239.5.0.3", 31003, tb.host_addr)
    sim = S.start(cfg)
    rx.wait_past(20)
    q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    q.bind((tb.host_addr, 0))
    q.settimeout(2)
    q.sendto(mold.request("WIRESPEED", 10, 5), (tb.peer_addr, 31100))
    reply = mold.decode(q.recv(9000))
    assert reply.seq == 10 and len(reply.messages) == 5
    q.sendto(mold.request("OTHER", 10, 5), (tb.peer_addr, 31100))  # another session: ignored
    q.sendto(mold.request("WIRESPEED", 10**9, 5), (tb.peer_addr, 31100))  # not yet sent: ignored
    for _ in range(40):  # a flood: at most 10 replies a second for this requester
        q.sendto(mold.request("WIRESPEED", 10, 1), (tb.peer_addr, 31100))
    answered = 0
    q.settimeout(0.5)
    try:
        while True:
            q.recv(9000)
            answered += 1
    except socket.timeout:
        pass
    result = sim.wait()
    packets = rx.data()
    original = {p.seq + i: m for p in packets for i, m in enumerate(p.messages)}
    assert [bytes(m) for m in reply.messages] == [original[10 + i] for i in range(5)]
    assert answered <= 10
    assert result["rtx_bad"] == 2 and result["rtx_rate_limited"] >= 30 and result["rtx_answered"] <= 11


@pytest.mark.privileged
def test_live_rate_accuracy_and_cli_json(testbed_cfg) -> None:
    tb = testbed_cfg
    proc = run_cli("sim", "--netns", tb.netns, "--iface", tb.peer_if, "--source", tb.peer_addr, "--feed",
                   "239.5.0.4:31004", "--rate", "50000", "--duration", "1", "--json", check_rc=0)
    res = json.loads(proc.stdout)
    assert abs(res["msgs_per_s"] / 50_000 - 1) < 0.01
    assert res["send_errors"] == 0 and res["sent_pkts"][0] == res["packets"]


@pytest.mark.privileged
def test_live_requests_from_outside_the_allowed_network_are_refused(testbed_cfg) -> None:
    tb = testbed_cfg
    cfg = live_cfg(tb, lines=[S.Line("239.5.0.5", 31005)], rate=10_000, duration_s=1.5, rtx_port=31101,
                   rtx_allow="10.99.0.0/16")
    rx = Receiver("239.5.0.5", 31005, tb.host_addr)
    sim = S.start(cfg)
    rx.wait_past(5)
    q = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    q.bind((tb.host_addr, 0))
    q.settimeout(0.5)
    q.sendto(mold.request("WIRESPEED", 1, 5), (tb.peer_addr, 31101))
    with pytest.raises(socket.timeout):
        q.recv(9000)
    result = sim.wait()
    rx.data()
    assert result["rtx_refused_addr"] == 1 and result["rtx_answered"] == 0


@pytest.mark.privileged
@pytest.mark.parametrize("send", ["raw", "af_xdp"])
def test_raw_mode_frames_are_byte_identical_to_pcapng_frames(testbed_cfg, send: str) -> None:
    """What --send raw (AF_PACKET) and --send af_xdp (pre-armed frames, their
    lengths and checksums patched per send) put on the wire is exactly what
    frames.udp_frame (and so --to-pcapng) writes: captured on the host side of the veth."""
    from wirespeed.net.frames import udp_frame

    tb = testbed_cfg
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    cap.bind((tb.host_if, 0))
    cap.settimeout(3)
    rx = Receiver("239.5.0.6", 31006, tb.host_addr)
    cfg = live_cfg(tb, lines=[S.Line("239.5.0.6", 31006)], rate=2000, count=200, duration_s=0, send=send)
    sim = S.start(cfg)
    frames = []
    deadline = time.monotonic() + 5
    while len(frames) < 20 and time.monotonic() < deadline:
        f = cap.recv(9100)
        if f[30:34] == socket.inet_aton("239.5.0.6"):
            frames.append(f)
    result = sim.wait()
    cap.close()
    packets = rx.data()
    seqs = [p.seq + i for p in packets for i in range(len(p.messages))]
    assert seqs == list(range(1, result["next_seq"]))  # every message arrived, in order
    with netns_mac(tb) as mac:
        for f in frames:
            payload = f[42:]
            assert f == udp_frame(mac, f[:6], tb.peer_addr, "239.5.0.6", S.RAW_SPORT, 31006, payload, cfg.ttl)
    assert result["send_errors"] == 0 and len(frames) == 20


@contextmanager
def netns_mac(tb):
    from wirespeed.system import netns

    with netns.entered(tb.netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        yield S._mac(s, tb.peer_if)
    finally:
        s.close()


@pytest.mark.privileged
def test_tx_stamps_of_every_data_packet(testbed_cfg) -> None:
    """With tx_stamps every data packet of every feed gets the kernel's TX
    stamp, matched by its sequence number: after the send call started,
    and before the test host's socket received it."""
    tb = testbed_cfg
    rx = Receiver("239.5.0.7", 31007, tb.host_addr)
    cfg = live_cfg(tb, lines=[S.Line("239.5.0.7", 31007), S.Line("239.5.0.8", 31007, feed=1)], rate=4000,
                   count=2000, duration_s=0, send="raw", stamp_log=5000, tx_stamps=True)
    sim = S.start(cfg)
    result = sim.wait()
    logs = sim.sent_by_session()
    assert set(logs) == {cfg.session_of(k).ljust(10).encode() for k in (0, 1)}
    data_pkts = sum(len(log) for log in logs.values())
    assert result["tx_stamps"] == data_pkts > 0 and result["tx_stamps_unmatched"] == 0
    for log in logs.values():
        assert (log["tx_ns"] >= log["ns"]).all() and (log["tx_ns"] - log["ns"] < 10**9).all()
    packets = {p.seq: p for p in rx.data()}
    first = logs[cfg.session_of(0).ljust(10).encode()]
    assert set(first["seq"].tolist()) == set(packets)  # one stamp per data packet, each the packet it names
    with pytest.raises(UsageError, match="raw sends"):
        replace(cfg, send="udp").validate()


def test_fill_table_is_the_stated_distribution() -> None:
    table = np.frombuffer(S.fill_table(S.REALISTIC_FILL), dtype="<u2")
    assert len(table) == 1024 and table.min() == 1 and table.max() <= 45
    assert abs((table == 1).mean() - 0.40) < 0.002 and abs(((table >= 9) & (table <= 16)).mean() - 0.06) < 0.002
    assert abs(table.mean() - S.fill_mean(S.REALISTIC_FILL)) < 0.1
    with pytest.raises(UsageError, match="fill 'full'"):
        S.SimConfig(lines=[S.Line("239.1.1.1", 1)], fill="full").validate()


@pytest.mark.privileged
@pytest.mark.parametrize("rate", [0, 200_000])
def test_realistic_fill_whatever_the_pacing(testbed_cfg, rate: int) -> None:
    """Flat out and paced, packets carry the stated distribution of messages
    (not what the sender's wake-ups found due), and every message arrives."""
    tb = testbed_cfg
    rx = Receiver("239.5.0.9", 31009, tb.host_addr)
    cfg = live_cfg(tb, lines=[S.Line("239.5.0.9", 31009)], rate=rate, count=60_000, duration_s=0, send="raw",
                   fill="realistic")
    result = S.run(cfg)
    packets = rx.data()
    flow = [len(p.messages) for p in packets if p.seq > 20]  # past the session's opening directory
    seqs = [p.seq + i for p in packets for i in range(len(p.messages))]
    assert seqs == list(range(1, result["next_seq"]))
    counts = np.array(flow)
    assert abs((counts == 1).mean() - 0.40) < 0.03 and abs(counts.mean() - S.fill_mean(S.REALISTIC_FILL)) < 0.4
    assert counts.max() <= 45


def test_raw_mode_needs_an_interface_and_multicast() -> None:
    with pytest.raises(UsageError, match="--iface and --source"):
        S.SimConfig(lines=[S.Line("239.1.1.1", 1)], send="raw").validate()
    with pytest.raises(UsageError, match="multicast groups only"):
        S.SimConfig(lines=[S.Line("198.18.0.1", 1)], send="raw", iface="x", source="198.18.0.2").validate()


def test_several_feeds_to_pcapng(tmp_path: Path) -> None:
    import dpkt

    path = tmp_path / "feeds.pcapng"
    cfg = S.SimConfig(lines=[S.Line(f"239.6.0.{k}", 32000 + k, feed=k) for k in range(4)], rate=40_000,
                      count=8000, symbols=16, seed=2)
    res = S.to_pcapng(cfg, path, start_epoch_ns=1_700_000_000_000_000_000)
    assert res["feeds"] == 4
    per_feed: dict[str, list] = {}
    last_ts = 0
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcapng.Reader(f):
            assert ts >= last_ts  # merged in time order
            last_ts = ts
            ip = dpkt.ethernet.Ethernet(buf).data
            per_feed.setdefault(socket.inet_ntoa(ip.dst), []).append(mold.decode(bytes(ip.data.data)))
    sessions = {ps[0].session for ps in per_feed.values()}
    assert sessions == {b"WIRESPEE01", b"WIRESPEE02", b"WIRESPEE03", b"WIRESPEE04"}
    stocks: dict[str, set] = {}
    for group, ps in per_feed.items():
        seqs = [p.seq + i for p in ps if not p.is_end_of_session for i in range(len(p.messages))]
        assert seqs == list(range(1, len(seqs) + 1)), "each feed has its own contiguous sequence"
        stocks[group] = {itch.decode(m).stock for p in ps for m in p.messages if itch.decode(m).type == "R"}
    assert sum(len(v) for v in stocks.values()) == 16
    assert len(set().union(*stocks.values())) == 16, "feeds split the symbols, no symbol on two feeds"


@pytest.mark.privileged
def test_live_four_feeds(testbed_cfg) -> None:
    tb = testbed_cfg
    rx = [Receiver(f"239.6.1.{k}", 32100 + k, tb.host_addr) for k in range(4)]
    cfg = live_cfg(tb, lines=[S.Line(f"239.6.1.{k}", 32100 + k, feed=k) for k in range(4)], rate=40_000,
                   count=20_000, duration_s=0, symbols=8)
    res = S.run(cfg)
    assert len(res["feeds"]) == 4 and res["send_errors"] == 0
    for k, r in enumerate(rx):
        packets = r.data()
        seqs = [p.seq + i for p in packets for i in range(len(p.messages))]
        assert seqs == list(range(1, res["feeds"][k]["next_seq"])), f"feed {k + 1} lost or reordered messages"
        assert {p.session for p in packets} == {f"WIRESPEE{k + 1:02d}".encode()}
    assert abs(res["msgs_per_s"] / 40_000 - 1) < 0.05


@pytest.mark.privileged
def test_live_faults_at_given_sequence_numbers(testbed_cfg) -> None:
    tb = testbed_cfg
    rx = Receiver("239.6.2.1", 32201, tb.host_addr)
    faults = S.Faults(dup_seqs=((100, 100),), reorder_seqs=((200, 200),), delay_seqs=((300, 300),), delay_us=5000)
    cfg = live_cfg(tb, lines=[S.Line("239.6.2.1", 32201, faults)], rate=20_000, count=2000, duration_s=0)
    res = S.run(cfg)
    pkts = rx.data()
    order = [p.seq + i for p in pkts for i in range(len(p.messages))]
    assert order.count(100) == 2 and res["duplicated"][0] == 1
    # held back behind the next packet (a late sender may pack 200 with its neighbours: judge packets)
    held = next(i for i, p in enumerate(pkts) if p.seq <= 200 < p.seq + len(p.messages))
    after = next(i for i, p in enumerate(pkts) if p.seq == pkts[held].seq + len(pkts[held].messages))
    assert after < held and res["reordered"][0] == 1
    assert order.index(300) > order.index(320) and res["delayed"][0] == 1  # 5 ms late at 20 k msg/s
    assert sorted(set(order)) == list(range(1, res["next_seq"]))  # nothing lost


def test_never_sends_out_of_the_machine_unasked(monkeypatch) -> None:
    from wirespeed.host import testbed

    monkeypatch.setattr(testbed, "status", lambda cfg: testbed.TestbedStatus(cfg))  # no test host
    cfg = S.SimConfig(lines=[S.Line("239.1.1.1", 30001)])
    with pytest.raises(UsageError, match="no test host"):
        S.where_to_send(cfg)
    assert S.where_to_send(S.SimConfig(lines=cfg.lines, iface="lo")).iface == "lo"  # asked for: respected


@pytest.mark.privileged
def test_default_is_the_test_host(testbed_cfg) -> None:
    from wirespeed.host import testbed

    default = testbed.TestbedConfig()
    made = not testbed.status(default).complete
    if made:
        testbed.up(default)
    try:
        cfg = S.where_to_send(S.SimConfig(lines=[S.Line("239.1.1.1", 30001)]))
        assert (cfg.netns, cfg.iface, cfg.source) == ("ws-exchange", "ws-exch0", "198.18.0.2")
    finally:
        if made:
            testbed.down(default)
