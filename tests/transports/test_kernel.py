"""The kernel transport's receive loop (native/transports/rx_kernel.c) and
the ring writer it borrows. Loopback only: no privilege needed."""
from __future__ import annotations

import socket
import threading

import pytest

from tests.conftest import wait_until
from wirespeed import _native
from wirespeed.ring import Ring, RingReader, RingWriter


def test_a_running_receive_loop_holds_the_writer(ring_path) -> None:
    """The loop writes to the ring without the GIL: while it runs, close()
    (which would unmap the ring under it) and a second publisher are refused;
    counting drops and heartbeats from the control thread stay allowed; once
    it has stopped, close() works."""
    Ring.create(ring_path, size="1M")
    writer = RingWriter(ring_path)
    rx_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx_sock.bind(("127.0.0.1", 0))
    port = rx_sock.getsockname()[1]
    rx = _native.KernelRx(writer._w, [(rx_sock.fileno(), 1, port)], mode="block")
    th = threading.Thread(target=rx.run, name="ws-test-rx")
    th.start()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with RingReader(ring_path, "oldest") as r:
            wait_until(lambda: (tx.sendto(b"one", ("127.0.0.1", port)), r.head_seq > 1)[1], "the loop receives")
        with pytest.raises(RuntimeError, match="in use by a receive loop"):
            writer.close()
        with pytest.raises(RuntimeError, match="in use by a receive loop"):
            writer.append(b"a second writer")
        writer.count_drop("sock_overflow", 2)  # the control thread's counters
        writer.heartbeat()
        tx.sendto(b"two", ("127.0.0.1", port))
    finally:
        rx.stop()
        th.join(5)
        tx.close()
    assert not th.is_alive()
    writer.close()  # the loop has let go
    info = Ring.info(ring_path)
    assert info["writer"] == "closed" and info["drops"]["sock_overflow"] == 2
    rx_sock.close()
