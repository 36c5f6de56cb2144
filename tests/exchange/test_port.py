"""The simulator's order port (native/exchange/port.c) on loopback: logins,
OUCH's rules, the matching it reaches, exchange-side risk with NASDAQ's
reject codes, replay after a reconnect, and clients that misbehave -
each dropped with a counted reason while everyone else carries on."""
from __future__ import annotations

import itertools
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from tests.conftest import wait_until
from wirespeed.exchange import sim as S
from wirespeed.orders import ouch
from wirespeed.orders import soupbintcp as soup
from wirespeed.orders.client import LoginRejected, OuchClient

_ports = itertools.count(16100)
_groups = itertools.count(1)
NO_COLLAR = dict(collar_pct=0)


@contextmanager
def port_sim(accounts=(S.Account("WSTEST", "WSTEST"),), **kw):
    """A simulator on loopback with an order port; yields (running sim, port)."""
    port = next(_ports)
    args = dict(rate=50, duration_s=30, symbols=2)
    args.update(kw)
    cfg = S.SimConfig(lines=[S.Line(f"239.77.0.{next(_groups)}", 31900)], iface="lo", source="127.0.0.1",
                      ouch_port=port, ouch_accounts=tuple(accounts), **args)
    with S.start(cfg) as sim:
        yield sim, port


def client(port: int, user: str = "WSTEST", password: str = "WSTEST", **kw) -> OuchClient:
    c = OuchClient("127.0.0.1", port)
    c.login(user, password, **kw)
    return c


def test_login_rules() -> None:
    with port_sim() as (sim, port):
        with pytest.raises(LoginRejected) as e:
            client(port, password="WRONG")
        assert e.value.reason == b"A"
        with pytest.raises(LoginRejected) as e:
            client(port, session="OTHER")
        assert e.value.reason == b"S"
        c = client(port)
        assert (c.session, c.next_seq) == ("WIRESPEED", 1)
        with pytest.raises(LoginRejected) as e:  # one session per account
            client(port)
        assert e.value.reason == b"S"
        assert [type(m).__name__ for m in c.read(0.5)] == ["SystemEvent"]  # sequence 1: start of day
        st = sim.order_stats()
        assert (st["logins"], st["rejected_auth"], st["rejected_session"], st["rejected_busy"]) == (1, 1, 1, 1)
        assert st["drops"]["login_rejected"] == 3 and st["sessions_now"] == 1


def test_a_crossing_order_is_accepted_then_executed_at_the_resting_price() -> None:
    with port_sim(rate=2000) as (sim, port):
        mid = sim.symbols()["S0001"]
        wait_until(lambda: sim.order_stats()["books"]["live"] > 20, "the simulator's book fills")
        c = client(port)
        c.read(0.2)
        c.enter(1, "B", 300, "S0001", mid + 2100, clordid="X1")  # above every simulator sell
        acc = c.wait_for("OrderAccepted")
        assert (acc.user_ref_num, acc.quantity, acc.order_state, acc.clordid) == (1, 300, "L", "X1")
        assert acc.order_ref > 0
        fills = []
        while sum(f.quantity for f in fills) < 300:
            fills.append(c.wait_for("OrderExecuted", timeout=2))
        assert all(f.liquidity_flag == "R" and mid < f.price <= mid + 2000 for f in fills)
        assert [f.match for f in fills] == sorted({f.match for f in fills})  # unique, increasing
        assert sim.order_stats()["fills"] == len(fills)


def test_two_accounts_trade_and_share_the_match_number() -> None:
    accounts = (S.Account("SELLER", "PW", firm="SELL", **NO_COLLAR), S.Account("BUYER", "PW", **NO_COLLAR))
    with port_sim(accounts, rate=1, symbols=1) as (sim, port):
        mid = sim.symbols()["S0001"]
        a, b = client(port, "SELLER", "PW"), client(port, "BUYER", "PW")
        a.enter(1, "S", 200, "S0001", mid + 10_000)           # $1 above the mid: behind every simulator sell
        a.wait_for("OrderAccepted")
        b.enter(1, "B", 5000, "S0001", mid + 10_000, time_in_force="3")  # IOC: takes all it can, up to $1 over
        got_a = a.wait_for("OrderExecuted", user_ref_num=1)
        assert (got_a.quantity, got_a.price, got_a.liquidity_flag) == (200, mid + 10_000, "A")
        b_fills = []
        while True:
            m = b.read(1.0)
            b_fills += [x for x in m if type(x).__name__ == "OrderExecuted"]
            if any(type(x).__name__ == "OrderCanceled" for x in m) or not m:
                break
        assert got_a.match in {f.match for f in b_fills}, "one match number for both sides"
        assert all(f.liquidity_flag == "R" for f in b_fills)


