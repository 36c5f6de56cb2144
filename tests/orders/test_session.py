"""The order session (native/orders/session.c) against a scripted exchange on
loopback: what goes on the wire, every order's life, positions, the link
going down and coming back without losing or doubling a message, a client
killed with kill -9 and restarted on its journal, and an exchange that
misbehaves."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, wait_until
from tests.orders.scripted_exchange import ScriptedExchange
from wirespeed.errors import WirespeedError
from wirespeed.orders import OrderRefused, Session

SYMS = ["AAPL", "MSFT"]


def _session(ex: ScriptedExchange, journal: Path, **kw) -> Session:
    kw.setdefault("server_timeout_ms", 2000)
    kw.setdefault("reconnect_ms", 50)
    return Session("127.0.0.1", ex.port, "WSTEST", "WSTEST", SYMS, journal=journal, **kw)


def test_an_order_goes_out_as_the_spec_says_and_lives_its_life(tmp_path: Path) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j") as s:
        s.wait_up()
        urn = s.enter("AAPL", "B", 300, 101.25, clordid="MINE1")
        assert urn == 1
        ex.wait(lambda: ex.entered(), what="the order at the exchange")
        m = ex.entered()[0]
        assert (m.user_ref_num, m.side, m.quantity, m.symbol, m.price, m.time_in_force, m.clordid) == \
            (1, "B", 300, "AAPL", 1_012_500, "0", "MINE1")
        wait_until(lambda: s.order(1)["state"] == "accepted", "accepted")
        ex.execute(1, 100, 1_012_000)
        wait_until(lambda: s.order(1)["state"] == "partially_filled", "partially filled")
        ex.execute(1, 200, 1_012_500)
        wait_until(lambda: s.order(1)["state"] == "filled", "filled")
        o = s.order(1)
        assert (o["filled"], o["open"], o["exec_notional"]) == (300, 0, 100 * 101.20 + 200 * 101.25)
        pos = s.positions()["AAPL"]
        assert (pos["position"], pos["bought"], pos["open_buy"]) == (300, 300, 0)
        ev = s.events()
        assert ev["type"].tolist() == [b"Q", b"A", b"E", b"E"] and ev["seq"].tolist() == [1, 2, 3, 4]
        assert ev["qty"].tolist()[2:] == [100, 200] and ev["price"].tolist()[2:] == [1_012_000, 1_012_500]
        # a sell, canceled in part then in full; an IOC the exchange cancels at once
        u2 = s.enter("MSFT", "S", 500, 50.0)
        wait_until(lambda: s.order(u2)["state"] == "accepted", "accepted")
        s.cancel(u2, leave=200)
        wait_until(lambda: s.order(u2)["open"] == 200, "partial cancel")
        s.cancel(u2)
        wait_until(lambda: s.order(u2)["state"] == "canceled", "canceled")
        u3 = s.enter("MSFT", "B", 10, 49.0, tif="IOC")
        wait_until(lambda: s.order(u3)["state"] == "canceled", "IOC canceled")
        assert s.stats()["open_orders"] == 0 and s.positions()["MSFT"]["open_sell"] == 0
        s.sync()  # the journal on disk


def test_orders_are_refused_while_the_link_is_down_never_queued(tmp_path: Path) -> None:
    with ScriptedExchange() as ex:
        s = _session(ex, tmp_path / "j", reconnect_ms=2000)
        try:
            s.wait_up()
            ex.drop()
            wait_until(lambda: s.link != "up", "the drop seen")
            with pytest.raises(OrderRefused) as e:
                s.enter("AAPL", "B", 100, 10.0)
            assert e.value.check == "link_down"
            s.wait_up(5)
            time.sleep(0.1)
            assert ex.entered() == [] and s.stats()["refused"]["link_down"] == 1
        finally:
            s.close()


def test_a_reconnect_asks_for_the_next_sequence_and_nothing_is_lost_or_applied_twice(tmp_path: Path) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j") as s:
        s.wait_up()
        urns = [s.enter("AAPL", "B", 100, 10.0) for _ in range(5)]
        wait_until(lambda: all(s.order(u)["state"] == "accepted" for u in urns), "accepted")
        seq_before = len(ex.log)
        ex.drop()
        for u in urns:  # fills while the client is away: in the log, not on any socket
            ex.execute(u, 40, 100_000)
        wait_until(lambda: s.link == "up" and len(ex.logins) == 2, "logged in again")
        assert ex.logins[1] == ("SCRIPTED", seq_before + 1)
        wait_until(lambda: s.stats()["fills"] == 5, "the missed fills")
        for k in range(3):  # drop again, mid-burst, and again
            ex.drop()
            for u in urns:
                ex.execute(u, 20, 100_000)
            wait_until(lambda: len(ex.logins) == 3 + k, "logged in again")
        wait_until(lambda: s.stats()["fills"] == 20, "every fill once")
        time.sleep(0.2)
        st = s.stats()
        assert st["fills"] == 20 and st["filled_shares"] == 5 * (40 + 3 * 20) and st["seq_lost"] == 0
        assert s.positions()["AAPL"]["position"] == 500 and st["next_seq"] == len(ex.log) + 1
        assert [s.order(u)["state"] for u in urns] == ["filled"] * 5
        assert st["drops"]["closed"] >= 4


@pytest.mark.parametrize("bad,reason", [(b"\x00\x00", "framing"), (b"\x00\x02SZ", "bad_message"),
                                        (b"\x00\x03SE\x00", "bad_message"), (b"\x00\x01A", "unexpected"),
                                        (b"\x00\x01Y", "unexpected")])
def test_a_malformed_message_drops_the_link_with_its_reason_and_it_comes_back(tmp_path: Path, bad: bytes,
                                                                            reason: str) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j") as s:
        s.wait_up()
        u = s.enter("AAPL", "B", 100, 10.0)
        wait_until(lambda: s.order(u)["state"] == "accepted", "accepted")
        ex.raw(bad)
        wait_until(lambda: s.stats()["drops"][reason] == 1, f"dropped for {reason}")
        s.wait_up()
        ex.execute(u, 100, 100_000)
        wait_until(lambda: s.order(u)["state"] == "filled", "filled after the reconnect")
        assert s.stats()["fills"] == 1


def test_an_order_given_up_as_lost_comes_back_if_the_exchange_knew_it(tmp_path: Path) -> None:
    """After a reconnect, an Account Query answer below an order's UserRefNum makes it
    'not received'; should the exchange then accept or fill it after all, it is open
    again with its risk, and no fill of it is missed."""
    with ScriptedExchange(accept=False) as ex, _session(ex, tmp_path / "j") as s:
        s.wait_up()
        u = s.enter("AAPL", "B", 100, 10.0)
        ex.wait(lambda: ex.entered(), what="the order")
        ex.query_next = u  # the exchange says it never saw it
        ex.drop()
        wait_until(lambda: s.stats()["lost_in_transit"] == 1, "given up as not received")
        assert (s.order(u)["state"], s.order(u)["reject"]) == ("rejected", "not_received")
        assert s.stats()["open_orders"] == 0
        ex.out("A", user_ref_num=u, side="B", quantity=100, symbol="AAPL", price=100_000, time_in_force="0",
               display="Y", order_ref=77, capacity="A", intermarket_sweep="N", cross_type="N", order_state="L",
               clordid="")
        ex.execute(u, 40, 100_000)
        wait_until(lambda: s.order(u)["state"] == "partially_filled", "revived and filled")
        st = s.stats()
        assert (st["revived"], st["lost_in_transit"], st["open_orders"], st["fills"]) == (1, 0, 1, 1)
        assert s.positions()["AAPL"]["open_buy"] == 60


def test_silence_from_the_exchange_drops_the_link(tmp_path: Path) -> None:
    with ScriptedExchange(heartbeat_s=60) as ex, _session(ex, tmp_path / "j", server_timeout_ms=300) as s:
        s.wait_up()
        wait_until(lambda: s.stats()["drops"]["server_timeout"] >= 1, "a timeout", 3)


def test_a_login_refused_for_credentials_is_final(tmp_path: Path) -> None:
    with ScriptedExchange() as ex:
        ex.refuse_logins = b"A"
        s = _session(ex, tmp_path / "j")
        try:
            with pytest.raises(WirespeedError, match="closed"):
                s.wait_up(3)
            assert s.stats()["login_rejected"] == 1
        finally:
            s.close()


def test_end_of_session_closes_for_good(tmp_path: Path) -> None:
    with ScriptedExchange() as ex, _session(ex, tmp_path / "j") as s:
        s.wait_up()
        ex.raw(b"\x00\x01Z")
        wait_until(lambda: s.link == "closed", "closed")
        time.sleep(0.2)
        assert s.stats()["connects"] == 1 and s.stats()["drops"]["end_of_session"] == 1


def test_a_journal_of_another_account_or_not_a_journal_is_refused(tmp_path: Path) -> None:
    with ScriptedExchange() as ex:
        j = tmp_path / "j"
        _session(ex, j, start=False).close()
        with pytest.raises(WirespeedError, match="not this session"):
            Session("127.0.0.1", ex.port, "OTHER", "X", SYMS, journal=j, start=False)
        junk = tmp_path / "junk"
        junk.write_bytes(os.urandom(8192))
        with pytest.raises(WirespeedError, match="not this session"):
            Session("127.0.0.1", ex.port, "WSTEST", "WSTEST", SYMS, journal=junk, start=False)


KILLED = r"""
import os, signal, sys, time
from wirespeed.orders import Session
s = Session("127.0.0.1", int(sys.argv[1]), "WSTEST", "WSTEST", ["AAPL", "MSFT"], journal=sys.argv[2],
            reconnect_ms=50)
