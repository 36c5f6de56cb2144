"""`wirespeed metrics`: names, types and values scraped over HTTP equal the rings' own
counters; an exporter restarted loses nothing; loopback unless told otherwise."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_cli, wait_until
from wirespeed.errors import UsageError
from wirespeed.monitor.metrics import Listen, MetricsServer, parse_listen
from wirespeed.ring import DROP_CAUSES, Ring, RingReader, RingWriter
from wirespeed.status import StatusPublisher


def scrape(url: str) -> dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]:
    """family name -> (type, {sorted labels: value})."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = (fam.type, {tuple(sorted(s.labels.items())): s.value for s in fam.samples
                                    if not s.name.endswith("_created")})
    return out


def one(fam: tuple[str, dict], **labels: str) -> float:
    found = [v for k, v in fam[1].items() if set(labels.items()) <= set(k)]
    assert len(found) == 1, (labels, fam)
    return found[0]


@pytest.fixture
def ring(tmp_path: Path) -> Path:
    p = tmp_path / "feed"
    Ring.create(p, size="1M")
    return p


def test_scrape_equals_the_control_page(ring: Path) -> None:
    with RingWriter(ring) as w:
        w.describe({"capture": {"iface": "eth7", "transport": "af_xdp", "queues": [0, 1], "xdp_mode": "native",
                                "zerocopy": True}})
        for i in range(1234):
            w.append(b"z" * (i % 100))
        w.count_drop("xsk_rx_ring_full", 17)
        w.count_drop("sock_overflow", 3)
        with StatusPublisher(ring, "trade") as pub:
            pub.publish({"reader": {"next_seq": 1000, "head_seq": 1235, "lost": 5, "overruns": 2},
                         "sessions": {"NASDAQ01": {"messages": 99, "duplicates": 7, "gaps": 2, "gaps_filled": 1,
                                                   "recovered": 40, "lost": 3, "stale": True, "held_now": 4}},
                         "orders": {"link": "up", "sent": {"O": 12, "X": 3}, "received": {"A": 12, "E": 4},
                                    "fills": 4, "filled_shares": 400, "open_orders": 5,
                                    "refused_by_check": {"max_notional": 2, "fat_finger": 0},
                                    "refused": {"link_down": 1}}})
            with MetricsServer(Listen("127.0.0.1", 0), [str(ring)]) as srv:  # any free port
                m = scrape(srv.url)
            with RingReader(ring) as r:
                info = r.info()
    r_ = str(ring)
    assert m["wirespeed_received_packets"][0] == "counter"
    assert one(m["wirespeed_received_packets"], ring=r_, transport="af_xdp", iface="eth7") == info["records_published"] == 1234
    assert one(m["wirespeed_received_bytes"], ring=r_) == info["bytes_total"]
    assert m["wirespeed_drops"][0] == "counter"
    for cause in DROP_CAUSES:
        assert one(m["wirespeed_drops"], ring=r_, cause=cause) == info["drops"][cause]
    assert one(m["wirespeed_drops"], cause="xsk_rx_ring_full") == 17
    assert one(m["wirespeed_ring_info"], queues="0,1", mode="native zerocopy") == 1
    assert m["wirespeed_ring_writer_up"] == ("gauge", {(("ring", r_),): 1.0})
    assert one(m["wirespeed_ring_writer_state"], state="alive") == 1
    assert one(m["wirespeed_ring_writer_state"], state="dead") == 0
    assert one(m["wirespeed_ring_writer_epoch"], ring=r_) == info["epoch"]
    assert one(m["wirespeed_reader_up"], role="trade", pid=str(os.getpid())) == 1
    assert one(m["wirespeed_reader_lag_records"], role="trade") == 235
    assert one(m["wirespeed_reader_lost_records"], role="trade") == 5
    assert m["wirespeed_feed_gaps"][0] == "counter"
    assert one(m["wirespeed_feed_gaps"], session="NASDAQ01") == 2
    assert one(m["wirespeed_feed_gaps_filled"], session="NASDAQ01") == 1
    assert one(m["wirespeed_feed_lost"], session="NASDAQ01") == 3
    assert one(m["wirespeed_feed_stale"], session="NASDAQ01") == 1
    assert one(m["wirespeed_order_session_up"], role="trade") == 1
    assert one(m["wirespeed_order_messages_sent"], type="O") == 12
    assert one(m["wirespeed_order_fills"], role="trade") == 4
    assert one(m["wirespeed_order_rejects"], check="max_notional") == 2
    assert one(m["wirespeed_order_rejects"], check="link_down") == 1
    assert one(m["wirespeed_order_open"], role="trade") == 5


def _write_and_die(path: str) -> None:
    w = RingWriter(path)
    for _ in range(10):
        w.append(b"d")
    os.kill(os.getpid(), signal.SIGKILL)


def test_restarting_the_exporter_loses_nothing_and_a_dead_writer_shows(ring: Path) -> None:
    with RingWriter(ring) as w:
        for _ in range(500):
            w.append(b"a" * 64)
        w.count_drop("malformed", 9)
    listen = Listen("127.0.0.1", 0)  # any free port
    with MetricsServer(listen, [str(ring)]) as a:
        first = scrape(a.url)
    with MetricsServer(listen, [str(ring)]) as b:  # a new exporter, nothing carried over
        second = scrape(b.url)
    for name in ("wirespeed_received_packets", "wirespeed_received_bytes", "wirespeed_drops"):
        assert first[name] == second[name]
    assert one(second["wirespeed_ring_writer_state"], state="closed") == 1

    p = mp.get_context("fork").Process(target=_write_and_die, args=(str(ring),))
    p.start()
    p.join(30)
    with MetricsServer(listen, [str(ring)]) as c:
        m = scrape(c.url)
    assert one(m["wirespeed_ring_writer_up"], ring=str(ring)) == 0
    assert one(m["wirespeed_ring_writer_state"], state="dead") == 1
    assert one(m["wirespeed_received_packets"], ring=str(ring)) == 510


