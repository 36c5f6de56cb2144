from __future__ import annotations

import socket

import pytest

from wirespeed.errors import UsageError
from wirespeed.system import netns


@pytest.mark.parametrize("name", ["", "a/b", "..", "-x", "x" * 65, "sp ace"])
def test_bad_names_refused(name: str) -> None:
    with pytest.raises(UsageError):
        netns.validate_name(name)


@pytest.mark.privileged
def test_entered_moves_only_for_the_body(testbed_cfg) -> None:
    import os

    home = os.readlink("/proc/thread-self/ns/net")
    with netns.entered(testbed_cfg.netns):
        inside = os.readlink("/proc/thread-self/ns/net")
        assert socket.if_nametoindex(testbed_cfg.peer_if) > 0
    assert inside != home
    assert os.readlink("/proc/thread-self/ns/net") == home
