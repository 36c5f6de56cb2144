"""Named network namespaces (the `ip netns` convention: a bind mount of the
namespace file under /run/netns/NAME), and stepping into one.

`entered(name)` moves only the calling thread, so a caller can open sockets
inside the test host and use them from anywhere: a socket stays in the
namespace it was created in.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wirespeed import _native
from wirespeed.errors import UsageError

NETNS_RUN_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_name(name: str) -> str:
    """A namespace name is a file name under /run/netns: refuse the rest."""
    if not _NAME_RE.match(name):
        raise UsageError(
            f"invalid network namespace name {name!r}",
            "use 1-64 characters from A-Z a-z 0-9 _ . - starting with a letter or digit",
        )
    return name


def path(name: str) -> Path:
    return NETNS_RUN_DIR / validate_name(name)


def exists(name: str) -> bool:
    return path(name).exists()


@contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the calling thread in namespace `name`."""
    target = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    home = os.open(f"/proc/self/task/{_gettid()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _native.setns(target, CLONE_NEWNET)
        try:
            yield
        finally:
            _native.setns(home, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(home)


def _gettid() -> int:
    import threading

    return threading.get_native_id()
