"""SIOCETHTOOL against a real veth of the test host."""
from __future__ import annotations

import errno

import pytest

from wirespeed.system import ethtool

pytestmark = pytest.mark.privileged


def test_veth_reports_driver_channels_and_software_stamps(testbed_cfg) -> None:
    ifname = testbed_cfg.host_if
    assert ethtool.driver_info(ifname).driver == "veth"
    ch = ethtool.channels(ifname)
    assert ch is not None and ch.rx >= 1 and ch.max_rx >= ch.rx
    ts = ethtool.timestamping(ifname)
    assert ts is not None and ts.software_rx and not ts.hardware_rx
    assert ethtool.coalesce(ifname) is None  # veth has no coalescing: None, not an error
    assert ethtool.lro(ifname) in (False, None)


def test_unknown_interface_names_the_ioctl() -> None:
    with pytest.raises(OSError) as info:
        ethtool.driver_info("wsnosuch9")
    assert info.value.errno == errno.ENODEV
    assert "SIOCETHTOOL" in str(info.value)
