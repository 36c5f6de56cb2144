from __future__ import annotations

import pytest

from wirespeed.system import netdev


@pytest.mark.privileged
def test_veth_advertises_native_xdp_but_no_zerocopy(testbed_cfg) -> None:
    import socket

    feats = netdev.xdp_features()
    assert feats is not None, "kernel >= 6.3 has the netdev family"
    f = feats[socket.if_nametoindex(testbed_cfg.host_if)]
    assert f.native and not f.zerocopy
    assert "basic" in f.names


def test_feature_bits_decode() -> None:
    f = netdev.XdpFeatures(1 | 2 | 8 | 32)
    assert f.names == ["basic", "redirect", "xsk-zerocopy", "rx-sg"]
    assert f.native and f.zerocopy
    assert netdev.XdpFeatures(0).names == []
