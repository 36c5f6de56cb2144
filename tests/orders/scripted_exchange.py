"""A scripted exchange on loopback for the order session's tests: it speaks
SoupBinTCP 4.1 and OUCH 5.0 through wirespeed's Python codecs (held to the
C ones by test_ouch.py), keeps a sequenced log per session that a login
replays from the sequence it asks for, records every message a client
sends, and answers only as the test says (or accepts every order, with
`accept=True`). It can drop the connection, send garbage, or stay silent -
what a real exchange does to a client on a bad day."""
from __future__ import annotations

import socket
import threading
import time
from typing import Any

from tests.conftest import wait_until
from wirespeed.orders import ouch
from wirespeed.orders import soupbintcp as soup


class ScriptedExchange:
    def __init__(self, session: str = "SCRIPTED", accept: bool = True, heartbeat_s: float = 0.5) -> None:
        self.session = session
        self.accept = accept
        self.heartbeat_s = heartbeat_s
        self.log: list[bytes] = []                  # sequenced payloads; seq = index + 1
        self.received: list[Any] = []               # every OUCH message clients sent, in order
        self.logins: list[tuple[str, int]] = []     # (session asked for, sequence asked for)
        self.next_ref = 1
        self.next_urn_seen = 0
        self.orders: dict[int, dict[str, Any]] = {}  # urn -> what the exchange holds of it
        self._conn: socket.socket | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.refuse_logins = b""                    # b"A" or b"S": reject logins with that reason
        self.query_next: int | None = None          # answer Account Query with this (a lie), not the truth
        self._srv = socket.create_server(("127.0.0.1", 0))
        self._srv.settimeout(0.1)
        self.port = self._srv.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- the test's side -------------------------------------------------------------------

    def sequenced(self, msg: Any) -> None:
        """Log an outbound OUCH message and send it if a client is on."""
        payload = ouch.encode(msg)
        with self._lock:
            self.log.append(payload)
            self._send(soup.sequenced(payload))

    def out(self, type_: str, **fields: Any) -> None:
        base: dict[str, Any] = {"timestamp": _midnight_ns()}
        if type_ in ("A", "U", "J", "B", "C", "D", "R", "X", "G", "K"):
            base["options"] = ()
        base.update(fields)
        self.sequenced(ouch.make(ouch.OUT, type_, **base))

    def execute(self, urn: int, qty: int, price: int, liquidity: str = "R") -> None:
        self.out("E", user_ref_num=urn, quantity=qty, price=price, liquidity_flag=liquidity, match=self.next_ref,
                 options=())
        self.next_ref += 1

    def cancel(self, urn: int, qty: int, reason: str = "U") -> None:
        self.out("C", user_ref_num=urn, quantity=qty, reason=reason)

    def raw(self, data: bytes) -> None:
        """Bytes as they are (garbage, a bad length...)."""
        with self._lock:
            self._send(data)

    def drop(self) -> None:
        """Close the client's connection (as a crash or a network loss would)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self._conn.close()
                self._conn = None

    def entered(self) -> list[Any]:
        return [m for m in self.received if type(m).__name__ in ("EnterOrder", "ReplaceOrder")]

    def wait(self, pred: Any, timeout: float = 5.0, what: str = "") -> None:
        wait_until(pred, f"timed out waiting for {what or pred}", timeout)

    def close(self) -> None:
        self._stop.set()
        self.drop()
        self._thread.join(2)
        self._srv.close()

    def __enter__(self) -> ScriptedExchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the server ----------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self._conn is not None:
            try:
                self._conn.sendall(data)
            except OSError:
                self._conn = None

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(0.05)
            self._session(conn)

    def _session(self, conn: socket.socket) -> None:
        r = soup.Reassembler()
        logged = False
        last_tx = time.monotonic()
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
                if not data:
                    break
            except TimeoutError:
                data = b""
            except OSError:
                break
            with self._lock:
                if self._conn is not None and self._conn is not conn and logged:
                    break
                for pkt in r.feed(data):
                    if pkt.type == b"L" and not logged:
                        login = soup.parse_login(pkt.payload)
                        self.logins.append((login.session, login.sequence))
                        if self.refuse_logins:
                            conn.sendall(soup.login_rejected(self.refuse_logins))
                            conn.close()
                            return
                        start = login.sequence or len(self.log) + 1
                        start = min(start, len(self.log) + 1)
                        conn.sendall(soup.login_accepted(self.session, start))
                        self._conn = conn
                        logged = True
                        for payload in self.log[start - 1:]:
                            conn.sendall(soup.sequenced(payload))
                    elif pkt.type == b"U" and logged:
                        self._inbound(ouch.decode(pkt.payload, ouch.IN))
                    elif pkt.type == b"O":
                        conn.close()
                        self._conn = None
                        return
            if logged and self._conn is None:
                return  # dropped by the test
            if logged and time.monotonic() - last_tx > self.heartbeat_s:
                with self._lock:
                    self._send(soup.packet(b"H"))
                last_tx = time.monotonic()
        with self._lock:
            if self._conn is conn:
                self._conn = None
        conn.close()

    def _inbound(self, m: Any) -> None:
        self.received.append(m)
        kind = type(m).__name__
        if kind == "AccountQuery":
            truth = max(self.next_urn_seen + 1, 1)
            self.out("Q", next_user_ref_num=truth if self.query_next is None else self.query_next)
            return
        urn = getattr(m, "user_ref_num", 0)
        self.next_urn_seen = max(self.next_urn_seen, urn)
        if not self.accept:
            return
        if kind == "EnterOrder":
            self.orders[urn] = {"side": m.side, "open": m.quantity, "price": m.price}
            self.out("A", user_ref_num=urn, side=m.side, quantity=m.quantity, symbol=m.symbol, price=m.price,
                     time_in_force=m.time_in_force, display=m.display, order_ref=self.next_ref, capacity=m.capacity,
                     intermarket_sweep="N", cross_type="N", order_state="L", clordid=m.clordid)
            self.next_ref += 1
            if m.time_in_force == "3":
                self.cancel(urn, m.quantity, "I")
                self.orders[urn]["open"] = 0
        elif kind == "CancelOrder":
            o = self.orders.get(urn)
            if o and o["open"] > m.quantity:
                self.cancel(urn, o["open"] - m.quantity)
                o["open"] = m.quantity


def _midnight_ns() -> int:
    return time.time_ns() % 86_400_000_000_000