def test_every_ring_found_and_a_ring_that_goes_away(tmp_path: Path) -> None:
    from wirespeed.monitor.metrics import RingCollector

    Ring.create(tmp_path / "x", size="128K")
    Ring.create(tmp_path / "y", size="128K")
    c = RingCollector(dirs=[tmp_path])
    names = lambda: {s.labels["ring"] for fam in c.collect() if fam.name == "wirespeed_ring_writer_up"  # noqa: E731
                     for s in fam.samples}
    assert names() == {str(tmp_path / "x"), str(tmp_path / "y")}
    (tmp_path / "x").unlink()
    assert names() == {str(tmp_path / "y")}
    c.close()


def test_listen_is_loopback_unless_allowed() -> None:
    assert parse_listen("127.0.0.1:9464").port == 9464
    assert parse_listen("localhost:9464").host == "localhost"
    assert parse_listen("[::1]:9464").host == "::1"
    with pytest.raises(UsageError, match="reachable from other hosts"):
        parse_listen("0.0.0.0:9464")
    assert parse_listen("0.0.0.0:9464", allow_remote=True).host == "0.0.0.0"
    with pytest.raises(UsageError, match="HOST:PORT"):
        parse_listen("9464")
    r = run_cli("metrics", "--listen", "0.0.0.0:9464")
    assert r.returncode == 2 and "--allow-remote" in r.stderr


def test_metrics_once_and_capture_metrics(tmp_path: Path, ring_path: str) -> None:
    """A capture serving its own metrics while it runs (a pcap replayed at its pace: no privileges)."""
    import socket
    import subprocess
    import sys

    from wirespeed.exchange import sim as S

    day = tmp_path / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001)], rate=2000, count=6000, duration_s=0), day)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "wirespeed", "capture", "--pcap", str(day), "--feed",
                             "itch=239.1.1.1:30001", "--ring", ring_path, "--ring-size", "16M", "--pace", "recorded",
                             "--metrics", f"127.0.0.1:{port}", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        def packets() -> float:
            try:
                return one(scrape(url)["wirespeed_received_packets"], ring=ring_path)
            except (OSError, KeyError):
                return 0.0

        wait_until(lambda: packets() > 100, "the capture's metrics to count packets")
        with RingReader(ring_path) as r:
            before = r.info()["records_published"]
        seen = packets()
        with RingReader(ring_path) as r:
            after = r.info()["records_published"]
        assert before <= seen <= after  # the scrape is the control page, read at that moment
        once = run_cli("metrics", ring_path, "--once")
        assert once.returncode == 0 and "# TYPE wirespeed_received_packets_total counter" in once.stdout
        assert 'transport="pcap"' in once.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


@pytest.mark.privileged
def test_a_flood_past_the_ceiling_shows_as_drops(testbed_cfg, ring_path: str) -> None:
    """The README's walk-through: a kernel capture with a small socket queue, flooded; the drops
    the capture counts are the ones metrics serves, and every packet sent is received or counted."""
    from tests.conftest import capture_while
    from wirespeed.capture import runner as cap
    from wirespeed.exchange import sim as S
    from wirespeed.monitor.metrics import RingCollector

    tb = testbed_cfg
    cfg = cap.CaptureConfig(iface=tb.host_if, ring=ring_path, ring_size="64M", rcvbuf="16K",
                            feeds=[cap.FeedSpec("itch", "239.7.0.9", 33009)]).validate()
    flood = S.SimConfig(lines=[S.Line("239.7.0.9", 33009)], rate=0, count=2_000_000, duration_s=0, netns=tb.netns,
                        iface=tb.peer_if, source=tb.peer_addr)
    res = capture_while(cfg, lambda: S.run(flood))
    fams = {f.name: f for f in RingCollector([ring_path]).collect()}
    drops = {s.labels["cause"]: s.value for s in fams["wirespeed_drops"].samples}
    packets = fams["wirespeed_received_packets"].samples[0].value
    assert drops["sock_overflow"] == res["drops"]["sock_overflow"] > 0
    assert packets == res["records"]
    # the last datagram carries the count of those before it; what follows it is not counted yet
    assert packets + drops["sock_overflow"] <= res["sent"]["sent_pkts"][0]


@pytest.mark.privileged
def test_an_unprivileged_user_reads_the_counters(ring_path: str) -> None:
    """Read permission on the ring file is all metrics (and top) need: no capability, no write."""
    Ring.create(ring_path, size="1M", mode=0o644)
    with RingWriter(ring_path) as w:
        for _ in range(42):
            w.append(b"u" * 10)
        w.count_drop("sock_overflow", 5)
        r = run_cli("metrics", ring_path, "--once", user="nobody")
    assert r.returncode == 0, r.stderr
    fams = {f.name: f for f in text_string_to_metric_families(r.stdout)}
    assert fams["wirespeed_received_packets"].samples[0].value == 42
    assert {s.labels["cause"]: s.value for s in fams["wirespeed_drops"].samples}["sock_overflow"] == 5