def test_cancel_modify_replace_and_query() -> None:
    with port_sim(accounts=(S.Account("WSTEST", "WSTEST", **NO_COLLAR),)) as (sim, port):
        mid = sim.symbols()["S0001"]
        c = client(port)
        low = mid - 50_000  # $5 under the mid: it rests and nothing trades with it
        c.enter(5, "B", 1000, "S0001", low)
        acc = c.wait_for("OrderAccepted")
        c.cancel(5, 700)                                   # to 700 open
        assert c.wait_for("OrderCanceled").quantity == 300
        c.cancel(5, 900)                                   # superfluous: ignored, no answer
        c.modify(5, "B", 600)                              # keeps priority: Modified, not Canceled
        mod = c.wait_for("OrderModified")
        assert (mod.user_ref_num, mod.quantity) == (5, 600)
        c.replace(5, 6, 800, low + 100)                    # new UserRefNum, new reference
        rep = c.wait_for("OrderReplaced")
        assert (rep.orig_user_ref_num, rep.user_ref_num, rep.quantity, rep.price) == (5, 6, 800, low + 100)
        assert rep.order_ref > acc.order_ref
        c.cancel(5, 0)                                     # the old number names nothing now
        c.cancel(6, 0)
        can = c.wait_for("OrderCanceled")
        assert (can.user_ref_num, can.quantity, can.reason) == (6, 800, "U")
        c.enter(3, "B", 100, "S0001", low)                 # 3 < 6: a resend of an old number, ignored
        c.query()
        assert c.wait_for("AccountQueryResponse").next_user_ref_num == 7
        st = sim.order_stats()
        assert st["stale_urn"] == 1 and st["unknown_order"] == 1
        assert st["in_by_type"] == {"O": 2, "X": 4, "M": 1, "U": 1, "Q": 1}


def test_exchange_side_risk_gives_nasdaqs_codes() -> None:
    acct = S.Account("WSTEST", "WSTEST", max_order_qty=1000, max_notional=50_000, collar_pct=5, max_open=3,
                     max_msgs_per_s=1_000_000)
    with port_sim(accounts=(acct,), rate=2000) as (sim, port):
        mid = sim.symbols()["S0001"]
        wait_until(lambda: sim.order_stats()["books"]["live"] > 20, "the simulator's book fills")
        c = client(port)
        low = mid - 5000  # 50 cents under: passive, inside the collar
        cases = [
            (dict(side="X", quantity=100, symbol="S0001", price=low), 0x0009),      # invalid side
            (dict(side="B", quantity=0, symbol="S0001", price=low), 0x0013),        # invalid quantity
            (dict(side="B", quantity=100, symbol="NOPE", price=low), 0x0017),       # invalid symbol
            (dict(side="B", quantity=100, symbol="S0001", price=0), 0x001D),        # invalid price
            (dict(side="B", quantity=2000, symbol="S0001", price=low), 0x0031),     # max quantity
            (dict(side="B", quantity=1000, symbol="S0001", price=10 ** 7), 0x0030), # notional ($1000 x 1000)
            (dict(side="B", quantity=100, symbol="S0001", price=mid * 2), 0x0026),  # collar: far through the ask
        ]
        for urn, (fields, code) in enumerate(cases, start=1):
            c.send(ouch.make(ouch.IN, "O", user_ref_num=urn, time_in_force="0", display="Y", capacity="A",
                             intermarket_sweep="N", cross_type="N", options=(), **fields))
            rej = c.wait_for("Rejected", user_ref_num=urn)
            assert rej.reason == code, (fields, hex(rej.reason))
        urn = len(cases)
        for _ in range(3):
            urn += 1
            c.enter(urn, "B", 10, "S0001", low)
            c.wait_for("OrderAccepted", user_ref_num=urn)
        urn += 1
        c.enter(urn, "B", 10, "S0001", low)                                     # a fourth open order
        assert c.wait_for("Rejected", user_ref_num=urn).reason == 0x0020
        c.disable(urn + 1, "WSTE")                                             # the kill switch
        c.wait_for("DisableOrderEntryResponse")
        c.enter(urn + 2, "B", 10, "S0001", low)
        assert c.wait_for("Rejected", user_ref_num=urn + 2).reason == 0x000C
        c.enable(urn + 3, "WSTE")
        c.wait_for("EnableOrderEntryResponse")
        c.mass_cancel(urn + 4)                                                 # every open order goes
        cancels = [c.wait_for("OrderCanceled") for _ in range(3)]
        assert sorted(x.user_ref_num for x in cancels) == [len(cases) + 1, len(cases) + 2, len(cases) + 3]
        c.wait_for("MassCancelResponse")
        c.enter(urn + 5, "B", 10, "S0001", low)                                # open orders free again
        c.wait_for("OrderAccepted", user_ref_num=urn + 5)
        rejects = sim.order_stats()["rejects"]
        assert sum(rejects.values()) == len(cases) + 2 and rejects["0x0026"] == 1


