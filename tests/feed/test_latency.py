"""One-way latency from the messages themselves (feed/latency.py): a sample
that cannot be a latency is left out of every figure and counted."""
from __future__ import annotations

import numpy as np

from wirespeed.feed import moldudp64 as mold
from wirespeed.feed.latency import LATENCY_MAX_NS, LatencyMeter, possible
from wirespeed.net.frames import udp_frame
from wirespeed.ring import Ring, RingWriter

DAY_NS = 86_400_000_000_000


def _message(itch_ts_ns: int) -> bytes:
    """An ITCH system event ('S') stamped itch_ts_ns after midnight."""
    return b"S" + (1).to_bytes(2, "big") + (0).to_bytes(2, "big") + itch_ts_ns.to_bytes(6, "big") + b"O"


def test_possible() -> None:
    assert possible(np.array([0, 1, LATENCY_MAX_NS, -1, LATENCY_MAX_NS + 1])).tolist() == [
        True, True, True, False, False]


def test_meter_leaves_out_and_counts_impossible_samples(ring_path) -> None:
    """A receive stamp before the message's send stamp (the clock stepped
    back between them) is no latency: left out of the percentiles, counted."""
    Ring.create(ring_path, size="1M")
    day0 = 1_700_000_000 * 10**9 // DAY_NS * DAY_NS  # a midnight, so the stamps' time of day is easy to read
    sent = [1_000_000, 2_000_000, 3_000_000]
    received = [1_005_000, 1_999_000, 3_007_000]  # the second arrives 1 µs before it was sent
    with RingWriter(ring_path) as w:
        for seq, (s, r) in enumerate(zip(sent, received), start=1):
            payload = mold.encode("WIRESPEED", seq, [_message(s)])
            w.append(udp_frame(b"\0" * 6, b"\1" * 6, "198.18.0.2", "239.1.1.1", 40000, 30001, payload), 1,
                     ts_ns=day0 + r)
    meter = LatencyMeter(ring_path)
    meter.drain()
    _rx, lat, impossible = meter.arrays()
    assert lat.tolist() == [5_000, 7_000] and impossible == 1
    res = meter.finish()
    assert res["samples"] == 2 and res["impossible"] == 1 and res["messages"] == 3
    assert 5.0 <= res["lat_us_p50"] <= 7.0 and res["lat_us_max"] == 7.0


def test_split_cuts_each_latency_at_the_packets_tx_stamp(ring_path) -> None:
    """generated -> sent + sent -> received = generated -> received, sample
    by sample; a packet the sender has no TX stamp for is counted, not
    guessed; a TX stamp after the receive stamp is impossible and counted."""
    from wirespeed.exchange.sim import SENT_DTYPE

    Ring.create(ring_path, size="1M")
    day0 = 1_700_000_000 * 10**9 // DAY_NS * DAY_NS
    gen = [1_000_000, 2_000_000, 3_000_000, 4_000_000]
    tx = [1_000_700, 2_001_000, 0, 4_009_000]          # packet 3 has no stamp; 4's is after its receipt
    rx = [1_005_000, 2_004_000, 3_002_000, 4_008_000]
    with RingWriter(ring_path) as w:
        for seq, (g, r) in enumerate(zip(gen, rx), start=1):
            payload = mold.encode("WIRESPEED", seq, [_message(g), _message(g)])  # two messages, one packet
            w.append(udp_frame(b"\0" * 6, b"\1" * 6, "198.18.0.2", "239.1.1.1", 40000, 30001, payload), 1,
                     ts_ns=day0 + r)
    log = np.zeros(4, dtype=SENT_DTYPE)
    log["seq"] = [1, 2, 3, 4]
    log["tx_ns"] = [day0 + t if t else 0 for t in tx]
    meter = LatencyMeter(ring_path)
    meter.drain()
    cut = meter.split({b"WIRESPEED ": log[::-1].copy()})  # the log's order does not matter
    assert cut["gen_sent"].tolist() == [700, 700, 1_000, 1_000]
    assert cut["sent_rx"].tolist() == [4_300, 4_300, 3_000, 3_000]
    assert cut["unstamped"] == 2 and cut["impossible"] == 2
    assert meter.split({b"OTHER     ": log})["unstamped"] == 8  # another session's log stamps nothing
