"""One-way latency measured from the messages themselves.

A ring reader that decodes every captured MoldUDP64 packet and takes
rx stamp - ITCH timestamp for each message. Both are CLOCK_REALTIME on the
same host (the simulator stamps a message when it generates it, the capture
when it receives or dequeues the packet), taken modulo a day since ITCH
timestamps count nanoseconds since midnight. Also counts packets, messages
and sequence gaps per (stream, session).

Used by `wirespeed demo` (live, in a thread) and `wirespeed bench capture`
(after the run, over the whole ring).
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from wirespeed.feed import moldudp64 as mold
from wirespeed.ring import Batch, RingError, RingReader

DAY_NS = 86_400_000_000_000
#: A one-way latency outside [0, 100 s] is not a latency: a clock stepped,
#: or two cores' clocks disagree. Every latency figure wirespeed reports
#: leaves such samples out and says how many (possible() finds them).
LATENCY_MAX_NS = 100_000_000_000


def possible(lat_ns: np.ndarray) -> np.ndarray:
    """Mask of the samples that can be latencies: 0 <= x <= LATENCY_MAX_NS."""
    v = np.asarray(lat_ns)
    return (v >= 0) & (v <= LATENCY_MAX_NS)


class LatencyMeter:
    """Latency of every message in a ring; start() reads live in a thread,
    drain() reads what is there now."""

    def __init__(self, ring: str) -> None:
        self.reader = RingReader(ring, "oldest")
        self.samples: list[np.ndarray] = []
        self.times: list[np.ndarray] = []  # rx stamp (CLOCK_REALTIME ns) of each sample
        self.keys: list[np.ndarray] = []   # (session number, packet's first seq) of each sample: see split()
        self.sessions: dict[bytes, int] = {}
        self.packets = self.messages = self.gaps = 0
        self.next_seq: dict[tuple[int, bytes], int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="wirespeed-latency", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                batch = self.reader.wait(timeout=0.2)
            except RingError:
                return
            self.add(batch)

    def drain(self) -> None:
        """Take every record the ring holds now (the writer may be gone)."""
        while True:
            batch = self.reader.poll(65536)
            if not len(batch):
                return
            self.add(batch)

    def add(self, batch: Batch) -> None:
        lat: list[int] = []
        rxs: list[int] = []
        keys: list[tuple[int, int]] = []
        for h, frame in batch:
            data = bytes(frame)
            ihl = (data[14] & 0x0F) * 4
            p = mold.decode(data[14 + ihl + 8:])
            if p is None:
                continue
            self.packets += 1
            key = (int(h["stream"]), p.session)
            if p.messages:
                expect = self.next_seq.get(key)
                if expect is not None and p.seq > expect:
                    self.gaps += p.seq - expect
                self.next_seq[key] = max(expect or 0, p.next_seq)
            rx_abs = int(h["ts_ns"])
            rx = rx_abs % DAY_NS
            pkey = (self.sessions.setdefault(p.session, len(self.sessions)), p.seq)
            for m in p.messages:
                if len(m) >= 11:
                    itch_ts = int.from_bytes(m[5:11], "big")
                    d = rx - itch_ts
                    if d < -DAY_NS // 2:  # the send was before midnight, the receive after
                        d += DAY_NS
                    lat.append(d)
                    rxs.append(rx_abs)
                    keys.append(pkey)
            self.messages += len(p.messages)
        if lat:
            self.samples.append(np.array(lat, dtype=np.int64))
            self.times.append(np.array(rxs, dtype=np.int64))
            self.keys.append(np.array(keys, dtype=np.int64).reshape(-1, 2))

    def start(self) -> None:
        self.thread.start()

    def arrays(self, warmup_s: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
        """(rx stamp ns, latency ns, impossible) of every sample, in ring order,
        without those received in the first `warmup_s` seconds; impossible
        samples (see possible()) are left out and counted."""
        if not self.samples:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 0
        rx, lat = np.concatenate(self.times), np.concatenate(self.samples)
        keep = rx >= rx[0] + int(warmup_s * 1e9)
        rx, lat = rx[keep], lat[keep]
        ok = possible(lat)
        return rx[ok], lat[ok], int((~ok).sum())

    def split(self, sent: dict[bytes, np.ndarray], warmup_s: float = 0.0) -> dict[str, Any]:
        """Each sample's latency cut where its packet left the sender: `sent`
        is the sender's log by session (exchange.sim.SENT_DTYPE: first seq,
        tx_ns, the kernel's TX stamp). Returns, over the samples arrays()
        keeps whose packet has a TX stamp, "gen_sent" (TX stamp - ITCH
        timestamp: building, queueing and the sender's send call up to the
        driver) and "sent_rx" (rx stamp - TX stamp: the receive path), both
        ns and each filtered by possible(), with "unstamped" (samples whose
        packet has no TX stamp) and "impossible" (of either part) counted."""
        empty = np.zeros(0, dtype=np.int64)
        if not self.samples:
            return {"gen_sent": empty, "sent_rx": empty, "unstamped": 0, "impossible": 0}
        rx, lat = np.concatenate(self.times), np.concatenate(self.samples)
        keys = np.concatenate(self.keys)
        keep = rx >= rx[0] + int(warmup_s * 1e9)
        ok = possible(lat)
        rx, lat, keys = rx[keep & ok], lat[keep & ok], keys[keep & ok]
        tx = np.zeros(len(rx), dtype=np.int64)
        for session, number in self.sessions.items():
            log = sent.get(session)
            mine = keys[:, 0] == number
            if log is None or not len(log) or not mine.any():
                continue
            stamped = log[log["tx_ns"] > 0]
            order = np.argsort(stamped["seq"], kind="stable")
            seqs, stamps = stamped["seq"][order].astype(np.int64), stamped["tx_ns"][order].astype(np.int64)
            at = np.clip(np.searchsorted(seqs, keys[mine, 1]), 0, max(len(seqs) - 1, 0))
            hit = seqs[at] == keys[mine, 1] if len(seqs) else np.zeros(int(mine.sum()), dtype=bool)
            tx[np.flatnonzero(mine)[hit]] = stamps[at[hit]]
        has = tx > 0
        gen = rx[has] - lat[has]          # the ITCH stamp as epoch ns (rx - latency undoes the day wrap)
        gen_sent, sent_rx = tx[has] - gen, rx[has] - tx[has]
        good = possible(gen_sent) & possible(sent_rx)
        return {"gen_sent": gen_sent[good], "sent_rx": sent_rx[good], "rx_ns": rx[has][good],
                "unstamped": int((~has).sum()), "impossible": int((~good).sum())}

    def finish(self, warmup: float = 0.0) -> dict[str, Any]:
        """Percentiles in µs; `warmup` is the fraction of the first samples
        left out (caches, page faults, the sender's first wake-ups);
        `impossible` counts samples left out by possible()."""
        if self.thread.ident is not None:
            self.thread.join(10)
        self.stop.set()
        self.reader.close()
        lat = np.concatenate(self.samples) if self.samples else np.zeros(0, dtype=np.int64)
        lat = lat[int(len(lat) * warmup):]
        ok = possible(lat)
        impossible = int((~ok).sum())
        lat = lat[ok]
        out: dict[str, Any] = {"packets": self.packets, "messages": self.messages, "seq_gaps": self.gaps,
                               "samples": int(len(lat)), "impossible": impossible}
        if len(lat):
            p = np.percentile(lat, [50, 90, 99, 99.9, 99.99]) / 1000
            out.update({"lat_us_p50": p[0], "lat_us_p90": p[1], "lat_us_p99": p[2], "lat_us_p999": p[3],
                        "lat_us_p9999": p[4], "lat_us_max": float(lat.max()) / 1000,
                        "lat_us_stddev": float(lat.std()) / 1000})
        return out