def test_the_message_rate_limit() -> None:
    acct = S.Account("WSTEST", "WSTEST", max_msgs_per_s=20, **NO_COLLAR)
    with port_sim(accounts=(acct,)) as (sim, port):
        mid = sim.symbols()["S0001"]
        c = client(port)
        for urn in range(1, 41):
            c.enter(urn, "B", 10, "S0001", mid - 50_000)
        got = [c.wait_for("Rejected", timeout=3)]
        assert got[0].reason == 0x0029
        wait_until(lambda: sim.order_stats()["rejects"].get("0x0029", 0) == 20, "20 of 40 refused")


def test_replay_after_a_reconnect_is_exact_and_messages_wait_for_the_absent() -> None:
    accounts = (S.Account("SELLER", "PW", firm="SELL", **NO_COLLAR), S.Account("BUYER", "PW", **NO_COLLAR))
    with port_sim(accounts, rate=1, symbols=1) as (sim, port):
        mid = sim.symbols()["S0001"]
        a = client(port, "SELLER", "PW")
        for urn in (1, 2):
            a.enter(urn, "S", 100, "S0001", mid + 20_000 + urn)
        first = [a.wait_for("SystemEvent")] + [a.wait_for("OrderAccepted") for _ in (1, 2)]
        seen = a.next_seq
        a.close()
        wait_until(lambda: sim.order_stats()["sessions_now"] == 0, "the port notices the close")
        b = client(port, "BUYER", "PW")
        b.enter(1, "B", 100, "S0001", mid + 20_001, time_in_force="3")  # trades with SELLER's first order
        b.wait_for("OrderExecuted")
        again = client(port, "SELLER", "PW", sequence=1)                # everything, from the start
        replay = again.read(0.5)
        while len(replay) < 4:
            replay += again.read(0.5)
        assert replay[:3] == first, "the same messages, in order"
        assert type(replay[3]).__name__ == "OrderExecuted" and replay[3].user_ref_num == 1
        again.close()
        wait_until(lambda: sim.order_stats()["sessions_now"] == 1, "closed")
        later = client(port, "SELLER", "PW", sequence=seen)              # from where the first session stopped
        assert [type(m).__name__ for m in later.read(0.5)] == ["OrderExecuted"]
        later.close()
        wait_until(lambda: sim.order_stats()["sessions_now"] == 1, "closed")
        now = client(port, "SELLER", "PW", sequence=0)                    # live: nothing old
        assert now.read(0.5) == [] and now.next_seq == seen + 1


