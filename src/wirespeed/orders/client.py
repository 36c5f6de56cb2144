"""A plain, blocking SoupBinTCP 4.1 / OUCH 5.0 client, for scripts, tests and
notebooks: a Python call per message, made for talking to an order port by
hand, not for speed.

    c = OuchClient("198.18.0.2", 15000)
    c.login("WSTEST", "WSTEST")                      # Login Accepted: (session, next sequence number)
    c.enter(1, "B", 100, "S0001", 1_002_500)         # UserRefNum 1: buy 100 S0001 at $100.25, Day
    for m in c.read(timeout=1.0):                    # decoded OUCH messages: OrderAccepted, OrderExecuted, ...
        print(m)

Sequenced messages are counted as they come (next_seq), so after a drop
login(..., sequence=c.next_seq) asks the port for exactly what was missed.
The client sends a heartbeat when it has been quiet for a second while it
reads.
"""
from __future__ import annotations

import select
import socket
import time
from typing import Any

from wirespeed.orders import ouch
from wirespeed.orders import soupbintcp as soup


class LoginRejected(ConnectionError):
    """The port answered Login Rejected; .reason is b"A" (not authorised) or b"S" (session not available)."""

    def __init__(self, reason: bytes) -> None:
        super().__init__(f"login rejected: {'not authorised' if reason == b'A' else 'session not available'} "
                         f"({reason!r})")
        self.reason = reason


class OrderRejected(RuntimeError):
    """wait_for(..., user_ref_num=N) saw the port reject order N instead; .message is the Rejected."""

    def __init__(self, message: Any) -> None:
        name = ouch.REJECT_REASONS.get(message.reason, "unknown reason")
        super().__init__(f"order {message.user_ref_num} rejected: 0x{message.reason:04X} {name}")
        self.message = message


