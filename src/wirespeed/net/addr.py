"""HOST:PORT as users write it (an order port, a retransmission server)."""
from __future__ import annotations

from wirespeed.errors import UsageError


def parse_host_port(text: str, what: str) -> tuple[str, int]:
    """HOST:PORT to (host, port), or a UsageError naming `what` (the flag or key)."""
    host, colon, port = str(text).rpartition(":")
    if not host or not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{what} {text!r}: give HOST:PORT", "e.g. 198.18.0.2:15000")
    return host, int(port)