def _raw(port: int, data: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    return s


def test_heartbeats_only_after_a_second_of_silence() -> None:
    """An answer is traffic: no Server Heartbeat follows it (each reply once
    dragged one along, an extra packet and wake-up per order)."""
    with port_sim(accounts=(S.Account("WSTEST", "WSTEST", **NO_COLLAR),)) as (sim, port):
        mid = sim.symbols()["S0001"]
        s = _raw(port, soup.login_request("WSTEST", "WSTEST", sequence=0))
        rx = soup.Reassembler()
        types: list[bytes] = []

        def read_for(seconds: float) -> None:
            s.settimeout(0.05)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    data = s.recv(65536)
                except TimeoutError:
                    continue
                types.extend(p.type for p in rx.feed(data))

        for urn in range(1, 21):
            s.sendall(soup.unsequenced(ouch.encode(ouch.make(
                ouch.IN, "O", user_ref_num=urn, side="B", quantity=100, symbol="S0001", price=mid - 50_000,
                time_in_force="0", display="Y", capacity="A", intermarket_sweep="N", cross_type="N", clordid="",
                options=()))))
            read_for(0.03)
        assert types[0] == soup.LOGIN_ACCEPTED and types.count(soup.SEQUENCED) >= 20
        assert soup.SERVER_HEARTBEAT not in types, types
        read_for(1.3)                                   # then quiet: heartbeats, one a second
        assert 1 <= types.count(soup.SERVER_HEARTBEAT) <= 2
        s.close()


def test_misbehaving_clients_are_dropped_with_a_reason() -> None:
    with port_sim(ouch_login_timeout_s=0.5) as (sim, port):
        socks = [
            _raw(port, b"\x00\x00garbage"),                                  # framing: a zero length
            _raw(port, b"\xff\xffL"),                                         # framing: longer than any client packet
            _raw(port, soup.unsequenced(b"Q")),                              # data before login
            _raw(port, soup.packet(soup.LOGIN_REQUEST, b"WSTEST" + b" " * 34)),  # a login of a wrong length
            _raw(port, b""),                                                 # silence: no login at all
        ]
        c = client(port)
        c.sock.sendall(soup.login_request("WSTEST", "WSTEST"))              # a second login
        wait_until(lambda: sum(sim.order_stats()["drops"].values()) == 6, "six drops")
        d = sim.order_stats()["drops"]
        assert d == {"framing": 2, "before_login": 1, "bad_login": 1, "login_timeout": 1, "second_login": 1}
        c2 = client(port, heartbeat_timeout_ms=300)                          # then silent past its timeout
        wait_until(lambda: sim.order_stats()["drops"].get("heartbeat_timeout") == 1, "dropped for silence")
        c3 = client(port)
        c3.sock.sendall(soup.unsequenced(b"O\x00\x00"))                      # an Enter Order cut short
        wait_until(lambda: sim.order_stats()["drops"].get("bad_message") == 1, "a message that cannot be decoded")
        c4 = client(port)
        c4.sock.sendall(soup.packet(b"A", b"x"))                             # a server's packet type
        wait_until(lambda: sim.order_stats()["drops"].get("unknown_packet") == 1, "a packet a client does not send")
        for s in socks:
            s.close()
        for x in (c, c2, c3, c4):
            x.close()
        assert sim.alive


def test_a_flood_and_a_slow_reader_delay_no_one_else() -> None:
    accounts = (S.Account("FLOOD", "PW", **NO_COLLAR), S.Account("GOOD", "PW", **NO_COLLAR),
                S.Account("HOSTIL", "PW"))
    with port_sim(accounts, rate=5000) as (sim, port):
        mid = sim.symbols()["S0001"]
        flood = client(port, "FLOOD", "PW")
        flood.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and it never reads
        stop = threading.Event()

        def send_flood() -> None:
            urn = 0
            orders = bytearray()
            for _ in range(200):
                urn += 1
                orders += soup.unsequenced(ouch.encode(ouch.make(
                    ouch.IN, "O", user_ref_num=urn, side="B", quantity=1, symbol="S0001", price=mid - 90_000,
                    time_in_force="3", display="Y", capacity="A", intermarket_sweep="N", cross_type="N",
                    options=())))
            while not stop.is_set():
                try:
                    flood.sock.sendall(orders)
                except OSError:
                    return

        hostile = [_raw(port, bytes(range(256)) * 4) for _ in range(20)]
        t = threading.Thread(target=send_flood, daemon=True)
        t.start()
        good = client(port, "GOOD", "PW")
        feed0 = sim.stats()["msgs"]
        for urn in range(1, 51):  # each answered while the flood goes on (wait_for gives up after 5 s)
            good.enter(urn, "B", 1, "S0001", mid - 90_000, time_in_force="3")
            good.wait_for("OrderCanceled", user_ref_num=urn)  # accepted, then its IOC remainder canceled
        flood_served = sim.order_stats()["in_by_type"]["O"]
        stop.set()
        t.join(5)
        assert sim.stats()["msgs"] > feed0, "the feed went on"
        assert flood_served > 1000, "the flood was being served meanwhile"
        for s in hostile:
            s.close()
        assert sim.alive


def test_end_of_session_reaches_the_clients() -> None:
    with port_sim(duration_s=1.0) as (sim, port):
        c = client(port)
        events = []
        while not c.ended:
            events += c.read(0.5)
        assert [m.event_code for m in events if type(m).__name__ == "SystemEvent"] == ["S", "E"]
    assert sim.result["ouch"]["drops"] == {"end_of_session": 1}


def test_bad_port_settings_are_usage_errors() -> None:
    from wirespeed.errors import UsageError

    for kw, msg in ((dict(ouch_accounts=(S.Account("TOOLONGU", "X"),)), "user"),
                    (dict(ouch_accounts=(S.Account("A", "X"), S.Account("A", "Y"))), "named twice"),
                    (dict(ouch_accounts=()), "1 to 64")):
        with pytest.raises(UsageError, match=msg):
            S.SimConfig(lines=[S.Line("239.77.1.1", 1)], ouch_port=15000, **kw).validate()
    with pytest.raises(UsageError, match="unknown limit"):
        S.parse_risk(["speed=1"], [S.Account("A", "B")])
    assert S.parse_account("U:P:FIRM") == S.Account("U", "P", "FIRM")
