"""Prometheus metrics of every ring on the host: `wirespeed metrics`, `capture --metrics`.

Each scrape reads the rings' control pages and their readers' statuses
afresh (monitor.rings) and keeps nothing between scrapes: the counters live
in the rings, so the exporter can crash or be restarted at will without
losing a count, and two exporters give the same numbers.

Names follow Prometheus practice: `_total` counters, base units (bytes,
seconds), one family per quantity with the cause, check or state as a label.

    wirespeed_ring_info{ring,transport,iface,queues,mode}     1: what feeds the ring (its capture's description)
    wirespeed_received_packets_total{ring,transport,iface}   records the writer published
    wirespeed_received_bytes_total{ring,transport,iface}
    wirespeed_drops_total{ring,transport,iface,cause}        every drop the writer counted, by cause
    wirespeed_ring_writer_up{ring}                            1 while the writer is alive
    wirespeed_ring_writer_state{ring,state}                   1 for the current state of five
    wirespeed_ring_writer_epoch{ring}                         bumped at each writer restart
    wirespeed_ring_heartbeat_age_seconds{ring}
    wirespeed_ring_payload_bytes{ring}
    wirespeed_reader_up{ring,role,pid}                        a publishing reader (book, trade) is alive
    wirespeed_reader_status_age_seconds{ring,role,pid}
    wirespeed_reader_lag_records{ring,role,pid}               records published but not yet read
    wirespeed_reader_overruns_total{ring,role,pid}            times the reader was lapped
    wirespeed_reader_lost_records_total{ring,role,pid}        records it lost to being lapped
    wirespeed_feed_<counter>_total{ring,role,pid,session}     messages, duplicates, gaps, gaps_filled,
                                                              recovered, lost
    wirespeed_feed_stale{...,session}, wirespeed_feed_held_packets{...,session}
    wirespeed_order_session_up{ring,role,pid}                 the order session's link is up
    wirespeed_order_messages_sent_total{...,type}             OUCH messages by type letter
    wirespeed_order_messages_received_total{...,type}
    wirespeed_order_fills_total, wirespeed_order_filled_shares_total
    wirespeed_order_rejects_total{...,check}                  refused before sending, by risk check or reason
    wirespeed_order_open{...}                                 open orders
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from wirespeed.errors import UsageError
from wirespeed.monitor.rings import RingSample, RingSet
from wirespeed.net.addr import parse_host_port
from wirespeed.status import order_rejects, reader_lag

WRITER_STATES = ("alive", "closed", "dead", "never", "gone")
FEED_COUNTERS = ("messages", "duplicates", "gaps", "gaps_filled", "recovered", "lost")
DEFAULT_LISTEN = "127.0.0.1:9464"


class RingCollector(Collector):
    """A prometheus-client collector over the named rings, or every ring found at each scrape."""

    def __init__(self, rings: list[str] | None = None, dirs: list[Path] | None = None) -> None:
        self.rings = RingSet(rings, dirs)
        self._lock = threading.Lock()  # scrapes may overlap; a RingSet is one thread's at a time

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            samples = self.rings.sample()
        yield from families(samples)

    def close(self) -> None:
        with self._lock:
            self.rings.close()


def families(samples: list[RingSample]) -> Iterator[Metric]:
    """The metric families of these samples (pure: tests call it directly too)."""
    f = _Families()
    for s in samples:
        ring = str(s.path)
        f.gauge("ring_writer_up", "1 while the ring's writer is alive", ["ring"], [ring], s.writer == "alive")
        for st in WRITER_STATES:
            f.gauge("ring_writer_state", "the ring writer's state: 1 for the current one", ["ring", "state"],
                    [ring, st], s.writer == st)
        if not s.control:
            continue
        t = s.transport
        tl = ["ring", "transport", "iface"]
        tv = [ring, str(t.get("transport", "")), str(t.get("iface", ""))]
        f.gauge("ring_info", "what feeds the ring: its capture's transport, interface, queues and modes (always 1)",
                tl + ["queues", "mode"], tv + [",".join(str(q) for q in t.get("queues") or []), _mode(t)], 1)
        f.counter("received_packets", "records the ring's writer published", tl, tv, s.records)
        f.counter("received_bytes", "payload bytes the ring's writer published", tl, tv, s.bytes)
        for cause, n in s.drops.items():
            f.counter("drops", "packets lost before or at the ring, by cause", tl + ["cause"], tv + [cause], n)
        f.gauge("ring_writer_epoch", "the writer's epoch: bumped each time a writer (re)starts", ["ring"], [ring],
                int(s.control.get("epoch", 0)))
        age = s.heartbeat_age_s
        if age is not None:
            f.gauge("ring_heartbeat_age_seconds", "seconds since the writer's last heartbeat", ["ring"], [ring], age)
        f.gauge("ring_payload_bytes", "the ring's payload size", ["ring"], [ring], int(s.control.get("payload_sz", 0)))
        for r in s.readers:
            _reader(f, ring, r.role, r.pid, r.state, r.age_s, r.doc)
    yield from f.all()


def _mode(t: dict[str, Any]) -> str:
    """af_xdp native/zerocopy, kernel block, dpdk busy...: how the transport runs."""
    parts = [str(t[k]) for k in ("xdp_mode", "mode") if t.get(k)]
    if "zerocopy" in t:
        parts.append("zerocopy" if t["zerocopy"] else "copy")
    if t.get("busy_poll"):
        parts.append("busy")
    return " ".join(parts)


def _reader(f: _Families, ring: str, role: str, pid: int, state: str, age: float, doc: dict[str, Any]) -> None:
    rl, rv = ["ring", "role", "pid"], [ring, role, str(pid)]
    f.gauge("reader_up", "1 while a publishing reader of the ring is alive and writing its status", rl, rv,
            state == "alive")
    f.gauge("reader_status_age_seconds", "seconds since the reader last published its status", rl, rv, age)
    rd = doc.get("reader") or {}
    if rd:
        f.gauge("reader_lag_records", "records published but not yet read, when the reader last looked", rl, rv,
                reader_lag(doc))
        f.counter("reader_overruns", "times the reader was lapped by the writer", rl, rv, int(rd.get("overruns", 0)))
        f.counter("reader_lost_records", "records the reader lost to being lapped", rl, rv, int(rd.get("lost", 0)))
    for name, sess in (doc.get("sessions") or {}).items():
        sl, sv = rl + ["session"], rv + [str(name)]
        for c in FEED_COUNTERS:
            if c in sess:
                f.counter(f"feed_{c}", f"feed session counter: {c.replace('_', ' ')}", sl, sv, int(sess[c]))
        f.gauge("feed_stale", "1 while the session waits on a gap it has not filled", sl, sv, bool(sess.get("stale")))
        f.gauge("feed_held_packets", "packets held behind a gap now", sl, sv, int(sess.get("held_now", 0)))
    orders = doc.get("orders")
    if orders:
        f.gauge("order_session_up", "1 while the order session's link is up", rl, rv, orders.get("link") == "up")
        for letter, n in (orders.get("sent") or {}).items():
            f.counter("order_messages_sent", "OUCH messages sent, by type", rl + ["type"], rv + [letter], int(n))
        for letter, n in (orders.get("received") or {}).items():
            f.counter("order_messages_received", "OUCH messages received, by type", rl + ["type"], rv + [letter],
                      int(n))
        f.counter("order_fills", "executions received", rl, rv, int(orders.get("fills", 0)))
        f.counter("order_filled_shares", "shares executed", rl, rv, int(orders.get("filled_shares", 0)))
        for check, n in order_rejects(orders).items():
            f.counter("order_rejects", "orders refused before sending, by risk check or reason",
                      rl + ["check"], rv + [check], int(n))
        f.gauge("order_open", "open orders", rl, rv, int(orders.get("open_orders", 0)))


class _Families:
    """Metric families by name, filled sample by sample, in first-seen order."""

    def __init__(self) -> None:
        self._f: dict[str, Metric] = {}

    def _get(self, cls: type, name: str, doc: str, labels: list[str]) -> Metric:
        m = self._f.get(name)
        if m is None:
            m = self._f[name] = cls(f"wirespeed_{name}", doc, labels=labels)
        return m

    def counter(self, name: str, doc: str, labels: list[str], values: list[str], v: float) -> None:
        self._get(CounterMetricFamily, name, doc, labels).add_metric(values, float(v))

    def gauge(self, name: str, doc: str, labels: list[str], values: list[str], v: float) -> None:
        self._get(GaugeMetricFamily, name, doc, labels).add_metric(values, float(v))

    def all(self) -> Iterator[Metric]:
        yield from self._f.values()


# -- serving ---------------------------------------------------------------------

@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" if ":" not in self.host else f"[{self.host}]:{self.port}"


def parse_listen(text: str, allow_remote: bool = False) -> Listen:
    """HOST:PORT to bind; anything but loopback needs allow_remote (the counters say what a host trades)."""
    host, port = parse_host_port(text, "--listen")
    host = host.strip("[]")
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror as exc:
        raise UsageError(f"--listen {text!r}: {exc.strerror}", "give an address, e.g. 127.0.0.1:9464") from None
    if not allow_remote and not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        raise UsageError(f"--listen {text!r} is reachable from other hosts",
                         "metrics show what this host trades; add --allow-remote to bind it anyway, "
                         "or listen on 127.0.0.1 and scrape through a tunnel")
    return Listen(host, port)


class MetricsServer:
    """The scrape endpoint in a thread of this process: /metrics in Prometheus text format."""

    def __init__(self, listen: Listen, rings: list[str] | None = None, dirs: list[Path] | None = None) -> None:
        from prometheus_client import start_http_server

        self.listen = listen
        self.collector = RingCollector(rings, dirs)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        try:
            self._server, self._thread = start_http_server(listen.port, listen.host, registry=self.registry)
        except OSError as exc:
            raise UsageError(f"cannot listen on {listen}: {exc.strerror}",
                             "is another exporter on that port? choose another with --listen") from None
        self.port = self._server.server_address[1]  # the real port when 0 was asked

    @property
    def url(self) -> str:
        host = self.listen.host if ":" not in self.listen.host else f"[{self.listen.host}]"
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.collector.close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