class OuchClient:
    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.rx = soup.Reassembler()
        self.pending: list[soup.Packet] = []  # read from the socket, not yet handed out
        self.inbox: list[Any] = []            # decoded, passed over by wait_for, not yet read
        self.session = ""
        self.next_seq = 1
        self.ended = False        # End of Session seen
        self.last_tx = time.monotonic()

    # -- session ----------------------------------------------------------------------------
    def login(self, user: str, password: str, session: str = "", sequence: int | None = None,
              heartbeat_timeout_ms: int | None = 15_000) -> tuple[str, int]:
        """Log in; sequence: the next sequenced message wanted (default: from
        where this client is, 1 at first; 0: from now on). Raises
        LoginRejected, or ConnectionError if the port closes instead."""
        seq = self.next_seq if sequence is None else sequence
        self._send(soup.login_request(user, password, session, seq, heartbeat_timeout_ms))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            packets = self._packets(deadline - time.monotonic())
            for i, p in enumerate(packets):
                if p.type == soup.LOGIN_ACCEPTED:
                    self.session, self.next_seq = soup.parse_login_accepted(p.payload)
                    self.pending = packets[i + 1:]  # what came with it is for read()
                    return self.session, self.next_seq
                if p.type == soup.LOGIN_REJECTED:
                    raise LoginRejected(p.payload[:1])
        raise TimeoutError(f"no answer to the login in {self.timeout:g} s")

    def logout(self) -> None:
        self._send(soup.packet(soup.LOGOUT_REQUEST))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> OuchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- inbound messages -----------------------------------------------------------------------
    def send(self, msg: Any) -> None:
        """Any inbound OUCH message (ouch.make(ouch.IN, ...)), as Unsequenced Data."""
        self._send(soup.unsequenced(ouch.encode(msg)))

    def enter(self, urn: int, side: str, quantity: int, symbol: str, price: int, time_in_force: str = "0",
              display: str = "Y", clordid: str = "", capacity: str = "A", options: tuple = ()) -> Any:
        """Enter Order; price as Price(4) (1_002_500 = $100.25); time_in_force "0" Day, "3" IOC."""
        m = ouch.make(ouch.IN, "O", user_ref_num=urn, side=side, quantity=quantity, symbol=symbol, price=price,
                      time_in_force=time_in_force, display=display, capacity=capacity, intermarket_sweep="N",
                      cross_type="N", clordid=clordid, options=options)
        self.send(m)
        return m

    def replace(self, orig_urn: int, urn: int, quantity: int, price: int, time_in_force: str = "0",
                display: str = "Y", clordid: str = "") -> Any:
        """Replace Order; quantity counts what has executed too (the spec's rule)."""
        m = ouch.make(ouch.IN, "U", orig_user_ref_num=orig_urn, user_ref_num=urn, quantity=quantity, price=price,
                      time_in_force=time_in_force, display=display, intermarket_sweep="N", clordid=clordid,
                      options=())
        self.send(m)
        return m

    def cancel(self, urn: int, quantity: int = 0) -> Any:
        """Cancel Order to `quantity` shares open (0: all of it)."""
        m = ouch.make(ouch.IN, "X", user_ref_num=urn, quantity=quantity)
        self.send(m)
        return m

    def modify(self, urn: int, side: str, quantity: int) -> Any:
        m = ouch.make(ouch.IN, "M", user_ref_num=urn, side=side, quantity=quantity)
        self.send(m)
        return m

    def query(self) -> None:
        self.send(ouch.make(ouch.IN, "Q"))

    def mass_cancel(self, urn: int, firm: str = "", symbol: str = "") -> None:
        self.send(ouch.make(ouch.IN, "C", user_ref_num=urn, firm=firm, symbol=symbol, options=()))

    def disable(self, urn: int, firm: str = "") -> None:
        self.send(ouch.make(ouch.IN, "D", user_ref_num=urn, firm=firm, options=()))

    def enable(self, urn: int, firm: str = "") -> None:
        self.send(ouch.make(ouch.IN, "E", user_ref_num=urn, firm=firm, options=()))

    # -- outbound messages ----------------------------------------------------------------------
    def read(self, timeout: float = 0.0) -> list[Any]:
        """The sequenced OUCH messages not read yet: those wait_for passed
        over, then what comes within timeout seconds (decoded, next_seq
        counted); heartbeats answered in passing."""
        out, self.inbox = self.inbox, []
        return out + self._read_new(0.0 if out else timeout)

    def wait_for(self, kind: str, timeout: float | None = None, **fields: Any) -> Any:
        """The first sequenced message of class `kind` (e.g. "OrderExecuted")
        whose fields equal `fields`, in arrival order; the others stay for
        read() and later wait_for calls. With user_ref_num=N among the
        fields, a Rejected for order N raises OrderRejected instead of
        waiting out the timeout."""
        urn = fields.get("user_ref_num")

        def match(m: Any) -> bool:
            return type(m).__name__ == kind and all(getattr(m, k) == v for k, v in fields.items())

        def refused(m: Any) -> bool:
            return urn is not None and kind != "Rejected" and type(m).__name__ == "Rejected" and m.user_ref_num == urn

        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        seen, last = 0, False  # inbox entries looked at; the last read is done
        while True:
            for i in range(seen, len(self.inbox)):
                m = self.inbox[i]
                if match(m) or refused(m):
                    del self.inbox[i]
                    if match(m):
                        return m
                    raise OrderRejected(m)
            seen = len(self.inbox)
            if self.ended:
                raise ConnectionError(f"the session ended (End of Session) with no {kind} {fields or ''}")
            if last:
                raise TimeoutError(f"no {kind} {fields or ''} within {wait:g} s")
            last = time.monotonic() >= deadline
            self.inbox += self._read_new(max(0.0, deadline - time.monotonic()))

    def _read_new(self, timeout: float) -> list[Any]:
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while True:
            for p in self._packets(max(0.0, deadline - time.monotonic())):
                if p.type == soup.SEQUENCED:
                    out.append(ouch.decode(p.payload, ouch.OUT))
                    self.next_seq += 1
                elif p.type == soup.END_OF_SESSION:
                    self.ended = True
            if time.monotonic() - self.last_tx >= 1.0:
                self._send(soup.packet(soup.CLIENT_HEARTBEAT))
            if out or time.monotonic() >= deadline or self.ended:
                return out

    # -- the wire ----------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.last_tx = time.monotonic()

    def _packets(self, timeout: float) -> list[soup.Packet]:
        """The packets there are: those put back, else what one read brings (waiting up to timeout)."""
        if self.pending:
            out, self.pending = self.pending, []
            return out
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return []
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the order port closed the connection")
        return list(self.rx.feed(data))
