"""wirespeed: kernel-bypass market-data capture for Python.

Receives exchange multicast feeds through AF_XDP, DPDK or the kernel socket,
stamps every packet in nanoseconds and fans it out through one shared-memory
ring to independent readers. See README.md for the tour.
"""

import os as _os

# wirespeed never calls BLAS, but numpy's OpenBLAS starts a thread pool that
# spins: measured at 14 % of all CPU samples during `wirespeed sim` on a
# 2-core host, stolen from the sender and the ring readers. One thread, unless
# the user says otherwise. Must run before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"

from wirespeed.book.books import Books  # noqa: E402
from wirespeed.ring import Ring, RingError, RingReader, RingWriter  # noqa: E402

__all__ = ["Books", "Ring", "RingError", "RingReader", "RingWriter", "__version__"]
