"""wirespeed: kernel-bypass market-data capture for Python.

Receives exchange multicast feeds through AF_XDP, DPDK or the kernel socket,
stamps every packet in nanoseconds and fans it out through one shared-memory
ring to independent readers. See README.md for the tour.
"""

__version__ = "0.1.0"

from wirespeed.ring import Ring, RingError, RingReader, RingWriter  # noqa: E402

__all__ = ["Ring", "RingError", "RingReader", "RingWriter", "__version__"]