s.wait_up()
n = 0
while True:  # a burst; the parent kills this process somewhere in it
    s.enter("AAPL", "B", 10, 10.0 + (n % 50) / 100)
    n += 1
    if n == 200:
        print("burst", flush=True)
    time.sleep(0.0005)
"""


def test_kill_9_mid_burst_then_restart_reuses_no_userrefnum_and_relearns_every_order(tmp_path: Path) -> None:
    j = tmp_path / "journal"
    with ScriptedExchange() as ex:
        child = subprocess.Popen([sys.executable, "-c", KILLED, str(ex.port), str(j)], stdout=subprocess.PIPE,
                                 text=True, env=dict(os.environ, PYTHONPATH=f"{REPO / 'src'}:{REPO}"))
        try:
            assert child.stdout.readline().strip() == "burst"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(10)
        time.sleep(0.3)  # the exchange reads what the kernel still had in flight
        seen = [m.user_ref_num for m in ex.entered()]
        assert len(seen) >= 200 and seen == sorted(set(seen))
        for u in seen[::7]:  # the exchange fills some while the client is dead
            ex.execute(u, 10, 100_000)
        with _session(ex, j) as s:
            s.wait_up()
            st = s.stats()
            assert st["recovered_orders"] >= len(seen)
            wait_until(lambda: s.stats()["fills"] == len(seen[::7]), "every fill, from the replay")
            u = s.enter("MSFT", "S", 5, 20.0)
            assert u > max(seen)
            ex.wait(lambda: ex.entered()[-1].user_ref_num == u, what="the new order")
            assert ex.logins[-1][1] == 1  # a journal of the day: the whole log again
            states = {s.order(x)["state"] for x in seen}
            assert states <= {"accepted", "filled"}
            assert all(s.order(x)["state"] == "filled" for x in seen[::7])
            assert s.positions()["AAPL"]["position"] == 10 * len(seen[::7])
            # sent but never seen by the exchange (in flight at the kill): the Account Query after
            # the login says so; rejected here, counted, not resent
            lost = [x for x in range(1, u) if x not in seen]
            assert all((s.order(x)["state"], s.order(x)["reject"]) == ("rejected", "not_received") for x in lost)
            assert s.stats()["lost_in_transit"] == len(lost)
            assert s.stats()["open_orders"] == len(seen) - len(seen[::7]) + 1  # and the new one
